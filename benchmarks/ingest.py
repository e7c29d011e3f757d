"""Metric ingestion and health evaluation, measured on a dedicated PostgreSQL database.

1. Samples per second through the real API (`manage.py serve`, uvicorn) into PostgreSQL
   with COPY and rollups, against the ORM's bulk_create of the same rows in this process.
   Targets: 50,000 samples/s end to end, and 3x bulk_create.
2. `monitoring.health.evaluate` with 1M and then 10M raw samples in the table (generated
   server-side with generate_series, rollups rebuilt from them). Targets: under 50 ms,
   and the 10M figure within 1.5x of the 1M figure.
"""

import json
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction

ROOT = Path(__file__).resolve().parent.parent
PLAN_KEY = "truststream-v4.2"
COMPONENTS = ("edge-functions", "blue-green-deployment")
OPERATIONS = ("coordinate", "score", "dispatch")
BATCH = 10_000
ROUNDS = 5
API_BATCHES = 8  # per round
BULK_BATCHES = 3  # per round
CLIENT_THREADS = 2
HEALTH_RUNS = 50
SPREAD_HOURS = 24

TARGET_PER_SECOND = 50_000
TARGET_RATIO = 3.0
TARGET_HEALTH_MS = 50.0
TARGET_GROWTH = 1.5


def _admin_connection():
    config = connection.settings_dict
    return psycopg.connect(
        dbname="postgres",
        user=config["USER"] or None,
        password=config["PASSWORD"] or None,
        host=config["HOST"] or None,
        port=config["PORT"] or None,
        autocommit=True,
    )


def _database_url(name: str) -> str:
    config = connection.settings_dict
    auth = config["USER"] + (f":{config['PASSWORD']}" if config["PASSWORD"] else "")
    return f"postgres://{auth}@{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}/{name}"


def _use_database(name: str) -> None:
    connection.close()
    connection.settings_dict["NAME"] = name


def _prepare(name: str) -> str:
    """A fresh benchmark database with the schema, the demo plan and an ingest token."""
    with _admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    _use_database(name)
    call_command("migrate", verbosity=0)
    from migrations_app import tokens
    from migrations_app.demo import load_demo_plan
    from migrations_app.roles import CLI

    load_demo_plan()
    return tokens.create(name="bench-ingest", scopes=["metrics:write"], actor=CLI)[1]


