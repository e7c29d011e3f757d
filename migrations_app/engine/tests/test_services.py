"""The operator actions: gates, roles, rollback windows, and two clicks at once."""

import threading

import pytest
from django.db import connection

from conftest import actor
from migrations_app.audit import AuditEvent
from migrations_app.engine import services
from migrations_app.errors import Conflict, InvalidInput, NotAllowed
from migrations_app.models import ApiToken, Run
from migrations_app.models.runs import ComponentRun
from migrations_app.roles import Actor
from migrations_app.states import ComponentState, PhaseState

from .conftest import component, logged_step, make_plan
from .helpers import fail, migrate, promote

TWO_PHASES = [
    {"key": "one", "name": "One", "days": [1, 1], "risk": "low", "rollback_window_hours": 0},
    {"key": "two", "name": "Two", "days": [1, 2], "risk": "medium", "rollback_window_hours": 48},
]


@pytest.fixture
def plan(tmp_path, db):
    log = tmp_path / "steps.log"
    return make_plan(
        [
            component("base", [logged_step(log, "base.1")], phase="one"),
            component("alpha", [logged_step(log, "alpha.1")], phase="two", depends_on=["base"]),
            component("beta", [logged_step(log, "beta.1")], phase="two", depends_on=["alpha"]),
        ],
        key="svc-test-v1.0",
        phases=TWO_PHASES,
    )


def nothing_started(plan):
    return not Run.objects.filter(plan=plan).exists() and not AuditEvent.objects.filter(action="run.requested")


@pytest.mark.django_db
def test_the_first_phase_waits_for_the_readiness_checklist(plan, operator):
    plan.checklist.create(position=0, text="Backups taken")

    with pytest.raises(Conflict, match=r"readiness checklist is not complete \(1 of 1 items unticked"):
        services.start_phase(plan.phases.get(key="one"), actor=actor(operator))

    assert nothing_started(plan)
    assert plan.phases.get(key="one").state == PhaseState.PENDING


@pytest.mark.django_db
def test_a_later_phase_waits_for_the_previous_one_to_be_promoted(plan, operator):
    with pytest.raises(Conflict, match="phase 'one' is pending: it must be promoted before phase 'two' starts"):
        services.start_phase(plan.phases.get(key="two"), actor=actor(operator))
    assert nothing_started(plan)


@pytest.mark.django_db
def test_starting_a_phase_moves_it_in_progress_and_queues_the_components_whose_dependencies_are_met(plan, operator):
    migrate(plan.components.get(name="base"))
    promote(plan.phases.get(key="one"))

    run = services.start_phase(plan.phases.get(key="two"), actor=actor(operator), reason="window opened")

    run.refresh_from_db()
    assert run.state == Run.State.RUNNING and run.triggered_by == operator and run.reason == "window opened"
    assert plan.phases.get(key="two").state == PhaseState.IN_PROGRESS
    rows = dict(ComponentRun.objects.filter(run=run).values_list("component__name", "state"))
    assert rows == {"alpha": ComponentRun.State.QUEUED, "beta": ComponentRun.State.WAITING}
    event = AuditEvent.objects.get(action="run.requested")
    assert event.actor_name == "olga-operator" and event.data == {"components": ["alpha", "beta"]}


@pytest.mark.django_db
def test_a_phase_in_progress_is_run_again_only_for_its_unfinished_components(plan, operator):
    migrate(plan.components.get(name="base"))
    promote(plan.phases.get(key="one"))
    first = services.start_phase(plan.phases.get(key="two"), actor=actor(operator))
    Run.objects.filter(pk=first.pk).update(state=Run.State.FAILED)
    migrate(plan.components.get(name="alpha"))

    second = services.start_phase(plan.phases.get(key="two"), actor=actor(operator))

    assert list(ComponentRun.objects.filter(run=second).values_list("component__name", flat=True)) == ["beta"]


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_starts_make_one_run(tmp_path, operator):
    from celery import current_app

    plan = make_plan([component("alpha", [logged_step(tmp_path / "log", "a.1")])], key="race")
    phase = plan.phases.get()
    barrier = threading.Barrier(2)
    outcomes = []

    def click():
        try:
            barrier.wait()
            outcomes.append(services.start_phase(phase, actor=actor(operator)))
        except Conflict as error:
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    current_app.control.purge()

    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "Run"]
    assert Run.objects.filter(phase=phase).count() == 1
    assert ComponentRun.objects.count() == 1
    assert AuditEvent.objects.filter(action="phase.started").count() == 1


