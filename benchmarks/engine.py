"""Orchestration overhead of the migration engine, per step.

A phase of 50 components (five chains of ten, two trivial SQL steps each) runs on two
real worker processes over Redis and PostgreSQL. The overhead per step is the run's wall
time minus its steps' own time (their recorded durations), divided by the steps; target:
under 25 ms. Printed beside it, from the same run: the baseline (the same steps through
the executors, called directly in one loop), the wall time against it, and the
pessimistic reading that counts both workers busy for the whole run. Everything happens
in a scratch database, dropped after.
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import yaml
from django.conf import settings
from django.core.management import call_command
from django.db import connections

TARGET_MS = 25.0
COMPONENTS = 50
CHAINS = 5
WORKERS = 2
ROOT = Path(__file__).resolve().parent.parent


def plan_text() -> str:
    components = []
    for i in range(COMPONENTS):
        steps = [
            {
                "name": "create table",
                "database": "bench",
                "sql": f"CREATE TABLE IF NOT EXISTS c{i} (id INT)",
                "reverse_sql": f"DROP TABLE IF EXISTS c{i}",
            },
            {
                "name": "table is empty",
                "database": "bench",
                "check": {"sql": {"query": f"SELECT COUNT(*) FROM c{i}", "expect": 0}},
            },
        ]
        depends = [f"c{i - CHAINS}"] if i >= CHAINS else []
        components.append(
            {
                "name": f"c{i}",
                "phase": "bench",
                "depends_on": depends,
                "risk": "low",
                "rollback_complexity": "simple",
                "steps": steps,
            }
        )
    phase = {"key": "bench", "name": "Bench", "days": [1, 1], "risk": "low", "rollback_window_hours": 0}
    return yaml.safe_dump(
        {"plan": "engine-bench", "name": "Engine benchmark", "phases": [phase], "components": components}
    )


def main() -> bool:
    database = settings.DATABASES["default"]
    if not settings.REDIS_URL or "postgresql" not in database["ENGINE"]:
        print("the engine benchmark needs REDIS_URL and a PostgreSQL DATABASE_URL (make bench sets both)")
        return False
    scratch = f"sy_bench_engine_{uuid.uuid4().hex[:8]}"
    server = urlsplit(os.environ["DATABASE_URL"])
    admin = urlunsplit(server._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{scratch}"')
    connections["default"].close()
    connections["default"].settings_dict["NAME"] = scratch
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return measure(Path(tmp), urlunsplit(server._replace(path=f"/{scratch}")))
    finally:
        connections["default"].close()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{scratch}" WITH (FORCE)')


def measure(tmp: Path, database_url: str) -> bool:
    from controlplane.celery import app
    from migrations_app.engine import executors, services
    from migrations_app.models import Run, Step, StepAttempt
    from migrations_app.planfile import load_plan, parse_plan
    from migrations_app.roles import CLI

    call_command("migrate", verbosity=0)
    text = plan_text()
    plan = load_plan(parse_plan(text), text, actor=CLI).plan
    steps = list(Step.objects.filter(component__plan=plan).order_by("component__position", "position"))

    # Baseline: the same steps, straight through the executors, in one loop.
    settings.TARGET_DATABASES = {"bench": f"sqlite:///{tmp / 'baseline.sqlite3'}"}
    started = time.perf_counter()
    for step in steps:
        executors.execute(step.forward, database=step.database, timeout=step.timeout_seconds)
    baseline = time.perf_counter() - started

    app.control.purge()
    workers = [start_worker(tmp, database_url, n) for n in range(WORKERS)]
    try:
        started = time.perf_counter()
        run = services.start_phase(plan.phases.get(), actor=CLI)
        while run.state in Run.ACTIVE_STATES:
            time.sleep(0.02)
            run.refresh_from_db()
        wall = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)
    if run.state != Run.State.COMPLETED:
        print(f"the run did not complete: {run.summary}")
        return False
    attempts = StepAttempt.objects.filter(run=run)
    step_seconds = sum(a.duration_ms for a in attempts) / 1000
    count = attempts.count()
    overhead_ms = (wall - step_seconds) / count * 1000
    print(f"{COMPONENTS} components, {count} steps, {WORKERS} workers")
    print(f"baseline, executors in one loop:  {baseline * 1000:8.1f} ms  ({baseline / count * 1000:.2f} ms/step)")
    print(f"engine run, wall clock:           {wall * 1000:8.1f} ms  ({wall / baseline:.1f}x the baseline)")
    print(
        f"  its steps' own time:            {step_seconds * 1000:8.1f} ms  ({step_seconds / count * 1000:.2f} ms/step)"
    )
    print(f"orchestration overhead per step:  {overhead_ms:8.2f} ms  (target < {TARGET_MS:g} ms)")
    print(f"  against the baseline loop:      {(wall - baseline) / count * 1000:8.2f} ms")
    print(f"  both workers counted busy:      {(wall * WORKERS - step_seconds) / count * 1000:8.2f} ms")
    breakdown(run)
    return overhead_ms < TARGET_MS


def breakdown(run) -> None:
    """Where a component's time goes, on average: waiting for a worker, claiming and
    starting, between its steps, and settling (recording the outcome, dispatching the next)."""
    from migrations_app.models import StepAttempt
    from migrations_app.models.runs import ComponentRun

    parts = {"queued -> claimed": [], "claimed -> first step": [], "between steps": [], "last step -> settled": []}
    for cr in ComponentRun.objects.filter(run=run):
        attempts = list(StepAttempt.objects.filter(run=run, component=cr.component_id).order_by("started_at"))
        parts["queued -> claimed"].append(cr.started_at - cr.queued_at)
        parts["claimed -> first step"].append(attempts[0].started_at - cr.started_at)
        parts["between steps"] += [b.started_at - a.finished_at for a, b in zip(attempts, attempts[1:], strict=False)]
        parts["last step -> settled"].append(cr.finished_at - attempts[-1].finished_at)
    for name, values in parts.items():
        mean = sum(v.total_seconds() for v in values) / len(values) * 1000
        print(f"  {name:<24} {mean:7.2f} ms on average")


def start_worker(tmp: Path, database_url: str, number: int) -> subprocess.Popen:
    log = tmp / f"worker-{number}.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TARGET_DATABASES": f"bench=sqlite:///{tmp / 'engine.sqlite3'}",
        "SECRET_KEY": settings.SECRET_KEY,
        "LOG_LEVEL": "WARNING",
    }
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "controlplane",
        "worker",
        "-Q",
        "migrations,control",
        "--pool",
        "prefork",
        "--concurrency",
        "1",
        "-n",
        f"bench-{number}-{uuid.uuid4().hex[:6]}@%h",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"worker {number} did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return process
