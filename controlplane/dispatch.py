"""Sending a Celery task whose lost message a periodic sweep sends again.

The work a button starts is committed first and its task sent after (`on_commit`). When
the broker cannot be reached at that moment (a Redis outage, the very moment an operator
presses the emergency button), the message is lost like any other lost message: a
warning says so, and the sweep named by `recovered_by` sends it again once the broker is
back. What was committed stands, and the operator's request is not failed for it.
"""

import logging

from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def send(task, args: tuple, *, recovered_by: str, **options) -> bool:
    """`task.apply_async(args, **options)`; False, with a warning, when the broker is unreachable."""
    try:
        task.apply_async(args, **options)
    except OperationalError as error:
        call = f"{task.name}({', '.join(map(repr, args))})"
        logger.warning("%s not sent, the broker is unreachable (%s): %s", call, error, recovered_by)
        return False
    return True
