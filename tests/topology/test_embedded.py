"""The embedded topology as `make run` starts it: one process (`manage.py demo`), SQLite, the
Celery worker and beat in its threads, live events through the thread-safe channel layer."""

import os
import signal
import sys

import pytest

from tests.topology.processes import PLAN, Browser, Process, free_port, receive_until, wait_until_serving

PASSWORD = "demo-pass-8812"


def start_demo(var_dir, port) -> Process:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"}}
    env |= {"PORT": str(port), "DEMO_PASSWORD": PASSWORD, "SWITCHYARD_VAR_DIR": str(var_dir)}
    env["SECRET_KEY_FILE"] = str(var_dir / "secret-key")
    (var_dir / "secret-key").write_text("embedded-topology-test-secret\n")
    return Process("demo", [sys.executable, "manage.py", "demo"], env, var_dir)


@pytest.fixture
def demo(tmp_path):
    port = free_port()
    process = start_demo(tmp_path, port)
    root = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(root, process)
        yield root, process
    finally:
        process.stop()


def start_plan_work(browser: Browser, root: str):
    """What the operator does, and when the events on the plan's socket prove it ran as
    Celery tasks in the demo's process: the request thread sends them to the in-memory
    broker, the worker thread runs them, and they publish through the channel layer into
    the server's loop. Returns `done(events)`."""
    response = browser.post_api(root, f"/plans/{PLAN}/workers/ping")
    assert response.status_code == 202, response.text
    ping = response.json()

    def done(events):
        answered = {e["payload"]["queue"] for e in events if e["event"] == "worker.answered"}
        return answered == {"control", "migrations"}

    done.ping = ping
    return done


@pytest.mark.slow
def test_a_task_started_from_the_browser_runs_in_the_demo_process_and_its_events_arrive(demo):
    root, process = demo
    browser = Browser()
    browser.log_in(root, "operator", PASSWORD)
    with browser.plan_socket(root) as sock:
        done = start_plan_work(browser, root)
        events = receive_until(sock, done, "the workers' answers")
    pinged = [e["payload"] for e in events if e["event"] == "workers.pinged"]
    answers = [e["payload"] for e in events if e["event"] == "worker.answered"]
    assert pinged == [done.ping]
    assert {a["ping"] for a in answers} == {done.ping["ping"]}
    # The worker that took them from both queues is a thread of the demo's own process.
    assert {a["pid"] for a in answers} == {process.popen.pid}
    browser.close()


@pytest.mark.slow
def test_ctrl_c_stops_it_cleanly_and_the_next_start_keeps_the_data(tmp_path):
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    browser = Browser()
    first = start_demo(tmp_path, port)
    try:
        wait_until_serving(root, first)
        browser.log_in(root, "operator", PASSWORD)
    finally:
        assert first.stop(signal.SIGINT) == 0, first.log()
    assert "Plan truststream-v4.2 loaded." in first.log()
    assert first.log().rstrip().endswith("Stopped."), first.log()

    second = start_demo(tmp_path, port)
    try:
        wait_until_serving(root, second)
        # The plan and the session of the browser that logged in before the restart are kept.
        page = browser.http.get(f"{root}/plans/{PLAN}/")
        assert page.status_code == 200
        assert page.url.path == f"/plans/{PLAN}/"
        assert "TrustStream v4.1 to v4.2" in page.text
    finally:
        assert second.stop(signal.SIGTERM) == 0, second.log()
    assert "Plan truststream-v4.2 already loaded." in second.log()
    assert second.log().rstrip().endswith("Stopped."), second.log()
    browser.close()
