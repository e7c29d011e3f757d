"""Every allowed transition works and is audited; every other one is refused, changing nothing."""

import itertools

import pytest

from migrations_app import transitions
from migrations_app.errors import TransitionNotAllowed
from migrations_app.models import AuditEvent, Component, Phase, Rollout
from migrations_app.roles import SYSTEM
from migrations_app.states import (
    COMPONENT_TRANSITIONS,
    PHASE_TRANSITIONS,
    ROLLOUT_TRANSITIONS,
    ComponentState,
    PhaseState,
    RolloutState,
)

MACHINES = [
    ("phase", PhaseState, PHASE_TRANSITIONS),
    ("component", ComponentState, COMPONENT_TRANSITIONS),
    ("rollout", RolloutState, ROLLOUT_TRANSITIONS),
]


def all_pairs(allowed: bool):
    for name, states, table in MACHINES:
        for old, new in itertools.product(states.values, repeat=2):
            if ((old, new) in table) == allowed:
                yield pytest.param(name, old, new, id=f"{name}:{old}->{new}")


def subject(plan, machine: str, state: str):
    """A phase, component or rollout of the tiny plan, put into `state` directly (arrange only)."""
    if machine == "phase":
        obj = plan.phases.get(key="one")
    elif machine == "component":
        obj = plan.components.get(name="alpha")
    else:
        obj = Rollout.objects.get(component__plan=plan)
    type(obj).objects.filter(pk=obj.pk).update(state=state)
    obj.refresh_from_db()
    return obj


@pytest.mark.django_db
@pytest.mark.parametrize(("machine", "old", "new"), list(all_pairs(allowed=True)))
def test_every_allowed_transition_applies_and_is_audited(tiny_plan, machine, old, new):
    obj = subject(tiny_plan, machine, old)
    transitions.apply(obj, new, actor=SYSTEM, reason="test")
    obj.refresh_from_db()
    assert obj.state == new
    assert obj.state_changed_at is not None
    event = AuditEvent.objects.filter(target_type=machine, target_id=str(obj.pk)).latest("at")
    assert event.before["state"] == old
    assert event.after["state"] == new
    assert event.actor_name == "system"
    assert event.reason == "test"


@pytest.mark.django_db
@pytest.mark.parametrize(("machine", "old", "new"), list(all_pairs(allowed=False)))
def test_every_other_transition_is_refused_and_changes_nothing(tiny_plan, machine, old, new):
    obj = subject(tiny_plan, machine, old)
    events_before = AuditEvent.objects.count()
    with pytest.raises(TransitionNotAllowed) as refused:
        transitions.apply(obj, new, actor=SYSTEM)
    obj.refresh_from_db()
    assert obj.state == old
    assert AuditEvent.objects.count() == events_before
    assert "cannot become" in str(refused.value)


def test_the_tables_only_name_known_states():
    for _, states, table in MACHINES:
        for old, new in table:
            assert old in states.values and new in states.values


@pytest.mark.django_db
def test_the_refusal_says_what_is_possible_instead(tiny_plan):
    phase = tiny_plan.phases.get(key="one")
    with pytest.raises(
        TransitionNotAllowed,
        match=r"phase tiny/one is pending; it cannot become promoted "
        r"\(from here it can become: in progress\)",
    ):
        transitions.apply(phase, PhaseState.PROMOTED, actor=SYSTEM)


@pytest.mark.django_db
def test_fields_set_with_a_transition_are_written_and_audited(tiny_plan):
    component = Component.objects.get(plan=tiny_plan, name="alpha")
    transitions.apply(component, ComponentState.RUNNING, actor=SYSTEM)
    transitions.apply(component, ComponentState.FAILED, actor=SYSTEM, last_error="step 1 failed: boom")
    component.refresh_from_db()
    assert component.last_error == "step 1 failed: boom"
    event = AuditEvent.objects.filter(action="component.failed").get()
    assert event.before == {"state": "running", "last_error": ""}
    assert event.after == {"state": "failed", "last_error": "step 1 failed: boom"}


@pytest.mark.django_db
def test_a_phase_transition_keeps_other_phases_untouched(tiny_plan):
    one, two = Phase.objects.filter(plan=tiny_plan).order_by("position")
    transitions.apply(one, PhaseState.IN_PROGRESS, actor=SYSTEM)
    two.refresh_from_db()
    assert two.state == PhaseState.PENDING
