"""Dashboard speed: the plan overview's server time with 50 components, 100,000 runs and
1,000,000 metric samples (with their rollups, over the last 24 hours, on the plan's traffic
components: the health figures of every traffic card read them), and websocket fan-out on
the Redis channel layer to 200 connected sockets.

Targets: overview median under 50 ms; p95 from a state change's commit to its receipt on
every socket under 100 ms. Baselines measured in the same run: a minimal Django view
(GET /healthz) for the page, a bare group_send of a tiny message for the fan-out. The
page's time in database calls is printed beside its median; the rest of it is Python.
Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL); works in a scratch test database.
"""

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.db import connections, transaction
from django.utils import timezone

COMPONENTS = 50
RUNS = 100_000
SAMPLES = 1_000_000
SOCKETS = 200
ROUNDS = 20
TARGET_PAGE_MS = 50
TARGET_FANOUT_P95_MS = 100


def synthetic_plan_text(components: int, key: str = "bench-plan") -> str:
    """A valid plan: three phases, `components` components of three sql steps each, a
    chain of dependencies, every fifth component serving traffic."""
    lines = [
        f"plan: {key}",
        f"name: Benchmark plan with {components} components",
        "rollout: {steps: [10, 25, 50, 75, 100], approval_at: [50, 100], interval_seconds: 300,",
        "          health: {window_seconds: 300, max_error_rate: 0.05, max_avg_latency_ms: 2000, min_samples: 50}}",
        "checklist: [Backups taken, Staging ready, Team briefed]",
        "phases:",
        "  - {key: one, name: One, days: [1, 2], risk: low, rollback_window_hours: 0}",
        "  - {key: two, name: Two, days: [3, 5], risk: medium, rollback_window_hours: 24}",
        "  - {key: three, name: Three, days: [1, 2], risk: high, rollback_window_hours: 72, approvals: 2}",
        "components:",
    ]
    for i in range(components):
        phase = ("one", "two", "three")[i * 3 // components]
        depends = f"[c{i - 1}]" if i else "[]"
        lines += [
            f"  - name: c{i}",
            f"    phase: {phase}",
            f"    depends_on: {depends}",
            "    estimated_minutes: 20",
            "    risk: medium",
            "    rollback_complexity: moderate",
            f"    traffic: {'true' if i % 5 == 4 else 'false'}",
            "    steps:",
        ]
        for s in range(3):
            lines.append(f"      - {{name: step {s}, database: target, sql: 'SELECT {s}', reverse_sql: 'SELECT -{s}'}}")
    return "\n".join(lines) + "\n"


def synthetic_plan(components: int, key: str = "bench-plan"):
    from migrations_app.planfile import load_plan, parse_plan
    from migrations_app.roles import CLI

    text = synthetic_plan_text(components, key)
    return load_plan(parse_plan(text), text, actor=CLI).plan


def add_history(plan, runs: int, batch: int = 2000) -> None:
    """`runs` finished component runs spread over the plan's components, each with one
    completed forward attempt per step: the migration log of a long-lived plan."""
    from migrations_app.models import Run, StepAttempt

    components = list(plan.components.select_related("phase").prefetch_related("steps"))
    start = timezone.now() - timedelta(days=30)
    done = 0
    while done < runs:
        size = min(batch, runs - done)
        chosen = [components[(done + i) % len(components)] for i in range(size)]
        created = Run.objects.bulk_create(
            Run(
                plan=plan,
                phase=c.phase,
                component=c,
                kind=Run.Kind.RETRY,
                state=Run.State.COMPLETED,
                triggered_by_name="bench",
            )
            for c in chosen
        )
        attempts = []
        for offset, (run, c) in enumerate(zip(created, chosen, strict=True)):
            at = start + timedelta(seconds=done + offset)
            for step in c.steps.all():
                attempts.append(
                    StepAttempt(
                        run=run,
                        component=c,
                        step=step,
                        status=StepAttempt.Status.COMPLETED,
                        triggered_by_name="bench",
                        started_at=at,
                        finished_at=at + timedelta(milliseconds=40),
                        duration_ms=40,
                    )
                )
        StepAttempt.objects.bulk_create(attempts, batch_size=5000)
        done += size


def add_metric_samples(plan, total: int) -> None:
    """`total` raw request samples on the plan's traffic components, both providers, spread
    over the last 24 hours (so the 300 s health window holds a few thousand), written by SQL
    in the database, then folded into rollups as ingestion would have."""
    from django.db import connection

    from benchmarks.ingest import GENERATE, _rebuild_rollups

    ids = list(plan.components.filter(traffic=True).values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        step = 500_000
        for start in range(0, total, step):
            stop = min(total, start + step) - 1
            cursor.execute(GENERATE, {"ids": ids, "n_ids": len(ids), "spread": 24, "start": start, "stop": stop})
    _rebuild_rollups()


def _get_ms(client, url: str) -> float:
    began = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - began) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


class QueryTimer:
    """Time spent in the database calls of this thread's connection (a
    `connection.execute_wrapper`): Django's cursor, the driver and PostgreSQL."""

    def __init__(self):
        self.queries = 0
        self.ms = 0.0

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries += 1
            self.ms += (time.perf_counter() - began) * 1000


def measure_overview(client, plan, repeat: int = 60) -> tuple[float, float, float, int]:
    """Medians of the page and of the minimal view, requested in turn: a moment when the
    machine is slower falls on both, and the ratio stays fair. Also the page's median
    time in database calls, and its number of them."""
    page_url = f"/plans/{plan.key}/"
    for _ in range(3):  # warm templates and connections
        _get_ms(client, page_url)
    page, baseline, in_database, queries = [], [], [], []
    for _ in range(repeat):
        timer = QueryTimer()
        with connections["default"].execute_wrapper(timer):
            page.append(_get_ms(client, page_url))
        in_database.append(timer.ms)
        queries.append(timer.queries)
        baseline.append(_get_ms(client, "/healthz"))
    return statistics.median(page), statistics.median(baseline), statistics.median(in_database), max(queries)


def _fanout(server_url: str, cookie: str, plan, rounds: int, act) -> tuple[list[float], list[float]]:
    """Open SOCKETS sockets, all at once, from a lean client in a process of its own
    (benchmarks/_wsclient.py); `act()` commits a change and returns the commit time
    (time.monotonic(), the client's clock too); every socket's receipt time of the
    matching message gives one latency figure."""
    ws_url = server_url.replace("http://", "ws://") + f"/ws/plans/{plan.key}/?view=overview"
    argv = [sys.executable, "-m", "benchmarks._wsclient", ws_url, "--sockets", str(SOCKETS)]
    argv += ["--cookie", f"sessionid={cookie}", "--origin", server_url]
    client = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def expect(word: str) -> str:
        line = client.stdout.readline().strip()
        if not line.startswith(word):
            raise RuntimeError(f"the websocket client said {line!r}, not {word!r}")
        return line

    def measure(change, marker: str) -> list[float]:
        client.stdin.write(marker + "\n")
        client.stdin.flush()
        expect("armed")
        committed = change()
        arrived = json.loads(expect("["))
        if None in arrived:
            raise RuntimeError(f"{arrived.count(None)} of {SOCKETS} sockets never received {marker!r}")
        return [(t - committed) * 1000 for t in arrived]

    try:
        expect("ready")
        # One round first, not counted (as the overview's first requests are not): the
        # server's first event opens its database connection and imports what renders need.
        measure(lambda: act(-1), 'id="checklist"')
        measure(lambda: _bare_send(plan), '{"seq"')
        rendered, bare = [], []
        for i in range(rounds):
            rendered += measure(lambda i=i: act(i), 'id="checklist"')
            bare += measure(lambda: _bare_send(plan), '{"seq"')
        client.stdin.close()
        client.wait(timeout=30)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    return rendered, bare


def _bare_send(plan) -> float:
    from migrations_app import broadcast

    committed = time.monotonic()
    broadcast.send_now(plan.pk, broadcast.Event.LOG_LINE, {"line": "x"})
    return committed


def _toggle_checklist(plan, actor):
    from migrations_app import checklist
    from migrations_app.models import ChecklistItem

    def act(i: int) -> float:
        item = ChecklistItem.objects.get(plan=plan, position=0)
        committed = []
        with transaction.atomic():
            # Registered first, so it runs first after the commit: the commit's moment.
            transaction.on_commit(lambda: committed.append(time.monotonic()))
            if item.is_checked:
                checklist.untick(item, actor=actor)
            else:
                checklist.tick(item, actor=actor)
        return committed[0]

    return act


ROOT = Path(__file__).resolve().parent.parent
SERVER_LOG = Path(tempfile.gettempdir()) / "switchyard-bench-server.log"
LAYERS = [
    ("Redis channel layer (as configured)", "controlplane.settings", None),
    ("Redis pub/sub channel layer", "benchmarks._pubsub_settings", "channels_redis.pubsub.RedisPubSubChannelLayer"),
]


@contextlib.contextmanager
def channel_layer(backend: str | None):
    """This process sends through the same kind of layer as the server it measures."""
    from django.conf import settings
    from django.test.utils import override_settings

    if backend is None:
        yield
        return
    layers = {"default": {**settings.CHANNEL_LAYERS["default"], "BACKEND": backend}}
    with override_settings(CHANNEL_LAYERS=layers):  # channels drops its cached layers on this
        yield


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> bool:
    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    from conftest import make_user
    from migrations_app.roles import Actor, Role
    from tests.e2e.server import running_server

    if not settings.REDIS_URL or "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        print("needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL")
        return False
    # A database of its own, apart from the one the tests keep between runs.
    database = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"bench_{database['NAME']}"
    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    try:
        from django.contrib.auth import get_user_model

        plan = synthetic_plan(COMPONENTS)
        began = time.perf_counter()
        add_history(plan, RUNS)
        add_metric_samples(plan, SAMPLES)
        with connections["default"].cursor() as cursor:
            # The database as it is on a live system: planner statistics and visibility maps
            # as autovacuum keeps them (a table loaded a moment ago looks empty and gets
            # sequential scans), and the load's dirty pages written out now rather than by a
            # checkpoint in the middle of the measurements.
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("CHECKPOINT")
        print(
            f"arranged {COMPONENTS} components, {RUNS:,} runs, {SAMPLES:,} metric samples "
            f"in {time.perf_counter() - began:.0f} s"
        )
        user = make_user(get_user_model(), "bench-operator", Role.OPERATOR)
        client = Client()
        client.force_login(user)
        page, baseline, in_database, queries = measure_overview(client, plan)
        page_ok = page < TARGET_PAGE_MS
        print(
            f"plan overview: median {page:.1f} ms (minimal view {baseline:.1f} ms, ratio {page / baseline:.1f}x); "
            f"target < {TARGET_PAGE_MS} ms: {'met' if page_ok else 'MISSED'}"
        )
        print(
            f"  of which in its {queries} database calls: median {in_database:.1f} ms; the rest is Python "
            "(request, ORM, the page's data, templates)"
        )

        cookie = client.cookies["sessionid"].value
        act = _toggle_checklist(plan, Actor.for_user(user))
        results = {}
        for label, settings_module, backend in LAYERS:
            with channel_layer(backend):
                env = {"SECRET_KEY": settings.SECRET_KEY, "DJANGO_SETTINGS_MODULE": settings_module}
                with running_server(settings.DATABASES["default"]["NAME"], env, log_path=SERVER_LOG) as server_url:
                    rendered, bare = _fanout(server_url, cookie, plan, ROUNDS, act)
            results[label] = p95(rendered)
            print(
                f"fan-out to {SOCKETS} sockets, {label}, {ROUNDS} state changes after one warm-up: p95 commit->receipt "
                f"{p95(rendered):.1f} ms (median {statistics.median(rendered):.1f} ms); a bare message's p95 "
                f"{p95(bare):.1f} ms (ratio {p95(rendered) / p95(bare):.1f}x)"
            )
        configured = results[LAYERS[0][0]]
        fan_ok = configured < TARGET_FANOUT_P95_MS
        print(f"fan-out target < {TARGET_FANOUT_P95_MS} ms on the configured layer: {'met' if fan_ok else 'MISSED'}")
        return page_ok and fan_ok
    finally:
        connections.close_all()
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
    import django

    django.setup()
    raise SystemExit(0 if main() else 1)
