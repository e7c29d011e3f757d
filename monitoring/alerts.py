"""Alerts: the procedure's rules over each component's window, plus alerts raised by
other parts of Switchyard for events they detect (an automatic rollback).

One open alert per (plan, component, rule): while it is open, the condition holding
again only refreshes it (no message every interval). A rule alert resolves by itself
when its condition clears; an event alert resolves when a person acknowledges it.
Opening an alert notifies the webhook once.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from migrations_app import audit, broadcast
from migrations_app.errors import Conflict, NotAllowed
from migrations_app.models import Component, Plan
from migrations_app.roles import SYSTEM, Actor, Permission
from monitoring import health, notify, rules
from monitoring.models import Alert, MetricRollup

RULES = (rules.RULE_ERROR_RATE, rules.RULE_P95_LATENCY, rules.RULE_PROVIDER_DIFFERENCE)
# Components with samples this recent are watched (plus those with an open rule alert).
WATCH_LOOKBACK = timedelta(hours=1)


def payload(alert: Alert) -> dict:
    return {
        "id": alert.pk,
        "component": alert.scope or None,
        "rule": alert.rule,
        "severity": alert.severity,
        "state": alert.state,
        "message": alert.message,
        "opened_at": alert.opened_at.isoformat(),
        "last_seen_at": alert.last_seen_at.isoformat(),
        "occurrences": alert.occurrences,
        "acknowledged_by": alert.acknowledged_by_name or None,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "resolved_reason": alert.resolved_reason,
    }


def _publish(alert: Alert) -> None:
    broadcast.publish(alert.plan_id, broadcast.Event.ALERT_CHANGED, payload(alert))


def raise_alert(
    plan: Plan,
    *,
    component: Component | None = None,
    rule: str,
    severity: str,
    message: str,
    data: dict | None = None,
    actor: Actor = SYSTEM,
    now: datetime | None = None,
) -> Alert:
    """Open an alert, or refresh the open one of the same rule and component.

    1. Lock the open alert of (plan, component, rule); if there is one, update its
       message, figures and last-seen time, and stop: no second notification.
    2. Otherwise create it (a concurrent opener loses on the unique constraint and
       refreshes the winner's), audit it, notify the webhook, publish it after commit.
    """
    if severity not in Alert.Severity.values:
        raise ValueError(f"severity must be one of {', '.join(Alert.Severity.values)}, not {severity!r}")
    now = now or timezone.now()
    scope = component.name if component else ""
    data = notify.plain(data)
    with transaction.atomic():
        alert = _refresh_open(plan, scope, rule, severity, message, data, now)
        if alert is not None:
            return alert
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    plan=plan,
                    component=component,
                    scope=scope,
                    rule=rule,
                    severity=severity,
                    message=message,
                    data=data,
                    opened_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:
            return _refresh_open(plan, scope, rule, severity, message, data, now)
        audit.record(
            actor=actor,
            action="alert.opened",
            target=alert,
            after={"rule": rule, "severity": severity},
            reason=message,
            data=data,
            plan=plan,
        )
        where = f"{plan.key}/{scope}" if scope else plan.key
        notify.send(plan, "alert", f"{severity.upper()} {where}: {message}", {"rule": rule, **data}, alert=alert)
        _publish(alert)
    return alert


def _refresh_open(plan, scope, rule, severity, message, data, now) -> Alert | None:
    open_alerts = Alert.objects.select_for_update().filter(plan=plan, scope=scope, rule=rule, resolved_at__isnull=True)
    alert = open_alerts.first()
    if alert is None:
        return None
    Alert.objects.filter(pk=alert.pk).update(
        severity=severity, message=message, data=data, last_seen_at=now, occurrences=F("occurrences") + 1
    )
    alert.refresh_from_db()
    _publish(alert)
    return alert


def resolve(alert: Alert, *, reason: str, actor: Actor = SYSTEM, now: datetime | None = None) -> bool:
    """Close an open alert; False when it was already closed (someone else got there first)."""
    now = now or timezone.now()
    with transaction.atomic():
        closed = Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(
            resolved_at=now, resolved_reason=reason
        )
        if not closed:
            return False
        alert.refresh_from_db()
        audit.record(actor=actor, action="alert.resolved", target=alert, reason=reason, plan=alert.plan)
        _publish(alert)
    return True


def acknowledge(alert: Alert, *, actor: Actor, now: datetime | None = None) -> Alert:
    """A person takes the alert on. Operators (and admins) acknowledge: it is the response
    to something operational, like pausing or rolling back. An event alert (not one of
    the rules, so nothing would ever clear it) is resolved by its acknowledgement."""
    actor.require(Permission.OPERATE, "acknowledge alerts")
    if not actor.is_person:
        raise NotAllowed(f"{actor.name} may not acknowledge alerts: only a person acknowledges an alert")
    now = now or timezone.now()
    with transaction.atomic():
        claimed = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=actor.user, acknowledged_by_name=actor.name
        )
        alert.refresh_from_db()
        if not claimed:
            raise Conflict(
                f"alert {alert.pk} was already acknowledged by {alert.acknowledged_by_name} "
                f"at {alert.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC"
            )
        audit.record(actor=actor, action="alert.acknowledged", target=alert, reason=alert.message, plan=alert.plan)
        _publish(alert)
        if alert.rule not in RULES and alert.resolved_at is None:
            resolve(alert, reason=f"acknowledged by {actor.name}", actor=actor, now=now)
    return alert


def watched_components(now: datetime) -> list[Component]:
    recent = MetricRollup.objects.filter(bucket_start__gte=now - WATCH_LOOKBACK).values("component_id")
    alerting = Alert.objects.filter(resolved_at__isnull=True, rule__in=RULES).order_by().values("component_id")
    watched = Component.objects.filter(Q(pk__in=recent) | Q(pk__in=alerting))
    return list(watched.select_related("plan", "rollout").order_by("pk"))


def evaluate_component(component: Component, now: datetime | None = None):
    """Health of one component, and its rule alerts opened or resolved to match; returns the verdict."""
    now = now or timezone.now()
    verdict = health.evaluate(component, now=now)
    conditions = rules.alert_conditions(verdict.providers, verdict.thresholds)
    for condition in conditions:
        raise_alert(
            component.plan,
            component=component,
            rule=condition.rule,
            severity=condition.severity,
            message=condition.message,
            data=condition.data,
            now=now,
        )
    holding = {condition.rule for condition in conditions}
    for alert in Alert.objects.filter(
        plan=component.plan, scope=component.name, rule__in=RULES, resolved_at__isnull=True
    ).exclude(rule__in=holding):
        resolve(alert, reason=f"the condition cleared over the last {verdict.window_seconds} s", now=now)
    return verdict


@dataclass(frozen=True)
class AlertView:
    """An alert as a page shows it: `component` is the component's name, or "plan-wide"."""

    pk: int
    level: str  # critical, warning or info
    rule: str
    component: str
    message: str
    opened_at: datetime
    last_seen_at: datetime
    occurrences: int
    state: str
    acknowledged_by: str

    @property
    def id(self) -> int:
        return self.pk


def open_alerts(plan: Plan) -> list[AlertView]:
    """The plan's unresolved alerts, most severe first, then newest."""
    order = {severity: rank for rank, severity in enumerate(Alert.Severity.values)}
    rows = sorted(
        Alert.objects.filter(plan=plan, resolved_at__isnull=True),
        key=lambda a: (order[a.severity], -a.opened_at.timestamp()),
    )
    return [
        AlertView(
            pk=a.pk,
            level=a.severity,
            rule=a.rule,
            component=a.scope or "plan-wide",
            message=a.message,
            opened_at=a.opened_at,
            last_seen_at=a.last_seen_at,
            occurrences=a.occurrences,
            state=a.state,
            acknowledged_by=a.acknowledged_by_name,
        )
        for a in rows
    ]
