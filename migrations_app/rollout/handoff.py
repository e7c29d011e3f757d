"""The hand-off from a planned rollback to the migration engine, in one place.

Once a planned rollback has brought a component's traffic to 0%, the engine runs the plan's
data consistency checks and the component's reverse steps: the engine's component-rollback
service (`migrations_app.engine.services.rollback_component(component, *, actor, reason)`).
"""

import logging

from migrations_app import audit
from migrations_app.roles import Actor

logger = logging.getLogger(__name__)


def reverse_component(component, *, actor: Actor, reason: str) -> None:
    try:
        from migrations_app.engine.services import rollback_component
    except ImportError:
        # Traffic is already back on the original; the reverse steps wait for an operator.
        logger.warning("component %s: traffic is at 0%%, but the engine cannot reverse its steps here", component)
        audit.record(
            actor=actor,
            action="rollout.reverse_steps_not_started",
            target=component,
            reason="the migration engine's component rollback is not available",
        )
        return
    rollback_component(component, actor=actor, reason=reason)
