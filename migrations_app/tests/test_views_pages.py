"""The plan pages: one fragment in three uses, the component's migration log, the
approval page's four eyes, the emergency button, the report placeholder."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from migrations_app import broadcast
from migrations_app.models import Approval, ApprovalVote, Run, StepAttempt

OVERVIEW = "/plans/tiny/"


def without_csrf(html: str) -> str:
    """CSRF tokens are masked afresh on every render."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def region_ids(html: str) -> list[str]:
    return re.findall(r'<section id="([a-z-]+)"[^>]*hx-swap-oob="true"', html)


@pytest.mark.django_db
def test_an_htmx_request_for_a_region_gets_only_that_region(logged_in, viewer, tiny_plan):
    response = logged_in(viewer).get(OVERVIEW + "?region=checklist", HTTP_HX_REQUEST="true")
    html = response.content.decode().strip()
    assert response.status_code == 200
    assert html.startswith('<section id="checklist"')
    assert "<html" not in html and 'id="phases"' not in html
    assert "Backups taken" in html


@pytest.mark.django_db
def test_the_same_region_renders_inside_the_full_page(logged_in, viewer, tiny_plan):
    client = logged_in(viewer)
    alone = without_csrf(client.get(OVERVIEW + "?region=phases", HTTP_HX_REQUEST="true").content.decode().strip())
    page = without_csrf(client.get(OVERVIEW).content.decode())
    assert "<html" in page
    assert alone in page


@pytest.mark.django_db
def test_a_resync_returns_every_region_out_of_band_with_the_current_number(logged_in, viewer, tiny_plan):
    broadcast.send_now(tiny_plan.pk, broadcast.Event.PLAN_CHANGED, {})
    current = broadcast.current_sequence(tiny_plan.pk)
    response = logged_in(viewer).get("/plans/tiny/live/?view=overview", HTTP_HX_REQUEST="true")
    assert response["X-Live-Seq"] == str(current)
    assert region_ids(response.content.decode()) == [
        "plan-banner",
        "phases",
        "checklist",
        "approvals",
        "alerts",
        "traffic",
        "components",
        "charts",
        "audit-latest",
    ]


@pytest.mark.django_db
def test_a_resync_for_an_unknown_page_is_refused(logged_in, viewer, tiny_plan):
    response = logged_in(viewer).get("/plans/tiny/live/?view=component&component=nope")
    assert response.status_code == 404


@pytest.mark.django_db
def test_every_plan_page_says_which_socket_it_listens_on_and_its_number(logged_in, viewer, tiny_plan):
    html = logged_in(viewer).get(OVERVIEW).content.decode()
    assert 'ws-connect="/ws/plans/tiny/?view=overview"' in html
    assert f'data-seq="{broadcast.current_sequence(tiny_plan.pk)}"' in html
    assert 'data-regions-url="/plans/tiny/live/?view=overview"' in html
    assert "django_htmx/htmx-2.min.js" in html and "django_htmx/ext/hx-ws-2.min.js" in html
    assert "https://" not in html  # no CDN, ever


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", [OVERVIEW, "/plans/tiny/audit/", "/plans/tiny/report/", "/plans/tiny/components/alpha/"]
)
def test_the_emergency_button_is_on_every_plan_page(logged_in, viewer, operator, tiny_plan, path):
    as_operator = logged_in(operator).get(path).content.decode()
    assert '<summary class="btn danger">Emergency rollback</summary>' in as_operator
    assert 'name="reason" required' in as_operator
    as_viewer = logged_in(viewer).get(path).content.decode()
    assert re.search(r'<button type="button" class="btn danger" disabled[^>]*>Emergency rollback</button>', as_viewer)
    assert "Not available: needs the operator or admin role" in as_viewer


@pytest.mark.django_db
def test_start_phase_says_why_it_is_disabled(logged_in, operator, tiny_plan):
    html = logged_in(operator).get(OVERVIEW).content.decode()
    phase_one = re.search(r'id="phase-one".*?</li>', html, re.S).group(0)
    assert "Start phase" in phase_one
    assert "the readiness checklist is not complete" in phase_one
    phase_two = re.search(r'id="phase-two".*?</li>', html, re.S).group(0)
    assert "phase &#x27;one&#x27; is pending: it must be promoted before phase &#x27;two&#x27; starts" in phase_two


@pytest.mark.django_db
def test_the_traffic_card_shows_percentage_steps_switches_and_thresholds(logged_in, viewer, demo_plan):
    html = logged_in(viewer).get("/plans/truststream-v4.2/").content.decode()
    cards = re.findall(r'<article class="traffic-card" id="traffic-([a-z-]+)"', html)
    traffic = list(demo_plan.components.filter(traffic=True).values_list("name", flat=True))
    assert cards == traffic and cards
    card = re.search(r'<article class="traffic-card".*?</article>', html, re.S).group(0)
    assert "0%</span> of requests to the new implementation" in card
    assert "Next step</dt><dd>10%" in card
    assert "✔ on: errors are served by the original" in card
    assert "Turn fallback off" in card and "Turn comparison off" in card
    # Health figures against the thresholds (none yet: nothing has been measured).
    assert "Errors (≤ 5%)" in card and "Avg (≤ 2000 ms)" in card and "p95 (warn &gt; 3000 ms)" in card


