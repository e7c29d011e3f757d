"""Live events of running steps, sent from a background thread of the worker.

A step's events (started, each log line, finished) go through `broadcast.send_now`, which
costs a round trip to the channel layer; sent inline, a command printing quickly would be
slowed to the pace of the sends, and every step would wait for them. Here they are queued
(after commit, in order) and one thread per process sends them; if dashboards cannot keep
up, lines beyond the queue's bound are dropped (the migration log keeps the tail).
"""

import logging
import os
import queue
import threading
from functools import partial

from django.db import transaction

from migrations_app import broadcast

logger = logging.getLogger(__name__)
QUEUE_BOUND = 5000

_lock = threading.Lock()
_sender: "Sender | None" = None


class Sender:
    def __init__(self):
        self.pid = os.getpid()
        self.queue: queue.Queue = queue.Queue(maxsize=QUEUE_BOUND)
        self.thread = threading.Thread(target=self._run, name="engine-live-events", daemon=True)
        self.thread.start()

    def put(self, item) -> bool:
        try:
            self.queue.put_nowait(item)
            return True
        except queue.Full:
            return False

    def _run(self):
        while True:
            plan_id, event, payload = self.queue.get()
            broadcast.send_now(plan_id, event, payload)  # it logs and swallows its own errors
            self.queue.task_done()


def _current() -> Sender:
    global _sender
    with _lock:
        # A forked worker process inherits the object but not the thread: start its own.
        if _sender is None or _sender.pid != os.getpid():
            _sender = Sender()
        return _sender


def send(plan_id: int, event: str, payload: dict) -> None:
    """Queue the event for sending now (outside a transaction, like a log line)."""
    if not _current().put((plan_id, str(event), payload)):
        logger.warning("live events queue full: %s for plan %s dropped", event, plan_id)


def publish(plan_id: int, event: str, payload: dict) -> None:
    """Queue the event once the current transaction commits."""
    transaction.on_commit(partial(send, plan_id, event, payload))


def flush(timeout: float = 5.0) -> None:
    """Wait until what was queued has been sent (the end of a task, tests)."""
    sender = _sender
    if sender is None or sender.pid != os.getpid():
        return
    done = threading.Event()
    threading.Thread(target=lambda: (sender.queue.join(), done.set()), daemon=True).start()
    done.wait(timeout)
