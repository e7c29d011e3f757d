"""Rollout controller speed, measured against a baseline in the same run.

(a) `decide` and the rollout snapshot (200, and 304 to its ETag) served by the real ASGI
    server (`manage.py serve`, uvicorn) under concurrent load from a second process, in
    requests per second against a minimal Django JSON view served by the same server.
    Targets: decide at least 0.8 of the minimal view; 304 at least as fast as it.
(b) Emergency rollback: the time from the API call returning to the snapshot showing 0%
    for every component, as a data-plane client polling with If-None-Match sees it.
    Target: median under 50 ms (the call itself is the only wait).

It runs on its own database (the configured PostgreSQL database's name plus `_bench`, or a
temporary SQLite file) and without Redis, so it touches nothing else.
"""

import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
PLAN = "truststream-v4.2"
TRAFFIC = ("edge-functions", "blue-green-deployment")
SECONDS, CONNECTIONS, ROUNDS = 1.5, 16, 7
PAIRED_ROUNDS = 1000
ROLLBACKS = 20
TARGET_DECIDE, TARGET_304, TARGET_ROLLBACK_MS = 0.8, 1.0, 50.0


# --- Run inside a child process with the benchmark's settings and database -------------------


def _setup_django():
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks._rollout_settings"
    django.setup()


def _arrange_live_rollouts() -> None:
    """Both traffic components migrated and at 50%, force-original off (arrange only)."""
    from django.db.models import F

    from migrations_app.models import Component, Phase, Plan, Rollout

    plan = Plan.objects.get(key=PLAN)
    Component.objects.filter(plan=plan, name__in=TRAFFIC).update(state="completed")
    Phase.objects.filter(plan=plan, components__name__in=TRAFFIC).update(state="in_progress")
    Rollout.objects.filter(component__plan=plan).update(
        state="progressing", percentage=50, fallback=True, epoch=F("epoch") + 1
    )
    Plan.objects.filter(pk=plan.pk).update(force_original=False, stability="", epoch=F("epoch") + 1)


def prepare() -> dict:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from migrations_app import tokens
    from migrations_app.demo import load_demo_plan
    from migrations_app.models import ApiToken
    from migrations_app.roles import CLI

    load_demo_plan()
    _arrange_live_rollouts()
    ApiToken.objects.filter(name__in=["bench-data-plane", "bench-pipeline"]).delete()
    _, reader = tokens.create(name="bench-data-plane", scopes=["rollout:read"], actor=CLI)
    _, operator = tokens.create(name="bench-pipeline", scopes=["operate"], actor=CLI)
    return {"reader": reader, "operator": operator}


def rollbacks(base: str, reader: str, operator: str, count: int) -> dict:
    """`count` emergency rollbacks through the API; for each, how long until the snapshot shows it."""
    read = {"Authorization": f"Bearer {reader}"}
    operate = {"Authorization": f"Bearer {operator}"}
    calls, visible = [], []
    snapshot_url = f"{base}/api/v1/plans/{PLAN}/rollout"
    with httpx.Client(timeout=10) as client:
        for i in range(count):
            _arrange_live_rollouts()
            # Arranged from this process: the server hears of it by notification, within milliseconds.
            deadline = time.perf_counter() + 5
            while True:
                before = client.get(snapshot_url, headers=read)
                if {c["percentage"] for c in before.json()["components"].values()} == {50}:
                    break
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"the arranged rollouts never showed: {before.text}")
            etag = before.headers["ETag"]
            started = time.perf_counter()
            answer = client.post(
                f"{base}/api/v1/plans/{PLAN}/emergency-rollback", json={"reason": f"benchmark {i}"}, headers=operate
            )
            returned = time.perf_counter()
            assert answer.status_code == 200, answer.text
            while True:
                response = client.get(snapshot_url, headers=read | {"If-None-Match": etag})
                if response.status_code == 200:
                    body = response.json()
                    if body["force_original"] and {c["percentage"] for c in body["components"].values()} == {0}:
                        break
                if time.perf_counter() - returned > 5:
                    raise RuntimeError("the snapshot never showed the rollback")
            seen = time.perf_counter()
            calls.append((returned - started) * 1000)
            visible.append((seen - returned) * 1000)
    return {"call_ms": calls, "visible_ms": visible}


