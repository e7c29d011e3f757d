"""The engine's test harness: real Celery workers (subprocesses on the test Redis and the
test PostgreSQL database), plans built from command steps that log what they did, and
waiting for a run to end."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml
from django.conf import settings
from django.db import connection

from migrations_app.models import Run
from migrations_app.planfile import load_plan, parse_plan
from migrations_app.roles import CLI

ROOT = Path(__file__).resolve().parents[3]
STEPPER = Path(__file__).with_name("stepper.py")
LEASE_SECONDS = 3


class Worker:
    def __init__(self, process: subprocess.Popen, log: Path, name: str):
        self.process, self.log, self.name = process, log, name

    def output(self) -> str:
        return self.log.read_text()


def start_worker(tmp: Path, *, concurrency: int = 2, env: dict | None = None) -> Worker:
    """A real worker process consuming both queues, on the database the tests use."""
    name = f"engine-test-{uuid.uuid4().hex[:8]}@%h"
    log = tmp / f"worker-{uuid.uuid4().hex[:6]}.log"
    database = urlsplit(os.environ["DATABASE_URL"])
    worker_env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(database._replace(path="/" + connection.settings_dict["NAME"])),
        "SECRET_KEY": settings.SECRET_KEY,
        "ENGINE_LEASE_SECONDS": str(LEASE_SECONDS),
        "TARGET_DATABASES": ",".join(f"{k}={v}" for k, v in settings.TARGET_DATABASES.items()),
        **(env or {}),
    }
    argv = [sys.executable, "-m", "celery", "-A", "controlplane", "worker", "-Q", "migrations,control"]
    argv += ["--pool", "prefork", "--concurrency", str(concurrency), "-n", name, "--loglevel", "INFO"]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=worker_env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the worker did not start:\n{log.read_text()}")
        time.sleep(0.2)
    return Worker(process, log, name)


def stop_worker(worker: Worker) -> None:
    worker.process.terminate()
    try:
        worker.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait()


@pytest.fixture
def target_sqlite(tmp_path, settings):
    """A scratch SQLite target database, known to this process and to workers started after."""
    settings.TARGET_DATABASES = {"target": f"sqlite:///{tmp_path / 'target.sqlite3'}"}
    return tmp_path / "target.sqlite3"


@pytest.fixture
def worker(tmp_path, target_sqlite, transactional_db):
    running = start_worker(tmp_path)
    yield running
    stop_worker(running)


def make_plan(components: list[dict], *, key: str = "engine-test", phases: list[dict] | None = None):
    phases = phases or [{"key": "one", "name": "One", "days": [1, 1], "risk": "medium", "rollback_window_hours": 24}]
    document = {"plan": key, "name": "Engine test plan", "phases": phases, "components": components}
    text = yaml.safe_dump(document, sort_keys=False)
    return load_plan(parse_plan(text), text, actor=CLI).plan


def component(name: str, steps: list[dict], *, depends_on=(), risk: str = "low", phase: str = "one") -> dict:
    return {
        "name": name,
        "phase": phase,
        "depends_on": list(depends_on),
        "risk": risk,
        "rollback_complexity": "simple",
        "steps": steps,
    }


def logged_step(log: Path, label: str, *, fail=False, sleep=0.0, reverse=True, timeout=60, extra=()) -> dict:
    """A command step that appends `LABEL begin/end` to `log`; its reverse logs `undo LABEL`."""
    argv = ["${PYTHON}", str(STEPPER), str(log), label, "--sleep", str(sleep), *extra]
    if fail:
        argv.append("--fail")
    step = {"name": label, "command": argv, "timeout_seconds": timeout}
    if reverse:
        step["reverse_command"] = ["${PYTHON}", str(STEPPER), str(log), f"undo {label}"]
    return step


def events(log: Path) -> list[str]:
    """The labels logged, in order, one per step that finished (`LABEL`)."""
    if not log.exists():
        return []
    return [line.rsplit(" ", 2)[0] for line in log.read_text().splitlines() if line.rsplit(" ", 2)[1] == "end"]


def wait_until(predicate, timeout: float = 60, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def wait_for_run(run: Run, timeout: float = 90) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.state not in Run.ACTIVE_STATES:
            return run
        time.sleep(0.1)
    rows = ", ".join(f"{cr.component.name}={cr.state}" for cr in run.component_runs.select_related("component"))
    pytest.fail(f"run {run.pk} still {run.state} after {timeout} s ({rows})")
