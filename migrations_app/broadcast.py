"""Live events for open dashboards: the one place that names groups and event types.

Everything is sent after commit (`transaction.on_commit`), so an operator never sees a
state that was rolled back. Each event gets the next number of its plan's sequence when
it is sent; consumers receive `{"type": "plan.event", "event": ..., "payload": ...,
"seq": N}` in `plan_event`, render the fragments of their page for it and push them with
that number. A browser that sees a gap in the numbers (or reconnects) fetches its page's
regions afresh, so a lost message costs one request, never a wrong screen.
"""

import asyncio
import itertools
import logging
import threading
from enum import StrEnum
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
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
    PROBES_RECORDED = "probes.recorded"
    APPROVAL_CHANGED = "approval.changed"
    AUDIT_RECORDED = "audit.recorded"
    # `{"chart": "<element id>", "x": [...], "y": [[...], ...], "traces": [0, ...]}`: points
    # appended to a Plotly chart in place, sent to the browser as JSON, never as HTML.
    CHART_POINTS = "chart.points"
    STABILITY_CHECKED = "stability.checked"
    WORKERS_PINGED = "workers.pinged"
    WORKER_ANSWERED = "worker.answered"


def plan_group(plan_id: int) -> str:
    return f"plan.{plan_id}"


# --- Sequence numbers ----------------------------------------------------------------------
# With Redis every web process and worker shares one counter per plan (INCR is atomic);
# embedded, everything runs in one process and a lock-guarded counter is enough.


class _LocalSequences:
    def __init__(self):
        self._lock = threading.Lock()
        self._counters: dict[int, itertools.count] = {}
        self._last: dict[int, int] = {}

    def next(self, plan_id: int) -> int:
        with self._lock:
            value = next(self._counters.setdefault(plan_id, itertools.count(1)))
            self._last[plan_id] = value
            return value

    def current(self, plan_id: int) -> int:
        with self._lock:
            return self._last.get(plan_id, 0)


class _RedisSequences:
    def __init__(self, url: str, prefix: str):
        import redis

        self._client = redis.Redis.from_url(url)
        self._prefix = prefix

    def _key(self, plan_id: int) -> str:
        return f"{self._prefix}:plan-seq:{plan_id}"

    def next(self, plan_id: int) -> int:
        return int(self._client.incr(self._key(plan_id)))

    def current(self, plan_id: int) -> int:
        return int(self._client.get(self._key(plan_id)) or 0)


_sequences = None
_sequences_lock = threading.Lock()


def _sequence_store():
    global _sequences
    with _sequences_lock:
        if _sequences is None:
            if settings.REDIS_URL:
                prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "switchyard")
                _sequences = _RedisSequences(settings.REDIS_URL, prefix)
            else:
                _sequences = _LocalSequences()
        return _sequences


def next_sequence(plan_id: int) -> int:
    return _sequence_store().next(plan_id)


def current_sequence(plan_id: int) -> int:
    """The number of the plan's latest event. Read it before reading the state a page
    shows: every event numbered up to it was committed before that state was read."""
    return _sequence_store().current(plan_id)


# --- Sending -------------------------------------------------------------------------------


def send_now(plan_id: int, event: str, payload: dict) -> None:
    """Send at once, outside any transaction (log lines of a running step use this)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        message = {"type": MESSAGE_TYPE, "event": str(event), "payload": payload, "seq": next_sequence(plan_id)}
        _group_send(layer, plan_group(plan_id), message)
    except Exception:
        # A dashboard that misses an event re-syncs on the next one (a gap in the numbers)
        # or on reconnect; the change itself stands.
        logger.exception("could not publish %s for plan %s", event, plan_id)


def _group_send(layer, group: str, message: dict) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(layer.group_send)(group, message)
        return
    # A thread that runs an event loop (sync code called from async code) cannot use
    # async_to_sync: send from a helper thread and wait for it, so the order holds.
    sender = threading.Thread(target=async_to_sync(layer.group_send), args=(group, message))
    sender.start()
    sender.join()


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
    payload = {"id": obj.pk, "label": str(obj), "from": old, "to": new}
    if machine == "rollout":
        payload["component"] = obj.component_id
    publish(plan_id, STATE_EVENTS[machine], payload)


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
