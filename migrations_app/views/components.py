"""The component page, its retry and rollback buttons, and its rollout's buttons."""

from django.shortcuts import get_object_or_404

from migrations_app.access import actor_for, requires
from migrations_app.fragments import ComponentPage
from migrations_app.models import Component, Rollout
from migrations_app.roles import Permission

from .plans import plan_for
from .responses import button, call, done, page_response


def _component(plan_key, name) -> Component:
    return get_object_or_404(Component.objects.select_related("phase"), plan__key=plan_key, name=name)


def _reason(request) -> str:
    return request.POST.get("reason", "").strip()


@requires(Permission.VIEW)
def detail(request, plan_key, name):
    component = _component(plan_key, name)
    return page_response(request, ComponentPage(plan_for(plan_key), actor_for(request), component_name=component.name))


@button(Permission.OPERATE, "retry a component")
def retry(request, plan_key, name):
    component = _component(plan_key, name)
    call("retry_component", component, actor=actor_for(request), reason=_reason(request))
    return done(request, f"Retrying {component.name}.", f"/plans/{plan_key}/components/{name}/")


@button(Permission.OPERATE, "roll back a component")
def rollback(request, plan_key, name):
    component = _component(plan_key, name)
    call("rollback_component", component, actor=actor_for(request), reason=_reason(request))
    return done(request, f"Rolling back {component.name}.", f"/plans/{plan_key}/components/{name}/")


def _rollout_button(service: str, doing: str, said: str):
    @button(Permission.OPERATE, doing)
    def view(request, plan_key, name):
        component = _component(plan_key, name)
        rollout = get_object_or_404(Rollout, component=component)
        call(service, rollout, actor=actor_for(request), reason=_reason(request))
        return done(request, f"{component.name}: rollout {said}.", f"/plans/{plan_key}/")

    return view


start_rollout = _rollout_button("start_rollout", "start a rollout", "started")
pause_rollout = _rollout_button("pause_rollout", "pause a rollout", "paused")
resume_rollout = _rollout_button("resume_rollout", "resume a rollout", "resumed")
