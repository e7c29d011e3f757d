"""Where the rollout controller gets health: monitoring's `evaluate`, named by a setting.

The one place that calls monitoring. Anything that goes wrong there is "health unknown"
(None): the controller then neither advances nor rolls back on a guess.
"""

import logging

from django.conf import settings
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
