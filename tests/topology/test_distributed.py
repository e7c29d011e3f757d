"""The distributed topology on the local Redis and PostgreSQL, started with the Procfile's own
commands: two web processes and a worker per queue sharing one database and one Redis; and
two workers on `migrations`, one of which is killed in the middle of a phase.

An event has to cross processes to reach a browser: from the web process that handled the
action to the one holding the browser's websocket, and from whichever worker ran a task."""

import os
import signal
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from django.conf import settings
from django.db import connection

from conftest import PASSWORD
from controlplane import procfile
from migrations_app import checklist
from migrations_app.engine import services
from migrations_app.models import Run, StepAttempt
from migrations_app.planfile import load_plan, parse_plan
from migrations_app.roles import CLI, Actor
from migrations_app.states import ComponentState
from tests.topology.processes import (
    PLAN,
    Browser,
    Process,
    free_port,
    has_seqs,
    receive_until,
    shows_tick,
    wait_until_serving,
)


def database_url() -> str:
    """The test database, as the processes must see it."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def topology(transactional_db, tmp_path):
    """Two webs and the Procfile's workers; `release` (migrate) is the test database's setup."""
    assert settings.REDIS_URL, "the distributed topology needs REDIS_URL (make test sets one)"
    assert connection.vendor == "postgresql", "the distributed topology runs on PostgreSQL (DATABASE_URL)"
    commands = {entry.name: entry.argv for entry in procfile.read(procfile.ROOT_PROCFILE)}
    env = procfile.child_environment(os.environ | {"DATABASE_URL": database_url(), "SWITCHYARD_VAR_DIR": str(tmp_path)})
    ports = {"web-1": free_port(), "web-2": free_port()}
    processes = {}
    try:
        for name, port in ports.items():
            processes[name] = Process(name, commands["web"], env | {"PORT": str(port)}, tmp_path)
        for name in ("worker-control", "worker-migrations"):
            processes[name] = Process(name, commands[name], env, tmp_path)
        roots = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        for name, root in roots.items():
            wait_until_serving(root, processes[name])
        yield roots, processes
    finally:
        for process in processes.values():
            process.stop(signal.SIGTERM)


@pytest.mark.slow
def test_a_socket_on_one_web_receives_events_from_the_other_web_and_from_each_worker(demo_plan, operator, topology):
    roots, processes = topology
    browser = Browser()
    browser.log_in(roots["web-2"], operator.username, PASSWORD)
    position = browser.first_unticked_item(roots["web-2"])
    with browser.plan_socket(roots["web-1"]) as sock:
        receive_until(sock, lambda messages: any(m.get("hello") for m in messages), "the socket's hello")
        # web-2 handles the tick and publishes; web-1 renders it for the socket it holds.
        assert browser.press(roots["web-2"], f"/plans/{PLAN}/checklist/{position}/tick").status_code == 200
        receive_until(sock, shows_tick(position, operator.username), "the tick made through web-2")

        response = browser.post_api(roots["web-2"], f"/plans/{PLAN}/workers/ping")
        assert response.status_code == 200, response.text
        answers = {answer["queue"]: answer for answer in response.json()["answers"]}
        receive_until(sock, has_seqs({answer["seq"] for answer in answers.values()}), "each worker's answer")
    browser.close()
    # Each queue's answer came from a process of the worker that consumes it (its process group).
    assert set(answers) == {"control", "migrations"}
    for queue, answer in answers.items():
        worker = processes[f"worker-{queue}"]
        assert os.getpgid(answer["pid"]) == worker.popen.pid, worker.log()


@pytest.mark.slow
def test_every_process_of_the_topology_stops_cleanly_on_sigterm(topology):
    roots, processes = topology
    for process in processes.values():
        assert process.stop(signal.SIGTERM) == 0, process.log()


# `LOG WHAT SECONDS`: note that WHAT began, take SECONDS, note that it ended.
LOGGER = (
    "import sys, time; log = open(sys.argv[1], 'a', buffering=1); log.write(sys.argv[2] + ' began\\n'); "
    "time.sleep(float(sys.argv[3])); log.write(sys.argv[2] + ' ended\\n')"
)


def crash_plan(steps_log):
    """Two independent components of one phase, so that each migrations worker takes one.
    Every command notes what it did in `steps_log`; a.2 runs long enough to be killed."""

    def log(what, seconds=0):
        return ["${PYTHON}", "-c", LOGGER, str(steps_log), what, str(seconds)]

    def component(name, risk, steps):
        return {"name": name, "phase": "one", "risk": risk, "rollback_complexity": "simple", "steps": steps}

    spec = {
        "plan": "crash",
        "name": "A phase whose worker dies",
        "checklist": ["Ready"],
        "phases": [{"key": "one", "name": "One", "days": [1, 1], "risk": "low", "rollback_window_hours": 24}],
        "components": [
            component(
                "alpha",
                "medium",
                [
                    {"name": "a.1", "command": log("a.1"), "reverse_command": log("undo a.1"), "timeout_seconds": 60},
                    {"name": "a.2", "command": log("a.2", 300), "timeout_seconds": 600},
                ],
            ),
            component("beta", "low", [{"name": "b.1", "command": log("b.1", 3), "timeout_seconds": 60}]),
        ],
    }
    text = yaml.safe_dump(spec, sort_keys=False)
    return load_plan(parse_plan(text), text, actor=CLI).plan


def kill_commands_writing_to(steps_log) -> None:
    """A step's command runs in its own session, so it outlives the worker killed under it."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(steps_log).encode() in cmdline.read_bytes():
                os.kill(int(cmdline.parent.name), signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass  # it ended while we looked


def wait_until(condition, what, processes):
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    logs = "\n".join(f"--- {p.name}\n{p.log()}" for p in processes.values())
    raise AssertionError(f"waited 90 s for {what}\n{logs}")


@pytest.fixture
def two_migrations_workers(transactional_db, tmp_path):
    """A worker on `control` (the sweeper's queue), beat, and two one-slot workers on
    `migrations`, with a short lease so that a dead worker is noticed within seconds."""
    commands = {entry.name: entry.argv for entry in procfile.read(procfile.ROOT_PROCFILE)}
    env = procfile.child_environment(
        os.environ | {"DATABASE_URL": database_url(), "SWITCHYARD_VAR_DIR": str(tmp_path), "ENGINE_LEASE_SECONDS": "2"}
    )
    migrations = commands["worker-migrations"]
    processes = {
        "worker-control": Process("worker-control", commands["worker-control"], env, tmp_path),
        "beat": Process("beat", commands["beat"], env, tmp_path),
    }
    try:
        names = ("migrations-1", "migrations-2")
        for name in names:
            argv = [*migrations, "--concurrency", "1"]
            argv[argv.index("-n") + 1] = f"{name}@%h"
            processes[name] = Process(name, argv, env, tmp_path)
        wait_until(lambda: all(" ready." in processes[name].log() for name in names), "the workers", processes)
        yield processes
    finally:
        for process in processes.values():
            process.stop(signal.SIGTERM)


@pytest.mark.slow
def test_a_worker_killed_mid_phase_leaves_the_other_to_finish_and_nothing_runs_twice(
    two_migrations_workers, operator, tmp_path, request
):
    processes = two_migrations_workers
    steps_log = tmp_path / "steps.log"
    request.addfinalizer(lambda: kill_commands_writing_to(steps_log))
    plan = crash_plan(steps_log)
    checklist.tick(plan.checklist.get(), actor=Actor.for_user(operator))
    run = services.start_phase(plan.phases.get(), actor=Actor.for_user(operator))

    def lines():
        return steps_log.read_text().splitlines() if steps_log.exists() else []

    attempt = wait_until(
        lambda: "a.2 began" in lines() and StepAttempt.objects.filter(run=run, step__name="a.2").first(),
        "step a.2 to be running",
        processes,
    )
    victim = next(p for p in processes.values() if p.popen.pid == os.getpgid(int(attempt.worker.rsplit(":", 1)[1])))
    survivor = next(p for name, p in processes.items() if name.startswith("migrations-") and p is not victim)
    victim.kill()

    def run_ended():
        run.refresh_from_db()
        return run.state not in Run.ACTIVE_STATES

    wait_until(run_ended, "the run to end without the killed worker", processes)
    attempt.refresh_from_db()
    assert attempt.status == StepAttempt.Status.INTERRUPTED
    # Nothing ran twice: a.2 began once and never again; alpha's completed step was undone.
    assert [line for line in lines() if line.startswith("a.")] == ["a.1 began", "a.1 ended", "a.2 began"]
    assert lines().count("undo a.1 began") == 1
    assert lines().count("b.1 began") == 1
    states = dict(plan.components.values_list("name", "state"))
    assert states == {"alpha": ComponentState.ROLLED_BACK, "beta": ComponentState.COMPLETED}
    # alpha's forward steps ran on the killed worker, everything else on the survivor.
    forward, reverse = StepAttempt.Direction.FORWARD, StepAttempt.Direction.REVERSE
    ran_by = {(a.step.name, a.direction): a.worker.rsplit(":", 1)[1] for a in StepAttempt.objects.filter(run=run)}
    assert set(ran_by) == {("a.1", forward), ("a.2", forward), ("a.1", reverse), ("b.1", forward)}
    survivors = {pid for (step, direction), pid in ran_by.items() if step == "b.1" or direction == reverse}
    assert {os.getpgid(int(pid)) for pid in survivors} == {survivor.popen.pid}
