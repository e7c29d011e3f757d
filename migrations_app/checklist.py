"""The readiness checklist: operators tick each item with their name and the time.

The first phase starts only when every item is ticked. Once it has started the list is
closed: unticking an item then would say the migration is not ready while it runs.
"""

from django.db import transaction
from django.utils import timezone

from migrations_app import audit, broadcast
from migrations_app.errors import Conflict
from migrations_app.models import ChecklistItem, Phase
from migrations_app.roles import Actor, Permission
from migrations_app.states import PhaseState


def tick(item: ChecklistItem, *, actor: Actor) -> ChecklistItem:
    """Tick `item` as `actor`, now.

    1. Only an operator (or admin) person ticks: the tick records who vouched for it.
    2. Lock the item; refuse if the first phase has started or someone ticked it already.
    3. Write who and when; after commit the change is published, then its audit event.
    """
    actor.require(Permission.OPERATE, "tick the readiness checklist")
    if not actor.is_person:
        raise Conflict("a readiness item is ticked by a person, who vouches for it; a token cannot tick it")
    with transaction.atomic():
        current = _locked_open_item(item)
        if current.is_checked:
            raise Conflict(
                f"'{current.text}' was already ticked by {_checker_name(current)} "
                f"at {current.checked_at:%Y-%m-%d %H:%M:%S} UTC"
            )
        now = timezone.now()
        ChecklistItem.objects.filter(pk=item.pk, checked_at__isnull=True).update(checked_by=actor.user, checked_at=now)
        current.checked_by, current.checked_at = actor.user, now
        _publish(current, actor)  # the change first, then its audit event
        audit.record(
            actor=actor,
            action="checklist.ticked",
            target=current,
            before={"checked_by": None, "checked_at": None},
            after={"checked_by": actor.name, "checked_at": now.isoformat()},
        )
    return current


def untick(item: ChecklistItem, *, actor: Actor, reason: str = "") -> ChecklistItem:
    """Untick `item`: the same rules as `tick`, and it must have been ticked."""
    actor.require(Permission.OPERATE, "untick the readiness checklist")
    with transaction.atomic():
        current = _locked_open_item(item)
        if not current.is_checked:
            raise Conflict(f"'{current.text}' is not ticked")
        before = {"checked_by": _checker_name(current), "checked_at": current.checked_at.isoformat()}
        ChecklistItem.objects.filter(pk=item.pk).update(checked_by=None, checked_at=None)
        current.checked_by, current.checked_at = None, None
        _publish(current, actor)
        audit.record(
            actor=actor,
            action="checklist.unticked",
            target=current,
            before=before,
            after={"checked_by": None, "checked_at": None},
            reason=reason.strip(),
        )
    return current


def is_complete(plan) -> bool:
    return not plan.checklist.filter(checked_at__isnull=True).exists()


def _locked_open_item(item: ChecklistItem) -> ChecklistItem:
    current = ChecklistItem.objects.select_for_update(of=("self",)).select_related("checked_by").get(pk=item.pk)
    first = Phase.objects.filter(plan_id=current.plan_id).order_by("position").first()
    closed = closed_blockers(first)
    if closed:
        raise Conflict(closed[0])
    return current


def closed_blockers(first_phase: Phase | None) -> list[str]:
    """Why the checklist may not be ticked or unticked now ([] while it is open)."""
    if first_phase is not None and first_phase.state != PhaseState.PENDING:
        return [
            f"the first phase ({first_phase.name}) is {first_phase.get_state_display().lower()}: "
            "the readiness checklist is closed once it has started"
        ]
    return []


def _checker_name(item: ChecklistItem) -> str:
    return item.checked_by.get_username() if item.checked_by else "someone"


def _publish(item: ChecklistItem, actor: Actor) -> None:
    broadcast.publish(
        item.plan_id,
        broadcast.Event.CHECKLIST_CHANGED,
        {"id": item.pk, "position": item.position, "checked": item.is_checked, "by": actor.name},
    )