@pytest.mark.django_db
def test_a_traffic_card_form_posts_with_the_pages_csrf_token(operator, tiny_plan):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    html = strict.get(OVERVIEW).content.decode()
    form = re.search(r'<form method="post" action="([^"]+/rollout/percentage)".*?</form>', html, re.S)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(0)).group(1)
    fields = {"percentage": "0", "reason": "hold it here"}
    assert strict.post(form.group(1), fields).status_code == 403  # without the token
    assert strict.post(form.group(1), {**fields, "csrfmiddlewaretoken": token}).status_code == 303
    rollout = tiny_plan.components.get(name="beta").rollout
    rollout.refresh_from_db()
    assert (rollout.state, rollout.last_reason) == ("paused", "hold it here")  # a set percentage pauses


@pytest.mark.django_db
def test_what_people_wrote_is_escaped_in_traffic_cards_and_component_rows(logged_in, viewer, tiny_plan):
    beta = tiny_plan.components.get(name="beta")
    beta.last_error = "<img src=x onerror=alert(1)>"
    beta.save(update_fields=["last_error"])
    beta.rollout.last_reason = "<script>alert(2)</script>"
    beta.rollout.save(update_fields=["last_reason"])
    html = logged_in(viewer).get(OVERVIEW).content.decode()
    assert "<img src=x" not in html and "<script>alert(2)" not in html
    row = re.search(r'<tr id="component-beta">.*?</tr>', html, re.S).group(0)
    assert "&lt;img src=x onerror=alert(1)&gt;" in row
    card = re.search(r'<article class="traffic-card" id="traffic-beta">.*?</article>', html, re.S).group(0)
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in card


@pytest.mark.django_db
def test_each_component_row_names_its_dependencies_and_links_to_its_page(logged_in, viewer, demo_plan):
    html = logged_in(viewer).get("/plans/truststream-v4.2/").content.decode()
    for component in demo_plan.components.prefetch_related("depends_on"):
        row = re.search(rf'<tr id="component-{component.name}">(.*?)</tr>', html, re.S).group(1)
        assert f'href="/plans/truststream-v4.2/components/{component.name}/"' in row
        names = [d.name for d in sorted(component.depends_on.all(), key=lambda d: d.position)]
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        assert cells[-2] == (", ".join(names) or "—"), component.name


@pytest.fixture
def alpha_history(tiny_plan, operator):
    alpha = tiny_plan.components.get(name="alpha")
    step = alpha.steps.get(position=0)
    run = Run.objects.create(plan=tiny_plan, phase=alpha.phase, state=Run.State.FAILED, triggered_by_name="olga")
    start = timezone.now() - timedelta(minutes=5)
    StepAttempt.objects.create(
        run=run,
        component=alpha,
        step=step,
        status=StepAttempt.Status.FAILED,
        triggered_by_name="olga-operator",
        started_at=start,
        finished_at=start + timedelta(seconds=2),
        duration_ms=2000,
        output_tail="connecting to target\n",
        error_message='relation "t" already exists',
        error_trace="Traceback: ...",
    )
    return alpha


@pytest.mark.django_db
def test_the_component_page_shows_every_attempt_and_explains_its_disabled_buttons(
    logged_in, operator, viewer, alpha_history
):
    html = logged_in(operator).get("/plans/tiny/components/alpha/").content.decode()
    log = re.search(r'<section id="attempts".*?</section>', html, re.S).group(0)
    assert "1. make table" in log
    assert "✖ Failed" in log and "2000 ms" in log and "relation &quot;t&quot; already exists" in log
    assert "connecting to target" in html
    # The component is pending: nothing to retry or roll back, in the engine's own words.
    assert (
        "Not available: component &#x27;alpha&#x27; is pending: only a failed or rolled-back component can be retried"
        in html
    )
    assert "is pending: only a migrated component (or one whose rollback failed) can be rolled back" in html
    as_viewer = logged_in(viewer).get("/plans/tiny/components/alpha/").content.decode()
    assert "Not available: needs the operator or admin role" in as_viewer


@pytest.mark.django_db
def test_an_unknown_component_is_404(logged_in, viewer, tiny_plan):
    assert logged_in(viewer).get("/plans/tiny/components/nope/").status_code == 404


@pytest.fixture
def promotion(tiny_plan, approver, second_approver):
    phase = tiny_plan.phases.get(key="two")
    approval = Approval.objects.create(
        plan=tiny_plan,
        kind=Approval.Kind.PHASE_PROMOTION,
        phase=phase,
        summary="Promote Two: the migration is complete",
        fingerprint="f" * 64,
        required_approvals=2,
        requested_by=approver,
        requested_by_name=approver.username,
        expires_at=timezone.now() + timedelta(hours=72),
    )
    ApprovalVote.objects.create(approval=approval, approver=second_approver, comment="numbers look right")
    return approval


