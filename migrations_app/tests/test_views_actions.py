"""Every dashboard button against every role: the server refuses what the page disables,
and for the roles that may press it, the answer is the service's own (303 done, or its
403/404/409/422 refusal); nothing is written for any refusal."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from migrations_app import promotion
from migrations_app.models import Approval, AuditEvent, ChecklistItem, Rollout, Run
from migrations_app.states import RolloutState
from monitoring.alerts import raise_alert

PLAN = "/plans/tiny"
REASON = {"reason": "because the test says so"}

# url, the permission it needs, what each role allowed gets, the form it posts
ACTIONS = [
    (PLAN + "/checklist/0/tick", "operate", 303, {}),
    # Refused by the engine itself: the checklist is not complete.
    (PLAN + "/phases/one/start", "operate", 409, REASON),
    # Refused by the promotion: phase one is pending.
    (PLAN + "/phases/one/request-promotion", "operate", 409, REASON),
    (PLAN + "/runs/{run}/cancel", "operate", 303, REASON),
    # Refused by the engine itself: alpha is pending, with nothing to retry or roll back.
    (PLAN + "/components/alpha/retry", "operate", 409, REASON),
    (PLAN + "/components/alpha/rollback", "operate", 409, REASON),
    (PLAN + "/components/beta/rollout/start", "operate", 409, REASON),  # beta has not migrated yet
    (PLAN + "/components/beta/rollout/pause", "operate", 303, REASON),
    (PLAN + "/components/beta/rollout/resume", "operate", 409, REASON),  # it is not paused
    (PLAN + "/components/beta/rollout/percentage", "operate", 303, {"percentage": "0", **REASON}),
    (PLAN + "/components/beta/rollout/planned-rollback", "operate", 409, REASON),  # nothing to roll back
    (PLAN + "/components/beta/rollout/switches", "operate", 303, {"fallback": "off", **REASON}),
    (PLAN + "/emergency-rollback", "operate", 303, REASON),
    (PLAN + "/force-original/clear-request", "operate", 409, REASON),  # force-original is off
    (PLAN + "/alerts/{alert}/acknowledge", "operate", 303, {}),
    (PLAN + "/simulator/faults", "operate", 409, {"fault": "migrated.error_rate", "value": "0.1"}),  # no simulator
    # The approver: the promotion's gates fail when applied (409); the admin requested it:
    # four eyes refuses them (403).
    (PLAN + "/approvals/{approval}/approve", "approve", {"approver": 409, "admin": 403}, REASON),
    (PLAN + "/approvals/{approval}/reject", "approve", 303, REASON),
]
ALLOWED = {"operate": {"operator", "admin"}, "approve": {"approver", "admin"}}


@pytest.fixture(autouse=True)
def no_simulator(settings, monkeypatch):
    """The simulator's button answers 409 here: none is configured."""
    settings.SIMULATOR_URL = ""
    monkeypatch.delenv("SIMULATOR_URL", raising=False)


@pytest.fixture
def approval(tiny_plan, admin_user):
    phase = tiny_plan.phases.get(key="one")
    return Approval.objects.create(
        plan=tiny_plan,
        kind=Approval.Kind.PHASE_PROMOTION,
        phase=phase,
        summary="Promote One: phase Two may start",
        fingerprint=promotion.phase_fingerprint(phase),
        required_approvals=1,
        requested_by=admin_user,
        requested_by_name=admin_user.username,
        expires_at=timezone.now() + timedelta(hours=72),
    )


@pytest.fixture
def run(tiny_plan):
    return Run.objects.create(
        plan=tiny_plan, phase=tiny_plan.phases.get(key="two"), state=Run.State.RUNNING, triggered_by_name="olga"
    )


@pytest.fixture
def alert(tiny_plan):
    beta = tiny_plan.components.get(name="beta")
    return raise_alert(tiny_plan, component=beta, rule="error_rate", severity="critical", message="error rate 12%")