# --- The benchmark itself ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bench_database() -> tuple[str, object]:
    """A database of the benchmark's own: (URL, cleanup)."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        parts = urlsplit(url)
        name = parts.path.lstrip("/") + "_bench"
        admin = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                connection.execute(f'CREATE DATABASE "{name}"')
        return urlunsplit(parts._replace(path=f"/{name}")), lambda: None
    folder = tempfile.TemporaryDirectory(prefix="switchyard-bench-")
    return f"sqlite:///{folder.name}/bench.sqlite3", folder.cleanup


def _child_env(database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DEBUG"}}
    # The server's beat probes the plan's target database: one that cannot be opened fails
    # the health gate, and the controller would roll the arranged rollouts back mid-run.
    target = Path(tempfile.gettempdir()) / "switchyard-bench-target.sqlite3"
    sqlite3.connect(target).close()
    return env | {
        "DJANGO_SETTINGS_MODULE": "benchmarks._rollout_settings",
        "DATABASE_URL": database_url,
        "TARGET_DATABASES": f"target=sqlite:///{target}",
        "SECRET_KEY": env.get("SECRET_KEY") or "bench-only-not-secret",
        "LOG_LEVEL": "WARNING",
    }


def _child(env: dict, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.rollout", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.rollout {args[0]} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _load(url: str, headers: list[str]) -> dict:
    args = [sys.executable, "-m", "benchmarks._load", url, "--seconds", str(SECONDS)]
    args += ["--connections", str(CONNECTIONS)]
    for header in headers:
        args += ["--header", header]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _serve(env: dict, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(100):
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {server.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server never answered /healthz")


def _throughput(base: str, reader: str) -> dict[str, dict]:
    """Requests per second of each scenario, in interleaved rounds; each round's ratios are
    taken against the minimal view measured in that same round, and the median ratio is
    reported, so that a neighbour's burst of CPU use on a shared machine skews one round only."""
    auth = f"Authorization: Bearer {reader}"
    snapshot_url = f"{base}/api/v1/plans/{PLAN}/rollout"
    etag = httpx.get(snapshot_url, headers={"Authorization": f"Bearer {reader}"}).headers["ETag"]
    scenarios = {
        "minimal view": (f"{base}/bench/minimal", [], "200"),
        "decide": (f"{base}/api/v1/plans/{PLAN}/decide?component=edge-functions&key=user-4711", [auth], "200"),
        "snapshot 200": (snapshot_url, [auth], "200"),
        "snapshot 304": (snapshot_url, [auth, f"If-None-Match: {etag}"], "304"),
    }
    paired = json.loads(
        subprocess.run(
            [sys.executable, "-m", "benchmarks._load", "--alternate", str(PAIRED_ROUNDS),
             json.dumps({name: [url, headers] for name, (url, headers, _) in scenarios.items()})],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    rates: dict[str, list[float]] = {name: [] for name in scenarios}
    for _ in range(ROUNDS):
        for name, (url, headers, status) in scenarios.items():
            result = _load(url, headers)
            if set(result["statuses"]) != {status}:
                raise RuntimeError(f"{name}: unexpected statuses {result['statuses']}")
            rates[name].append(result["rps"])
    baseline = rates["minimal view"]
    return {
        name: {
            "rps": statistics.median(values),
            "ratio": statistics.median(value / base for value, base in zip(values, baseline, strict=True)),
            "latency_us": paired[name],
        }
        for name, values in rates.items()
    }


def main() -> bool:
    database_url, cleanup = _bench_database()
    env = _child_env(database_url)
    try:
        tokens = _child(env, "prepare")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = _serve(env, port)
        try:
            rps = _throughput(base, tokens["reader"])
            timings = _child(env, "rollbacks", base, tokens["reader"], tokens["operator"], str(ROLLBACKS))
        finally:
            server.terminate()
            server.wait(timeout=20)
    finally:
        cleanup()

    print(
        f"(a) uvicorn, {CONNECTIONS} connections from a second process, {ROUNDS} interleaved rounds "
        f"of {SECONDS:.1f} s (medians):"
    )
    for name, figures in rps.items():
        print(
            f"    {name:<14} {figures['rps']:8.0f} req/s   {figures['ratio']:5.2f} x minimal view   "
            f"(one connection, requests alternating: median {figures['latency_us']:.0f} us)"
        )
    decide_ratio, not_modified_ratio = rps["decide"]["ratio"], rps["snapshot 304"]["ratio"]
    print(f"    decide / minimal = {decide_ratio:.2f} (target >= {TARGET_DECIDE})")
    print(f"    304 / minimal    = {not_modified_ratio:.2f} (target >= {TARGET_304})")
    visible = timings["visible_ms"]
    median = statistics.median(visible)
    print(f"(b) emergency rollback, {ROLLBACKS} times through the API:")
    print(f"    the call itself: median {statistics.median(timings['call_ms']):.1f} ms")
    print(
        f"    call returned -> snapshot shows 0% everywhere: median {median:.1f} ms, "
        f"max {max(visible):.1f} ms (target median < {TARGET_ROLLBACK_MS:.0f} ms)"
    )
    return decide_ratio >= TARGET_DECIDE and not_modified_ratio >= TARGET_304 and median < TARGET_ROLLBACK_MS


if __name__ == "__main__":
    _setup_django()
    command, *rest = sys.argv[1:]
    if command == "prepare":
        print(json.dumps(prepare()))
    elif command == "rollbacks":
        base, reader, operator, count = rest
        print(json.dumps(rollbacks(base, reader, operator, int(count))))
    else:
        raise SystemExit(f"unknown command {command!r}")
