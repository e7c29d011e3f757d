"""The embedded topology as `make run` starts it: one process (`manage.py demo`), SQLite, the
Celery worker and beat in its threads, live events through the thread-safe channel layer."""

import os
import re
import signal
import sys
import time

import httpx
import pytest

from tests.topology.processes import (
    PLAN,
    START_TIMEOUT,
    Browser,
    Process,
    free_port,
    has_seqs,
    receive_until,
    shows_tick,
    wait_for,
    wait_until_serving,
)

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


def ping_workers(browser: Browser, root: str) -> dict:
    """Tasks started from the browser: the request thread sends them to the in-memory broker,
    the worker thread runs them, and what they publish goes through the channel layer into
    the server's loop, where the web process collects the answers. Returns the API's answer."""
    response = browser.post_api(root, f"/plans/{PLAN}/workers/ping")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow
def test_an_action_and_tasks_started_from_the_browser_reach_an_open_plan_socket(demo):
    root, process = demo
    browser = Browser()
    browser.log_in(root, "operator", PASSWORD)
    position = browser.first_unticked_item(root)
    with browser.plan_socket(root) as sock:
        receive_until(sock, lambda messages: any(m.get("hello") for m in messages), "the socket's hello")
        # A request thread publishes; the server's loop renders the region and pushes it.
        assert browser.press(root, f"/plans/{PLAN}/checklist/{position}/tick").status_code == 200
        receive_until(sock, shows_tick(position, "operator"), "the ticked checklist item")

        ping = ping_workers(browser, root)
        receive_until(sock, has_seqs({answer["seq"] for answer in ping["answers"]}), "the workers' answers")
    browser.close()
    assert [answer["queue"] for answer in ping["answers"]] == ["control", "migrations"]
    # The worker that took them from both queues is a thread of the demo's own process.
    assert {answer["pid"] for answer in ping["answers"]} == {process.popen.pid}


def component_states(html: str) -> dict[str, str]:
    """Component name -> state, from the components region of the plan page."""
    return dict(re.findall(r'<tr id="component-([\w-]+)">.*?<span class="state state-(\w+)">', html, re.S))


def latest_states(messages: list[dict]) -> dict[str, str]:
    states: dict[str, str] = {}
    for message in messages:
        states |= component_states(message.get("html", ""))
    return states


@pytest.mark.slow
def test_phase_one_runs_in_the_demo_process_and_its_progress_arrives_live(demo):
    root, process = demo
    browser = Browser()
    browser.log_in(root, "operator", PASSWORD)
    components = browser.http.get(f"{root}/api/v1/plans/{PLAN}").json()["components"]
    setup = {c["name"] for c in components if c["phase"] == "setup"}
    page = browser.http.get(f"{root}/plans/{PLAN}/").text
    for position in re.findall(r'id="checklist-item-(\d+)" data-ticked="false"', page):
        assert browser.press(root, f"/plans/{PLAN}/checklist/{position}/tick").status_code == 200
    # Phase 1's checks probe the simulator's health URLs: it starts just after the server.
    simulator = re.search(r"The traffic simulator serves the plan's health URLs at (\S+)", process.log()).group(1)
    wait_for(lambda: httpx.get(f"{simulator}/health/abstraction-interfaces", timeout=2).status_code == 200, process)

    with browser.plan_socket(root) as sock:
        receive_until(sock, lambda messages: any(m.get("hello") for m in messages), "the socket's hello")
        assert browser.press(root, f"/plans/{PLAN}/phases/setup/start").status_code == 200
        messages = receive_until(
            sock,
            lambda messages: all(latest_states(messages).get(name) == "completed" for name in setup),
            "every component of phase 1 completed",
        )
    # The socket showed them running before it showed them completed.
    assert any(component_states(m.get("html", "")).get(name) == "running" for m in messages for name in setup)
    components = browser.http.get(f"{root}/api/v1/plans/{PLAN}").json()["components"]
    assert {c["name"]: c["state"] for c in components if c["phase"] == "setup"} == dict.fromkeys(setup, "completed")
    browser.close()


@pytest.mark.slow
def test_the_traffic_simulator_runs_beside_it_and_stops_with_it(demo):
    root, process = demo
    browser = Browser()
    browser.log_in(root, "viewer", PASSWORD)
    simulator = re.search(r"The traffic simulator serves the plan's health URLs at (\S+)", process.log()).group(1)
    health = f"{root}/api/v1/plans/{PLAN}/components/edge-functions/health?window=60"
    deadline = time.monotonic() + START_TIMEOUT
    samples = 0
    while samples == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        samples = sum(p["samples"] for p in browser.http.get(health).json()["providers"].values())
    assert samples > 0, process.log()
    assert httpx.get(f"{simulator}/health/edge-functions", timeout=5).status_code == 200
    browser.close()
    assert process.stop(signal.SIGINT) == 0, process.log()
    # Stopped with the demo: nothing serves its health URLs any more.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{simulator}/health/edge-functions", timeout=5)


@pytest.mark.slow
def test_ctrl_c_stops_it_cleanly_and_the_next_start_keeps_the_data(tmp_path):
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    browser = Browser()
    first = start_demo(tmp_path, port)
    try:
        wait_until_serving(root, first)
        browser.log_in(root, "operator", PASSWORD)
        position = browser.first_unticked_item(root)
        assert browser.press(root, f"/plans/{PLAN}/checklist/{position}/tick").status_code == 200
    finally:
        assert first.stop(signal.SIGINT) == 0, first.log()
    assert "Plan truststream-v4.2 loaded." in first.log()
    assert first.log().rstrip().endswith("Stopped."), first.log()

    second = start_demo(tmp_path, port)
    try:
        wait_until_serving(root, second)
        # The tick, and the session of the browser that logged in before the restart, are kept.
        page = browser.http.get(f"{root}/plans/{PLAN}/")
        assert page.url.path == f"/plans/{PLAN}/"
        assert shows_tick(position, "operator")([{"html": page.text}])
    finally:
        assert second.stop(signal.SIGTERM) == 0, second.log()
    assert "Plan truststream-v4.2 already loaded." in second.log()
    assert second.log().rstrip().endswith("Stopped."), second.log()
    browser.close()
