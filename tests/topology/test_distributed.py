"""The distributed topology on the local Redis and PostgreSQL: two web processes and a worker
per queue, started with the Procfile's own commands, sharing one database and one Redis.

An event has to cross processes to reach a browser: from the web process that handled the
action to the one holding the browser's websocket, and from whichever worker ran a task."""

import os
import signal
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from conftest import PASSWORD
from controlplane import procfile
from tests.topology.processes import PLAN, Browser, Process, free_port, receive_until, wait_until_serving


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
    with browser.plan_socket(roots["web-1"]) as sock:
        response = browser.post_api(roots["web-2"], f"/plans/{PLAN}/workers/ping")
        assert response.status_code == 202, response.text
        ping = response.json()
        events = receive_until(
            sock,
            lambda events: (
                {e["payload"].get("queue") for e in events if e["event"] == "worker.answered"}
                == {"control", "migrations"}
            ),
            "an answer from each worker",
        )
    browser.close()
    # web-2 handled the request; its event reached the socket held by web-1.
    assert [e["payload"] for e in events if e["event"] == "workers.pinged"] == [ping]
    answers = {e["payload"]["queue"]: e["payload"] for e in events if e["event"] == "worker.answered"}
    assert {a["ping"] for a in answers.values()} == {ping["ping"]}
    # Each queue's answer came from a process of the worker that consumes it (its process group).
    for queue in ("control", "migrations"):
        worker = processes[f"worker-{queue}"]
        assert os.getpgid(answers[queue]["pid"]) == worker.popen.pid, worker.log()


@pytest.mark.slow
def test_every_process_of_the_topology_stops_cleanly_on_sigterm(topology):
    roots, processes = topology
    for process in processes.values():
        assert process.stop(signal.SIGTERM) == 0, process.log()
