"""The simulation loop: steady request rates per traffic component, the snapshot refreshed
and the reports flushed every second, the HTTP server in its own thread."""

import logging
import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime

from monitoring.simulator.model import OPERATIONS, Faults, serve
from monitoring.simulator.reporter import Reporter
from monitoring.simulator.server import make_server
from monitoring.simulator.snapshot import SnapshotClient

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.1
SYNC_SECONDS = 1.0
KEY_SPACE = 10_000  # distinct users: routing is sticky per user


class Simulator:
    def __init__(
        self,
        plan: str,
        traffic_components: list[str],
        *,
        snapshot: SnapshotClient,
        reporter: Reporter,
        faults: Faults | None = None,
        rate: float = 20.0,
        seed: int | None = None,
        known_components: set[str] | None = None,
    ):
        self.plan = plan
        self.traffic_components = list(traffic_components)
        self.known_components = set(known_components or ())
        self.snapshot = snapshot
        self.reporter = reporter
        self.faults = faults or Faults()
        self.rate = rate
        self.rng = random.Random(seed)
        self.carry = dict.fromkeys(self.traffic_components, 0.0)
        self.counts: dict[str, Counter] = {c: Counter() for c in self.traffic_components}
        self.counts_lock = threading.Lock()
        self.sequence = 0
        self.stopping = threading.Event()
        self.server = None

    def tick(self, seconds: float, now: datetime | None = None) -> int:
        """Play out `seconds` worth of requests for every traffic component; returns how many."""
        now = now or datetime.now(UTC)
        current = self.snapshot.current
        metrics, comparisons, played = [], [], 0
        tallies = {component: Counter() for component in self.traffic_components}
        for component in self.traffic_components:
            due = self.carry[component] + self.rate * seconds
            count = int(due)
            self.carry[component] = due - count
            route = current.route(component)
            for _ in range(count):
                self.sequence += 1
                operation = self.rng.choice(OPERATIONS)
                request_id = f"{component}-{self.sequence}"
                served = serve(
                    self.rng,
                    self.faults,
                    component,
                    f"user-{self.rng.randrange(KEY_SPACE)}",
                    route,
                    force_original=current.force_original,
                    operation=operation,
                    request_id=request_id,
                )
                base = {"plan": self.plan, "component": component, "operation": operation}
                metrics += [{**base, **s, "recorded_at": now.isoformat()} for s in served.samples]
                if served.comparison:
                    comparisons.append({"plan": self.plan, "component": component, **served.comparison})
                tally = tallies[component]
                tally["requests"] += 1
                tally[f"served_{served.provider}"] += 1
                tally["fallbacks"] += served.fallback
                tally["errors"] += served.failed
                tally["mismatches"] += bool(served.comparison and not served.comparison["equivalent"])
            played += count
        with self.counts_lock:
            for component, tally in tallies.items():
                self.counts[component].update(tally)
        self.reporter.add("metrics", metrics)
        if comparisons:
            self.reporter.add("comparisons", comparisons)
        return played

    def sync(self) -> None:
        self.snapshot.refresh()
        self.reporter.flush()

    def stats(self) -> dict:
        current = self.snapshot.current
        with self.counts_lock:
            counts = {name: dict(self.counts[name]) for name in self.traffic_components}
        return {
            "plan": self.plan,
            "epoch": current.epoch,
            "force_original": current.force_original,
            "rate_per_component": self.rate,
            "components": {
                name: {"percentage": current.route(name).percentage, **counts[name]} for name in self.traffic_components
            },
            "reported": dict(self.reporter.sent),
            "dropped": dict(self.reporter.dropped),
            "faults": self.faults.describe(),
        }

    # --- running in real time -------------------------------------------------------------
    def serve_http(self, host: str, port: int) -> str:
        self.server = make_server(self, host, port)
        threading.Thread(target=self.server.serve_forever, name="simulator-http", daemon=True).start()
        bound_host, bound_port = self.server.server_address[:2]
        return f"http://{bound_host}:{bound_port}"

    def _sync_loop(self) -> None:
        while not self.stopping.wait(SYNC_SECONDS):
            try:
                self.sync()
            except Exception:  # one bad round must not end the simulation
                logger.exception("simulator sync failed")

    def run(self, duration: float | None = None) -> None:
        """Run until stop() (or for `duration` seconds), ticking in real time."""
        self.sync()
        syncer = threading.Thread(target=self._sync_loop, name="simulator-sync", daemon=True)
        syncer.start()
        started = last = time.monotonic()
        while not self.stopping.is_set():
            self.stopping.wait(TICK_SECONDS)
            now = time.monotonic()
            self.tick(now - last)
            last = now
            if duration is not None and now - started >= duration:
                break
        self.stop()
        self.reporter.flush()

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
