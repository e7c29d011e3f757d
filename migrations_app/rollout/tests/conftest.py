"""Fixtures for the rollout controller: a traffic component ready to roll out, health
verdicts built by hand, and a listener on the plan's live events."""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from migrations_app import broadcast
from migrations_app.models import Component, Phase, Rollout
from migrations_app.states import ComponentState, PhaseState
from monitoring.verdict import MIGRATED, ORIGINAL, HealthVerdict, ProviderHealth

# What health evaluations return while a test runs (see `health_source`).
CURRENT_VERDICTS: dict[str, HealthVerdict] = {}


def evaluate(component, window_seconds=None):
    """A health evaluator for tests: the verdict the test set for this component."""
    return CURRENT_VERDICTS[component.name]


def provider(name, samples=200, errors=0, avg=120.0, p95=300.0):
    return ProviderHealth(
        provider=name,
        samples=samples,
        errors=errors,
        error_rate=errors / samples if samples else 0.0,
        avg_latency_ms=avg if samples else None,
        p95_latency_ms=p95 if samples else None,
    )


def healthy(component="beta"):
    return HealthVerdict(
        component=component,
        window_seconds=300,
        providers={ORIGINAL: provider(ORIGINAL), MIGRATED: provider(MIGRATED)},
        enough_samples=True,
        healthy=True,
    )


def failing(component="beta", error_rate=0.12):
    errors = int(200 * error_rate)
    return HealthVerdict(
        component=component,
        window_seconds=300,
        providers={ORIGINAL: provider(ORIGINAL), MIGRATED: provider(MIGRATED, errors=errors)},
        enough_samples=True,
        healthy=False,
        reasons=[f"error rate {error_rate:.1%} > 5.0%"],
    )


def thin(component="beta"):
    return HealthVerdict(
        component=component,
        window_seconds=300,
        providers={ORIGINAL: provider(ORIGINAL), MIGRATED: provider(MIGRATED, samples=3)},
        enough_samples=False,
        healthy=False,
        reasons=["3 samples < 50"],
    )


def database_down(component="beta"):
    return HealthVerdict(
        component=component,
        window_seconds=300,
        providers={ORIGINAL: provider(ORIGINAL), MIGRATED: provider(MIGRATED)},
        enough_samples=True,
        healthy=False,
        database_healthy=False,
        reasons=["database unreachable"],
    )


@pytest.fixture
def health_source(settings):
    """Point the controller's health at `CURRENT_VERDICTS` (monitoring's evaluate, by hand)."""
    settings.ROLLOUT_HEALTH_EVALUATOR = f"{__name__}.evaluate"
    CURRENT_VERDICTS.clear()
    yield CURRENT_VERDICTS
    CURRENT_VERDICTS.clear()


def migrated(component: Component) -> Component:
    """Arrange: the component's migration has completed and its phase is in progress."""
    Phase.objects.filter(pk=component.phase_id).update(state=PhaseState.IN_PROGRESS, started_at=timezone.now())
    Component.objects.filter(pk=component.pk).update(state=ComponentState.COMPLETED)
    component.refresh_from_db()
    return component


@pytest.fixture
def beta(tiny_plan, health_source):
    """The tiny plan's traffic component, migrated, with healthy figures."""
    health_source["beta"] = healthy()
    migrated(tiny_plan.components.get(name="alpha"))
    return migrated(tiny_plan.components.get(name="beta"))


def rollout_of(component) -> Rollout:
    return Rollout.objects.select_related("component__plan", "component__phase").get(component=component)


def age(rollout: Rollout, seconds: int) -> Rollout:
    """Arrange: the rollout's current level began `seconds` ago."""
    then = timezone.now() - timedelta(seconds=seconds)
    Rollout.objects.filter(pk=rollout.pk).update(percentage_changed_at=then, state_changed_at=then)
    return rollout_of(rollout.component)


class Listener:
    """Receives what `broadcast` publishes to a plan's group, through the real channel layer."""

    def __init__(self, plan_id: int):
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(broadcast.plan_group(plan_id), self.channel)

    def events(self, timeout: float = 0.5) -> list[tuple[str, dict]]:
        async def drain():
            received = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), timeout)
                except TimeoutError:
                    return received
                received.append((message["event"], message["payload"]))

        return async_to_sync(drain)()


@pytest.fixture
def listen():
    return Listener
