"""Rollback windows: a phase (or a component of it) can be rolled back within its
phase's window after promotion; after that only an admin, with a reason, may override."""

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class WindowState:
    open: bool
    closes_at: datetime | None  # None: the phase is not promoted yet, so no window applies

    def describe(self) -> str:
        if self.closes_at is None:
            return "not promoted yet: rollback is allowed"
        verb = "closes" if self.open else "closed"
        return f"the rollback window {verb} at {self.closes_at:%Y-%m-%d %H:%M} UTC"


def rollback_window(promoted_at: datetime | None, window_hours: int, now: datetime) -> WindowState:
    """`window_hours` 0 means "Immediate": rollback only until the promotion itself."""
    if promoted_at is None:
        return WindowState(open=True, closes_at=None)
    closes_at = promoted_at + timedelta(hours=window_hours)
    return WindowState(open=now < closes_at, closes_at=closes_at)
