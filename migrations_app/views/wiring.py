"""The operations the dashboard's buttons call, by where they live.

Each entry names a service function of another part of Switchyard and the part, so a
button can say "the migration engine is not installed in this build" instead of failing
later. Every service takes the model instance first and `actor=` (and `reason=` where it
changes traffic or state), checks the role itself, audits and publishes.
"""

import importlib
from collections.abc import Callable
from functools import cache

SERVICES: dict[str, tuple[str, str, str]] = {
    # name: (module, function, the part that provides it)
    "start_phase": ("migrations_app.engine.services", "start_phase", "the migration engine"),
    "retry_component": ("migrations_app.engine.services", "retry_component", "the migration engine"),
    "rollback_component": ("migrations_app.engine.services", "rollback_component", "the migration engine"),
    "request_promotion": ("migrations_app.rollout.approvals", "request_promotion", "the rollout controller"),
    "approve": ("migrations_app.rollout.approvals", "approve", "the rollout controller"),
    "reject": ("migrations_app.rollout.approvals", "reject", "the rollout controller"),
    "start_rollout": ("migrations_app.rollout.services", "start_rollout", "the rollout controller"),
    "pause_rollout": ("migrations_app.rollout.services", "pause_rollout", "the rollout controller"),
    "resume_rollout": ("migrations_app.rollout.services", "resume_rollout", "the rollout controller"),
    "emergency_rollback": ("migrations_app.rollout.emergency", "emergency_rollback", "the rollout controller"),
    "open_alerts": ("monitoring.alerts", "open_alerts", "monitoring"),
    "report": ("monitoring.report", "build_report", "monitoring"),
}


@cache  # parts are installed or not for the life of the process
def service(name: str) -> Callable | None:
    module_name, function, _ = SERVICES[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            return None  # the part is not installed; anything else missing is a real bug
        raise
    return getattr(module, function, None)


def available(name: str) -> bool:
    return service(name) is not None


def provider(name: str) -> str:
    return SERVICES[name][2]
