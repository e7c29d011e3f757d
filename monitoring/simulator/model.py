"""What a simulated request does: providers, faults, routing and fallback. Pure: the
randomness comes in as a `random.Random`, so a seeded run is reproducible."""

import random
import threading
from dataclasses import dataclass, field

from migrations_app.routing import use_migrated
from monitoring.verdict import MIGRATED, ORIGINAL

# The procedure's critical operations (PerformanceProfiler.profileOperations).
OPERATIONS = ("agent_creation", "trust_score_calculation", "task_coordination", "real_time_updates")
PROVIDER_SETTINGS = ("error_rate", "latency_ms")
DEFAULTS = {
    ORIGINAL: {"error_rate": 0.004, "latency_ms": 120.0},
    MIGRATED: {"error_rate": 0.004, "latency_ms": 95.0},
}
DEFAULT_MISMATCH_RATE = 0.002


class FaultError(ValueError):
    pass


@dataclass
class Faults:
    """Provider settings and injected faults, changed from the command line or over HTTP
    while requests are being served (hence the lock)."""

    providers: dict[str, dict[str, float]] = field(default_factory=lambda: {p: dict(v) for p, v in DEFAULTS.items()})
    mismatch_rate: float = DEFAULT_MISMATCH_RATE
    # Components whose health URL answers 503; "*" for all of them.
    unhealthy: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def set(self, name: str, value) -> None:
        """`migrated.error_rate=0.12`, `original.latency_ms=400`, `error_rate=0.12` (the
        migrated provider), `comparison.mismatch_rate=0.1`, `health=edge-functions` or
        `health=all` (503 from those health URLs), `health=none`."""
        with self.lock:
            if name == "health":
                names = {part.strip() for part in str(value).split(",") if part.strip()}
                self.unhealthy = set() if names <= {"none", ""} else ({"*"} if "all" in names else names)
                return
            provider, _, setting = name.rpartition(".")
            provider = provider or MIGRATED
            number = _number(name, value)
            if provider == "comparison" and setting == "mismatch_rate":
                self.mismatch_rate = _rate(name, number)
            elif provider in self.providers and setting in PROVIDER_SETTINGS:
                self.providers[provider][setting] = _rate(name, number) if setting == "error_rate" else max(0.0, number)
            else:
                raise FaultError(
                    f"unknown fault {name!r}: use PROVIDER.error_rate, PROVIDER.latency_ms (PROVIDER original or "
                    "migrated), comparison.mismatch_rate, or health=COMPONENT[,COMPONENT]|all|none"
                )

    def set_many(self, values: dict) -> None:
        for name, value in values.items():
            self.set(name, value)

    def reset(self) -> None:
        with self.lock:
            self.providers = {p: dict(v) for p, v in DEFAULTS.items()}
            self.mismatch_rate = DEFAULT_MISMATCH_RATE
            self.unhealthy = set()

    def healthy(self, component: str) -> bool:
        with self.lock:
            return "*" not in self.unhealthy and component not in self.unhealthy

    def describe(self) -> dict:
        with self.lock:
            return {
                "providers": {p: dict(v) for p, v in self.providers.items()},
                "comparison.mismatch_rate": self.mismatch_rate,
                "health": sorted(self.unhealthy) or "none",
            }

    def provider(self, name: str) -> dict[str, float]:
        with self.lock:
            return dict(self.providers[name])


def _number(name: str, value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise FaultError(f"fault {name!r} needs a number, not {value!r}") from None


def _rate(name: str, number: float) -> float:
    if not 0 <= number <= 1:
        raise FaultError(f"fault {name!r} is a rate between 0 and 1, not {number}")
    return number


def parse_fault(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise FaultError(f"a fault is NAME=VALUE, e.g. migrated.error_rate=0.12, not {text!r}")
    return name.strip(), value.strip()


@dataclass(frozen=True)
class Route:
    percentage: int = 0
    fallback: bool = True
    comparison: bool = False


@dataclass
class Served:
    """One simulated request: the samples and comparison it reports, and how it ended."""

    samples: list[dict]
    comparison: dict | None
    provider: str  # who answered the user
    fallback: bool
    failed: bool  # the user got an error


def _attempt(rng: random.Random, settings: dict[str, float]) -> tuple[float, bool]:
    mean = settings["latency_ms"]
    # Lognormal around the mean: mostly close, with the long tail real services have.
    duration = rng.lognormvariate(0, 0.35) * mean if mean > 0 else 0.0
    return round(duration, 2), rng.random() >= settings["error_rate"]


def serve(
    rng: random.Random,
    faults: Faults,
    component: str,
    key: str,
    route: Route,
    *,
    force_original: bool,
    operation: str,
    request_id: str,
) -> Served:
    """Route the request as a data plane would, and play it out."""
    migrated = use_migrated(component, key, route.percentage, force_original=force_original)
    samples = []

    def sample(provider, duration, ok):
        error = None if ok else f"{provider} implementation failed"
        samples.append({"provider": provider, "duration_ms": duration, "success": ok, "error_message": error})

    if not migrated:
        duration, ok = _attempt(rng, faults.provider(ORIGINAL))
        sample(ORIGINAL, duration, ok)
        return Served(samples, None, ORIGINAL, False, not ok)
    duration, ok = _attempt(rng, faults.provider(MIGRATED))
    sample(MIGRATED, duration, ok)
    if not ok:
        if not route.fallback:
            return Served(samples, None, MIGRATED, False, True)
        # Fallback: the original serves the request the migrated implementation failed.
        duration, ok = _attempt(rng, faults.provider(ORIGINAL))
        sample(ORIGINAL, duration, ok)
        return Served(samples, None, ORIGINAL, True, not ok)
    comparison = None
    if route.comparison:
        equivalent = rng.random() >= faults.mismatch_rate
        comparison = {"request_id": request_id, "equivalent": equivalent}
        if not equivalent:
            comparison["diff"] = {"path": f"$.data.{operation}", "original": "v4.1", "migrated": "v4.2"}
    return Served(samples, comparison, MIGRATED, False, False)