def _items(rng: random.Random) -> list[dict]:
    return [
        {
            "plan": PLAN_KEY,
            "component": rng.choice(COMPONENTS),
            "operation": rng.choice(OPERATIONS),
            "provider": rng.choice(("original", "migrated")),
            "duration_ms": round(rng.lognormvariate(4.5, 0.8), 2),
            "success": rng.random() > 0.02,
        }
        for _ in range(BATCH)
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(database_url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "False", "SECRET_KEY": settings.SECRET_KEY}
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("the control plane did not start")


class Api:
    """The control plane serving the API in its own process, and clients posting batches."""

    def __init__(self, database_url: str, token: str, body: bytes):
        self.port = _free_port()
        self.server = _serve(database_url, self.port)
        self.url = f"http://127.0.0.1:{self.port}/api/v1/metrics"
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.body = body

    def _send(self, count: int) -> None:
        with httpx.Client(timeout=60) as client:
            for _ in range(count):
                response = client.post(self.url, content=self.body, headers=self.headers)
                if response.status_code != 200:
                    raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")

    def rate(self, batches: int) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            list(pool.map(self._send, [batches // CLIENT_THREADS] * CLIENT_THREADS))
        return batches * BATCH / (time.perf_counter() - started)

    def close(self) -> None:
        self.server.terminate()
        self.server.wait(timeout=10)


def bulk_create_rate(items: list[dict], batches: int) -> float:
    from django.utils import timezone

    from migrations_app.models import Component
    from monitoring.models import MetricSample

    ids = dict(Component.objects.filter(plan__key=PLAN_KEY).values_list("name", "pk"))
    started = time.perf_counter()
    for _ in range(batches):
        now = timezone.now()
        rows = [
            MetricSample(
                component_id=ids[i["component"]],
                operation=i["operation"],
                provider=i["provider"],
                duration_ms=i["duration_ms"],
                success=i["success"],
                error_message="",
                recorded_at=now,
            )
            for i in items
        ]
        with transaction.atomic():
            MetricSample.objects.bulk_create(rows)
    return batches * BATCH / (time.perf_counter() - started)


def measure_ingest(database_url: str, token: str, items: list[dict]) -> tuple[float, float, float]:
    """Medians over rounds that alternate the two ways, so that load from anything else on
    the machine weighs on both alike: (API rate, bulk_create rate, median ratio)."""
    api = Api(database_url, token, json.dumps(items).encode())
    try:
        api.rate(CLIENT_THREADS)  # warm up: connections, first-request imports
        bulk_create_rate(items, 1)
        rounds = [(api.rate(API_BATCHES), bulk_create_rate(items, BULK_BATCHES)) for _ in range(ROUNDS)]
    finally:
        api.close()
    return (
        statistics.median(a for a, _ in rounds),
        statistics.median(b for _, b in rounds),
        statistics.median(a / b for a, b in rounds),
    )


GENERATE = """
INSERT INTO monitoring_metricsample
    (component_id, operation, provider, duration_ms, success, error_message, recorded_at)
SELECT (%(ids)s)[1 + (g / 2) %% %(n_ids)s], (ARRAY['coordinate','score','dispatch'])[1 + (g / 7) %% 3],
       CASE WHEN g %% 2 = 0 THEN 'original' ELSE 'migrated' END,
       (20 + (g * 7919) %% 400)::float8, g %% 50 <> 0, '',
       now() - make_interval(secs => (g %% (%(spread)s * 3600)) + random())
FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS g
"""


def _rebuild_rollups() -> None:
    """The rollups of every sample in the table, written oldest bucket first: ingestion
    writes them as time passes, so a health window's rows lie together in the table's
    newest pages. (In the aggregate's hash order, each row of a window lands on a page of
    its own: a page read per row, which a live system does not make.)"""
    from monitoring.buckets import BUCKET_FIELDS, LATENCY_BOUNDS_MS

    cases = []
    lower = None
    for bound in (*LATENCY_BOUNDS_MS, None):
        low = f"duration_ms > {lower}" if lower is not None else "TRUE"
        high = f"duration_ms <= {bound}" if bound is not None else "TRUE"
        cases.append(f"COUNT(*) FILTER (WHERE {low} AND {high})")
        lower = bound
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE monitoring_metricrollup")
        cursor.execute(
            f"""INSERT INTO monitoring_metricrollup (component_id, operation, provider, bucket_start, count,
                    errors, latency_sum_ms, latency_max_ms, {", ".join(BUCKET_FIELDS)})
                SELECT component_id, operation, provider,
                       to_timestamp(floor(extract(epoch FROM recorded_at) / 10) * 10),
                       COUNT(*), COUNT(*) FILTER (WHERE NOT success), SUM(duration_ms), MAX(duration_ms),
                       {", ".join(cases)}
                FROM monitoring_metricsample GROUP BY 1, 2, 3, 4 ORDER BY 4"""
        )
        cursor.execute("ANALYZE monitoring_metricsample")
        cursor.execute("ANALYZE monitoring_metricrollup")


def fill_samples(total: int, already: int) -> float:
    from migrations_app.models import Component

    ids = list(Component.objects.filter(plan__key=PLAN_KEY, name__in=COMPONENTS).values_list("pk", flat=True))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        step = 1_000_000
        for start in range(already, total, step):
            cursor.execute(
                GENERATE,
                {
                    "ids": ids,
                    "n_ids": len(ids),
                    "spread": SPREAD_HOURS,
                    "start": start,
                    "stop": min(total, start + step) - 1,
                },
            )
    _rebuild_rollups()
    return time.perf_counter() - started


def measure_health() -> float:
    from migrations_app.models import Component
    from monitoring.health import evaluate

    component = Component.objects.select_related("plan", "rollout").get(plan__key=PLAN_KEY, name=COMPONENTS[0])
    for _ in range(5):
        evaluate(component)
    timings = []
    for _ in range(HEALTH_RUNS):
        started = time.perf_counter()
        verdict = evaluate(component)
        timings.append((time.perf_counter() - started) * 1000)
    assert verdict.providers["migrated"].samples > 0, "the window holds no samples"
    return statistics.median(timings)


def main() -> bool:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if connection.vendor != "postgresql":
        print("benchmarks/ingest.py needs DATABASE_URL to name a PostgreSQL server")
        return False
    settings.DEBUG = False  # no query log in this process either: bulk_create gets a fair run
    original_name = connection.settings_dict["NAME"]
    name = f"{original_name}_ingest_bench"
    try:
        token = _prepare(name)
        api, bulk, ratio = measure_ingest(_database_url(name), token, _items(random.Random(42)))
        print(f"API (HTTP, validation, COPY, rollups): {api:>10,.0f} samples/s   (target >= {TARGET_PER_SECOND:,})")
        print(f"ORM bulk_create of the same rows:      {bulk:>10,.0f} samples/s")
        print(f"ratio API / bulk_create:               {ratio:>10.2f} x          (target >= {TARGET_RATIO})")
        print(f"(ingest: medians of {ROUNDS} rounds alternating the two, {BATCH:,} samples a batch)")

        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE monitoring_metricsample")
        load_1m = fill_samples(1_000_000, 0)
        health_1m = measure_health()
        load_10m = fill_samples(10_000_000, 1_000_000)
        health_10m = measure_health()
        growth = health_10m / health_1m
        print(f"health with  1M raw samples:           {health_1m:>10.2f} ms (loaded in {load_1m:.0f} s)")
        print(f"health with 10M raw samples:           {health_10m:>10.2f} ms (loaded in {load_10m:.0f} s more)")
        print(f"(health: median of {HEALTH_RUNS} evaluations)")
        print(f"ratio 10M / 1M:                        {growth:>10.2f} x          (target <= {TARGET_GROWTH})")
    finally:
        _use_database(original_name)
        with _admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    met = (
        api >= TARGET_PER_SECOND
        and ratio >= TARGET_RATIO
        and max(health_1m, health_10m) < TARGET_HEALTH_MS
        and growth <= TARGET_GROWTH
    )
    print("all targets met" if met else "a target was missed")
    return met
