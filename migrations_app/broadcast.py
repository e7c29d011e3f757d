"""Live events for open dashboards: the one place that names groups and event types.

Everything is sent after commit (`transaction.on_commit`), so an operator never sees a
state that was rolled back. Each event gets the next number of its plan's sequence when
it is queued; each process has one sender, which delivers its events in that order.
Consumers receive `{"type": "plan.event", "event": ..., "payload": ..., "seq": N}` in
`plan_event`, render the fragments of their page for it and push them with that number.
A browser that sees a gap in the numbers (or reconnects) fetches its page's regions
afresh, so a lost message costs one request, never a wrong screen.
"""

import asyncio
import atexit
import itertools
import logging
import os
import queue
import threading
from enum import StrEnum
from functools import partial

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

        # A sequence store that does not answer must not hold up the transaction's caller.
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
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
# One sender per process: a daemon thread with one event loop that keeps the channel
# layer's connections open, fed in order through a thread-safe queue. Callers never wait
# for the channel layer (through `async_to_sync`, each send made a new event loop and, with
# Redis, a new connection: milliseconds per event, and a state change sends two).

QUEUE_BOUND = 10_000  # events waiting to be sent; beyond it they are dropped, their numbers left as a gap
SEND_TIMEOUT_SECONDS = 5.0  # a channel layer slower than this is treated as down for that event
FLUSH_AT_EXIT_SECONDS = 5.0


class _Sender:
    def __init__(self):
        self.pid = os.getpid()
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_BOUND)
        self._lock = threading.Lock()
        self._done = threading.Condition()
        self._queued = 0  # under _done: events taken in, events finished with (sent or lost)
        self._finished = 0
        self._failing = 0  # consecutive events the layer refused, reported once it recovers
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="broadcast-sender", daemon=True)
        self._thread.start()

    def put(self, plan_id: int, event: str, payload: dict) -> None:
        # Numbered and queued under one lock: the queue's order is the numbers' order.
        with self._lock:
            message = {"type": MESSAGE_TYPE, "event": event, "payload": payload, "seq": next_sequence(plan_id)}
            try:
                self._queue.put_nowait((plan_group(plan_id), message))
            except queue.Full:
                # Its number stays unused: open pages see the gap and re-sync.
                logger.warning("live events queue full: %s for plan %s dropped", event, plan_id)
                return
            with self._done:
                self._queued += 1

    def flush(self, timeout: float) -> bool:
        with self._done:
            target = self._queued
            return self._done.wait_for(lambda: self._finished >= target, timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        while True:
            batch = [self._queue.get()]
            while len(batch) < 500:  # whatever else is waiting goes out in the same pass, in order
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._loop.run_until_complete(self._send(batch))
            except BaseException:  # this thread must outlive anything one batch does
                logger.exception("live events: a batch of %d could not be sent", len(batch))
            with self._done:
                self._finished += len(batch)
                self._done.notify_all()

    async def _send(self, batch: list) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        for group, message in batch:
            try:
                await asyncio.wait_for(layer.group_send(group, message), SEND_TIMEOUT_SECONDS)
            except Exception:
                # A dashboard that misses an event re-syncs on the next one (a gap in the
                # numbers) or on reconnect; the change itself stands. One report per outage.
                if not self._failing:
                    logger.exception("could not publish %s to %s", message["event"], group)
                self._failing += 1
                continue
            if self._failing:
                logger.warning("live events flow again; %d were lost while the channel layer failed", self._failing)
                self._failing = 0


_sender: _Sender | None = None
_sender_lock = threading.Lock()


def _current_sender() -> _Sender:
    global _sender
    sender = _sender
    if sender is not None and sender.pid == os.getpid():
        return sender
    with _sender_lock:
        # Started on first use. A forked child (a Celery prefork worker) inherits the object
        # but not its thread: it starts its own.
        if _sender is None or _sender.pid != os.getpid():
            _sender = _Sender()
        return _sender


def _forget_sender_in_child() -> None:
    # A lock that another thread held at the fork would stay held forever in the child.
    global _sender, _sender_lock
    _sender, _sender_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_sender_in_child)


def flush(timeout: float = 5.0) -> bool:
    """Wait until this process has sent what it queued (before it exits; in tests).
    True when all of it went out (or was given up on) within `timeout` seconds."""
    sender = _sender
    if sender is None or sender.pid != os.getpid():
        return True
    return sender.flush(timeout)


atexit.register(flush, FLUSH_AT_EXIT_SECONDS)


def send_now(plan_id: int, event: str, payload: dict) -> None:
    """Send at once, outside any transaction (log lines of a running step use this).
    It returns at once: the process's sender delivers events in the order they came."""
    try:
        _current_sender().put(plan_id, str(event), payload)
    except Exception:
        # Its number could not be taken (the sequence store is down): pages re-sync on the
        # next event or on reconnect; the change itself stands.
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
