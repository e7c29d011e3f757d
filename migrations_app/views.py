from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, render

from migrations_app.access import requires
from migrations_app.models import Component, Plan
from migrations_app.roles import Permission
from migrations_app.states import ComponentState


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
    plan = get_object_or_404(Plan, key=plan_key)
    components = (
        Component.objects.filter(plan=plan)
        .select_related("rollout")
        .prefetch_related("depends_on")
        .annotate(step_count=Count("steps"))
    )
    phases = plan.phases.prefetch_related(Prefetch("components", queryset=components))
    checklist = plan.checklist.select_related("checked_by")
    context = {
        "plan": plan,
        "phases": phases,
        "checklist": checklist,
        "checklist_done": all(item.is_checked for item in checklist),
    }
    return render(request, "migrations_app/plan_detail.html", context)
