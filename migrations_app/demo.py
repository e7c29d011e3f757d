"""The demo's setup: the TrustStream plan, one login per role, and the traffic simulator."""

import logging
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from migrations_app.planfile import load_plan, parse_plan_file
from migrations_app.roles import CLI, Role
from monitoring import targets

logger = logging.getLogger(__name__)

DEMO_PLAN = Path(settings.BASE_DIR) / "plans" / "truststream-v4.2.yaml"
DEMO_PLAN_KEY = "truststream-v4.2"
# Production needs two approvers, neither the requester: hence two approver logins.
DEMO_USERS = {
    "operator": [Role.OPERATOR],
    "approver": [Role.APPROVER],
    "approver2": [Role.APPROVER],
    "viewer": [Role.VIEWER],
    "admin": [Role.ADMIN],
}


def demo_password() -> str:
    """DEMO_PASSWORD, or one generated on first start and kept in var/ (never in the repo)."""
    if os.environ.get("DEMO_PASSWORD"):
        return os.environ["DEMO_PASSWORD"]
    stored = Path(settings.VAR_DIR) / "demo-password"
    if stored.exists():
        return stored.read_text().strip()
    stored.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(9)
    stored.write_text(password + "\n")
    stored.chmod(0o600)
    return password


def ensure_users(password: str) -> list[str]:
    User = get_user_model()
    for username, roles in DEMO_USERS.items():
        user, created = User.objects.get_or_create(username=username)
        # A new hash logs out every browser: set it only when the password changes.
        if created or not user.check_password(password):
            user.set_password(password)
        user.is_staff = Role.ADMIN in roles
        user.save()
        user.groups.set(Group.objects.filter(name__in=roles))
    return list(DEMO_USERS)


def load_demo_plan():
    spec, source = parse_plan_file(DEMO_PLAN)
    return load_plan(spec, source, actor=CLI)


def create_target_databases() -> list[str]:
    """The demo's SQLite target databases (the default TARGET_DATABASES is one in var/),
    created empty where their file is missing. The plan's steps act on them, and the
    probes check them from the start: a database that is not there fails its probe, as it
    should on a real system, and would show every traffic card failing its health gate on
    a first start. Existing files and PostgreSQL databases are left as they are."""
    created = []
    for alias in settings.TARGET_DATABASES:
        path = targets.sqlite_file(alias)
        if path is None or path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(path).close()  # connecting creates the file
        created.append(alias)
    return created


def simulator_url() -> str:
    """SIMULATOR_URL, or a free local port: the plan's health URLs and steps name it, and the
    simulator serves them there."""
    if os.environ.get("SIMULATOR_URL"):
        return os.environ["SIMULATOR_URL"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


class SimulatorProcess:
    """`manage.py simulate` as a child process of the demo: started once the web server
    answers (it reads the plan through the API), stopped with the demo."""

    START_TIMEOUT_SECONDS = 120
    STOP_TIMEOUT_SECONDS = 10

    def __init__(self, control_plane_url: str):
        self.url = control_plane_url
        self.process: subprocess.Popen | None = None
        self.stopping = threading.Event()
        self.starter = threading.Thread(target=self._start_when_serving, name="simulator-starter", daemon=True)

    def start(self) -> None:
        self.starter.start()

    def _start_when_serving(self) -> None:
        for _ in range(int(self.START_TIMEOUT_SECONDS / 0.2)):
            if self.stopping.wait(0.2):
                return
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                continue
        else:
            logger.error("the traffic simulator was not started: %s/healthz never answered", self.url)
            return
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "simulate", DEMO_PLAN_KEY, "--url", self.url],
            cwd=settings.BASE_DIR,
            # Its own process group: the demo stops it after the server, not with the same Ctrl-C.
            start_new_session=True,
        )

    def stop(self) -> None:
        self.stopping.set()
        self.starter.join()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(self.STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
