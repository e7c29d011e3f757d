"""Step executors: `execute(spec, ...)` runs one action as a plan stores it on
Step.forward / Step.reverse (`{"sql": ...}`, `{"http": {...}}`, `{"command": {...}}`,
`{"check": {...}}`) and returns its output, or raises StepFailed saying what went wrong.
They know nothing of runs, attempts or the database of the control plane."""

from . import check, command, http, sql
from .base import LineSink, StepFailed, ignore_line
from .env import substitute

KINDS = ("sql", "http", "command", "check")


def execute(spec: dict, *, database: str = "", timeout: float, on_line: LineSink = ignore_line) -> str:
    kind = next((name for name in KINDS if name in spec), None)
    if kind is None:
        raise StepFailed(f"unknown step action {sorted(spec)}")
    action = substitute(spec[kind])
    if kind == "sql":
        return sql.run(database, action, timeout)
    if kind == "http":
        return http.call(action, timeout)
    if kind == "command":
        return command.run(action, timeout, on_line)
    return check.run(action, database, timeout)


__all__ = ["KINDS", "StepFailed", "execute", "substitute"]
