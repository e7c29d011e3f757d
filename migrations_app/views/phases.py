"""Phase buttons: "Start phase" (the migration engine) and "Request promotion" (the
rollout controller's approvals)."""

from django.shortcuts import get_object_or_404

from migrations_app.access import actor_for
from migrations_app.models import Phase
from migrations_app.roles import Permission

from .responses import button, call, done


def _phase(plan_key, phase_key) -> Phase:
    return get_object_or_404(Phase, plan__key=plan_key, key=phase_key)


@button(Permission.OPERATE, "start a phase")
def start(request, plan_key, phase_key):
    phase = _phase(plan_key, phase_key)
    call("start_phase", phase, actor=actor_for(request), reason=request.POST.get("reason", "").strip())
    return done(request, f"{phase.name} started.", f"/plans/{plan_key}/")


@button(Permission.OPERATE, "request a promotion")
def request_promotion(request, plan_key, phase_key):
    phase = _phase(plan_key, phase_key)
    call("request_promotion", phase, actor=actor_for(request), reason=request.POST.get("reason", "").strip())
    return done(request, f"Promotion of {phase.name} requested: it now needs approval.", f"/plans/{plan_key}/")
