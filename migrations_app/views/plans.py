"""The plan list, the plan overview, its re-sync endpoint, and the report page."""

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, render

from migrations_app.access import actor_for, requires
from migrations_app.errors import DomainError
from migrations_app.fragments import OverviewPage, ReportPage, page_for
from migrations_app.models import Plan
from migrations_app.roles import Permission
from migrations_app.states import ComponentState

from .responses import page_response, refused, regions_response


def plan_for(plan_key: str) -> Plan:
    return get_object_or_404(Plan.objects.only("pk", "key"), key=plan_key)


@requires(Permission.VIEW)
def plan_list(request):
    plans = Plan.objects.annotate(
        phase_count=Count("phases", distinct=True),
        component_count=Count("components", distinct=True),
        migrated_count=Count("components", filter=Q(components__state=ComponentState.COMPLETED), distinct=True),
    )
    return render(request, "migrations_app/plan_list.html", {"plans": plans})


@requires(Permission.VIEW)
def plan_detail(request, plan_key):
    return page_response(request, OverviewPage(plan_for(plan_key), actor_for(request)))


@requires(Permission.VIEW)
def report(request, plan_key):
    return page_response(request, ReportPage(plan_for(plan_key), actor_for(request)))


@requires(Permission.VIEW)
def live(request, plan_key):
    """All regions of the page named by the query, for a browser that missed events."""
    try:
        page = page_for(plan_for(plan_key), actor_for(request), request.GET)
    except DomainError as error:
        return refused(request, error)
    return regions_response(request, page)
