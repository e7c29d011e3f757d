"""Telling people: the two call sites where the rollout controller raises an alert.

Alerts and the alert webhook belong to monitoring. Until its alert service exists these
log at the level the alert would have; each function is the one place to call it from.
Both run after commit, so nobody is told about a change that was rolled back.
"""

import logging

logger = logging.getLogger("switchyard.alerts")


def automatic_rollback(plan, *, component: str | None, reason: str, figures: dict | None) -> None:
    """A critical alert: the health gate rolled traffic back (one component, or the whole plan).

    Integration point: monitoring's alert service (critical level, with `figures`).
    """
    scope = f"component {component}" if component else "every component"
    logger.critical("plan %s: automatic rollback of %s: %s", plan.key, scope, reason, extra={"figures": figures})


def emergency_rollback_finished(plan, *, verified: bool, problems: dict) -> None:
    """The notification after an emergency rollback, with the stability verification's result.

    Integration point: monitoring's alert webhook.
    """
    if verified:
        logger.warning("plan %s: emergency rollback complete, stability verified", plan.key)
    else:
        logger.critical("plan %s: emergency rollback done but stability NOT verified: %s", plan.key, problems)
