"""The audit page: a plan's audit events filtered by actor, action, component and time,
and the same selection as CSV."""

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from django.db.models import QuerySet

from controlplane.spreadsheet import text_cell
from migrations_app.models import AuditEvent

from .base import PlanPage

PAGE_SIZE = 100
CSV_COLUMNS = [
    "at",
    "actor",
    "action",
    "plan",
    "component",
    "target_type",
    "target_id",
    "target",
    "reason",
    "before",
    "after",
    "data",
]


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    component: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, events: QuerySet) -> QuerySet:
        if self.actor:
            events = events.filter(actor_name=self.actor)
        if self.action:
            # "checklist" finds checklist.ticked and checklist.unticked; a full name finds itself.
            events = events.filter(action__startswith=self.action)
        if self.component:
            events = events.filter(component__name=self.component)
        if self.since:
            events = events.filter(at__gte=self.since)
        if self.until:
            events = events.filter(at__lt=self.until)
        return events


def plan_events(plan, audit_filter: AuditFilter) -> QuerySet:
    return audit_filter.apply(AuditEvent.objects.filter(plan=plan)).select_related("component").order_by("-at", "-pk")


class AuditPage(PlanPage):
    view = "audit"
    template = "migrations_app/audit.html"

    def __init__(self, plan, actor, *, audit_filter: AuditFilter | None, page_number=1, form=None, seq=None):
        """`audit_filter` None: the filter was refused (the form says why); show no rows."""
        super().__init__(plan, actor, seq=seq)
        self.filter = audit_filter
        self.page_number = page_number
        self.form = form
        self.has_more = False

    @cached_property
    def events(self) -> list[AuditEvent]:
        if self.filter is None:
            return []
        start = (self.page_number - 1) * PAGE_SIZE
        rows = list(plan_events(self.plan, self.filter)[start : start + PAGE_SIZE + 1])
        self.has_more = len(rows) > PAGE_SIZE
        return rows[:PAGE_SIZE]

    @cached_property
    def actors(self) -> list[str]:
        return list(AuditEvent.objects.filter(plan=self.plan).values_list("actor_name", flat=True).distinct())

    @cached_property
    def actions(self) -> list[str]:
        return sorted(set(AuditEvent.objects.filter(plan=self.plan).values_list("action", flat=True).distinct()))

    @cached_property
    def component_names(self) -> list[str]:
        return list(self.plan.components.order_by("position").values_list("name", flat=True))


class Echo:
    """A file-like object whose write returns the line, for streaming CSV."""

    def write(self, value):
        return value


def _json(value) -> str:
    return "" if value in (None, {}) else json.dumps(value, sort_keys=True)


def csv_rows(plan, audit_filter: AuditFilter):
    writer = csv.writer(Echo())
    yield writer.writerow(CSV_COLUMNS)
    for e in plan_events(plan, audit_filter).iterator(chunk_size=2000):
        yield writer.writerow(
            [
                text_cell(value)  # every column is text, the moment and the id too
                for value in (
                    e.at.isoformat(),
                    e.actor_name,
                    e.action,
                    plan.key,
                    e.component.name if e.component else "",
                    e.target_type,
                    e.target_id,
                    e.target_label,
                    e.reason,
                    _json(e.before),
                    _json(e.after),
                    _json(e.data),
                )
            ]
        )
