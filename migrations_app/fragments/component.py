"""The component page: its steps with their latest output, every attempt in the
migration log, and the retry and rollback buttons with their gates."""

from functools import cached_property

from django.utils.html import escape

from migrations_app import access
from migrations_app.broadcast import Event
from migrations_app.models import AuditEvent, Component, Run, StepAttempt
from migrations_app.windows import rollback_window

from . import charts, health
from .base import PlanPage, merged
from .overview import CHART_EVENTS, progress_of, traffic_card

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
        "component-charts": "migrations_app/regions/component_charts.html",
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
            Event.HEALTH_CHANGED: ("component-head",),
            Event.ALERT_CHANGED: ("component-head",),
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

    def _is_mine(self, event, payload) -> bool:
        """Events name their component by name (engine, rollout, health) or by id."""
        ref = payload.get("component", payload.get("id") if event == Event.COMPONENT_CHANGED else None)
        return ref is None or ref in (self.component.pk, self.component.name)

    def refresh_for(self, event, payload):
        if event != Event.RUN_CHANGED and not self._is_mine(event, payload):
            return ()
        return super().refresh_for(event, payload)

    def log_line(self, payload: dict) -> str:
        """A line of a running step's output, appended in place to its attempt's output."""
        if not self._is_mine(Event.LOG_LINE, payload) or "attempt" not in payload:
            return ""
        return (
            f'<div hx-swap-oob="beforeend:#output-attempt-{int(payload["attempt"])}">'
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
        gates = {
            "retry": access.retry_gate(self.actor, self.component, active_run=self.active_run),
            "rollback": access.rollback_gate(self.actor, self.component, now=self.now, active_run=self.active_run),
        }
        override = access.rollback_override_gate(self.actor, self.component, now=self.now, active_run=self.active_run)
        if override is not None:
            gates["rollback_override"] = override
        if self.active_run is not None:
            gates["cancel"] = access.cancel_gate(self.actor, self.active_run)
        return gates

    @cached_property
    def window(self):
        phase = self.component.phase
        return rollback_window(phase.promoted_at, phase.rollback_window_hours, self.now)

    @cached_property
    def card(self):
        """The traffic card of the overview, for a component that serves traffic."""
        c = self.component
        if not c.traffic:
            return None
        c.rollout.component = c
        return traffic_card(self.plan, c, self.actor, self.now, health.verdicts(self.plan, [c], self.now)[c.pk])

    @cached_property
    def figures(self) -> dict:
        c = self.component
        if not c.traffic:
            return {}
        events = list(
            AuditEvent.objects.filter(component=c, target_type="rollout")
            .only("at", "action", "component_id", "after")
            .order_by("-at", "-pk")[:CHART_EVENTS]
        )[::-1]
        promotions = list(
            AuditEvent.objects.filter(plan=self.plan, action=charts.PROMOTED).only("at", "target_label").order_by("at")
        )
        return charts.health_figures(c, self.now) | charts.rollout_figure(
            f"chart-rollout-{c.name}", [c], events, promotions, self.now
        )

    def chart_points(self, event: str, payload: dict) -> list[dict]:
        """Health points of the last bucket on each health.changed; a rollout's new percentage."""
        c = self.component
        if not c.traffic or not self._is_mine(event, payload) or payload.get("component") is None:
            return []
        if event == Event.HEALTH_CHANGED:
            return charts.health_points(c, self.now)
        if event == Event.ROLLOUT_CHANGED and "percentage" in payload:
            return [charts.rollout_point(f"chart-rollout-{c.name}", 0, payload["percentage"], self.now)]
        return []
