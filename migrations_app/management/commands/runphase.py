"""`manage.py runphase PLAN PHASE`: start a phase run from a shell and follow it.

By default the command runs a Celery worker inside itself (threads, on both queues), so
it works with nothing else running; with --no-worker it only starts the run and follows
it while the deployment's workers execute it. Ctrl-C cancels the run (it stops after the
current step and rolls back); a second Ctrl-C leaves it to the workers.
"""

import contextlib
import logging
import time

from celery.contrib.testing.worker import start_worker
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from controlplane.celery import app
from migrations_app import broadcast
from migrations_app.engine import services
from migrations_app.errors import DomainError
from migrations_app.models import Run, StepAttempt
from migrations_app.models.runs import ComponentRun
from migrations_app.roles import CLI

POLL_SECONDS = 0.25
OUTPUT_LINES = 4


class Command(BaseCommand):
    help = "Start a run of a plan's phase and follow its progress until it ends."

    def add_arguments(self, parser):
        parser.add_argument("plan", help="The plan's key, e.g. truststream-v4.2.")
        parser.add_argument("phase", help="The phase's key, e.g. migration.")
        parser.add_argument("--reason", default="", help="Why, for the audit log.")
        parser.add_argument("--workers", type=int, default=2, help="Threads of the in-process worker (default 2).")
        parser.add_argument("--no-worker", action="store_true", help="Run nothing here; follow the run only.")

    def handle(self, *args, plan, phase, reason, workers, no_worker, **options):
        try:
            target = services.get_phase(services.get_plan(plan), phase)
        except DomainError as error:
            raise CommandError(error.message) from None
        # The progress below says what the workers' and HTTP clients' info lines would.
        for name in ("celery", "httpx"):
            logging.getLogger(name).setLevel(logging.WARNING)
        worker = contextlib.nullcontext()
        if not no_worker:
            worker = start_worker(
                app,
                pool="threads",
                concurrency=workers,
                queues=["migrations", "control"],
                perform_ping_check=False,
                loglevel="WARNING",
                shutdown_timeout=60,
            )
        with worker:
            try:
                run = services.start_phase(target, actor=CLI, reason=reason)
            except DomainError as error:
                raise CommandError(error.message) from None
            run = Follower(self).follow(run)
            broadcast.flush()  # the last step events, before the in-process worker goes
        self._report(run)
        if run.state != Run.State.COMPLETED:
            raise CommandError(f"run {run.pk} {run.state}")

    def _report(self, run: Run) -> None:
        self.stdout.write(f"\nrun {run.pk}: {run.summary}")
        self.stdout.write("timeline (seconds from the start of the run):")
        origin = run.started_at or run.created_at
        for cr in ComponentRun.objects.filter(run=run).select_related("component").order_by("started_at", "pk"):
            if cr.started_at is None:
                self.stdout.write(f"  {cr.component.name:<24} {cr.state:<12} {cr.reason}")
                continue
            start = (cr.started_at - origin).total_seconds()
            end = (cr.finished_at - origin).total_seconds() if cr.finished_at else float("nan")
            self.stdout.write(f"  {cr.component.name:<24} {cr.state:<12} {start:7.2f} -> {end:7.2f}")
        style = self.style.SUCCESS if run.state == Run.State.COMPLETED else self.style.ERROR
        self.stdout.write(style(f"run {run.pk} {run.state}"))


class Follower:
    """Prints what changes in the run's migration log, polling the database."""

    def __init__(self, command: Command):
        self.out = command.stdout
        self.seen_components: dict[int, str] = {}
        self.seen_attempts: dict[int, str] = {}

    def follow(self, run: Run) -> Run:
        plural = "s" if run.component_runs.count() != 1 else ""
        self._say(
            f"run {run.pk} of {run.plan.key}/{run.phase.key} by {run.triggered_by_name}: "
            f"{run.component_runs.count()} component{plural}"
        )
        cancelled = False
        while True:
            try:
                run.refresh_from_db()
                self._print_changes(run)
                if run.state not in Run.ACTIVE_STATES:
                    return run
                time.sleep(POLL_SECONDS)
            except KeyboardInterrupt:
                if cancelled:
                    self._say(f"left run {run.pk} to the workers")
                    return run
                cancelled = True
                self._say("cancelling: the run stops after the current step and rolls back (Ctrl-C again to leave)")
                with contextlib.suppress(DomainError):
                    services.cancel_run(run, actor=CLI, reason="Ctrl-C in runphase")

    def _print_changes(self, run: Run) -> None:
        """Print what changed since the last poll, in the order it happened."""
        changes = []
        attempts = StepAttempt.objects.filter(run=run).select_related("step", "component")
        for attempt in attempts:
            if self.seen_attempts.get(attempt.pk) != attempt.status:
                self.seen_attempts[attempt.pk] = attempt.status
                changes.append((attempt.finished_at or attempt.started_at, attempt.pk, self._attempt_lines(attempt)))
        for cr in ComponentRun.objects.filter(run=run).select_related("component"):
            if self.seen_components.get(cr.pk) != cr.state:
                self.seen_components[cr.pk] = cr.state
                reason = f": {cr.reason}" if cr.reason and cr.state != ComponentRun.State.COMPLETED else ""
                when = cr.finished_at or cr.started_at or cr.queued_at or run.created_at
                changes.append((when, 0, [f"{cr.component.name:<24} {cr.get_state_display().lower()}{reason}"]))
        for when, _, lines in sorted(changes, key=lambda change: change[:2]):
            self.out.write(f"{timezone.localtime(when):%H:%M:%S}  {lines[0]}")
            for line in lines[1:]:
                self.out.write(f"{'':10}{line}")

    def _attempt_lines(self, attempt: StepAttempt) -> list[str]:
        arrow = "undo" if attempt.direction == StepAttempt.Direction.REVERSE else "step"
        what = f"{attempt.component.name:<24} {arrow} {attempt.step.position + 1} {attempt.step.name!r}"
        if attempt.status == StepAttempt.Status.STARTED:
            return [f"{what} ..."]
        lines = [f"{what} {attempt.status} ({attempt.duration_ms} ms)"]
        lines += [f"| {line}" for line in attempt.output_tail.splitlines()[-OUTPUT_LINES:]]
        if attempt.error_message:
            lines.append(f"! {attempt.error_message}")
        return lines

    def _say(self, text: str) -> None:
        self.out.write(f"{timezone.localtime():%H:%M:%S}  {text}")
