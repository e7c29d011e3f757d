"""The report page: monitoring's post-migration report (performance against the baseline,
reliability, recommendations), and each phase planned against actual."""

from datetime import timedelta
from functools import cached_property

from monitoring.report import build_report

from . import charts
from .base import PlanPage
from .overview import duration_text


class ReportPage(PlanPage):
    view = "report"
    template = "migrations_app/report.html"

    @cached_property
    def report(self):
        return build_report(self.plan)

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

    @cached_property
    def figures(self) -> dict:
        return charts.phases_figure(self.phases, self.now)
