"""Acknowledging an open alert, and the demo simulator's fault controls."""

from django.shortcuts import get_object_or_404

from migrations_app import faults
from migrations_app.access import actor_for
from migrations_app.roles import Permission
from monitoring import alerts
from monitoring.models import Alert

from .plans import plan_for
from .responses import button, done, reason_of


@button(Permission.OPERATE, "acknowledge alerts")
def acknowledge(request, plan_key, alert_id):
    alert = alerts.acknowledge(get_object_or_404(Alert, plan__key=plan_key, pk=alert_id), actor=actor_for(request))
    return done(request, f"Alert acknowledged: {alert.message}", f"/plans/{plan_key}/")


@button(Permission.OPERATE, "inject faults into the simulator")
def simulator_faults(request, plan_key):
    plan = plan_for(plan_key)
    if request.POST.get("clear"):
        faults.set_faults(plan, None, actor=actor_for(request), reason=reason_of(request))
        return done(request, "Simulator faults cleared.", f"/plans/{plan_key}/")
    asked = faults.parse(request.POST.get("fault", ""), request.POST.get("value", ""))
    faults.set_faults(plan, asked, actor=actor_for(request), reason=reason_of(request))
    said = ", ".join(f"{name} = {value}" for name, value in asked.items())
    return done(request, f"Simulator fault injected: {said}.", f"/plans/{plan_key}/")
