"""The embedded topology's Celery: a worker and beat in threads of the web process.

With no REDIS_URL the broker is `memory://`, which lives in this process: tasks sent by
request handlers and by beat reach the worker thread here, and nowhere else. The worker
consumes both queues with a pool of threads; beat ticks in its own thread. Both start
before the web server listens and stop after it has stopped (`manage.py serve`).
"""

import logging
import socket
import threading
import time

from celery import Celery
from celery.beat import Service
from celery.worker import WorkController
from celery.worker import state as worker_state
from django.db import connections

from controlplane.celery import app as default_app

logger = logging.getLogger(__name__)

# Enough threads for a phase's independent components to run at once with rollout and
# health work beside them; SQLite serialises the writes (settings: IMMEDIATE, timeout 20).
WORKER_THREADS = 8
QUEUES = ("control", "migrations")
# Beat sleeps at most this long between looks at its schedule, so it stops within it.
BEAT_TICK_SECONDS = 0.25


class EmbeddedWorkController(WorkController):
    """A worker that says when its consumer is ready and closes its connections on exit."""

    def __init__(self, *args, **kwargs):
        self.ready = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer):
        self.ready.set()

    def run(self):
        try:
            self.start()
        finally:
            connections.close_all()


class EmbeddedCelery:
    """Start and stop a worker thread and a beat thread on this process's broker."""

    def __init__(self, app: Celery = default_app, *, threads: int = WORKER_THREADS):
        self.app = app
        self.threads = threads
        self.worker: EmbeddedWorkController | None = None
        self.worker_thread: threading.Thread | None = None
        self.beat: Service | None = None
        self.beat_thread: threading.Thread | None = None

    def start(self, timeout: float = 60) -> None:
        """1. the worker, in a thread, waited for until it consumes;
        2. beat, in a thread, once there is a worker to run what it sends."""
        self.app.finalize()
        self.app.set_current()
        self.app.set_default()
        self.worker = EmbeddedWorkController(
            app=self.app,
            hostname=f"embedded@{socket.gethostname()}",
            queues=list(QUEUES),
            pool="threads",
            concurrency=self.threads,
            # Events, mingle and gossip are for workers that talk to each other over a
            # shared broker; this one is alone in its process.
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self.worker_thread = threading.Thread(target=self.worker.run, name="celery-worker", daemon=True)
        self.worker_thread.start()
        if not self.worker.ready.wait(timeout):
            raise RuntimeError(f"the embedded Celery worker did not start within {timeout:.0f} s")
        self.beat = Service(self.app, max_interval=BEAT_TICK_SECONDS)
        self.beat_thread = threading.Thread(target=self.beat.start, name="celery-beat", daemon=True)
        self.beat_thread.start()
        logger.info("embedded Celery worker (%s threads, queues %s) and beat started", self.threads, ", ".join(QUEUES))

    def stop(self, timeout: float = 10) -> list[str]:
        """Stop beat and the worker; wait at most `timeout` seconds for running tasks.

        Returns the tasks still running after that (empty when clean). The worker thread
        may still be polling the broker (Celery's loop waits two seconds at a time) when
        nothing runs any more: the process is ending, and the broker ends with it, so
        there is nothing to wait for.
        """
        deadline = time.monotonic() + timeout
        if self.beat is not None:
            self.beat.stop(wait=False)
        # What the worker's own warm shutdown (SIGTERM) sets: stop consuming, finish what runs.
        worker_state.should_stop = 0
        while self._worker_alive() and self.running_tasks() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.beat_thread is not None:
            # Beat writes its schedule file as it stops: let it.
            self.beat_thread.join(max(BEAT_TICK_SECONDS * 4, deadline - time.monotonic()))
        return self.running_tasks() if self._worker_alive() else []

    def join(self, timeout: float = 10) -> bool:
        """Wait for the worker thread itself to end, and clear the worker state Celery keeps
        per process, so that another worker can start in this process (tests do)."""
        if self.worker_thread is not None:
            self.worker_thread.join(timeout)
            if self.worker_thread.is_alive():
                return False
        worker_state.should_stop = None
        self.worker_thread = None
        return True

    def _worker_alive(self) -> bool:
        return self.worker_thread is not None and self.worker_thread.is_alive()

    @staticmethod
    def running_tasks() -> list[str]:
        return sorted(f"{request.name}[{request.id}]" for request in worker_state.active_requests)
