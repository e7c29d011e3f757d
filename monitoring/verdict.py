"""The health verdict: what monitoring tells the rollout controller about a component.

`monitoring.health.evaluate(component, window_seconds=None) -> HealthVerdict` computes it
from rollups; the rollout controller only reads it. Plain values, no ORM, so decisions
made from a verdict can be tested with a verdict built by hand.
"""

from dataclasses import asdict, dataclass, field

ORIGINAL = "original"
MIGRATED = "migrated"


@dataclass(frozen=True)
class ProviderHealth:
    provider: str  # "original" or "migrated"
    samples: int
    errors: int
    error_rate: float  # 0..1
    avg_latency_ms: float | None
    p95_latency_ms: float | None


@dataclass(frozen=True)
class HealthVerdict:
    component: str
    window_seconds: int
    providers: dict[str, ProviderHealth]
    # Share of shadow comparisons that differed, when comparison is on and data exists.
    mismatch_rate: float | None = None
    database_healthy: bool = True
    # Enough samples on the migrated provider to judge at all (min_samples).
    enough_samples: bool = False
    # Passes every threshold of the plan (and has enough samples).
    healthy: bool = False
    # Why not healthy, or not judgeable, in words an operator reads: "error rate 12.0% > 5.0%".
    reasons: list[str] = field(default_factory=list)

    @property
    def failing(self) -> bool:
        """Bad enough to roll back: a threshold is broken by a judgeable sample.
        Not enough samples is not failing, it is waiting."""
        return self.enough_samples and not self.healthy or not self.database_healthy

    def figures(self) -> dict:
        """For the audit log and alerts: the numbers behind the decision."""
        return asdict(self)
