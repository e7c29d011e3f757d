"""Where the rollout controller gets health: monitoring's `evaluate`, named by a setting;
and where a plan's performance baseline is taken as its first traffic starts to move.

The one place that calls monitoring. Anything that goes wrong there is "health unknown"
(None): the controller then neither advances nor rolls back on a guess.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from monitoring.verdict import HealthVerdict

logger = logging.getLogger(__name__)


def verdict_for(component, window_seconds: int | None = None) -> HealthVerdict | None:
    try:
        evaluate = import_string(settings.ROLLOUT_HEALTH_EVALUATOR)
        return evaluate(component, window_seconds=window_seconds)
    except Exception:
        logger.exception("health of %s is unavailable", component)
        return None


def figures(verdict: HealthVerdict | None) -> dict:
    """The health figures for an audit event."""
    return {"health": verdict.figures() if verdict is not None else None}


def baseline_at_first_traffic(plan, actor, component) -> None:
    """Capture the plan's baseline (the original implementation's figures over the last
    hour) when it has none: the first traffic rollout has just started, and the report
    compares the migrated implementation against this. A failure is logged, not raised:
    the rollout has started, and a baseline can still be captured by hand (the API)."""
    from monitoring import baseline  # monitoring builds on this app
    from monitoring.models import Baseline

    try:
        with transaction.atomic():  # a failure here leaves a caller's transaction usable
            if not Baseline.objects.filter(plan=plan).exists():
                baseline.capture(plan, actor, reason=f"the first traffic rollout ({component.name}) started")
    except Exception:
        logger.exception("plan %s: the baseline could not be captured as its first traffic moved", plan.key)
