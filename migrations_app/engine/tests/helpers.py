"""Arranging states the engine's services check, through the state machines."""

from datetime import timedelta

from django.utils import timezone

from migrations_app import transitions
from migrations_app.roles import CLI
from migrations_app.states import ComponentState, PhaseState


def promote(phase, *, hours_ago: float = 0.0):
    transitions.apply(phase, PhaseState.IN_PROGRESS, actor=CLI)
    transitions.apply(phase, PhaseState.AWAITING_APPROVAL, actor=CLI)
    transitions.apply(phase, PhaseState.PROMOTED, actor=CLI, promoted_at=timezone.now() - timedelta(hours=hours_ago))
    return phase


def migrate(component):
    transitions.apply(component, ComponentState.RUNNING, actor=CLI)
    transitions.apply(component, ComponentState.COMPLETED, actor=CLI)
    return component


def fail(component):
    transitions.apply(component, ComponentState.RUNNING, actor=CLI)
    transitions.apply(component, ComponentState.FAILED, actor=CLI, last_error="boom")
    return component
