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
    # This provider judged against the same thresholds: None when it has fewer than
    # min_samples (not judged); the verdict itself judges the migrated provider only.
    healthy: bool | None = None
    reasons: list[str] = field(default_factory=list)


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
    # Worth a look, not a reason to roll back: p95 above warn_p95_latency_ms, no recent probe.
    warnings: list[str] = field(default_factory=list)
    # The component's health URL: False when its last probes failed, None when it has none.
    probe_healthy: bool | None = None
    comparisons: int = 0
    thresholds: dict = field(default_factory=dict)

    @property
    def failing(self) -> bool:
        """Bad enough to roll back: a threshold is broken by a judgeable sample.
        Not enough samples is not failing, it is waiting."""
        return self.enough_samples and not self.healthy or not self.database_healthy

    def figures(self) -> dict:
        """For the audit log and alerts: the numbers behind the decision."""
        return asdict(self)
