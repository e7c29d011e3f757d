"""One step attempt: a row of the migration log, written before the step runs and
finished with a conditional update, and the lease that says its worker is alive.

The attempt row exists before the action starts, so a worker that dies mid-step leaves a
`started` row whose lease runs out; the sweeper marks it `interrupted` and nothing runs
the step again by accident.
"""

import logging
import os
import socket
import threading
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from migrations_app import broadcast
from migrations_app.broadcast import Event
from migrations_app.models import Run, Step, StepAttempt
from migrations_app.models.runs import ComponentRun

from . import config, executors
from .executors import StepFailed

logger = logging.getLogger(__name__)
Status = StepAttempt.Status
Direction = StepAttempt.Direction


class LeaseLost(Exception):
    """The sweeper took this component over (its lease ran out): this worker must stop
    touching it."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_until():
    return timezone.now() + timedelta(seconds=config.LEASE_SECONDS)


class Heartbeat:
    """Renews the lease of a claimed ComponentRun, and of its running attempt, from a
    thread, while the component's task works. `lost` turns true once the sweeper has
    taken the component over."""

    def __init__(self, component_run_id: int, held_state: str):
        self.component_run_id = component_run_id
        self.held_state = held_state
        self.attempt_id: int | None = None
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{component_run_id}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _beat(self):
        try:
            while not self._stop.wait(config.LEASE_SECONDS / 3):
                self._renew()
                if self.lost:
                    return
        finally:
            connection.close()  # this thread's own database connection

    def _renew(self):
        expires = lease_until()
        try:
            held = ComponentRun.objects.filter(pk=self.component_run_id, state=self.held_state).update(
                lease_expires_at=expires
            )
            if self.attempt_id is not None:
                StepAttempt.objects.filter(pk=self.attempt_id, status=Status.STARTED).update(lease_expires_at=expires)
        except Exception:  # a database hiccup: try again at the next beat, the lease has slack
            logger.exception("could not renew the lease of component run %s", self.component_run_id)
            return
        if not held:
            self.lost = True


def run_step(component_run: ComponentRun, run: Run, step: Step, direction: str, heartbeat: Heartbeat) -> StepAttempt:
    """Execute `step` forward or in reverse, recorded as one attempt; returns the attempt,
    `completed` or `failed`. Raises LeaseLost if the sweeper marked it meanwhile."""
    if heartbeat.lost:
        raise LeaseLost(f"component run {component_run.pk} was taken over")
    spec = step.forward if direction == Direction.FORWARD else step.reverse
    # The broker's visibility timeout is set beyond MAX_STEP_TIMEOUT_SECONDS: no step outlasts it.
    timeout = min(step.timeout_seconds, settings.MAX_STEP_TIMEOUT_SECONDS)
    attempt = StepAttempt.objects.create(
        run=run,
        component=step.component,
        step=step,
        direction=direction,
        status=Status.STARTED,
        delivery=component_run.deliveries,
        triggered_by_name=run.triggered_by_name,
        worker=worker_name(),
        lease_expires_at=lease_until(),
        started_at=timezone.now(),
    )
    heartbeat.attempt_id = attempt.pk
    plan_id = run.plan_id
    broadcast.publish(plan_id, Event.STEP_STARTED, _payload(attempt))
    log_lines = LiveLog(plan_id, attempt)
    fields = {"status": Status.COMPLETED}
    try:
        fields["output_tail"] = executors.execute(spec, database=step.database, timeout=timeout, on_line=log_lines.line)
    except StepFailed as error:
        fields |= {"status": Status.FAILED, "error_message": error.message, "output_tail": error.output}
        fields["error_trace"] = traceback.format_exc()
    except Exception as error:  # a bug or an outage: recorded like any failure, with its trace
        fields |= {"status": Status.FAILED, "error_message": f"{type(error).__name__}: {error}"}
        fields["error_trace"] = traceback.format_exc()
    heartbeat.attempt_id = None
    finished = timezone.now()
    fields |= {"finished_at": finished, "lease_expires_at": None}
    fields["duration_ms"] = int((finished - attempt.started_at).total_seconds() * 1000)
    if not StepAttempt.objects.filter(pk=attempt.pk, status=Status.STARTED).update(**fields):
        raise LeaseLost(f"attempt {attempt.pk} was marked {attempt.status} by the sweeper while it ran")
    for name, value in fields.items():
        setattr(attempt, name, value)
    broadcast.publish(plan_id, Event.STEP_FINISHED, _payload(attempt))
    return attempt


def _payload(attempt: StepAttempt) -> dict:
    return {
        "id": attempt.pk,
        "run": attempt.run_id,
        "component": attempt.step.component.name,
        "step": attempt.step.name,
        "position": attempt.step.position,
        "direction": attempt.direction,
        "status": attempt.status,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error_message,
    }


class LiveLog:
    """Sends a command's lines to open dashboards as they come (outside any transaction),
    up to MAX_LIVE_LINES per attempt; the migration log keeps the tail either way."""

    def __init__(self, plan_id: int, attempt: StepAttempt):
        self.plan_id = plan_id
        self.base = {"attempt": attempt.pk, "component": attempt.step.component.name, "step": attempt.step.name}
        self.sent = 0

    def line(self, text: str) -> None:
        self.sent += 1
        if self.sent > config.MAX_LIVE_LINES + 1:
            return
        if self.sent == config.MAX_LIVE_LINES + 1:
            text = f"[further lines are not streamed; the log keeps the last {executors.base.TAIL_LINES}]"
        broadcast.send_now(self.plan_id, Event.LOG_LINE, {**self.base, "line": text})
