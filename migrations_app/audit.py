"""Writing the audit log. Call `record` inside the transaction that makes the change, so
the event exists exactly when the change does."""

from django.db import transaction
from django.utils import timezone

from migrations_app import broadcast
from migrations_app.models import AuditEvent, Component, Plan
from migrations_app.roles import Actor


def _plan_and_component(target):
    if isinstance(target, Plan):
        return target, None
    if isinstance(target, Component):
        return target.plan, target
    component = getattr(target, "component", None)
    if isinstance(component, Component):
        return component.plan, component
    return getattr(target, "plan", None), None


def record(
    *,
    actor: Actor,
    action: str,
    target,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    data: dict | None = None,
    plan: Plan | None = None,
) -> AuditEvent:
    inferred_plan, component = _plan_and_component(target)
    event = AuditEvent(
        at=timezone.now(),
        actor=actor.user,
        actor_name=actor.name,
        action=action,
        plan=plan or inferred_plan,
        component=component,
        target_type=target._meta.model_name,
        target_id=str(target.pk or ""),
        target_label=str(target),
        before=before,
        after=after,
        reason=reason,
        data=data or {},
    )
    event.save()
    if event.plan_id:
        transaction.on_commit(lambda: broadcast.audit_recorded(event))
    return event
