"""Ticking and unticking the readiness checklist."""

from django.shortcuts import get_object_or_404

from migrations_app import checklist
from migrations_app.access import actor_for
from migrations_app.models import ChecklistItem
from migrations_app.roles import Permission

from .responses import button, done


def _item(plan_key, position) -> ChecklistItem:
    return get_object_or_404(ChecklistItem, plan__key=plan_key, position=position)


@button(Permission.OPERATE, "tick the readiness checklist")
def tick(request, plan_key, position):
    item = checklist.tick(_item(plan_key, position), actor=actor_for(request))
    return done(request, f"Ticked: {item.text}", f"/plans/{plan_key}/")


@button(Permission.OPERATE, "untick the readiness checklist")
def untick(request, plan_key, position):
    reason = request.POST.get("reason", "")
    item = checklist.untick(_item(plan_key, position), actor=actor_for(request), reason=reason)
    return done(request, f"Unticked: {item.text}", f"/plans/{plan_key}/")
