"""The engine's endpoints: the DESIGN contract's phase start, and retry, rollback, cancel,
the migration status and a run's log; same roles as the dashboard; plan keys with dots."""

from functools import partial

import pytest

from migrations_app import tokens
from migrations_app.models import AuditEvent, Run
from migrations_app.models.runs import ComponentRun
from migrations_app.roles import CLI
from migrations_app.states import PhaseState

from .conftest import component, logged_step, make_plan
from .helpers import fail, migrate

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(tmp_path):
    log = tmp_path / "log"
    return make_plan(
        [
            component("alpha", [logged_step(log, "a.1")]),
            component("beta", [logged_step(log, "b.1")], depends_on=["alpha"]),
        ],
        key="shop-v2.1",
    )


def bearer(scopes):
    _, raw = tokens.create(name=f"pipeline-{'-'.join(scopes)}", scopes=scopes, actor=CLI)
    return {"Authorization": f"Bearer {raw}"}


def test_an_operator_starts_a_phase_of_a_plan_whose_key_has_dots(plan, operator, logged_in):
    response = logged_in(operator).post(
        "/api/v1/plans/shop-v2.1/phases/one/start", {"reason": "change window"}, content_type="application/json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["plan"] == "shop-v2.1" and body["phase"] == "one" and body["state"] == "running"
    assert body["triggered_by"] == "olga-operator" and body["reason"] == "change window"
    assert plan.phases.get().state == PhaseState.IN_PROGRESS


def test_a_token_with_the_operate_scope_starts_a_phase_without_a_body(plan, client):
    response = client.generic("POST", "/api/v1/plans/shop-v2.1/phases/one/start", headers=bearer(["operate"]))
    assert response.status_code == 202, response.content
    assert Run.objects.get().triggered_by_name == "token:pipeline-operate"


@pytest.mark.parametrize("who", ["viewer", "approver"])
def test_viewers_and_approvers_are_refused_and_nothing_changes(plan, personas, who, logged_in):
    client = logged_in(personas[who])
    for url in (
        "/api/v1/plans/shop-v2.1/phases/one/start",
        "/api/v1/plans/shop-v2.1/components/alpha/retry",
        "/api/v1/plans/shop-v2.1/components/alpha/rollback",
    ):
        response = client.post(url, {}, content_type="application/json")
        assert response.status_code == 403, url
        assert "needs the operator or admin role" in response.json()["detail"]
    assert not Run.objects.exists() and not AuditEvent.objects.filter(action__startswith="run.").exists()
    assert plan.phases.get().state == PhaseState.PENDING


def test_a_token_without_the_operate_scope_is_refused(plan, client):
    response = client.generic(
        "POST", "/api/v1/plans/shop-v2.1/phases/one/start", headers=bearer(["read", "rollout:read"])
    )
    assert response.status_code == 403
    assert not Run.objects.exists()


def test_unknown_plans_phases_and_components_are_404s_that_say_what_exists(plan, operator, logged_in):
    client = logged_in(operator)
    client.post = partial(client.post, content_type="application/json")
    assert client.post("/api/v1/plans/nope/phases/one/start").json() == {"detail": "no plan 'nope'"}
    response = client.post("/api/v1/plans/shop-v2.1/phases/two/start")
    assert response.status_code == 404
    assert response.json()["detail"] == "plan 'shop-v2.1' has no phase 'two' (its phases: one)"
    assert client.post("/api/v1/plans/shop-v2.1/components/gamma/retry").status_code == 404
    assert client.post("/api/v1/runs/999999/cancel").status_code == 404


def test_a_second_start_while_a_run_is_active_is_a_conflict_naming_it(plan, operator, logged_in):
    client = logged_in(operator)
    client.post = partial(client.post, content_type="application/json")
    first = client.post("/api/v1/plans/shop-v2.1/phases/one/start").json()
    response = client.post("/api/v1/plans/shop-v2.1/phases/one/start")
    assert response.status_code == 409
    assert (
        response.json()["detail"] == f"run {first['id']} of phase 'one' is running: wait for it to finish or cancel it"
    )


def test_cancel_retry_and_rollback_answer_with_their_run(plan, operator, logged_in):
    client = logged_in(operator)
    client.post = partial(client.post, content_type="application/json")
    started = client.post("/api/v1/plans/shop-v2.1/phases/one/start").json()
    cancelled = client.post(f"/api/v1/runs/{started['id']}/cancel", {"reason": "oops"})
    # Nothing had reached a worker yet: the queued components are skipped and it ends at once.
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["summary"] == "cancelled: cancelled by olga-operator: oops. Skipped: alpha, beta."
    fail(plan.components.get(name="alpha"))

    retried = client.post("/api/v1/plans/shop-v2.1/components/alpha/retry")
    assert retried.status_code == 202 and retried.json()["kind"] == "retry"
    assert retried.json()["component"] == "alpha"
    Run.objects.filter(pk=retried.json()["id"]).update(state=Run.State.COMPLETED)
    migrate(plan.components.get(name="alpha"))  # as the retry would have, on a worker

    rolled = client.post("/api/v1/plans/shop-v2.1/components/alpha/rollback", {"reason": "regression"})
    assert rolled.status_code == 202 and rolled.json()["kind"] == "rollback"
    assert ComponentRun.objects.get(run_id=rolled.json()["id"]).state == ComponentRun.State.UNDO_QUEUED


def test_the_migration_status_shows_the_latest_attempt_per_component(plan, viewer, operator, logged_in):
    migrate(plan.components.get(name="alpha"))
    run = Run.objects.create(plan=plan, phase=plan.phases.get(), kind="phase", state="failed", triggered_by_name="x")
    ComponentRun.objects.create(run=run, component=plan.components.get(name="beta"), state="skipped", reason="why")

    rows = logged_in(viewer).get("/api/v1/plans/shop-v2.1/migration-status").json()

    assert [(r["component"], r["phase"], r["state"]) for r in rows] == [
        ("alpha", "one", "completed"),
        ("beta", "one", "pending"),
    ]
    assert rows[0]["latest"] is None
    assert rows[1]["latest"]["status"] == "skipped" and rows[1]["latest"]["reason"] == "why"
    runs = logged_in(viewer).get("/api/v1/plans/shop-v2.1/runs").json()
    assert [(r["id"], r["state"], r["kind"]) for r in runs] == [(run.pk, "failed", "phase")]
    log = logged_in(viewer).get(f"/api/v1/runs/{run.pk}").json()
    assert log["components"][0]["component"] == "beta" and log["attempts"] == []
