"""Telling people: where the rollout controller raises an alert or notifies the webhook.

Alerts and the webhook belong to monitoring; these are the rollout controller's two call
sites. Both run after commit, so nobody is told about a change that was rolled back.
"""

from monitoring import alerts, notify
from monitoring.models import Alert

RULE_AUTOMATIC_ROLLBACK = "automatic_rollback"
RULE_STABILITY_NOT_VERIFIED = "stability_not_verified"


def automatic_rollback(plan, *, component, reason: str, figures: dict | None) -> None:
    """A critical alert (and so the webhook): the health gate rolled traffic back, of one
    component, or of every component when `component` is None."""
    scope = f"{component.name} rolled back" if component is not None else "every component rolled back"
    alerts.raise_alert(
        plan,
        component=component,
        rule=RULE_AUTOMATIC_ROLLBACK,
        severity=Alert.Severity.CRITICAL,
        message=f"automatic rollback: {scope}: {reason}",
        data={"health": figures},
    )


def emergency_rollback_finished(plan, *, verified: bool, problems: dict) -> None:
    """The notification after an emergency rollback's stability verification: a webhook
    message when stable, a critical alert when stability could not be verified."""
    if verified:
        notify.send(
            plan,
            "rollback",
            "emergency rollback complete: all traffic on the original implementation, stability verified",
            {"stability": "verified"},
        )
        return
    details = "; ".join(f"{name}: {', '.join(found)}" for name, found in problems.items()) or "no details"
    alerts.raise_alert(
        plan,
        rule=RULE_STABILITY_NOT_VERIFIED,
        severity=Alert.Severity.CRITICAL,
        message=f"emergency rollback done, but stability could not be verified after 10 checks: {details}",
        data={"problems": problems},
    )
