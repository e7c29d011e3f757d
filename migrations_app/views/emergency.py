"""The red button (every component's traffic back to the original implementation), and
the request to clear force-original afterwards."""

from migrations_app.access import actor_for
from migrations_app.roles import Permission
from migrations_app.rollout import emergency

from .plans import plan_for
from .responses import button, done, reason_of


@button(Permission.OPERATE, "trigger an emergency rollback")
def emergency_rollback(request, plan_key):
    emergency.emergency_rollback(plan_for(plan_key), actor=actor_for(request), reason=reason_of(request))
    message = "Emergency rollback done: all traffic goes to the original implementation. Verifying stability…"
    return done(request, message, f"/plans/{plan_key}/")


@button(Permission.OPERATE, "request clearing force-original")
def request_clear(request, plan_key):
    approval = emergency.request_clear_force_original(
        plan_for(plan_key), actor=actor_for(request), reason=reason_of(request)
    )
    return done(request, "Clearing force-original now needs approval.", f"/plans/{plan_key}/approvals/{approval.pk}/")
