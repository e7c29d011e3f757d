"""Following the rollout snapshot as a data plane does: `GET /api/v1/plans/{plan}/rollout`
refreshed with If-None-Match, evaluated locally. Until the first snapshot arrives, or
while the control plane cannot be reached, the last one known holds (none: all original)."""

import logging
import threading
from dataclasses import dataclass, field

import httpx

from monitoring.simulator.model import Route

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    routes: dict[str, Route] = field(default_factory=dict)
    force_original: bool = False
    epoch: int | None = None

    def route(self, component: str) -> Route:
        return self.routes.get(component, Route())


def parse(body: dict) -> Snapshot:
    """The DESIGN contract: per component `percentage`, `fallback`, `comparison`; plan-wide
    `force_original` and `epoch`. Components come as an object keyed by name (or a list
    of objects with a `name`)."""
    components = body.get("components") or {}
    if isinstance(components, list):
        components = {item["name"]: item for item in components}
    routes = {
        name: Route(
            percentage=int(item.get("percentage") or 0),
            fallback=bool(item.get("fallback", True)),
            comparison=bool(item.get("comparison", False)),
        )
        for name, item in components.items()
    }
    return Snapshot(routes=routes, force_original=bool(body.get("force_original")), epoch=body.get("epoch"))


class SnapshotClient:
    def __init__(self, base_url: str, plan: str, token: str, *, client: httpx.Client | None = None):
        self.url = f"{base_url.rstrip('/')}/api/v1/plans/{plan}/rollout"
        self.client = client or httpx.Client(timeout=5)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.etag: str | None = None
        self.current = Snapshot()
        self.fetches = 0
        self.not_modified = 0
        self.failing = False
        self.lock = threading.Lock()

    def refresh(self) -> Snapshot:
        headers = dict(self.headers)
        if self.etag:
            headers["If-None-Match"] = self.etag
        try:
            response = self.client.get(self.url, headers=headers)
        except httpx.HTTPError as error:
            self._warn(f"cannot reach {self.url}: {error}")
            return self.current
        self.fetches += 1
        if response.status_code == 304:
            self.not_modified += 1
            return self.current
        if response.status_code != 200:
            self._warn(f"{self.url} answered {response.status_code}: {response.text[:200]}")
            return self.current
        with self.lock:
            self.current = parse(response.json())
            self.etag = response.headers.get("ETag")
        if self.failing:
            logger.info("rollout snapshot reachable again (epoch %s)", self.current.epoch)
            self.failing = False
        return self.current

    def _warn(self, message: str) -> None:
        if not self.failing:  # once per outage, not once a second
            logger.warning("%s; keeping the last snapshot", message)
        self.failing = True
