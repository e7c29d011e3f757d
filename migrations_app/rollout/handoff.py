"""The hand-off from a planned rollback to the migration engine, in one place.

Once a planned rollback has brought a component's traffic to 0%, the engine runs the
component's reverse steps on a worker (`migrations_app.engine.services.rollback_component`).
The decision to roll back was taken when the planned rollback started, inside the phase's
rollback window or with an admin's override: if the window closed while traffic stepped
down, the hand-off carries that decision on as an override.
"""

import logging

from django.utils import timezone

from migrations_app import audit, windows
from migrations_app.errors import DomainError
from migrations_app.roles import Actor

logger = logging.getLogger(__name__)


def reverse_component(component, *, actor: Actor, reason: str) -> None:
    from migrations_app.engine.services import rollback_component  # the engine builds on the rollout's models

    phase = component.phase
    window = windows.rollback_window(phase.promoted_at, phase.rollback_window_hours, timezone.now())
    try:
        rollback_component(component, actor=actor, reason=reason, override=not window.open)
    except DomainError as refused:
        # Traffic is already back on the original; the reverse steps wait for an operator.
        logger.warning("component %s: traffic is at 0%%, but its reverse steps did not start: %s", component, refused)
        audit.record(
            actor=actor,
            action="rollout.reverse_steps_not_started",
            target=component,
            reason=f"the migration engine refused: {refused.message}",
        )
