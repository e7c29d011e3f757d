"""Races on PostgreSQL with real threads: the locks and epochs hold under contention."""

import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from conftest import PASSWORD, actor
from migrations_app import approvals, promotion
from migrations_app.errors import DomainError
from migrations_app.models import Approval, ApprovalVote, AuditEvent, ChecklistItem, Component, Phase, Plan, Rollout
from migrations_app.models.plan import Stability
from migrations_app.rollout import emergency, reconcile, services
from migrations_app.rollout.tests.conftest import age, healthy, rollout_of
from migrations_app.states import ComponentState, PhaseState, RolloutState

pytestmark = pytest.mark.django_db(transaction=True)


def together(*calls):
    """Run the calls in threads released at the same moment; returns what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # collected and asserted on by the test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_fifty_concurrent_approvals_of_one_request_give_exactly_one_promotion(tiny_plan, operator, django_user_model):
    Phase.objects.filter(plan=tiny_plan, key="two").update(state=PhaseState.IN_PROGRESS)
    Component.objects.filter(plan=tiny_plan).update(state=ComponentState.COMPLETED)
    Rollout.objects.filter(component__plan=tiny_plan).update(percentage=100)
    ChecklistItem.objects.filter(plan=tiny_plan).update(checked_by=operator, checked_at=timezone.now())
    request = promotion.request_promotion(tiny_plan.phases.get(key="two"), actor=actor(operator))
    group = Group.objects.get_or_create(name="approver")[0]
    approvers = []
    for i in range(50):
        user = django_user_model.objects.create_user(username=f"approver-{i:02}", password=PASSWORD)
        user.groups.add(group)
        approvers.append(user)

    results = together(*[lambda user=user: approvals.approve(request, actor=actor(user)) for user in approvers])

    refused = [r for r in results if isinstance(r, DomainError)]
    assert all(not isinstance(r, Exception) or isinstance(r, DomainError) for r in results), results
    assert len(refused) == 48
    assert all("already approved" in r.message for r in refused)
    assert ApprovalVote.objects.filter(approval=request).count() == 2
    assert Approval.objects.get(pk=request.pk).state == Approval.State.APPROVED
    assert Phase.objects.get(pk=request.phase_id).state == PhaseState.PROMOTED
    assert AuditEvent.objects.filter(action="phase.promoted").count() == 1


@pytest.fixture
def progressing(beta, operator):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    return beta


def test_an_emergency_rollback_racing_a_reconcile_advance_always_ends_at_zero(progressing, operator):
    plan = Plan.objects.get(pk=progressing.plan_id)
    for _ in range(8):
        rollout = age(rollout_of(progressing), 301)
        results = together(
            lambda rollout=rollout: reconcile.reconcile(rollout.pk, rollout.epoch, health=lambda c: healthy()),
            lambda: emergency.emergency_rollback(plan, actor=actor(operator), reason="race"),
        )
        assert not any(isinstance(r, Exception) for r in results), results
        rollout.refresh_from_db()
        assert (rollout.percentage, rollout.state) == (0, RolloutState.ROLLED_BACK)
        assert Plan.objects.get(pk=plan.pk).force_original is True
        # Arrange the next round: force-original off, the rollout moving again at 10%.
        Plan.objects.filter(pk=plan.pk).update(force_original=False, stability=Stability.NONE)
        services.start_rollout(rollout_of(progressing), actor=actor(operator))


def test_ten_deliveries_of_one_reconcile_advance_once(progressing):
    rollout = age(rollout_of(progressing), 301)
    results = together(
        *[lambda: reconcile.reconcile(rollout.pk, rollout.epoch, health=lambda c: healthy()) for _ in range(10)]
    )
    assert sum(1 for r in results if r is not None and r.action == "advance") == 1
    assert rollout_of(progressing).percentage == 25
    assert AuditEvent.objects.filter(action="rollout.advanced").count() == 1


def test_a_pause_racing_an_advance_never_loses_the_pause(progressing, operator):
    rollout = age(rollout_of(progressing), 301)
    results = together(
        lambda: reconcile.reconcile(rollout.pk, rollout.epoch, health=lambda c: healthy()),
        lambda: services.pause_rollout(rollout, actor=actor(operator), reason="hold"),
    )
    assert not any(isinstance(r, Exception) for r in results), results
    rollout.refresh_from_db()
    assert rollout.state == RolloutState.PAUSED
    assert rollout.percentage in (10, 25)
