"""The component page: its steps with their latest output, every attempt in the
migration log, and the retry and rollback buttons with their gates."""

from functools import cached_property

from django.utils.html import escape

from migrations_app import access
from migrations_app.broadcast import Event
from migrations_app.models import Component, Run, StepAttempt
from migrations_app.views import wiring
from migrations_app.windows import rollback_window

from .base import PlanPage, merged
from .overview import progress_of

# The migration log shows the newest attempts; older ones stay in the database and the API.
LOG_LIMIT = 200


class ComponentPage(PlanPage):
    view = "component"
    template = "migrations_app/component.html"
    regions = {
        **PlanPage.regions,
        "component-head": "migrations_app/regions/component_head.html",
        "steps": "migrations_app/regions/steps.html",
        "attempts": "migrations_app/regions/attempts.html",
    }
    refresh = merged(
        PlanPage.refresh,
        {
            Event.COMPONENT_CHANGED: ("component-head", "steps"),
            Event.PHASE_CHANGED: ("component-head",),
            Event.RUN_CHANGED: ("component-head", "attempts"),
            Event.STEP_STARTED: ("steps", "attempts", "component-head"),
            Event.STEP_FINISHED: ("steps", "attempts", "component-head"),
            Event.ROLLOUT_CHANGED: ("component-head",),
        },
    )

    def __init__(self, plan, actor, *, component_name: str, seq=None):
        super().__init__(plan, actor, seq=seq)
        self.component = (
            Component.objects.select_related("phase", "rollout")
            .prefetch_related("depends_on", "dependents")
            .get(plan=self.plan, name=component_name)
        )

    @property
    def socket_query(self) -> str:
        return f"view=component&component={self.component.name}"

    def refresh_for(self, event, payload):
        mine = payload.get("component", payload.get("id") if event == Event.COMPONENT_CHANGED else None)
        if mine is not None and mine != self.component.pk and event != Event.RUN_CHANGED:
            return ()
        return super().refresh_for(event, payload)

    def log_line(self, payload: dict) -> str:
        """A line of a running step's output, appended in place (no query)."""
        if payload.get("component") not in (None, self.component.pk) or "step" not in payload:
            return ""
        return (
            f'<div hx-swap-oob="beforeend:#output-step-{int(payload["step"])}">'
            f"<span>{escape(payload.get('line', ''))}\n</span></div>"
        )

    @cached_property
    def attempts(self) -> list[StepAttempt]:
        rows = (
            StepAttempt.objects.filter(component=self.component)
            .select_related("step")
            .order_by("-started_at", "-pk")[: LOG_LIMIT + 1]
        )
        rows = list(rows)
        self.attempts_truncated = len(rows) > LOG_LIMIT
        return rows[:LOG_LIMIT]

    @cached_property
    def steps(self):
        steps = list(self.component.steps.order_by("position"))
        latest = {}
        for attempt in self.attempts:  # newest first: the first seen per step is its latest
            latest.setdefault(attempt.step_id, attempt)
        for step in steps:
            step.latest = latest.get(step.pk)
        self.component.step_count = len(steps)
        self._progress = progress_of(self.component, list(latest.values()), self.now)
        return steps

    @cached_property
    def progress(self):
        self.steps  # noqa: B018 - computes the progress from the same rows
        return self._progress

    @cached_property
    def active_run(self):
        return Run.objects.filter(phase_id=self.component.phase_id, state__in=Run.ACTIVE_STATES).first()

    @cached_property
    def gates(self):
        engine = wiring.available("retry_component")
        return {
            "retry": access.retry_gate(self.actor, self.component, active_run=self.active_run, available=engine),
            "rollback": access.rollback_gate(
                self.actor, self.component, now=self.now, active_run=self.active_run, available=engine
            ),
        }

    @cached_property
    def window(self):
        phase = self.component.phase
        return rollback_window(phase.promoted_at, phase.rollback_window_hours, self.now)
