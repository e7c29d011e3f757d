"""The traffic simulator: routes by the rollout snapshot (ETag), falls back, reports through
the public API, serves health URLs and takes faults while running."""

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.core.management import call_command

from conftest import DEMO_PLAN
from migrations_app import tokens
from migrations_app.models import Component
from migrations_app.planfile import load_plan, parse_plan_file
from migrations_app.roles import CLI
from migrations_app.routing import use_migrated
from monitoring.health import evaluate
from monitoring.models import ComparisonRollup, MetricSample
from monitoring.simulator.engine import Simulator
from monitoring.simulator.launch import TOKEN_SCOPES, SetupError, build
from monitoring.simulator.model import FaultError, Faults, Route, parse_fault, serve
from monitoring.simulator.reporter import Reporter
from monitoring.simulator.snapshot import SnapshotClient

PLAN = "truststream-v4.2"


def play(faults, route, key="user-1", force_original=False, seed=1):
    return serve(
        random.Random(seed),
        faults,
        "edge-functions",
        key,
        route,
        force_original=force_original,
        operation="task_coordination",
        request_id="r1",
    )


def test_requests_are_routed_as_the_routing_contract_says():
    faults = Faults()
    route = Route(percentage=30)
    for n in range(300):
        key = f"user-{n}"
        served = play(faults, route, key=key)
        expected = "migrated" if use_migrated("edge-functions", key, 30) else "original"
        assert served.samples[0]["provider"] == expected


def test_force_original_sends_everything_to_the_original():
    served = [play(Faults(), Route(percentage=100), key=f"u{n}", force_original=True) for n in range(50)]
    assert {s.provider for s in served} == {"original"}


def test_with_fallback_a_migrated_error_is_served_by_the_original_and_counted():
    faults = Faults()
    faults.set("migrated.error_rate", 1.0)
    faults.set("original.error_rate", 0.0)
    served = play(faults, Route(percentage=100, fallback=True))
    assert (served.provider, served.fallback, served.failed) == ("original", True, False)
    assert [(s["provider"], s["success"]) for s in served.samples] == [("migrated", False), ("original", True)]
    without = play(faults, Route(percentage=100, fallback=False))
    assert (without.provider, without.fallback, without.failed) == ("migrated", False, True)


def test_comparisons_are_reported_for_migrated_requests_when_on():
    faults = Faults()
    faults.set("migrated.error_rate", 0)
    faults.set("comparison.mismatch_rate", 1.0)
    served = play(faults, Route(percentage=100, comparison=True))
    assert served.comparison["equivalent"] is False and "diff" in served.comparison
    assert play(faults, Route(percentage=100, comparison=False)).comparison is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("migrated.error_rate", "a fault is NAME=VALUE"),
        ("migrated.error_rate=2", "a rate between 0 and 1"),
        ("migrated.colour=1", "unknown fault 'migrated.colour'"),
        ("supabase.error_rate=0.1", "unknown fault"),
        ("original.latency_ms=fast", "needs a number"),
    ],
)
def test_bad_faults_are_refused_with_a_reason(text, message):
    with pytest.raises(FaultError, match=message):
        Faults().set(*parse_fault(text))


def test_a_bare_error_rate_fault_is_the_migrated_providers():
    faults = Faults()
    faults.set(*parse_fault("error_rate=0.12"))
    assert faults.provider("migrated")["error_rate"] == 0.12
    assert faults.provider("original")["error_rate"] == Faults().provider("original")["error_rate"]


class SnapshotHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        server.requests.append(dict(self.headers))
        if not self.path.endswith(f"/api/v1/plans/{PLAN}/rollout"):
            self.send_response(404)
            self.end_headers()
            return
        etag = f'"{server.snapshot["epoch"]}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        body = json.dumps(server.snapshot).encode()
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def snapshot_server():
    """Serves a rollout snapshot as the DESIGN contract describes it, with ETag and 304."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), SnapshotHandler)
    server.requests = []
    server.snapshot = {
        "plan": PLAN,
        "epoch": 7,
        "force_original": False,
        "components": {
            "edge-functions": {"percentage": 50, "fallback": False, "comparison": True},
            "blue-green-deployment": {"percentage": 0, "fallback": True, "comparison": False},
        },
    }
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_snapshot_is_refreshed_by_etag(snapshot_server):
    client = SnapshotClient(snapshot_server.url, PLAN, "sy_token")
    first = client.refresh()
    assert (first.epoch, first.route("edge-functions")) == (7, Route(50, False, True))
    again = client.refresh()
    assert again is first
    assert snapshot_server.requests[1]["If-None-Match"] == '"7"'
    assert client.not_modified == 1
    assert snapshot_server.requests[0]["Authorization"] == "Bearer sy_token"
    snapshot_server.snapshot = {**snapshot_server.snapshot, "epoch": 8, "force_original": True}
    changed = client.refresh()
    assert (changed.epoch, changed.force_original) == (8, True)


def test_an_unreachable_control_plane_keeps_the_last_snapshot(snapshot_server):
    client = SnapshotClient(snapshot_server.url, PLAN, "t")
    known = client.refresh()
    client.url = "http://127.0.0.1:9/api/v1/plans/x/rollout"
    assert client.refresh() is known
    assert client.failing


def simulator_for(snapshot_url, switchyard_url, token, **kwargs):
    return Simulator(
        PLAN,
        ["edge-functions", "blue-green-deployment"],
        snapshot=SnapshotClient(snapshot_url, PLAN, token),
        reporter=Reporter(switchyard_url, token),
        seed=11,
        known_components={"edge-functions", "blue-green-deployment", "agent-service"},
        **kwargs,
    )


def test_the_simulator_serves_health_urls_and_takes_faults_over_http(snapshot_server):
    simulator = simulator_for(snapshot_server.url, "http://127.0.0.1:9", "t")
    address = simulator.serve_http("127.0.0.1", 0)
    try:
        assert httpx.get(f"{address}/health/agent-service").status_code == 200
        assert httpx.get(f"{address}/health/trust-svc").status_code == 404
        set_fault = httpx.post(f"{address}/faults", json={"health": "agent-service", "migrated.latency_ms": 2500})
        assert set_fault.status_code == 200
        assert set_fault.json()["providers"]["migrated"]["latency_ms"] == 2500
        assert httpx.get(f"{address}/health/agent-service").status_code == 503
        assert httpx.get(f"{address}/health/edge-functions").status_code == 200
        bad = httpx.post(f"{address}/faults", json={"migrated.error_rate": 7})
        assert bad.status_code == 400 and "between 0 and 1" in bad.json()["detail"]
        assert httpx.delete(f"{address}/faults").json()["health"] == "none"
        assert httpx.get(f"{address}/health/agent-service").status_code == 200
    finally:
        simulator.stop()


@pytest.fixture
def plan_and_token(transactional_db):
    spec, source = parse_plan_file(DEMO_PLAN)
    load_plan(spec, source, actor=CLI)
    return tokens.create(name="simulator", scopes=TOKEN_SCOPES, actor=CLI)[1]


@pytest.mark.django_db(transaction=True)
def test_an_injected_fault_drives_the_rollouts_health_to_failure(live_server, snapshot_server, plan_and_token):
    simulator = simulator_for(snapshot_server.url, live_server.url, plan_and_token, rate=20)
    address = simulator.serve_http("127.0.0.1", 0)
    try:
        simulator.sync()  # the snapshot: edge-functions at 50%, fallback off
        for _ in range(30):
            simulator.tick(1.0)
        simulator.sync()  # reported through POST /api/v1/metrics and /comparisons
        edge = Component.objects.select_related("plan", "rollout").get(plan__key=PLAN, name="edge-functions")
        before = evaluate(edge)
        assert before.enough_samples and before.healthy, before.reasons

        assert httpx.post(f"{address}/faults", json={"migrated.error_rate": 0.3}).status_code == 200
        for _ in range(30):
            simulator.tick(1.0)
        simulator.sync()
    finally:
        simulator.stop()
    after = evaluate(edge)
    assert after.failing
    assert after.reasons[0].startswith("migrated: error rate")
    migrated = after.providers["migrated"]
    assert 0.08 < migrated.error_rate < 0.25
    stats = simulator.stats()["components"]["edge-functions"]
    assert stats["requests"] == 1200
    assert stats["served_migrated"] + stats["served_original"] == 1200
    assert stats["errors"] > 0 and stats["fallbacks"] == 0
    # Nothing reaches the migrated provider of a component at 0%.
    assert not MetricSample.objects.filter(component__name="blue-green-deployment", provider="migrated").exists()
    assert ComparisonRollup.objects.filter(component=edge).exists()


@pytest.mark.django_db(transaction=True)
def test_the_simulate_command_reports_to_the_control_plane(live_server, plan_and_token, capsys):
    call_command(
        "simulate", PLAN, "--url", live_server.url, "--token", plan_and_token, "--port", "0", "--duration", "1.5"
    )
    out = capsys.readouterr().out
    assert "Simulating truststream-v4.2" in out and "edge-functions, blue-green-deployment" in out
    reported = set(MetricSample.objects.values_list("component__name", flat=True))
    assert reported == {"edge-functions", "blue-green-deployment"}


@pytest.mark.django_db(transaction=True)
def test_a_token_the_simulate_command_created_is_revoked_when_it_stops(live_server, plan_and_token, capsys):
    from migrations_app.models import ApiToken, AuditEvent

    call_command("simulate", PLAN, "--url", live_server.url, "--port", "0", "--duration", "1.5")
    assert "Created an API token for the simulator" in capsys.readouterr().out
    created = ApiToken.objects.get(name__startswith=f"simulator-{PLAN}-")
    assert created.last_used_at is not None  # it reported with it
    assert created.revoked_at is not None
    assert AuditEvent.objects.filter(action="token.revoked", target_id=str(created.pk)).count() == 1
    assert MetricSample.objects.exists()
    assert ApiToken.objects.get(name="simulator").revoked_at is None  # a token it was given is left alone


@pytest.mark.django_db(transaction=True)
def test_the_simulator_refuses_an_unknown_plan(live_server, plan_and_token):
    with pytest.raises(SetupError, match="has no plan 'nope'"):
        build("nope", base_url=live_server.url, token=plan_and_token)
