"""Phase buttons: "Start phase" (the migration engine), "Request promotion", and cancelling
a phase's run."""

from django.shortcuts import get_object_or_404

from migrations_app import promotion
from migrations_app.access import actor_for
from migrations_app.engine import services as engine
from migrations_app.models import Phase, Run
from migrations_app.roles import Permission

from .responses import button, done, reason_of


def _phase(plan_key, phase_key) -> Phase:
    return get_object_or_404(Phase, plan__key=plan_key, key=phase_key)


@button(Permission.OPERATE, "start a phase")
def start(request, plan_key, phase_key):
    phase = _phase(plan_key, phase_key)
    run = engine.start_phase(phase, actor=actor_for(request), reason=reason_of(request))
    return done(request, f"{phase.name} started: run {run.pk}.", f"/plans/{plan_key}/")


@button(Permission.OPERATE, "request a promotion")
def request_promotion(request, plan_key, phase_key):
    phase = _phase(plan_key, phase_key)
    promotion.request_promotion(phase, actor=actor_for(request), reason=reason_of(request))
    return done(request, f"Promotion of {phase.name} requested: it now needs approval.", f"/plans/{plan_key}/")


@button(Permission.OPERATE, "cancel a run")
def cancel_run(request, plan_key, run_id):
    run = engine.cancel_run(
        get_object_or_404(Run, plan__key=plan_key, pk=run_id), actor=actor_for(request), reason=reason_of(request)
    )
    return done(request, f"Run {run.pk} is being cancelled: what it did is rolled back.", f"/plans/{plan_key}/")
