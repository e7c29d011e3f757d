"""What the live pages show and push: every event type refreshes the regions that show it,
health figures are monitoring's own verdict, chart points go out beside the fragments,
and the simulator's faults are set from the server, audited."""

import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from migrations_app import fragments
from migrations_app.broadcast import Event
from migrations_app.fragments import health as page_health
from migrations_app.models import AuditEvent
from migrations_app.roles import Actor
from monitoring import health
from monitoring.models import ProbeResult
from monitoring.tests.conftest import compare, report

PLAN = "truststream-v4.2"


def regions_of(html: str) -> list[str]:
    return re.findall(r'<section id="([a-z-]+)"[^>]*hx-swap-oob="true"', html)


# Each event type, with a payload as its sender makes it, and the overview regions it must reach.
OVERVIEW_EVENTS = [
    (Event.PHASE_CHANGED, {"id": 1}, {"phases", "checklist", "components", "approvals", "traffic"}),
    (Event.CHECKLIST_CHANGED, {"id": 1}, {"checklist", "phases"}),
    (Event.COMPONENT_CHANGED, {"id": 1}, {"components", "phases", "traffic"}),
    (
        Event.ROLLOUT_CHANGED,
        {"component": "edge-functions", "percentage": 10},
        {"traffic", "phases", "components", "plan-banner"},
    ),
    (Event.RUN_CHANGED, {"id": 1}, {"phases", "components"}),
    (Event.STEP_STARTED, {"component": "agent-repository"}, {"components"}),
    (Event.STEP_FINISHED, {"component": "agent-repository"}, {"components"}),
    (Event.HEALTH_CHANGED, {"component": "edge-functions"}, {"traffic"}),
    (Event.PROBES_RECORDED, {"results": []}, {"traffic"}),
    (Event.ALERT_CHANGED, {"id": 1}, {"alerts", "phases"}),
    (Event.APPROVAL_CHANGED, {"id": 1}, {"approvals", "phases", "traffic", "plan-banner"}),
    (Event.AUDIT_RECORDED, {"action": "checklist.ticked"}, {"audit-latest"}),
    (Event.AUDIT_RECORDED, {"action": "plan.emergency_rollback"}, {"audit-latest", "plan-banner"}),
    (Event.STABILITY_CHECKED, {"id": 1}, {"plan-banner"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize("event, payload, expected", OVERVIEW_EVENTS)
def test_each_event_reaches_the_overview_regions_that_show_it(demo_plan, operator, event, payload, expected):
    page = fragments.page_for(demo_plan, Actor.for_user(operator), {"view": "overview"}, seq=1)
    assert set(regions_of(fragments.render_event(page, event, payload))) == expected


@pytest.mark.django_db
def test_a_plan_change_refreshes_every_region_but_a_log_line_none(demo_plan, operator):
    page = fragments.page_for(demo_plan, Actor.for_user(operator), {"view": "overview"}, seq=1)
    assert regions_of(fragments.render_event(page, Event.PLAN_CHANGED, {})) == list(page.regions)
    assert fragments.render_event(page, Event.LOG_LINE, {"attempt": 1, "component": "x", "line": "y"}) == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "event, payload, expected",
    [
        (Event.STEP_STARTED, {"component": "edge-functions"}, {"steps", "attempts", "component-head"}),
        (Event.STEP_STARTED, {"component": "agent-repository"}, set()),
        (Event.HEALTH_CHANGED, {"component": "edge-functions"}, {"component-head"}),
        (Event.ROLLOUT_CHANGED, {"component": "edge-functions", "percentage": 10}, {"component-head", "plan-banner"}),
        (Event.ROLLOUT_CHANGED, {"component": "trust-service", "percentage": 10}, set()),
        (Event.RUN_CHANGED, {"id": 1, "component": "agent-repository"}, {"component-head", "attempts"}),
    ],
)
def test_the_component_page_takes_only_its_own_components_events(demo_plan, viewer, event, payload, expected):
    query = {"view": "component", "component": "edge-functions"}
    page = fragments.page_for(demo_plan, Actor.for_user(viewer), query, seq=1)
    assert set(regions_of(fragments.render_event(page, event, payload))) == expected


@pytest.mark.django_db
def test_a_rollout_change_appends_a_point_to_its_trace_of_the_traffic_chart(demo_plan, viewer):
    page = fragments.page_for(demo_plan, Actor.for_user(viewer), {"view": "overview"}, seq=1)
    traffic = list(demo_plan.components.filter(traffic=True).order_by("position").values_list("name", flat=True))
    payload = {"component": traffic[1], "percentage": 25}
    [point] = fragments.chart_points(page, Event.ROLLOUT_CHANGED, payload)
    assert (point["chart"], point["traces"], point["y"]) == ("chart-rollout", [1], [[25]])
    html = page.render_region("charts")
    figure = json.loads(
        re.search(r'<script id="chart-rollout-figure" type="application/json">(.*?)</script>', html).group(1)
    )
    assert [trace["name"] for trace in figure["data"]] == traffic


@pytest.mark.django_db
def test_health_points_are_the_last_complete_bucket_per_provider(demo_plan, viewer):
    now = timezone.now()
    edge = "edge-functions"
    report(PLAN, edge, "migrated", [100] * 8, errors=2, at=now - timedelta(seconds=10))
    report(PLAN, edge, "original", [50] * 4, at=now - timedelta(seconds=10))
    page = fragments.page_for(demo_plan, Actor.for_user(viewer), {"view": "component", "component": edge}, seq=1)
    points = {p["chart"]: p for p in fragments.chart_points(page, Event.HEALTH_CHANGED, {"component": edge})}
    assert points[f"chart-error-rate-{edge}"]["y"] == [[0.0], [25.0]]  # original, migrated (percent)
    assert points[f"chart-error-rate-{edge}"]["traces"] == [0, 1]
    assert fragments.chart_points(page, Event.HEALTH_CHANGED, {"component": "trust-service"}) == []


@pytest.mark.django_db
def test_the_cards_health_is_monitorings_verdict_for_every_traffic_component(demo_plan):
    now = timezone.now()
    traffic = list(demo_plan.components.filter(traffic=True).select_related("rollout", "plan").order_by("position"))
    failing, healthy = traffic[0], traffic[1]
    report(PLAN, failing.name, "migrated", [120] * 90, errors=12, at=now - timedelta(seconds=20))
    report(PLAN, failing.name, "original", [40] * 60, at=now - timedelta(seconds=20))
    report(PLAN, healthy.name, "migrated", [3500] * 60, at=now - timedelta(seconds=30))
    report(PLAN, healthy.name, "migrated", [90] * 10, at=now - timedelta(hours=2))  # outside every window
    compare(PLAN, healthy.name, [True, False, True, True], at=now - timedelta(seconds=20))
    ProbeResult.objects.create(kind="http", component=failing, target=failing.health_url, at=now, ok=False, error="503")
    ProbeResult.objects.create(
        kind="http", component=failing, target=failing.health_url, at=now - timedelta(seconds=15), ok=False, error="503"
    )
    verdicts = page_health.verdicts(demo_plan, traffic, now)
    assert set(verdicts) == {c.pk for c in traffic}
    for component in traffic:
        assert verdicts[component.pk] == health.evaluate(component, now=now), component.name
    assert verdicts[failing.pk].failing
    assert any("error rate" in reason for reason in verdicts[failing.pk].reasons)
    assert verdicts[healthy.pk].mismatch_rate == 0.25


@pytest.mark.django_db
def test_each_card_sums_only_its_own_window_when_the_windows_differ(demo_plan):
    now = timezone.now()
    traffic = list(demo_plan.components.filter(traffic=True).select_related("rollout", "plan").order_by("position"))
    short, long = traffic[0], traffic[1]
    short.rollout.health = {**short.rollout.health, "window_seconds": 60}
    short.rollout.save(update_fields=["health"])
    for component in (short, long):
        report(PLAN, component.name, "migrated", [100] * 60, errors=3, at=now - timedelta(seconds=20))
        report(PLAN, component.name, "migrated", [900] * 40, errors=20, at=now - timedelta(seconds=200))
    verdicts = page_health.verdicts(demo_plan, traffic, now)
    for component in traffic:
        assert verdicts[component.pk] == health.evaluate(component, now=now), component.name
    assert verdicts[short.pk].providers["migrated"].samples == 60  # the 200 s old ones are outside 60 s
    assert verdicts[long.pk].providers["migrated"].samples == 100


@pytest.mark.django_db
def test_the_overview_shows_health_figures_against_thresholds_and_why_it_fails(logged_in, viewer, demo_plan):
    now = timezone.now()
    edge = demo_plan.components.filter(traffic=True).order_by("position").first()
    report(PLAN, edge.name, "migrated", [120] * 90, errors=12, at=now - timedelta(seconds=20))
    html = logged_in(viewer).get(f"/plans/{PLAN}/").content.decode()
    card = re.search(rf'<article class="traffic-card" id="traffic-{edge.name}">.*?</article>', html, re.S).group(0)
    assert "✖ Failing the health gate" in card
    assert '<td class="over">13.3% ✖</td>' in card
    assert "migrated: error rate 13.3% &gt; 5.0%" in card


# --- The simulator's faults --------------------------------------------------------------------


class Simulator(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        self.server.received.append((self.command, self.path, body))
        status = self.server.status
        answer = {"detail": "unknown fault"} if status != 200 else {"health": "none", "set": body}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_DELETE = _answer


@pytest.fixture
def simulator(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Simulator)
    server.received, server.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SIMULATOR_URL = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_an_operator_injects_and_clears_a_fault_through_the_server(logged_in, operator, demo_plan, simulator):
    client = logged_in(operator)
    assert 'id="simulator"' in client.get(f"/plans/{PLAN}/").content.decode()
    form = {"fault": "migrated.error_rate", "value": "0.12", "reason": "watch the gate"}
    assert client.post(f"/plans/{PLAN}/simulator/faults", form).status_code == 303
    assert client.post(f"/plans/{PLAN}/simulator/faults", {"clear": "1"}).status_code == 303
    assert simulator.received == [("POST", "/faults", {"migrated.error_rate": 0.12}), ("DELETE", "/faults", None)]
    injected, cleared = AuditEvent.objects.filter(action__startswith="simulator.").order_by("pk")
    assert (injected.action, injected.actor_name, injected.after, injected.reason) == (
        "simulator.fault_injected",
        "olga-operator",
        {"migrated.error_rate": 0.12},
        "watch the gate",
    )
    assert cleared.action == "simulator.faults_cleared"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "form, said",
    [
        ({"fault": "migrated.error_rate", "value": "12"}, "is a rate from 0 to 1 (0.12 is 12%), not 12"),
        ({"fault": "migrated.latency_ms", "value": "slow"}, "needs a number, not &#x27;slow&#x27;"),
        ({"fault": "disk.full", "value": "1"}, "is not one the simulator knows"),
        ({"fault": "health", "value": ""}, "name the component whose health URL should fail"),
    ],
)
def test_a_bad_fault_is_refused_before_the_simulator_is_called(logged_in, operator, demo_plan, simulator, form, said):
    response = logged_in(operator).post(f"/plans/{PLAN}/simulator/faults", form, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert said in response.content.decode()
    assert simulator.received == [] and not AuditEvent.objects.filter(action__startswith="simulator.").exists()


@pytest.mark.django_db
def test_a_refusal_by_the_simulator_is_shown_and_not_audited(logged_in, operator, demo_plan, simulator):
    simulator.status = 400
    form = {"fault": "migrated.error_rate", "value": "0.5"}
    response = logged_in(operator).post(f"/plans/{PLAN}/simulator/faults", form, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "the simulator refused it (400)" in response.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="simulator.").exists()


@pytest.mark.django_db
def test_without_a_simulator_there_are_no_fault_controls(logged_in, operator, demo_plan, settings, monkeypatch):
    settings.SIMULATOR_URL = ""
    monkeypatch.delenv("SIMULATOR_URL", raising=False)
    assert 'id="simulator"' not in logged_in(operator).get(f"/plans/{PLAN}/").content.decode()


@pytest.mark.django_db
def test_every_figure_is_a_valid_plotly_figure(demo_plan, viewer):
    import plotly.graph_objects as go

    edge = "edge-functions"
    report(PLAN, edge, "migrated", [100] * 8, errors=2, at=timezone.now() - timedelta(seconds=30))
    overview = fragments.page_for(demo_plan, Actor.for_user(viewer), {"view": "overview"}, seq=1)
    component = fragments.page_for(demo_plan, Actor.for_user(viewer), {"view": "component", "component": edge}, seq=1)
    figures = overview.figures | component.figures
    assert set(figures) >= {"chart-rollout", "chart-phases", f"chart-error-rate-{edge}", f"chart-p95-{edge}"}
    for chart_id, figure in figures.items():
        go.Figure(figure)  # raises on any property Plotly does not know
        assert figure["data"], chart_id
    threshold = figures[f"chart-error-rate-{edge}"]["layout"]["shapes"][0]
    assert (threshold["y0"], threshold["y1"]) == (5.0, 5.0)  # the rollout's max_error_rate, in percent
    assert figures[f"chart-error-rate-{edge}"]["data"][1]["y"][-1] == 25.0
