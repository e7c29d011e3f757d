"""The component page, its retry and rollback buttons, and its rollout's buttons."""

from django.shortcuts import get_object_or_404

from migrations_app.access import actor_for, requires
from migrations_app.engine import services as engine
from migrations_app.errors import InvalidInput
from migrations_app.fragments import ComponentPage
from migrations_app.models import Component, Rollout
from migrations_app.roles import Permission
from migrations_app.rollout import services as rollouts

from .plans import plan_for
from .responses import button, done, page_response, reason_of


def _component(plan_key, name) -> Component:
    return get_object_or_404(Component.objects.select_related("phase"), plan__key=plan_key, name=name)


def _rollout(plan_key, name) -> Rollout:
    return get_object_or_404(Rollout.objects.select_related("component"), component=_component(plan_key, name))


@requires(Permission.VIEW)
def detail(request, plan_key, name):
    component = _component(plan_key, name)
    return page_response(request, ComponentPage(plan_for(plan_key), actor_for(request), component_name=component.name))


@button(Permission.OPERATE, "retry a component")
def retry(request, plan_key, name):
    component = _component(plan_key, name)
    engine.retry_component(component, actor=actor_for(request), reason=reason_of(request))
    return done(request, f"Retrying {component.name}.", f"/plans/{plan_key}/components/{name}/")


@button(Permission.OPERATE, "roll back a component")
def rollback(request, plan_key, name):
    component = _component(plan_key, name)
    # The override (past the phase's rollback window) is an admin's, with a reason: the service checks both.
    override = request.POST.get("override") == "on"
    engine.rollback_component(component, actor=actor_for(request), reason=reason_of(request), override=override)
    return done(request, f"Rolling back {component.name}.", f"/plans/{plan_key}/components/{name}/")


@button(Permission.OPERATE, "start a rollout")
def start_rollout(request, plan_key, name):
    rollouts.start_rollout(_rollout(plan_key, name), actor=actor_for(request), reason=reason_of(request))
    return done(request, f"{name}: rollout started.", f"/plans/{plan_key}/")


@button(Permission.OPERATE, "pause a rollout")
def pause_rollout(request, plan_key, name):
    rollouts.pause_rollout(_rollout(plan_key, name), actor=actor_for(request), reason=reason_of(request))
    return done(request, f"{name}: rollout paused.", f"/plans/{plan_key}/")


@button(Permission.OPERATE, "resume a rollout")
def resume_rollout(request, plan_key, name):
    rollouts.resume_rollout(_rollout(plan_key, name), actor=actor_for(request), reason=reason_of(request))
    return done(request, f"{name}: rollout resumed.", f"/plans/{plan_key}/")


@button(Permission.OPERATE, "set a rollout percentage")
def set_percentage(request, plan_key, name):
    text = request.POST.get("percentage", "").strip()
    if not text.isdigit():
        raise InvalidInput(f"percentage: a whole number from 0 to 100, not {text!r}")
    rollout = rollouts.set_percentage(
        _rollout(plan_key, name), int(text), actor=actor_for(request), reason=reason_of(request)
    )
    return done(request, f"{name}: traffic set to {rollout.percentage}%, rollout paused.", f"/plans/{plan_key}/")


@button(Permission.OPERATE, "roll back a component")
def planned_rollback(request, plan_key, name):
    reason = reason_of(request)
    # Past the phase's rollback window the same reason is the admin's override reason.
    override_reason = reason if request.POST.get("override") == "on" else ""
    rollouts.planned_rollback(
        _rollout(plan_key, name), actor=actor_for(request), reason=reason, override_reason=override_reason
    )
    return done(request, f"{name}: planned rollback started (75, 50, 25, 10, 0%).", f"/plans/{plan_key}/")


SWITCH_VALUES = {"on": True, "off": False}


@button(Permission.OPERATE, "switch fallback or comparison")
def set_switches(request, plan_key, name):
    asked = {}
    for switch in ("fallback", "comparison"):
        value = request.POST.get(switch)
        if value is None:
            continue
        if value not in SWITCH_VALUES:
            raise InvalidInput(f"{switch}: on or off, not {value!r}")
        asked[switch] = SWITCH_VALUES[value]
    rollout = rollouts.set_switches(
        _rollout(plan_key, name), **asked, actor=actor_for(request), reason=reason_of(request)
    )
    said = ", ".join(f"{s} {'on' if getattr(rollout, s) else 'off'}" for s in asked)
    return done(request, f"{name}: {said}.", f"/plans/{plan_key}/")
