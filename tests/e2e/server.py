"""The real ASGI server (`manage.py serve`) on a free port, against a database a test or
benchmark arranged, with the same Redis so events sent from the test process reach it;
and the real Celery worker and beat beside it, on the same Redis and database."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from django.conf import settings

from controlplane.celery import app

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(name: str) -> str:
    db = settings.DATABASES["default"]
    credentials = db.get("USER") or "postgres"
    if db.get("PASSWORD"):
        credentials += f":{db['PASSWORD']}"
    return f"postgres://{credentials}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"


def environment_for(database_name: str, env: dict | None = None) -> dict:
    return (
        dict(os.environ)
        | {
            "DATABASE_URL": database_url(database_name),
            "REDIS_URL": settings.REDIS_URL,
            "CHANNEL_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            "DEBUG": "False",
        }
        | (env or {})
    )


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


@contextlib.contextmanager
def running_workers(database_name: str, env: dict | None, log_path: Path, schedule_path: Path):
    """`celery worker` on both queues and `celery beat`, as the real topology runs them."""
    environment = environment_for(database_name, env)
    celery = [sys.executable, "-m", "celery", "-A", "controlplane"]
    commands = [
        [
            *celery,
            "worker",
            "-Q",
            "control,migrations",
            "--concurrency",
            "2",
            "-l",
            "WARNING",
            "-n",
            f"e2e-{os.getpid()}@%h",
        ],
        [*celery, "beat", "-s", str(schedule_path), "-l", "WARNING"],
    ]
    # Started once per module, before any test's own queues are emptied (conftest.py): a
    # task an earlier module left would run against this server's database.
    app.control.purge()
    with open(log_path, "a") as log:
        processes = [
            subprocess.Popen(
                command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            for command in commands
        ]
        try:
            yield
        finally:
            for process in processes:
                _stop(process)


@contextlib.contextmanager
def running_server(database_name: str, env: dict | None = None, log_path: Path | None = None, port: int = 0):
    port = port or free_port()
    environment = environment_for(database_name, env) | {"PORT": str(port)}
    log = open(log_path, "a") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}; see {log_path}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer within 60 s; see {log_path}")
            time.sleep(0.2)
        yield url
    finally:
        _stop(process)
        if log_path:
            log.close()
