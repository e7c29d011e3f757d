"""What the rollout controller should do next: pure functions of (settings and state, health, now).

No ORM, no clock: the reconcile service reads the rows and the health verdict, asks `decide`,
and applies the answer under the rollout's epoch. Everything here is tested with values
built by hand.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from migrations_app.states import RolloutState
from monitoring.verdict import ORIGINAL, HealthVerdict

# Planned rollback steps traffic down through these (procedure 6.2).
PLANNED_ROLLBACK_STEPS = (75, 50, 25, 10, 0)


class Action(StrEnum):
    WAIT = "wait"
    ADVANCE = "advance"
    REQUEST_APPROVAL = "request_approval"
    COMPLETE = "complete"
    ROLL_BACK = "roll_back"
    STEP_DOWN = "step_down"
    FINISH_ROLLBACK = "finish_rollback"


@dataclass(frozen=True)
class RolloutView:
    """The parts of a Rollout row that a decision reads."""

    state: str
    percentage: int
    steps: tuple[int, ...]
    approval_at: tuple[int, ...]
    interval_seconds: int
    # When the current level began: the later of the last percentage change and state change.
    since: datetime | None


@dataclass(frozen=True)
class Decision:
    action: Action
    target: int | None = None
    reason: str = ""


def next_step(steps, percentage: int) -> int | None:
    """The first step above `percentage`, or None at the top."""
    return next((step for step in steps if step > percentage), None)


def planned_rollback_steps(percentage: int) -> list[int]:
    """The steps down from `percentage`: never up, always ending at 0."""
    return [step for step in PLANNED_ROLLBACK_STEPS if step <= percentage]


def crossed_approval_step(approval_at, current: int, new: int) -> int | None:
    """The first approval step a manual raise from `current` to `new` would pass, if any."""
    return next((step for step in sorted(approval_at) if current < step <= new), None)


def _waited(view: RolloutView, seconds: int, now: datetime) -> bool:
    return view.since is None or now - view.since >= timedelta(seconds=seconds)


def decide(view: RolloutView, verdict: HealthVerdict | None, now: datetime) -> Decision:
    """The next move of a progressing rollout.

    1. Failing health (a broken threshold on enough samples, or the database down) rolls back,
       whenever it is seen while traffic is moving (progressing or awaiting approval).
    2. Otherwise nothing moves before the interval has passed since the current level began.
    3. Then, only on a healthy verdict with enough samples: to the next step, or to
       awaiting approval before a step in `approval_at`, or completed once 100% held an interval.
    Unknown health (no verdict) never moves traffic, in either direction.
    """
    if view.state not in (RolloutState.PROGRESSING, RolloutState.AWAITING_APPROVAL):
        return Decision(Action.WAIT, reason=f"the rollout is {view.state}")
    if verdict is None:
        return Decision(Action.WAIT, reason="health is unavailable")
    if verdict.failing:
        return Decision(Action.ROLL_BACK, target=0, reason=failure_reason(verdict))
    if view.state == RolloutState.AWAITING_APPROVAL:
        return Decision(Action.WAIT, reason="awaiting approval")
    if not _waited(view, view.interval_seconds, now):
        return Decision(Action.WAIT, reason=f"holding {view.percentage}% for {view.interval_seconds}s")
    # At 0% the new implementation has no traffic to judge: only failing health holds it back.
    if not verdict.healthy and view.percentage > 0:
        return Decision(Action.WAIT, reason="; ".join(verdict.reasons) or "not enough samples to judge")
    target = next_step(view.steps, view.percentage)
    if target is None:
        return Decision(Action.COMPLETE, target=view.percentage, reason=f"{view.percentage}% held healthy")
    if target in view.approval_at:
        return Decision(Action.REQUEST_APPROVAL, target=target, reason=f"{target}% needs approval")
    return Decision(Action.ADVANCE, target=target, reason=f"healthy at {view.percentage}%")


def decide_planned_step(view: RolloutView, wait_seconds: int, now: datetime) -> Decision:
    """The next move of a planned rollback: one step down after each wait, then finish at 0."""
    if view.state != RolloutState.ROLLING_BACK:
        return Decision(Action.WAIT, reason=f"the rollout is {view.state}")
    if not _waited(view, wait_seconds, now):
        return Decision(Action.WAIT, reason=f"holding {view.percentage}% for {wait_seconds}s")
    lower = [step for step in planned_rollback_steps(view.percentage) if step < view.percentage]
    if not lower:
        return Decision(Action.FINISH_ROLLBACK, target=0, reason="traffic is back on the original")
    return Decision(Action.STEP_DOWN, target=lower[0], reason=f"planned rollback: {view.percentage}% to {lower[0]}%")


def failure_reason(verdict: HealthVerdict) -> str:
    reasons = list(verdict.reasons)
    if not verdict.database_healthy and not any("database" in reason for reason in reasons):
        reasons.append("database unhealthy")
    return "health gate failed: " + ("; ".join(reasons) or "thresholds broken")


def health_warnings(verdict: HealthVerdict | None) -> list[str]:
    """Planned rollback checks health at each step but does not stop: these are warnings."""
    if verdict is None:
        return ["health is unavailable"]
    if verdict.failing:
        return [failure_reason(verdict)]
    return []


def stability_problems(verdict: HealthVerdict | None, health: dict) -> list[str]:
    """Why one component is not stable after an emergency rollback (empty when it is).

    All traffic is on the original implementation then, so this judges the original
    provider over a short window, and the database; the migrated provider still failing
    in the window is history, unless it still has enough samples to break a threshold.
    """
    if verdict is None:
        return ["health is unavailable"]
    problems = []
    if not verdict.database_healthy:
        problems.append("database unhealthy")
    original = verdict.providers.get(ORIGINAL)
    if original is not None and original.samples:
        max_error_rate = health.get("max_error_rate")
        if max_error_rate is not None and original.error_rate > max_error_rate:
            problems.append(f"original error rate {original.error_rate:.1%} > {max_error_rate:.1%}")
        max_avg = health.get("max_avg_latency_ms")
        if max_avg is not None and original.avg_latency_ms is not None and original.avg_latency_ms > max_avg:
            problems.append(f"original average latency {original.avg_latency_ms:.0f} ms > {max_avg:.0f} ms")
    return problems


@dataclass(frozen=True)
class StabilityStep:
    passes: int  # consecutive healthy checks after this one
    finished: bool
    verified: bool


REQUIRED_PASSES = 3
MAX_ATTEMPTS = 10


def stability_step(attempt: int, passes: int, healthy: bool) -> StabilityStep:
    """After check number `attempt` (1-based): 3 consecutive healthy checks verify stability;
    a failed check starts the count again; after 10 attempts without that, it is not verified."""
    passes = passes + 1 if healthy else 0
    if passes >= REQUIRED_PASSES:
        return StabilityStep(passes=passes, finished=True, verified=True)
    if attempt >= MAX_ATTEMPTS:
        return StabilityStep(passes=passes, finished=True, verified=False)
    return StabilityStep(passes=passes, finished=False, verified=False)
