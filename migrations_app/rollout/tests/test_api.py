"""The rollout API over HTTP: the data plane's snapshot and decide, operator actions, approvals."""

import pytest

from migrations_app import tokens
from migrations_app.models import Approval, AuditEvent, Plan, Rollout
from migrations_app.roles import CLI
from migrations_app.rollout.tests.conftest import healthy, migrated, rollout_of
from migrations_app.routing import use_migrated
from migrations_app.states import RolloutState

pytestmark = pytest.mark.django_db

PLAN = "truststream-v4.2"
EDGE = f"/api/v1/plans/{PLAN}/components/edge-functions/rollout"


def bearer(*scopes, user=None, name="svc"):
    _, raw = tokens.create(name=name, scopes=list(scopes), actor=CLI, user=user)
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def edge(demo_plan, health_source):
    health_source["edge-functions"] = healthy("edge-functions")
    return migrated(demo_plan.components.get(name="edge-functions"))


def test_the_snapshot_has_each_component_and_an_etag_for_a_plan_key_with_dots(client, demo_plan):
    response = client.get(f"/api/v1/plans/{PLAN}/rollout", headers=bearer("rollout:read"))
    assert response.status_code == 200
    body = response.json()
    assert (body["plan"], body["force_original"], body["epoch"]) == (PLAN, False, 0)
    assert body["components"]["edge-functions"] == {
        "percentage": 0, "fallback": True, "comparison": True, "state": "idle", "epoch": 0,
    }  # fmt: skip
    assert set(body["components"]) == {"edge-functions", "blue-green-deployment"}
    assert response["ETag"].startswith('"')
    assert response["Cache-Control"] == "no-cache"


