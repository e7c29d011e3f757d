"""Live events for open dashboards: the one place that names groups and event types.

Everything is sent after commit (`transaction.on_commit`), so an operator never sees a
state that was rolled back. Consumers receive `{"type": "plan.event", "event": ...,
"payload": ...}` and handle it in `plan_event`.
"""

import logging
from enum import StrEnum
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "plan.event"


class Event(StrEnum):
    PLAN_CHANGED = "plan.changed"
    PHASE_CHANGED = "phase.changed"
    CHECKLIST_CHANGED = "checklist.changed"
    COMPONENT_CHANGED = "component.changed"
    ROLLOUT_CHANGED = "rollout.changed"
    RUN_CHANGED = "run.changed"
    STEP_STARTED = "step.started"
    STEP_FINISHED = "step.finished"
    LOG_LINE = "step.log"
    HEALTH_CHANGED = "health.changed"
    ALERT_CHANGED = "alert.changed"
    APPROVAL_CHANGED = "approval.changed"
    AUDIT_RECORDED = "audit.recorded"
    WORKERS_PINGED = "workers.pinged"
    WORKER_ANSWERED = "worker.answered"


def plan_group(plan_id: int) -> str:
    return f"plan.{plan_id}"


def send_now(plan_id: int, event: str, payload: dict) -> None:
    """Send at once, outside any transaction (log lines of a running step use this)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": MESSAGE_TYPE, "event": str(event), "payload": payload}
    try:
        async_to_sync(layer.group_send)(plan_group(plan_id), message)
    except Exception:
        # A dashboard that misses an event re-syncs on reconnect; the change itself stands.
        logger.exception("could not publish %s for plan %s", event, plan_id)


def publish(plan_id: int, event: str, payload: dict) -> None:
    """Send once the current transaction commits (at once when there is none)."""
    transaction.on_commit(partial(send_now, plan_id, event, payload))


STATE_EVENTS = {
    "phase": Event.PHASE_CHANGED,
    "component": Event.COMPONENT_CHANGED,
    "rollout": Event.ROLLOUT_CHANGED,
}


def state_changed(machine: str, obj, old: str, new: str) -> None:
    plan_id = obj.component.plan_id if machine == "rollout" else obj.plan_id
    publish(plan_id, STATE_EVENTS[machine], {"id": obj.pk, "label": str(obj), "from": old, "to": new})


def audit_recorded(event) -> None:
    publish(
        event.plan_id,
        Event.AUDIT_RECORDED,
        {
            "id": event.pk,
            "at": event.at.isoformat(),
            "actor": event.actor_name,
            "action": event.action,
            "target": event.target_label,
            "reason": event.reason,
        },
    )
