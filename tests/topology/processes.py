"""Real control-plane processes for the topology tests, and a client that talks to them as a
browser does: a login form, the CSRF cookie, the plan's websocket with its Origin."""

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
PLAN = "truststream-v4.2"
# Bounds for waiting on things that take a second or two; only a broken topology reaches them.
START_TIMEOUT = 90
EVENT_TIMEOUT = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A started command with its output in a log file, in its own process group."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("w")
        self.started_at = time.monotonic()
        self.popen = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self) -> str:
        return self.log_path.read_text()

    def signal_group(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send `sig` to the process alone (as Ctrl-C or `kill` would) and wait for it."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.popen.wait()
                raise AssertionError(f"{self.name} did not stop within {timeout} s:\n{self.log()}") from None
        self._log.close()
        return self.popen.returncode

    def kill(self) -> None:
        self.signal_group(signal.SIGKILL)
        self.popen.wait()
        self._log.close()


def wait_until_serving(root: str, process: Process) -> float:
    """Seconds from the process start to /healthz answering 200."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise AssertionError(f"{process.name} exited with {process.popen.returncode}:\n{process.log()}")
        try:
            if httpx.get(f"{root}/healthz", timeout=2).status_code == 200:
                return time.monotonic() - process.started_at
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{process.name} never answered /healthz:\n{process.log()}")


def wait_for(condition: Callable[[], bool], process: Process) -> None:
    """Until `condition()` holds (connection errors count as not yet), beside `process`."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"waited {START_TIMEOUT} s in vain beside {process.name}:\n{process.log()}")


class Browser:
    """An operator's browser: one cookie jar, shared by every web process it talks to."""

    def __init__(self):
        self.http = httpx.Client(follow_redirects=True, timeout=20)

    def log_in(self, root: str, username: str, password: str) -> httpx.Response:
        form = self.http.get(f"{root}/accounts/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        page = self.http.post(
            f"{root}/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{root}/accounts/login/"},
        )
        assert page.url.path == "/", f"login as {username} failed: {page.status_code} {page.url}"
        return page

    def post_api(self, root: str, path: str, payload: dict | None = None) -> httpx.Response:
        return self.http.post(
            f"{root}/api/v1{path}", json=payload or {}, headers={"X-CSRFToken": self.http.cookies["csrftoken"]}
        )

    def press(self, root: str, path: str) -> httpx.Response:
        """A dashboard button, as a plain form post (no JavaScript)."""
        return self.http.post(f"{root}{path}", headers={"X-CSRFToken": self.http.cookies["csrftoken"]})

    def first_unticked_item(self, root: str, plan_key: str = PLAN) -> int:
        page = self.http.get(f"{root}/plans/{plan_key}/")
        return int(re.search(r'id="checklist-item-(\d+)" data-ticked="false"', page.text).group(1))

    def plan_socket(self, root: str, plan_key: str = PLAN) -> ClientConnection:
        cookies = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        return connect(
            f"{root.replace('http://', 'ws://')}/ws/plans/{plan_key}/",
            additional_headers={"Cookie": cookies, "Origin": root},
            open_timeout=20,
        )

    def close(self):
        self.http.close()


def parse(message: str) -> dict:
    """A message of the plan socket: JSON (`hello`, `{"seq": N}`, chart points), or the
    page's regions as HTML led by `<!--seq:N-->`, returned as `{"seq": N, "html": ...}`."""
    if message.startswith("<!--seq:"):
        head, _, html = message.partition("-->")
        return {"seq": int(head.removeprefix("<!--seq:")), "html": html}
    return json.loads(message)


def receive_until(sock: ClientConnection, done: Callable[[list[dict]], bool], what: str) -> list[dict]:
    """Every message received until `done(messages)` holds; fails naming `what` and what came."""
    messages: list[dict] = []
    deadline = time.monotonic() + EVENT_TIMEOUT
    while not done(messages):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"waited {EVENT_TIMEOUT} s for {what}; received: {messages}")
        try:
            messages.append(parse(sock.recv(timeout=remaining)))
        except TimeoutError:
            continue
    return messages


def shows_tick(position: int, username: str) -> Callable[[list[dict]], bool]:
    """The checklist region, pushed over the socket, shows item `position` ticked by `username`."""
    ticked = re.compile(
        rf'id="checklist-item-{position}" data-ticked="true">.*?Ticked by <strong>{username}</strong>', re.S
    )
    return lambda messages: any(ticked.search(m.get("html", "")) for m in messages)


def has_seqs(seqs: set[int]) -> Callable[[list[dict]], bool]:
    return lambda messages: seqs <= {m.get("seq") for m in messages}
