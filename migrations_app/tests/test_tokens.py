"""API tokens: printed once, stored hashed, scoped; personal tokens act as their user."""

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from migrations_app.models import ApiToken, AuditEvent


def create_token(*args) -> str:
    out = StringIO()
    call_command("createtoken", *args, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


@pytest.mark.django_db
def test_createtoken_prints_a_token_once_and_stores_only_its_digest():
    raw = create_token("ingest", "--scopes", "metrics:write,rollout:read")
    token = ApiToken.objects.get(name="ingest")
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(list(ApiToken.objects.values()))
    assert token.scopes == ["metrics:write", "rollout:read"]
    assert AuditEvent.objects.filter(action="token.created", target_label="ingest").exists()


@pytest.mark.django_db
def test_a_token_authenticates_api_calls(client, tiny_plan):
    raw = create_token("reader", "--scopes", "read")
    response = client.get("/api/v1/plans/tiny", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response.json()["key"] == "tiny"


@pytest.mark.django_db
@pytest.mark.parametrize("header", [None, "Bearer sy_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz"])
def test_the_api_answers_401_without_valid_credentials(client, tiny_plan, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/plans/tiny", headers=headers)
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.django_db
def test_a_token_without_the_scope_is_refused_with_403(client, tiny_plan):
    raw = create_token("ingest-only", "--scopes", "metrics:write")
    response = client.get("/api/v1/plans/tiny", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 403
    assert "read plans" in response.json()["detail"]


@pytest.mark.django_db
def test_a_revoked_token_no_longer_works(client, tiny_plan):
    from django.utils import timezone

    raw = create_token("old", "--scopes", "read")
    ApiToken.objects.filter(name="old").update(revoked_at=timezone.now())
    assert client.get("/api/v1/plans/tiny", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


@pytest.mark.django_db
def test_a_personal_token_acts_as_its_user_with_their_roles(client, tiny_plan, viewer, nobody):
    raw = create_token("vera-laptop", "--user", viewer.username)
    assert client.get("/api/v1/plans/tiny", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    roleless = create_token("norm-laptop", "--user", nobody.username)
    assert client.get("/api/v1/plans/tiny", headers={"Authorization": f"Bearer {roleless}"}).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("svc", "--scopes", "approve"), "only a personal token (--user) may approve"),
        (("svc", "--scopes", "root"), "unknown scope(s) root"),
        (("svc",), "a service token needs at least one scope"),
        (("svc", "--user", "ghost"), "no user named 'ghost'"),
    ],
)
def test_createtoken_refuses_bad_requests_and_creates_nothing(args, message):
    with pytest.raises(CommandError) as refused:
        create_token(*args)
    assert message in str(refused.value)
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_token_names_are_unique():
    create_token("dup", "--scopes", "read")
    with pytest.raises(CommandError, match="already exists"):
        create_token("dup", "--scopes", "read")
    assert ApiToken.objects.filter(name="dup").count() == 1


@pytest.mark.django_db
def test_revoking_is_an_admins_audited_act_and_happens_once(client, tiny_plan, viewer, admin_user):
    from conftest import actor
    from migrations_app import tokens
    from migrations_app.errors import NotAllowed
    from migrations_app.models import AuditEvent

    raw = create_token("leaving", "--scopes", "read")
    token = ApiToken.objects.get(name="leaving")
    with pytest.raises(NotAllowed):
        tokens.revoke(token, actor=actor(viewer))
    assert client.get("/api/v1/plans/tiny", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    assert tokens.revoke(token, actor=actor(admin_user), reason="laptop lost") is True
    assert tokens.revoke(token, actor=actor(admin_user)) is False
    assert client.get("/api/v1/plans/tiny", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    event = AuditEvent.objects.get(action="token.revoked")
    assert (event.actor_name, event.reason) == ("ada-admin", "laptop lost")


@pytest.mark.django_db
def test_revoketoken_revokes_by_name_and_says_what_it_cannot_do(client, tiny_plan):
    raw = create_token("ci", "--scopes", "read")
    out = StringIO()
    call_command("revoketoken", "ci", "--reason", "pipeline retired", stdout=out)
    assert "Token 'ci' revoked." in out.getvalue()
    assert client.get("/api/v1/plans/tiny", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert AuditEvent.objects.get(action="token.revoked").reason == "pipeline retired"
    with pytest.raises(CommandError, match="token 'ci' was revoked already"):
        call_command("revoketoken", "ci")
    with pytest.raises(CommandError, match="no token named 'nope'"):
        call_command("revoketoken", "nope")
    assert AuditEvent.objects.filter(action="token.revoked").count() == 1
