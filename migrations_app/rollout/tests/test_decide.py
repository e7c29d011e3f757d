"""The reconcile decision, from hand-built rollout views and health verdicts: no database."""

from datetime import UTC, datetime, timedelta

import pytest

from migrations_app.rollout.decide import (
    Action,
    RolloutView,
    crossed_approval_step,
    decide,
    decide_planned_step,
    health_warnings,
    next_step,
    planned_rollback_steps,
    stability_problems,
    stability_step,
)
from migrations_app.rollout.tests.conftest import database_down, failing, healthy, provider, thin
from monitoring.verdict import MIGRATED, ORIGINAL, HealthVerdict

NOW = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
STEPS = (10, 25, 50, 75, 100)


def view(state="progressing", percentage=10, approval_at=(50, 100), waited=301, interval=300):
    return RolloutView(
        state=state,
        percentage=percentage,
        steps=STEPS,
        approval_at=approval_at,
        interval_seconds=interval,
        since=NOW - timedelta(seconds=waited),
    )


def test_it_advances_to_the_next_step_when_the_interval_passed_and_health_is_good():
    decision = decide(view(percentage=10), healthy(), NOW)
    assert (decision.action, decision.target) == (Action.ADVANCE, 25)


def test_it_holds_until_the_interval_has_passed():
    decision = decide(view(percentage=10, waited=299), healthy(), NOW)
    assert decision.action == Action.WAIT
    assert "300s" in decision.reason


def test_it_asks_for_approval_before_a_step_in_approval_at():
    decision = decide(view(percentage=25), healthy(), NOW)
    assert (decision.action, decision.target) == (Action.REQUEST_APPROVAL, 50)


def test_it_completes_once_100_percent_held_an_interval():
    assert decide(view(percentage=100), healthy(), NOW).action == Action.COMPLETE


def test_it_rolls_back_on_a_broken_threshold_even_before_the_interval_passed():
    decision = decide(view(percentage=25, waited=5), failing(error_rate=0.12), NOW)
    assert (decision.action, decision.target) == (Action.ROLL_BACK, 0)
    assert "error rate 12.0% > 5.0%" in decision.reason


def test_it_rolls_back_when_the_database_is_down():
    decision = decide(view(percentage=25), database_down(), NOW)
    assert decision.action == Action.ROLL_BACK
    assert "database" in decision.reason


def test_it_rolls_back_while_awaiting_approval_too():
    assert decide(view(state="awaiting_approval", percentage=25), failing(), NOW).action == Action.ROLL_BACK


def test_awaiting_approval_with_good_health_waits():
    assert decide(view(state="awaiting_approval", percentage=25), healthy(), NOW).action == Action.WAIT


def test_too_few_samples_waits_rather_than_advancing_or_rolling_back():
    decision = decide(view(percentage=10), thin(), NOW)
    assert decision.action == Action.WAIT
    assert "3 samples < 50" in decision.reason


def test_unknown_health_moves_nothing():
    assert decide(view(percentage=10), None, NOW).action == Action.WAIT
    assert decide(view(percentage=10, waited=10_000), None, NOW).reason == "health is unavailable"


def test_at_zero_percent_it_advances_without_samples_from_the_new_implementation():
    decision = decide(view(percentage=0, approval_at=()), thin(), NOW)
    assert (decision.action, decision.target) == (Action.ADVANCE, 10)


@pytest.mark.parametrize("state", ["idle", "paused", "completed", "rolled_back", "rolling_back"])
def test_nothing_outside_a_progressing_rollout_is_moved_by_health(state):
    assert decide(view(state=state), failing(), NOW).action == Action.WAIT


def test_next_step_and_planned_rollback_steps():
    assert next_step(STEPS, 0) == 10
    assert next_step(STEPS, 30) == 50
    assert next_step(STEPS, 100) is None
    assert planned_rollback_steps(100) == [75, 50, 25, 10, 0]
    assert planned_rollback_steps(75) == [75, 50, 25, 10, 0]
    assert planned_rollback_steps(30) == [25, 10, 0]
    assert planned_rollback_steps(0) == [0]


def test_a_manual_raise_names_the_first_approval_step_it_would_pass():
    assert crossed_approval_step((50, 100), 25, 75) == 50
    assert crossed_approval_step((50, 100), 50, 75) is None
    assert crossed_approval_step((50, 100), 75, 100) == 100
    assert crossed_approval_step((50, 100), 75, 10) is None


def test_planned_rollback_steps_down_one_step_after_each_wait():
    rolling = view(state="rolling_back", percentage=75, waited=61)
    decision = decide_planned_step(rolling, 60, NOW)
    assert (decision.action, decision.target) == (Action.STEP_DOWN, 50)
    assert decide_planned_step(view(state="rolling_back", percentage=75, waited=59), 60, NOW).action == Action.WAIT
    assert decide_planned_step(view(state="rolling_back", percentage=10, waited=61), 60, NOW).target == 0
    assert decide_planned_step(view(state="rolling_back", percentage=0, waited=61), 60, NOW).action == (
        Action.FINISH_ROLLBACK
    )


def test_planned_rollback_health_is_a_warning_only():
    assert health_warnings(healthy()) == []
    assert health_warnings(thin()) == []
    assert health_warnings(failing()) == ["health gate failed: error rate 12.0% > 5.0%"]
    assert health_warnings(None) == ["health is unavailable"]


THRESHOLDS = {"max_error_rate": 0.05, "max_avg_latency_ms": 2000}


def test_stability_judges_the_original_provider_and_the_database():
    assert stability_problems(healthy(), THRESHOLDS) == []
    # The migrated provider failing in the window is history once its traffic is gone.
    assert stability_problems(failing(), THRESHOLDS) == []
    bad_original = HealthVerdict(
        component="beta",
        window_seconds=30,
        providers={ORIGINAL: provider(ORIGINAL, errors=20, avg=2500.0), MIGRATED: provider(MIGRATED, samples=0)},
    )
    assert stability_problems(bad_original, THRESHOLDS) == [
        "original error rate 10.0% > 5.0%",
        "original average latency 2500 ms > 2000 ms",
    ]
    assert stability_problems(database_down(), THRESHOLDS) == ["database unhealthy"]
    assert stability_problems(None, THRESHOLDS) == ["health is unavailable"]


def test_stability_needs_three_consecutive_healthy_checks():
    passes, results = 0, []
    for attempt, ok in enumerate([True, True, False, True, True, True], start=1):
        step = stability_step(attempt, passes, ok)
        passes = step.passes
        results.append((step.passes, step.finished, step.verified))
    assert results == [(1, False, False), (2, False, False), (0, False, False), (1, False, False),
                       (2, False, False), (3, True, True)]  # fmt: skip


def test_stability_gives_up_unverified_after_ten_attempts():
    step = stability_step(10, 1, True)
    assert (step.finished, step.verified) == (True, False)
    assert stability_step(9, 0, False).finished is False
