"""Wiring a simulator to a control plane: the plan's components, a token, the server."""

import logging
import os
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from monitoring.simulator.engine import Simulator
from monitoring.simulator.model import Faults, parse_fault
from monitoring.simulator.reporter import Reporter
from monitoring.simulator.snapshot import SnapshotClient

logger = logging.getLogger(__name__)

TOKEN_SCOPES = ["metrics:write", "rollout:read", "read"]


class SetupError(Exception):
    pass


def create_token(plan: str):
    """A service token for a simulator run beside the control plane (same database):
    the row (to revoke when the run ends) and the raw token."""
    from migrations_app import tokens
    from migrations_app.roles import CLI

    return tokens.create(name=f"simulator-{plan}-{secrets.token_hex(4)}", scopes=TOKEN_SCOPES, actor=CLI)


def revoke_token(row) -> None:
    """The token a run created dies with it: each start of the demo makes a new one."""
    from migrations_app import tokens
    from migrations_app.roles import CLI

    tokens.revoke(row, actor=CLI, reason="the simulator run that created it stopped")


def listen_address(port: int | None) -> tuple[str, int]:
    """`--port`, else the port of SIMULATOR_URL (the URL the plan's health URLs name), else any."""
    configured = os.environ.get("SIMULATOR_URL", "")
    parts = urlsplit(configured) if configured else None
    host = (parts.hostname if parts else None) or "127.0.0.1"
    if port is None:
        port = (parts.port if parts else None) or 0
    return host, port


@dataclass
class PlanShape:
    traffic: list[str]
    all_components: set[str]


def plan_shape(client: httpx.Client, base_url: str, plan: str, token: str) -> PlanShape:
    """The plan's components, from GET /api/v1/plans/{plan}."""
    try:
        response = client.get(f"{base_url}/api/v1/plans/{plan}", headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as error:
        raise SetupError(f"cannot reach the control plane at {base_url}: {error}") from None
    if response.status_code == 404:
        raise SetupError(f"the control plane at {base_url} has no plan {plan!r}")
    if response.status_code != 200:
        raise SetupError(f"reading plan {plan!r} answered {response.status_code}: {response.text[:300]}")
    components = response.json()["components"]
    traffic = [c["name"] for c in components if c["traffic"]]
    if not traffic:
        raise SetupError(f"plan {plan!r} has no traffic component to send requests to")
    return PlanShape(traffic=traffic, all_components={c["name"] for c in components})


def build(
    plan: str,
    *,
    base_url: str,
    token: str,
    faults: list[str] = (),
    rate: float = 20.0,
    seed: int | None = None,
    client: httpx.Client | None = None,
) -> Simulator:
    client = client or httpx.Client(timeout=10)
    base_url = base_url.rstrip("/")
    shape = plan_shape(client, base_url, plan, token)
    settings = Faults()
    for text in faults:
        settings.set(*parse_fault(text))
    return Simulator(
        plan,
        shape.traffic,
        snapshot=SnapshotClient(base_url, plan, token, client=client),
        reporter=Reporter(base_url, token, client=client),
        faults=settings,
        rate=rate,
        seed=seed,
        known_components=shape.all_components,
    )
