"""Server-rendered regions of the plan pages, for the full page, htmx and the websocket.

`page_for(plan, actor, query)` builds the page a socket or a re-sync names
(`view=overview`, `view=component&component=NAME`, `view=approval&approval=ID`);
`render_event` renders what one event changes on that page, as `hx-swap-oob` HTML, and
`chart_points` the points it appends to the page's charts.
"""

from django.core.exceptions import ObjectDoesNotExist

from migrations_app.broadcast import Event
from migrations_app.errors import InvalidInput, NotFound

from .approval import ApprovalPage
from .audit import AuditFilter, AuditPage
from .base import PlanPage
from .component import ComponentPage
from .overview import OverviewPage
from .report import ReportPage

__all__ = ["ApprovalPage", "AuditPage", "ComponentPage", "OverviewPage", "PlanPage", "ReportPage", "page_for"]


def page_for(plan, actor, query, *, seq=None) -> PlanPage:
    """The live page named by a socket's or a re-sync's query string."""
    view = query.get("view", "overview")
    try:
        if view == "overview":
            return OverviewPage(plan, actor, seq=seq)
        if view == "component":
            return ComponentPage(plan, actor, component_name=query.get("component", ""), seq=seq)
        if view == "approval":
            return ApprovalPage(plan, actor, approval_id=int(query.get("approval", "0")), seq=seq)
        if view == "audit":
            return AuditPage(plan, actor, audit_filter=AuditFilter(), seq=seq)
        if view == "report":
            return ReportPage(plan, actor, seq=seq)
    except ValueError as error:
        raise InvalidInput(f"view {view!r}: {error}") from error
    except ObjectDoesNotExist as error:
        raise NotFound(f"view {view!r}: {error}") from error
    raise InvalidInput(f"unknown view {view!r}: overview, component, approval, audit or report")


def chart_points(page: PlanPage, event: str, payload: dict) -> list[dict]:
    """Points this event appends to the page's charts (Plotly.extendTraces); [] when none."""
    points = getattr(page, "chart_points", None)
    return points(event, payload) if points else []


def render_event(page: PlanPage, event: str, payload: dict) -> str:
    """The page's regions this event touches, ready for `hx-swap-oob`; "" when none."""
    if event == Event.LOG_LINE:
        return page.log_line(payload) if isinstance(page, ComponentPage) else ""
    regions = page.refresh_for(event, payload)
    return page.render_regions(regions) if regions else ""
