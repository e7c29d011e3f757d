"""The red button: every component's traffic back to the original implementation."""

from migrations_app.access import actor_for
from migrations_app.errors import InvalidInput
from migrations_app.roles import Permission

from .plans import plan_for
from .responses import button, call, done


@button(Permission.OPERATE, "trigger an emergency rollback")
def emergency_rollback(request, plan_key):
    plan = plan_for(plan_key)
    reason = request.POST.get("reason", "").strip()
    if not reason:
        raise InvalidInput("reason: say why, in a few words; it goes into the audit log and the notification")
    call("emergency_rollback", plan, actor=actor_for(request), reason=reason)
    message = "Emergency rollback started: all traffic goes to the original implementation."
    return done(request, message, f"/plans/{plan_key}/")