@pytest.mark.django_db
def test_the_requester_sees_that_they_cannot_approve(logged_in, approver, admin_user, promotion):
    url = f"/plans/tiny/approvals/{promotion.pk}/"
    mine = logged_in(approver).get(url).content.decode()
    assert "Promote Two: the migration is complete" in mine
    assert "1 of 2" in mine and "ben-approver" in mine and "numbers look right" in mine
    assert "✖ not met: all components migrated <small>(beta (pending))</small>" in mine
    assert "You requested this: another approver must decide (four eyes)" in mine
    assert re.search(r'<button type="submit" class="btn primary" id="btn-approve" disabled[^>]*>Approve</button>', mine)
    assert "anna-approver requested this and may not approve it: another approver must (four eyes)" in mine
    other = logged_in(admin_user).get(url).content.decode()
    assert "requested this and may not approve it" not in other
    assert re.search(r'<button type="submit" class="btn primary" id="btn-approve">Approve</button>', other)


@pytest.mark.django_db
def test_the_overview_lists_what_waits_for_approval(logged_in, viewer, promotion):
    html = logged_in(viewer).get(OVERVIEW).content.decode()
    region = re.search(r'<section id="approvals".*?</section>', html, re.S).group(0)
    assert f'href="/plans/tiny/approvals/{promotion.pk}/"' in region
    assert "1 of 2 approvals" in region


@pytest.mark.django_db
def test_the_report_page_shows_the_post_migration_report(logged_in, viewer, tiny_plan):
    html = logged_in(viewer).get("/plans/tiny/report/").content.decode()
    for section in ("Success criteria", "Performance against the baseline", "Reliability", "Recommendations"):
        assert section in html
    assert "Phases: planned against actual" in html


@pytest.mark.django_db
def test_the_alerts_area_lists_open_alerts(logged_in, viewer, tiny_plan):
    from monitoring.alerts import raise_alert

    assert "No open alert." in logged_in(viewer).get(OVERVIEW).content.decode()
    beta = tiny_plan.components.get(name="beta")
    raise_alert(tiny_plan, component=beta, rule="error_rate", severity="critical", message="error rate 12.0% > 5.0%")
    html = logged_in(viewer).get(OVERVIEW).content.decode()
    assert "✖ Critical" in html
    assert "beta: error rate 12.0% &gt; 5.0%" in html


@pytest.mark.django_db
@pytest.mark.parametrize("path", [OVERVIEW, "/plans/tiny/audit/", "/plans/tiny/report/", "/plans/tiny/live/"])
def test_plan_pages_refuse_a_user_without_a_role(logged_in, nobody, tiny_plan, path):
    assert logged_in(nobody).get(path).status_code == 403


@pytest.mark.django_db
def test_the_stepper_shows_each_phase_its_window_its_run_and_its_promotion_request(
    logged_in, operator, viewer, promotion
):
    plan = promotion.plan
    two = plan.phases.get(key="two")
    promoted = timezone.now() - timedelta(hours=1)
    plan.phases.filter(key="one").update(state="promoted", promoted_at=promoted, rollback_window_hours=24)
    plan.phases.filter(key="two").update(state="in_progress", started_at=promoted)
    run = Run.objects.create(plan=plan, phase=two, kind=Run.Kind.PHASE, state=Run.State.RUNNING, triggered_by_name="o")

    html = logged_in(operator).get(OVERVIEW).content.decode()
    stepper = re.search(r'<section id="phases".*?</section>', html, re.S).group(0)
    one = stepper[stepper.index('id="phase-one"') : stepper.index('id="phase-two"')]
    assert "✔ Promoted" in one and "24 h<br>◷ closes <time" in one and "data-relative data-countdown>" in one
    second = stepper[stepper.index('id="phase-two"') :]
    assert '<span class="num" aria-hidden="true">2</span> <strong>Two</strong>' in second
    assert "24 h" in second and "2 needed" in second and "Migrated</dt><dd>0 of 1" in second
    assert f"▶ Run {run.pk}: running" in second
    assert f'action="/plans/tiny/runs/{run.pk}/cancel"' in second
    assert re.search(r'<button type="submit" class="btn danger-quiet" id="btn-cancel-two">Cancel run</button>', second)
    assert f'href="/plans/tiny/approvals/{promotion.pk}/">Promotion awaiting approval</a>: 1 of 2' in second
    assert "✖ not met: all components migrated" in second
    assert 'id="btn-promote-two"' in second and 'id="btn-start-two"' not in second

    seen = logged_in(viewer).get(OVERVIEW).content.decode()
    assert re.search(r'id="btn-cancel-two" disabled aria-describedby="why-cancel-two">Cancel run</button>', seen)
    assert '<small class="why" id="why-cancel-two">Not available: ' in seen
