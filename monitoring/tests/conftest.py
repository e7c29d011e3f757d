"""Helpers for monitoring tests: samples reported through the real ingestion service, and
a local HTTP server that records what it is sent (webhooks) or answers probes."""

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from migrations_app.roles import Actor, Permission
from monitoring.ingest import ingest_comparisons, ingest_metrics

INGESTER = Actor(name="token:ingest", permissions=frozenset({Permission.METRICS_WRITE}))


def report(plan_key, component, provider, durations, *, at: datetime, errors=0, operation="op"):
    """Report one sample per duration, the first `errors` of them failed, all at `at`."""
    items = [
        {
            "plan": plan_key,
            "component": component,
            "operation": operation,
            "provider": provider,
            "duration_ms": duration,
            "success": index >= errors,
            "recorded_at": at.isoformat(),
        }
        for index, duration in enumerate(durations)
    ]
    return ingest_metrics(json.dumps(items).encode(), "application/json", actor=INGESTER, now=at)


def compare(plan_key, component, outcomes, *, at: datetime):
    items = [
        {"plan": plan_key, "component": component, "request_id": f"r{i}", "equivalent": ok, "diff": {"field": i}}
        for i, ok in enumerate(outcomes)
    ]
    return ingest_comparisons(json.dumps(items).encode(), "application/json", actor=INGESTER, now=at)


class Recorder(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self):
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        server.received.append({"method": self.command, "path": self.path, "body": body})
        status = server.statuses.pop(0) if server.statuses else server.default_status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer


@pytest.fixture
def http_server():
    """A local server on a free port. `.received` lists requests; `.statuses` queues the
    statuses to answer with (then `.default_status`, 200)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.received, server.statuses, server.default_status = [], [], 200
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