def url_of(template, approval, run, alert):
    return template.format(approval=approval.pk, run=run.pk, alert=alert.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("url, needs, outcome, form", ACTIONS)
@pytest.mark.parametrize("role", ["viewer", "operator", "approver", "admin", "nobody"])
def test_each_button_is_refused_to_roles_that_may_not_use_it(
    client, personas, approval, run, alert, role, url, needs, outcome, form
):
    client.force_login(personas[role])
    audit_before = AuditEvent.objects.count()
    response = client.post(url_of(url, approval, run, alert), form)
    if role in ALLOWED[needs]:
        expected = outcome[role] if isinstance(outcome, dict) else outcome
        assert response.status_code == expected, response.content.decode()[:500]
        if expected >= 400:
            assert AuditEvent.objects.count() == audit_before
        else:
            assert AuditEvent.objects.count() > audit_before
    else:
        assert response.status_code == 403
        assert "needs the" in response.content.decode()
        assert AuditEvent.objects.count() == audit_before
        assert not ChecklistItem.objects.filter(checked_at__isnull=False).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("url, needs, outcome, form", ACTIONS)
def test_an_anonymous_visitor_is_sent_to_the_login(client, approval, run, alert, url, needs, outcome, form):
    response = client.post(url_of(url, approval, run, alert), form)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_the_requester_of_an_approval_is_refused_as_four_eyes(logged_in, admin_user, approval):
    response = logged_in(admin_user).post(f"{PLAN}/approvals/{approval.pk}/approve", REASON, HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert "ada-admin requested this and may not approve it: another approver must (four eyes)" in (
        response.content.decode()
    )
    approval.refresh_from_db()
    assert approval.state == Approval.State.PENDING and not approval.votes.exists()


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
    assert "reason: a reason is required to roll back in an emergency" in response.content.decode()
    assert not AuditEvent.objects.filter(action__contains="emergency").exists()
    tiny_plan.refresh_from_db()
    assert not tiny_plan.force_original


@pytest.mark.django_db
def test_a_rejection_needs_a_reason(logged_in, approver, approval):
    response = logged_in(approver).post(f"{PLAN}/approvals/{approval.pk}/reject", {"reason": ""})
    assert response.status_code == 422
    assert "a rejection needs a reason" in response.content.decode()
    approval.refresh_from_db()
    assert approval.state == Approval.State.PENDING


@pytest.mark.django_db
@pytest.mark.parametrize(
    "form, said",
    [
        ({"percentage": "ten", **REASON}, "percentage: a whole number from 0 to 100, not &#x27;ten&#x27;"),
        ({"percentage": "101", **REASON}, "percentage: must be a whole number from 0 to 100, not 101"),
        ({"percentage": "0"}, "reason: a reason is required to set a rollout percentage"),
    ],
)
def test_a_bad_percentage_is_refused_and_nothing_changes(logged_in, operator, tiny_plan, form, said):
    response = logged_in(operator).post(PLAN + "/components/beta/rollout/percentage", form, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert said in response.content.decode()
    rollout = Rollout.objects.get(component__name="beta")
    assert rollout.state == RolloutState.IDLE and rollout.epoch == 0
    assert not AuditEvent.objects.filter(action__startswith="rollout.").exists()


@pytest.mark.django_db
def test_switches_move_the_epoch_and_are_audited_with_the_reason(logged_in, operator, tiny_plan):
    epoch = tiny_plan.epoch
    response = logged_in(operator).post(
        PLAN + "/components/beta/rollout/switches", {"comparison": "on", "reason": "shadow-test v4.2"}
    )
    assert response.status_code == 303
    rollout = Rollout.objects.get(component__name="beta")
    assert rollout.comparison is True and rollout.fallback is True
    tiny_plan.refresh_from_db()
    assert tiny_plan.epoch == epoch + 1
    event = AuditEvent.objects.get(action="rollout.switches_set")
    assert (event.before, event.after, event.reason) == (
        {"comparison": False},
        {"comparison": True},
        "shadow-test v4.2",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "form, status, said",
    [
        ({"fallback": "maybe", **REASON}, 422, "fallback: on or off, not &#x27;maybe&#x27;"),
        (REASON, 422, "give at least one switch"),
        ({"fallback": "on"}, 422, "a reason is required to switch fallback or comparison"),
        ({"fallback": "on", **REASON}, 409, "beta: fallback is already on"),
    ],
)
def test_a_bad_switch_is_refused_and_nothing_changes(logged_in, operator, tiny_plan, form, status, said):
    response = logged_in(operator).post(PLAN + "/components/beta/rollout/switches", form, HTTP_HX_REQUEST="true")
    assert response.status_code == status
    assert said in response.content.decode()
    assert Rollout.objects.get(component__name="beta").epoch == 0
    assert not AuditEvent.objects.filter(action__startswith="rollout.").exists()


@pytest.mark.django_db
def test_a_plain_form_refusal_renders_a_page_with_the_reason(logged_in, viewer, tiny_plan):
    response = logged_in(viewer).post(PLAN + "/checklist/0/tick")
    assert response.status_code == 403
    assert "✖ Refused" in response.content.decode()


@pytest.mark.django_db
def test_an_operator_starts_phase_one_once_the_checklist_is_complete(logged_in, operator, tiny_plan):
    client = logged_in(operator)
    client.post(PLAN + "/checklist/0/tick")
    response = client.post(PLAN + "/phases/one/start", REASON, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Trigger"] == "sy:resync"
    run = Run.objects.get(plan=tiny_plan)
    assert f"One started: run {run.pk}." in response.content.decode()
    assert run.triggered_by_name == "olga-operator" and run.reason == "because the test says so"
    assert tiny_plan.phases.get(key="one").state == "in_progress"


@pytest.mark.django_db
def test_a_phase_started_while_the_broker_is_unreachable_starts_and_its_components_are_sent_later(
    logged_in, operator, tiny_plan, broker_unreachable, django_capture_on_commit_callbacks, caplog
):
    from migrations_app.engine import config, sweeper
    from migrations_app.models.runs import ComponentRun

    client = logged_in(operator)
    client.post(PLAN + "/checklist/0/tick")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PLAN + "/phases/one/start", REASON, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    run = Run.objects.get(plan=tiny_plan)
    assert f"One started: run {run.pk}." in response.content.decode()
    queued = ComponentRun.objects.filter(run=run, state=ComponentRun.State.QUEUED)
    assert queued.exists()
    assert "run_component" in caplog.text and "the sweeper sends" in caplog.text
    # Nothing is lost: a component queued long ago and never claimed is sent again.
    long_ago = timezone.now() - timedelta(seconds=config.REDISPATCH_AFTER_SECONDS + 1)
    queued.update(queued_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeper.sweep()["redispatched"] == queued.count()


@pytest.fixture
def past_window(tiny_plan):
    """alpha migrated in phase one, promoted: its window (0 h) is closed."""
    from migrations_app.engine.tests.helpers import migrate, promote

    alpha = migrate(tiny_plan.components.get(name="alpha"))
    promote(tiny_plan.phases.get(key="one"), hours_ago=1)
    return alpha


def form_of_button(html: str, button_id: str) -> str:
    """The form around the button with that id ("" when the page has none)."""
    found = re.search(rf'<form[^>]*>(?:(?!</form>).)*id="btn-{button_id}".*?</form>', html, re.S)
    return found.group(0) if found else ""


def override_button(html: str) -> str:
    return form_of_button(html, "rollback-override")


@pytest.mark.django_db
def test_after_the_window_only_an_admin_may_roll_back_and_the_page_says_so(
    logged_in, operator, admin_user, past_window
):
    page = PLAN + "/components/alpha/"
    html = logged_in(operator).get(page).content.decode()
    assert re.search(r'id="btn-rollback"[^>]*disabled', html)
    assert "an admin can override it with a reason" in html
    button = override_button(html)
    assert "disabled" in button and "needs the admin role" in button

    button = override_button(logged_in(admin_user).get(page).content.decode())
    assert "disabled" not in button
    assert 'name="override" value="on"' in button and 'name="reason" required' in button


@pytest.mark.django_db
def test_no_override_is_offered_while_the_window_is_open(logged_in, admin_user, tiny_plan):
    from migrations_app.engine.tests.helpers import migrate

    migrate(tiny_plan.components.get(name="alpha"))
    html = logged_in(admin_user).get(PLAN + "/components/alpha/").content.decode()
    assert not re.search(r'id="btn-rollback"[^>]*disabled', html)
    assert override_button(html) == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who, form, status, said",
    [
        ("operator", {"override": "on", **REASON}, 403, "it needs the admin role"),
        ("operator", REASON, 409, "an admin can override it with a reason"),
        ("admin_user", {"override": "on", "reason": " "}, 422, "overriding the rollback window needs a reason"),
    ],
)
def test_a_refused_override_writes_nothing(request, logged_in, past_window, who, form, status, said):
    before = AuditEvent.objects.count()
    response = logged_in(request.getfixturevalue(who)).post(
        PLAN + "/components/alpha/rollback", form, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == status
    assert said in response.content.decode()
    assert not Run.objects.exists() and AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_an_admin_rolls_back_after_the_window_with_a_reason_and_it_is_audited(logged_in, admin_user, past_window):
    form = {"override": "on", "reason": "corrupted rows found"}
    response = logged_in(admin_user).post(PLAN + "/components/alpha/rollback", form)
    assert response.status_code == 303
    run = Run.objects.get(kind=Run.Kind.ROLLBACK)
    assert run.component == past_window
    event = AuditEvent.objects.get(action="component.rollback_overridden")
    assert (event.actor_name, event.reason, event.data["override"]) == ("ada-admin", "corrupted rows found", True)


@pytest.fixture
def beta_past_window(tiny_plan, operator):
    """beta migrated, its rollout progressing, phase two promoted 30 h ago (window 24 h)."""
    from conftest import actor
    from migrations_app.engine.tests.helpers import migrate
    from migrations_app.models import Phase
    from migrations_app.rollout import services

    migrate(tiny_plan.components.get(name="alpha"))
    beta = migrate(tiny_plan.components.get(name="beta"))
    services.start_rollout(Rollout.objects.get(component=beta), actor=actor(operator))
    Phase.objects.filter(key="two", plan=tiny_plan).update(
        state="promoted", promoted_at=timezone.now() - timedelta(hours=30)
    )
    return Rollout.objects.get(component=beta)


def planned_override_button(html: str) -> str:
    return form_of_button(html, "planned-rollback-override-beta")


@pytest.mark.django_db
def test_after_the_window_a_planned_rollback_is_an_admins_override_on_the_card(
    logged_in, operator, admin_user, beta_past_window
):
    html = logged_in(operator).get(PLAN + "/").content.decode()
    assert re.search(r'id="btn-planned-rollback-beta"[^>]*disabled', html)
    button = planned_override_button(html)
    assert "disabled" in button and "needs the admin role" in button

    form = {"override": "on", "reason": "customer data at risk"}
    response = logged_in(operator).post(PLAN + "/components/beta/rollout/planned-rollback", form)
    assert response.status_code == 403
    beta_past_window.refresh_from_db()
    assert beta_past_window.state == RolloutState.PROGRESSING
    assert not AuditEvent.objects.filter(action="rollout.window_overridden").exists()

    client = logged_in(admin_user)
    assert "disabled" not in planned_override_button(client.get(PLAN + "/").content.decode())
    assert client.post(PLAN + "/components/beta/rollout/planned-rollback", form).status_code == 303
    beta_past_window.refresh_from_db()
    assert beta_past_window.state == RolloutState.ROLLING_BACK
    event = AuditEvent.objects.get(action="rollout.window_overridden")
    assert (event.actor_name, event.reason) == ("ada-admin", "customer data at risk")