def token_actor(scopes):
    return Actor.for_token(ApiToken.objects.create(name="pipeline", digest="d" * 64, prefix="p", scopes=scopes))


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["viewer", "approver", "nobody", "read-token"])
def test_only_operators_may_start_retry_roll_back_or_cancel(plan, personas, who, operator):
    someone = token_actor(["read", "rollout:read"]) if who == "read-token" else actor(personas[who])
    base = plan.components.get(name="base")
    running = services.start_phase(plan.phases.get(key="one"), actor=actor(operator))
    before = (Run.objects.count(), AuditEvent.objects.count(), base.state)

    for action in (
        lambda: services.start_phase(plan.phases.get(key="one"), actor=someone),
        lambda: services.retry_component(base, actor=someone),
        lambda: services.rollback_component(base, actor=someone, reason="x"),
        lambda: services.cancel_run(running, actor=someone),
    ):
        with pytest.raises(NotAllowed, match="it needs the operator or admin role"):
            action()

    base.refresh_from_db()
    running.refresh_from_db()
    assert (Run.objects.count(), AuditEvent.objects.count(), base.state) == before
    assert running.state == Run.State.RUNNING and not running.stop


@pytest.mark.django_db
def test_a_rollback_after_the_window_closed_is_refused_with_the_time_it_closed(plan, operator):
    base = migrate(plan.components.get(name="base"))
    two = plan.phases.get(key="two")
    migrate(plan.components.get(name="alpha"))
    promote(plan.phases.get(key="one"))
    promote(two, hours_ago=50)
    alpha = plan.components.get(name="alpha")

    with pytest.raises(Conflict, match=r"the rollback window closed at \d{4}-\d\d-\d\d \d\d:\d\d UTC .*48 h"):
        services.rollback_component(alpha, actor=actor(operator), reason="regression")
    with pytest.raises(NotAllowed, match="may not override a closed rollback window: it needs the admin role"):
        services.rollback_component(alpha, actor=actor(operator), reason="regression", override=True)

    assert not Run.objects.exists()
    alpha.refresh_from_db()
    assert alpha.state == ComponentState.COMPLETED
    assert base.state == ComponentState.COMPLETED


@pytest.mark.django_db
def test_an_admin_overrides_a_closed_window_with_a_reason_and_it_is_audited(plan, admin_user):
    migrate(plan.components.get(name="base"))
    alpha = migrate(plan.components.get(name="alpha"))
    promote(plan.phases.get(key="one"))
    promote(plan.phases.get(key="two"), hours_ago=50)

    with pytest.raises(InvalidInput, match="overriding the rollback window needs a reason"):
        services.rollback_component(alpha, actor=actor(admin_user), reason=" ", override=True)
    run = services.rollback_component(alpha, actor=actor(admin_user), reason="data corruption found", override=True)

    assert run.kind == Run.Kind.ROLLBACK and run.component == alpha
    assert ComponentRun.objects.get(run=run).state == ComponentRun.State.UNDO_QUEUED
    event = AuditEvent.objects.get(action="component.rollback_overridden")
    assert event.actor_name == "ada-admin" and event.reason == "data corruption found"
    assert event.data["override"] is True and "closed at" in event.data["window"]


@pytest.mark.django_db
def test_a_component_is_rolled_back_only_after_the_migrated_components_that_depend_on_it(plan, operator):
    base = migrate(plan.components.get(name="base"))
    migrate(plan.components.get(name="alpha"))

    with pytest.raises(Conflict, match="roll back alpha first: they depend on 'base' and are migrated"):
        services.rollback_component(base, actor=actor(operator), reason="x")
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_only_a_failed_or_rolled_back_component_is_retried_and_only_when_its_dependencies_are_migrated(plan, operator):
    promote(plan.phases.get(key="one"))
    alpha = plan.components.get(name="alpha")
    with pytest.raises(Conflict, match="component 'alpha' is pending: only a failed or rolled-back"):
        services.retry_component(alpha, actor=actor(operator))

    from migrations_app import transitions
    from migrations_app.roles import CLI

    transitions.apply(plan.phases.get(key="two"), PhaseState.IN_PROGRESS, actor=CLI)
    fail(alpha)
    with pytest.raises(Conflict, match="depends on base, not migrated yet"):
        services.retry_component(alpha, actor=actor(operator))
    assert not Run.objects.exists()

    migrate(plan.components.get(name="base"))
    run = services.retry_component(alpha, actor=actor(operator), reason="fixed the config")
    assert run.kind == Run.Kind.RETRY
    assert ComponentRun.objects.get(run=run).state == ComponentRun.State.QUEUED


@pytest.mark.django_db
def test_a_finished_run_cannot_be_cancelled(plan, operator):
    run = services.start_phase(plan.phases.get(key="one"), actor=actor(operator))
    Run.objects.filter(pk=run.pk).update(state=Run.State.COMPLETED)
    with pytest.raises(Conflict, match=f"run {run.pk} is completed: only an active run can be cancelled"):
        services.cancel_run(run, actor=actor(operator))
