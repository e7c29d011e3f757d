"""The one way a rollout row changes: locks in a fixed order, epochs bumped, audited, published.

Every writer locks the plan row first and the rollout row second (the plan loader and the
approvals do too), so that two writers never deadlock; every change bumps the rollout's
epoch, so that work computed before it does nothing after it, and the plan's epoch, so that
the snapshot's ETag changes in the same transaction.
"""

import hashlib
import json

from django.db.models import F
from django.utils import timezone

from migrations_app import audit, broadcast, transitions
from migrations_app.broadcast import Event
from migrations_app.errors import InvalidInput, NotFound
from migrations_app.models import Plan, Rollout
from migrations_app.roles import Actor
from migrations_app.rollout.cache import changed_on_commit

SETTINGS_FIELDS = ("steps", "approval_at", "interval_seconds", "fallback", "comparison", "health")


def find(plan_key: str, component_name: str) -> Rollout:
    rollout = (
        Rollout.objects.select_related("component__plan", "component__phase")
        .filter(component__plan__key=plan_key, component__name=component_name)
        .first()
    )
    if rollout is not None:
        return rollout
    plan = Plan.objects.filter(key=plan_key).first()
    if plan is None:
        raise NotFound(f"no plan {plan_key!r}")
    component = plan.components.filter(name=component_name).first()
    if component is None:
        raise NotFound(f"plan {plan_key} has no component {component_name!r}")
    raise NotFound(f"component {component_name} serves no traffic, so it has no rollout")


def lock(rollout: Rollout) -> tuple[Plan, Rollout]:
    """Lock the plan, then the rollout (call inside `transaction.atomic()`); returns fresh rows."""
    plan = Plan.objects.select_for_update().get(pk=rollout.component.plan_id)
    current = (
        Rollout.objects.select_for_update(of=("self",))
        .select_related("component__plan", "component__phase")
        .get(pk=rollout.pk)
    )
    return plan, current


def required_reason(reason: str | None, doing: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"reason: a reason is required to {doing}")
    return reason


def bump_plan(plan_id: int, **fields) -> None:
    Plan.objects.filter(pk=plan_id).update(epoch=F("epoch") + 1, **fields)
    changed_on_commit()


def describe(rollout: Rollout) -> dict:
    return {
        "id": rollout.pk,
        "label": str(rollout),
        "component": rollout.component.name,
        "state": rollout.state,
        "percentage": rollout.percentage,
        "fallback": rollout.fallback,
        "comparison": rollout.comparison,
        "epoch": rollout.epoch,
        "last_reason": rollout.last_reason,
    }


def change(
    current: Rollout,
    *,
    actor: Actor,
    action: str,
    reason: str = "",
    data: dict | None = None,
    state: str | None = None,
    **fields,
) -> Rollout:
    """Write `fields` (and `state`, through transitions.apply) to a rollout locked by `lock`.

    Bumps both epochs, stamps `percentage_changed_at` when the percentage moves, records one
    audit event (the transition's, when the state changes) and publishes the rollout.
    """
    now = timezone.now()
    fields["epoch"] = current.epoch + 1
    if "percentage" in fields and fields["percentage"] != current.percentage:
        fields["percentage_changed_at"] = now
    if state is not None and state != current.state:
        transitions.apply(current, state, actor=actor, reason=reason, action=action, data=data, **fields)
    else:
        before = {name: _json(getattr(current, name)) for name in fields if name != "epoch"}
        Rollout.objects.filter(pk=current.pk).update(**fields)
        for name, value in fields.items():
            setattr(current, name, value)
        audit.record(
            actor=actor,
            action=action,
            target=current,
            before=before,
            after={name: _json(value) for name, value in fields.items() if name != "epoch"},
            reason=reason,
            data=data,
        )
    bump_plan(current.component.plan_id)
    broadcast.publish(current.component.plan_id, Event.ROLLOUT_CHANGED, describe(current))
    return current


def _json(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def fingerprint(payload: dict) -> str:
    """A digest of what an approval approves: any change to it makes a different digest."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def step_fingerprint(rollout: Rollout, target: int) -> str:
    return fingerprint(
        {
            "rollout": rollout.pk,
            "from": rollout.percentage,
            "to": target,
            **{name: getattr(rollout, name) for name in SETTINGS_FIELDS},
        }
    )
