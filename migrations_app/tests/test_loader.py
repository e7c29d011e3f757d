"""Loading and reloading plans: idempotent, history kept, started phases protected."""

import pytest
from django.utils import timezone

from conftest import TINY_PLAN
from migrations_app import transitions
from migrations_app.errors import Conflict, NotAllowed
from migrations_app.models import Approval, AuditEvent, ChecklistItem, Component, Phase, Plan, Rollout, Step
from migrations_app.planfile import load_plan, parse_plan
from migrations_app.roles import CLI, SYSTEM, Actor
from migrations_app.states import PhaseState

TINY = TINY_PLAN.read_text()


def load(text: str, actor=CLI):
    return load_plan(parse_plan(text), text, actor=actor)


def snapshot():
    return {
        "plans": list(Plan.objects.values()),
        "phases": list(Phase.objects.values()),
        "components": list(Component.objects.values()),
        "steps": list(Step.objects.values()),
        "rollouts": list(Rollout.objects.values()),
        "checklist": list(ChecklistItem.objects.values()),
        "audit": AuditEvent.objects.count(),
    }


@pytest.mark.django_db
def test_it_creates_the_whole_plan():
    result = load(TINY)
    plan = result.plan
    assert result.created
    assert plan.phases.count() == 2
    assert list(plan.components.values_list("name", flat=True)) == ["alpha", "beta"]
    beta = plan.components.get(name="beta")
    assert [d.name for d in beta.depends_on.all()] == ["alpha"]
    step = Step.objects.get(component__name="alpha")
    assert step.kind == "sql"
    assert step.forward == {"sql": "CREATE TABLE t (id INT)"}
    assert step.reverse == {"sql": "DROP TABLE t"}
    assert step.database == "target"
    rollout = beta.rollout
    assert (rollout.percentage, rollout.state, rollout.steps) == (0, "idle", [10, 25, 50, 75, 100])
    assert AuditEvent.objects.filter(action="plan.loaded", plan=plan).count() == 1


@pytest.mark.django_db
def test_loading_the_same_plan_twice_changes_nothing():
    load(TINY)
    before = snapshot()
    result = load(TINY)
    assert not result.changed
    assert snapshot() == before


@pytest.mark.django_db
def test_reformatting_the_file_without_changing_it_changes_nothing():
    load(TINY)
    before = snapshot()
    result = load(TINY.replace("# A small valid plan", "#   A small, valid plan") + "\n\n")
    assert not result.changed
    assert snapshot() == before


@pytest.mark.django_db
def test_reloading_a_changed_plan_updates_it_in_place_and_keeps_history():
    plan = load(TINY).plan
    alpha_id = plan.components.get(name="alpha").pk
    result = load(
        TINY.replace("name: Tiny plan", "name: Tiny plan, renamed").replace(
            "rollback_window_hours: 24, approvals: 2", "rollback_window_hours: 48, approvals: 2"
        )
    )
    assert not result.created
    assert "phase two changed: rollback_window_hours" in result.changes
    plan.refresh_from_db()
    assert plan.name == "Tiny plan, renamed"
    assert plan.components.get(name="alpha").pk == alpha_id
    assert AuditEvent.objects.filter(plan=plan, action__in=["plan.loaded", "plan.reloaded"]).count() == 2


@pytest.mark.django_db
def test_it_refuses_structural_changes_to_a_started_phase_and_writes_nothing():
    plan = load(TINY).plan
    transitions.apply(plan.phases.get(key="one"), PhaseState.IN_PROGRESS, actor=SYSTEM)
    before = snapshot()
    changed = TINY.replace('sql: "CREATE TABLE t (id INT)"', 'sql: "CREATE TABLE t (id BIGINT)"').replace(
        "components:\n",
        "components:\n  - {name: gamma, phase: one, risk: low, rollback_complexity: simple, "
        "steps: [{name: s, command: [echo]}]}\n",
        1,
    )
    with pytest.raises(Conflict) as refused:
        load(changed)
    message = str(refused.value)
    assert "phase 'one' has started (in progress): component 'gamma' cannot be added to it" in message
    assert "phase 'one' has started (in progress): the steps of component 'alpha' cannot change" in message
    assert snapshot() == before


@pytest.mark.django_db
def test_it_allows_changes_to_phases_that_have_not_started():
    plan = load(TINY).plan
    transitions.apply(plan.phases.get(key="one"), PhaseState.IN_PROGRESS, actor=SYSTEM)
    changed = TINY.replace("- {name: probe, check:", "- {name: probe again, check:")
    result = load(changed)
    assert "component beta steps changed" in result.changes
    assert Step.objects.get(component__name="beta").name == "probe again"


@pytest.mark.django_db
def test_a_removed_started_phase_is_refused():
    plan = load(TINY).plan
    transitions.apply(plan.phases.get(key="two"), PhaseState.IN_PROGRESS, actor=SYSTEM)
    without_two = TINY.replace(
        "  - {key: two, name: Two, days: [1, 1], risk: high, rollback_window_hours: 24, approvals: 2}\n", ""
    ).replace("phase: two", "phase: one")
    with pytest.raises(Conflict, match="phase 'two' has started .*: it cannot be removed"):
        load(without_two)


@pytest.mark.django_db
def test_checklist_ticks_survive_a_reload_unless_the_item_changed():
    plan = load(TINY.replace("  - Backups taken\n", "  - Backups taken\n  - Team told\n")).plan
    now = timezone.now()
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("ticker")
    ChecklistItem.objects.filter(plan=plan).update(checked_by=user, checked_at=now)
    load(TINY.replace("  - Backups taken\n", "  - Backups taken\n  - Team told by email\n"))
    items = {i.text: i for i in ChecklistItem.objects.filter(plan=plan)}
    assert items["Backups taken"].checked_by == user
    assert items["Team told by email"].checked_by is None


@pytest.mark.django_db
def test_a_change_of_rollout_settings_invalidates_pending_approvals(approver):
    plan = load(TINY).plan
    rollout = Rollout.objects.get(component__plan=plan)
    approval = Approval.objects.create(
        plan=plan,
        kind=Approval.Kind.ROLLOUT_STEP,
        rollout=rollout,
        target_percentage=50,
        summary="raise beta to 50%",
        fingerprint="x",
        requested_by=approver,
        requested_by_name=approver.username,
        expires_at=timezone.now() + timezone.timedelta(hours=72),
    )
    load(TINY.replace("traffic: true\n", "traffic: true\n    rollout: {interval_seconds: 30}\n"))
    approval.refresh_from_db()
    assert approval.state == Approval.State.INVALIDATED
    assert "interval_seconds" in approval.decision_reason
    assert AuditEvent.objects.filter(action="approval.invalidated", target_id=str(approval.pk)).exists()


@pytest.mark.django_db
def test_only_an_admin_loads_plans(operator):
    with pytest.raises(NotAllowed, match="needs the admin role"):
        load(TINY, actor=Actor.for_user(operator))
    assert not Plan.objects.exists()
