"""Fallback and shadow comparison switched by an operator: epochs, the audit event, and a
pending step approval invalidated (it approved a move under the old settings)."""

import pytest

from conftest import actor
from migrations_app.errors import Conflict, InvalidInput, NotAllowed
from migrations_app.models import Approval, AuditEvent, Plan
from migrations_app.rollout import services, snapshot
from migrations_app.rollout.tests.conftest import rollout_of

pytestmark = pytest.mark.django_db


def test_switching_comparison_on_moves_both_epochs_and_the_snapshot(beta, operator):
    plan_epoch = Plan.objects.get(pk=beta.plan_id).epoch
    services.set_switches(rollout_of(beta), comparison=True, actor=actor(operator), reason="shadow v4.2")
    rollout = rollout_of(beta)
    assert (rollout.comparison, rollout.fallback, rollout.epoch) == (True, True, 1)
    plan = Plan.objects.get(pk=beta.plan_id)
    assert plan.epoch == plan_epoch + 1
    assert snapshot.body(plan.key, plan.pk, plan.epoch, plan.force_original)["components"]["beta"]["comparison"]
    event = AuditEvent.objects.get(action="rollout.switches_set")
    assert (event.actor_name, event.reason, event.after) == ("olga-operator", "shadow v4.2", {"comparison": True})


def test_a_switch_invalidates_a_pending_step_approval(beta, operator):
    rollout = rollout_of(beta)
    type(rollout).objects.filter(pk=rollout.pk).update(approval_at=[10])
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    services.set_switches(rollout_of(beta), fallback=False, actor=actor(operator), reason="errors must show")
    approval = Approval.objects.get(rollout=rollout)
    assert approval.state == Approval.State.INVALIDATED
    assert approval.decision_reason == "its settings changed: fallback off"


@pytest.mark.parametrize(
    "switches, refusal, said",
    [
        ({"fallback": True}, Conflict, "beta: fallback is already on"),
        ({}, InvalidInput, "give at least one switch"),
        ({"comparison": "yes"}, InvalidInput, "comparison: must be true or false"),
    ],
)
def test_a_switch_that_changes_nothing_or_is_not_a_boolean_is_refused(beta, operator, switches, refusal, said):
    with pytest.raises(refusal, match=said):
        services.set_switches(rollout_of(beta), **switches, actor=actor(operator), reason="why not")
    assert rollout_of(beta).epoch == 0
    assert not AuditEvent.objects.filter(action="rollout.switches_set").exists()


def test_switches_need_a_reason_and_the_operator_role(beta, operator, viewer):
    with pytest.raises(InvalidInput, match="a reason is required to switch fallback or comparison"):
        services.set_switches(rollout_of(beta), fallback=False, actor=actor(operator), reason=" ")
    with pytest.raises(NotAllowed, match="may not switch fallback or comparison"):
        services.set_switches(rollout_of(beta), fallback=False, actor=actor(viewer), reason="x")
    assert rollout_of(beta).fallback is True
