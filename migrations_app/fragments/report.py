"""The report page. The post-migration report (performance against the baseline,
reliability, recommendations) comes from monitoring; until it is installed this page
shows what the control plane itself knows: each phase planned against actual."""

from datetime import timedelta
from functools import cached_property

from migrations_app.views import wiring

from .base import PlanPage
from .overview import duration_text


class ReportPage(PlanPage):
    view = "report"
    template = "migrations_app/report.html"

    @cached_property
    def report(self):
        build = wiring.service("report")
        return None if build is None else build(self.plan)

    @cached_property
    def phases(self):
        phases = list(self.plan.phases.order_by("position"))
        for phase in phases:
            phase.actual = None
            if phase.started_at:
                phase.actual = (phase.promoted_at or self.now) - phase.started_at
            phase.planned_max = timedelta(days=phase.days_max)
            phase.actual_text = duration_text(phase.actual)
            phase.late = bool(phase.actual and phase.actual > phase.planned_max)
        return phases
