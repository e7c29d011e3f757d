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
