"""The one writer of `state` for phases, components and rollouts.

`apply` locks the row, checks the move against the tables in `states.py`, writes the new
state with a conditional update, records the audit event in the same transaction and
publishes the change after commit. Anything not in the table is refused with a message
that names the current state and what it could become instead.
"""

from django.db import transaction
from django.utils import timezone

from migrations_app import audit, broadcast
from migrations_app.errors import TransitionNotAllowed
from migrations_app.models import Component, Phase, Rollout
from migrations_app.roles import Actor
from migrations_app.states import MACHINES, allowed_targets

MACHINE_OF_MODEL = {Phase: "phase", Component: "component", Rollout: "rollout"}


def _json_value(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def apply(
    obj,
    new_state: str,
    *,
    actor: Actor,
    reason: str = "",
    action: str | None = None,
    data: dict | None = None,
    **fields,
):
    """Move `obj` to `new_state`, also setting `fields`; returns `obj`, refreshed.

    Raises TransitionNotAllowed, and changes nothing, when the move is not in the table.
    """
    model = type(obj)
    machine = MACHINE_OF_MODEL[model]
    choices, table = MACHINES[machine]
    with transaction.atomic():
        current = model.objects.select_for_update().get(pk=obj.pk)
        old_state = current.state
        if (old_state, new_state) not in table:
            allowed = ", ".join(choices(s).label.lower() for s in allowed_targets(machine, old_state)) or "nothing"
            raise TransitionNotAllowed(
                f"{machine} {current} is {choices(old_state).label.lower()}; it cannot become "
                f"{choices(new_state).label.lower()} (from here it can become: {allowed})"
            )
        now = timezone.now()
        updates = {"state": new_state, "state_changed_at": now, **fields}
        before = {"state": old_state} | {name: _json_value(getattr(current, name)) for name in fields}
        claimed = model.objects.filter(pk=obj.pk, state=old_state).update(**updates)
        if not claimed:  # pragma: no cover - the row lock makes this unreachable
            raise TransitionNotAllowed(f"{machine} {current} changed while it was being updated")
        for name, value in updates.items():
            setattr(obj, name, value)
        # The change itself reaches open pages first; its audit line follows.
        broadcast.state_changed(machine, obj, old_state, new_state)
        audit.record(
            actor=actor,
            action=action or table[(old_state, new_state)],
            target=obj,
            before=before,
            after={name: _json_value(value) for name, value in updates.items() if name != "state_changed_at"},
            reason=reason,
            data=data,
        )
    return obj
