"""`make run`'s command, started as a newcomer would: it migrates, loads the plan, prints
the logins and serves the dashboard through the ASGI server."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def demo_server(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    env |= {
        "PORT": str(port),
        "DEMO_PASSWORD": "demo-pass-4471",
        "SWITCHYARD_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "demo-test-secret",
    }
    log = (tmp_path / "demo.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            if process.poll() is not None:
                pytest.fail(f"demo exited: {(tmp_path / 'demo.log').read_text()}")
            try:
                if httpx.get(f"{root}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            pytest.fail(f"demo never answered: {(tmp_path / 'demo.log').read_text()}")
        yield root, tmp_path / "demo.log"
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)
        log.close()


@pytest.mark.slow
def test_the_demo_serves_the_plan_to_a_logged_in_operator(demo_server):
    root, log_path = demo_server
    output = log_path.read_text()
    assert f"Switchyard is at http://127.0.0.1:{root.rsplit(':', 1)[1]}/" in output
    assert "operator, approver, approver2, viewer, admin" in output
    assert "demo-pass-4471" in output
    # The database the plan's steps act on is there from the start, so its probe passes.
    assert "Target database target created, empty" in output
    assert (log_path.parent / "target.sqlite3").exists()
    with httpx.Client(base_url=root, follow_redirects=True, timeout=10) as client:
        login = client.get("/accounts/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        page = client.post(
            "/accounts/login/",
            data={"username": "operator", "password": "demo-pass-4471", "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{root}/accounts/login/"},
        )
        assert page.status_code == 200
        assert "TrustStream v4.1 to v4.2" in page.text
        plan = client.get("/plans/truststream-v4.2/")
        assert plan.text.count('class="phase phase-') == 5
        assert plan.text.count("<li>☐") == 7
        # Static files come from the server itself, never from a CDN.
        assert client.get("/static/switchyard/app.css").status_code == 200
        # The tab's icon is the page's own (a browser asks for /favicon.ico otherwise: a 404).
        icon = re.search(r'<link rel="icon" href="([^"]+)"', plan.text).group(1)
        assert client.get(icon).headers["content-type"] == "image/svg+xml"
