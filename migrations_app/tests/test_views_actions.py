"""Every dashboard button against every role: the server refuses what the page disables.

Operations whose service belongs to a part not installed in this build answer 503 naming
that part, after the same role check; nothing is written for any refusal."""

from datetime import timedelta

import pytest
from django.utils import timezone

from migrations_app.models import Approval, AuditEvent, ChecklistItem

PLAN = "/plans/tiny"

# url, the permission it needs ("operate" or "approve"), what an allowed role gets now
ACTIONS = [
    (PLAN + "/checklist/0/tick", "operate", 303),
    # Refused by the engine itself: the checklist is not complete.
    (PLAN + "/phases/one/start", "operate", 409),
    (PLAN + "/phases/one/request-promotion", "operate", 503),
    # Refused by the engine itself: alpha is pending, with nothing to retry or roll back.
    (PLAN + "/components/alpha/retry", "operate", 409),
    (PLAN + "/components/alpha/rollback", "operate", 409),
    (PLAN + "/components/beta/rollout/start", "operate", 409),  # beta has not migrated yet
    (PLAN + "/components/beta/rollout/pause", "operate", 303),
    (PLAN + "/components/beta/rollout/resume", "operate", 409),  # it is not paused
    (PLAN + "/emergency-rollback", "operate", 303),
    (PLAN + "/approvals/{approval}/approve", "approve", 503),
    (PLAN + "/approvals/{approval}/reject", "approve", 503),
]
ALLOWED = {"operate": {"operator", "admin"}, "approve": {"approver", "admin"}}


@pytest.fixture
def approval(tiny_plan, admin_user):
    phase = tiny_plan.phases.get(key="one")
    return Approval.objects.create(
        plan=tiny_plan,
        kind=Approval.Kind.PHASE_PROMOTION,
        phase=phase,
        summary="Promote One: phase Two may start",
        fingerprint="f" * 64,
        required_approvals=1,
        requested_by=admin_user,
        requested_by_name=admin_user.username,
        expires_at=timezone.now() + timedelta(hours=72),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url, needs, allowed_status", ACTIONS)
@pytest.mark.parametrize("role", ["viewer", "operator", "approver", "admin", "nobody"])
def test_each_button_is_refused_to_roles_that_may_not_use_it(
    client, personas, approval, role, url, needs, allowed_status
):
    client.force_login(personas[role])
    audit_before = AuditEvent.objects.count()
    response = client.post(url.format(approval=approval.pk), {"reason": "because the test says so"})
    if role in ALLOWED[needs]:
        assert response.status_code == allowed_status
        if allowed_status == 503:
            assert "is not installed in this build" in response.content.decode()
        if allowed_status >= 400:
            assert AuditEvent.objects.count() == audit_before
    else:
        assert response.status_code == 403
        assert "needs the" in response.content.decode()
        assert AuditEvent.objects.count() == audit_before
        assert not ChecklistItem.objects.filter(checked_at__isnull=False).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("url, needs, allowed_status", ACTIONS)
def test_an_anonymous_visitor_is_sent_to_the_login(client, tiny_plan, approval, url, needs, allowed_status):
    response = client.post(url.format(approval=approval.pk), {"reason": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("url", [PLAN + "/checklist/0/tick", PLAN + "/emergency-rollback"])
def test_buttons_answer_only_posts(logged_in, operator, tiny_plan, url):
    assert logged_in(operator).get(url).status_code == 405


@pytest.mark.django_db
def test_htmx_refusals_come_back_as_a_message_for_the_flash_area(logged_in, viewer, tiny_plan):
    response = logged_in(viewer).post(PLAN + "/checklist/0/tick", HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    html = response.content.decode()
    assert 'id="flash"' in html and 'hx-swap-oob="true"' in html
    assert "vera-viewer may not tick the readiness checklist: it needs the operator or admin role" in html
    assert response["HX-Reswap"] == "none"


@pytest.mark.django_db
def test_an_emergency_rollback_without_a_reason_is_refused_before_anything_happens(logged_in, operator, tiny_plan):
    response = logged_in(operator).post(PLAN + "/emergency-rollback", {"reason": "  "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "reason: say why" in response.content.decode()
    assert not AuditEvent.objects.filter(action__contains="emergency").exists()


@pytest.mark.django_db
def test_a_rejection_needs_a_reason(logged_in, approver, approval):
    response = logged_in(approver).post(f"{PLAN}/approvals/{approval.pk}/reject", {"reason": ""})
    assert response.status_code == 422
    assert "say why you reject it" in response.content.decode()
    approval.refresh_from_db()
    assert approval.state == Approval.State.PENDING


@pytest.mark.django_db
def test_a_plain_form_refusal_renders_a_page_with_the_reason(logged_in, viewer, tiny_plan):
    response = logged_in(viewer).post(PLAN + "/checklist/0/tick")
    assert response.status_code == 403
    assert "✖ Refused" in response.content.decode()