def test_the_snapshot_answers_304_to_its_etag_until_something_changes(client, edge, operator):
    headers = bearer("rollout:read")
    etag = client.get(f"/api/v1/plans/{PLAN}/rollout", headers=headers)["ETag"]
    not_modified = client.get(f"/api/v1/plans/{PLAN}/rollout", headers=headers | {"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified["ETag"] == etag
    client.force_login(operator)
    assert client.post(f"{EDGE}/start", {"reason": "go"}, content_type="application/json").status_code == 200
    changed = client.get(f"/api/v1/plans/{PLAN}/rollout", headers=headers | {"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.json()["components"]["edge-functions"]["percentage"] == 10


def test_a_plan_reload_that_changes_rollout_settings_changes_the_etag(client, demo_plan):
    headers = bearer("rollout:read")
    etag = client.get(f"/api/v1/plans/{PLAN}/rollout", headers=headers)["ETag"]
    Plan.objects.filter(pk=demo_plan.pk).update(source_sha256="f" * 64)  # what a reload writes
    Rollout.objects.filter(component__name="edge-functions").update(comparison=False)
    response = client.get(f"/api/v1/plans/{PLAN}/rollout", headers=headers | {"If-None-Match": etag})
    assert response.status_code == 200
    assert response.json()["components"]["edge-functions"]["comparison"] is False


def test_after_an_emergency_rollback_the_snapshot_shows_zero_and_force_original_at_once(client, edge, operator):
    reader = bearer("rollout:read")
    client.force_login(operator)
    client.post(f"{EDGE}/start", content_type="application/json")
    etag = client.get(f"/api/v1/plans/{PLAN}/rollout", headers=reader)["ETag"]
    response = client.post(
        f"/api/v1/plans/{PLAN}/emergency-rollback", {"reason": "5xx spike"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["force_original"] is True
    snapshot = client.get(f"/api/v1/plans/{PLAN}/rollout", headers=reader | {"If-None-Match": etag})
    assert snapshot.status_code == 200
    body = snapshot.json()
    assert body["force_original"] is True
    assert {c["percentage"] for c in body["components"].values()} == {0}


def test_decide_routes_a_key_as_the_hash_says(client, edge, operator):
    client.force_login(operator)
    client.post(f"{EDGE}/start", content_type="application/json")
    headers = bearer("rollout:read")
    for key in ("user-1", "user-2", "user-3", "tenant-42"):
        response = client.get(
            f"/api/v1/plans/{PLAN}/decide", {"component": "edge-functions", "key": key}, headers=headers
        )
        assert response.status_code == 200
        assert response.json()["use_migrated"] is use_migrated("edge-functions", key, 10)
        assert response.json()["percentage"] == 10


def test_decide_says_no_for_every_key_under_force_original(client, edge, operator):
    client.force_login(operator)
    client.post(f"{EDGE}/start", content_type="application/json")
    Plan.objects.filter(key=PLAN).update(force_original=True)
    response = client.get(
        f"/api/v1/plans/{PLAN}/decide?component=edge-functions&key=user-7", headers=bearer("rollout:read")
    )
    assert response.json()["use_migrated"] is False


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [
        ("component=nope&key=k", 404, "plan truststream-v4.2 has no component 'nope'"),
        ("component=agent-repository&key=k", 404, "component agent-repository serves no traffic"),
        ("component=edge-functions", 422, None),
    ],
)
def test_decide_refuses_unknown_components_and_missing_keys(client, demo_plan, query, status, detail):
    response = client.get(f"/api/v1/plans/{PLAN}/decide?{query}", headers=bearer("rollout:read"))
    assert response.status_code == status
    if detail:
        assert detail in response.json()["detail"]


def test_the_data_plane_endpoints_need_rollout_read(client, demo_plan, viewer):
    assert client.get(f"/api/v1/plans/{PLAN}/rollout").status_code == 401
    response = client.get(f"/api/v1/plans/{PLAN}/rollout", headers=bearer("metrics:write"))
    assert response.status_code == 403
    assert "rollout:read" in response.json()["detail"]
    assert client.get("/api/v1/plans/nope/rollout", headers=bearer("rollout:read", name="r2")).status_code == 404
    client.force_login(viewer)
    assert client.get(f"/api/v1/plans/{PLAN}/rollout").status_code == 200


ACTIONS = [
    (f"{EDGE}/start", {}),
    (f"{EDGE}/pause", {}),
    (f"{EDGE}/resume", {}),
    (f"{EDGE}/percentage", {"percentage": 20, "reason": "r"}),
    (f"{EDGE}/planned-rollback", {"reason": "r"}),
    (f"/api/v1/plans/{PLAN}/emergency-rollback", {"reason": "r"}),
    (f"/api/v1/plans/{PLAN}/clear-force-original", {"reason": "r"}),
    (f"/api/v1/plans/{PLAN}/phases/migration/request-promotion", {}),
]


@pytest.mark.parametrize(("path", "body"), ACTIONS, ids=[a[0].rsplit("/", 1)[-1] for a in ACTIONS])
def test_a_viewer_is_refused_every_action_and_nothing_changes(client, edge, viewer, path, body):
    client.force_login(viewer)
    events = AuditEvent.objects.count()
    response = client.post(path, body, content_type="application/json")
    assert response.status_code == 403
    assert "vera-viewer may not" in response.json()["detail"]
    assert AuditEvent.objects.count() == events
    assert rollout_of(edge).epoch == 0
    assert Plan.objects.get(key=PLAN).force_original is False


def test_a_token_without_operate_cannot_roll_back_and_one_with_it_can(client, edge):
    path = f"/api/v1/plans/{PLAN}/emergency-rollback"
    response = client.post(
        path, {"reason": "r"}, content_type="application/json", headers=bearer("rollout:read", "read")
    )
    assert response.status_code == 403
    assert Plan.objects.get(key=PLAN).force_original is False
    ops = bearer("operate", name="ci-pipeline")
    assert (
        client.post(path, {"reason": "pipeline saw 5xx"}, content_type="application/json", headers=ops).status_code
        == 200
    )
    assert Plan.objects.get(key=PLAN).force_original is True
    assert AuditEvent.objects.get(action="plan.emergency_rollback").actor_name == "token:ci-pipeline"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"percentage": 20}, "reason"),
        ({"percentage": 150, "reason": "r"}, "percentage"),
        ({"reason": "r"}, "percentage"),
    ],
)
def test_bad_percentage_requests_are_422_naming_the_field_and_write_nothing(client, edge, operator, body, field):
    client.force_login(operator)
    client.post(f"{EDGE}/start", content_type="application/json")
    events = AuditEvent.objects.count()
    response = client.post(f"{EDGE}/percentage", body, content_type="application/json")
    assert response.status_code == 422
    assert field in str(response.json()["detail"])
    assert AuditEvent.objects.count() == events
    assert rollout_of(edge).percentage == 10


def test_an_emergency_rollback_without_a_reason_is_422(client, edge, operator):
    client.force_login(operator)
    response = client.post(f"/api/v1/plans/{PLAN}/emergency-rollback", {}, content_type="application/json")
    assert response.status_code == 422
    assert Plan.objects.get(key=PLAN).force_original is False


def test_start_before_the_migration_completed_is_409_saying_why(client, demo_plan, operator, health_source):
    client.force_login(operator)
    response = client.post(f"{EDGE}/start", content_type="application/json")
    assert response.status_code == 409
    assert "component edge-functions is pending" in response.json()["detail"]


def test_an_unknown_component_is_404(client, demo_plan, operator):
    client.force_login(operator)
    response = client.post(f"/api/v1/plans/{PLAN}/components/nope/rollout/start", content_type="application/json")
    assert response.status_code == 404


def test_a_pipeline_drives_a_rollout_through_approval_with_personal_tokens(client, edge, operator, approver):
    ops = bearer("operate", name="ci")
    Rollout.objects.filter(component=edge).update(approval_at=[10])
    assert client.post(f"{EDGE}/start", content_type="application/json", headers=ops).json()["state"] == (
        RolloutState.AWAITING_APPROVAL
    )
    pending = client.get(f"/api/v1/approvals?plan={PLAN}", headers=ops).json()
    assert [a["summary"] for a in pending] == ["Raise edge-functions from 0% to 10% of traffic"]
    approval_id = pending[0]["id"]
    refused = client.post(f"/api/v1/approvals/{approval_id}/approve", content_type="application/json", headers=ops)
    assert refused.status_code == 403
    personal = bearer("approve", user=approver, name="anna-laptop")
    approved = client.post(
        f"/api/v1/approvals/{approval_id}/approve", content_type="application/json", headers=personal
    )
    assert approved.status_code == 200
    assert approved.json()["state"] == "approved"
    assert (rollout_of(edge).state, rollout_of(edge).percentage) == (RolloutState.PROGRESSING, 10)


def test_the_requesters_approval_is_403_and_changes_nothing(client, demo_plan, admin_user):
    phase = demo_plan.phases.get(key="setup")
    phase.components.update(state="completed")
    demo_plan.checklist.update(checked_by=admin_user, checked_at=phase.plan.loaded_at)
    type(phase).objects.filter(pk=phase.pk).update(state="in_progress")
    client.force_login(admin_user)
    requested = client.post(f"/api/v1/plans/{PLAN}/phases/setup/request-promotion", content_type="application/json")
    assert requested.status_code == 201
    approval_id = requested.json()["id"]
    response = client.post(f"/api/v1/approvals/{approval_id}/approve", content_type="application/json")
    assert response.status_code == 403
    assert "ada-admin requested this and may not approve it" in response.json()["detail"]
    assert Approval.objects.get(pk=approval_id).state == "pending"
    assert type(phase).objects.get(pk=phase.pk).state == "awaiting_approval"
    assert not AuditEvent.objects.filter(action="approval.voted").exists()


def test_request_promotion_answers_which_gates_fail(client, demo_plan, operator):
    type(demo_plan.phases.get(key="setup")).objects.filter(plan=demo_plan, key="setup").update(state="in_progress")
    client.force_login(operator)
    response = client.post(f"/api/v1/plans/{PLAN}/phases/setup/request-promotion", content_type="application/json")
    assert response.status_code == 409
    failing = {g["name"] for g in response.json()["gates"] if not g["passed"]}
    assert failing == {"all components migrated", "readiness checklist"}
    assert "abstraction-interfaces (pending)" in response.json()["detail"]
    gates = client.get(f"/api/v1/plans/{PLAN}/phases/setup/gates").json()
    assert [g["passed"] for g in gates] == [False, True, False, True]


def test_a_rejection_needs_a_reason(client, edge, operator, approver):
    Rollout.objects.filter(component=edge).update(approval_at=[10])
    client.force_login(operator)
    client.post(f"{EDGE}/start", content_type="application/json")
    approval = Approval.objects.get()
    client.force_login(approver)
    assert (
        client.post(f"/api/v1/approvals/{approval.pk}/reject", {}, content_type="application/json").status_code == 422
    )
    response = client.post(
        f"/api/v1/approvals/{approval.pk}/reject", {"reason": "wait for Monday"}, content_type="application/json"
    )
    assert response.json()["state"] == "rejected"
    rollout = rollout_of(edge)
    assert (rollout.state, rollout.percentage) == (RolloutState.PAUSED, 0)
    assert rollout.last_reason == "step approval rejected: wait for Monday"


@pytest.mark.parametrize("header", [None, "Bearer sy_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "sy_abc"])
def test_the_data_plane_answers_401_without_valid_credentials(client, demo_plan, header):
    headers = {"Authorization": header} if header else {}
    for path in (f"/api/v1/plans/{PLAN}/rollout", f"/api/v1/plans/{PLAN}/decide?component=edge-functions&key=k"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert "detail" in response.json()


def test_a_revoked_token_no_longer_reads_the_snapshot(client, demo_plan):
    from django.utils import timezone

    from migrations_app.models import ApiToken

    headers = bearer("rollout:read", name="reader")
    assert client.get(f"/api/v1/plans/{PLAN}/rollout", headers=headers).status_code == 200
    ApiToken.objects.filter(name="reader").update(revoked_at=timezone.now())
    assert client.get(f"/api/v1/plans/{PLAN}/rollout", headers=headers).status_code == 401
