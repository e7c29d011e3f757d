"""Arranging a browser test's starting point through the services (the stages before the
one a test shows), and waiting for what the worker does meanwhile."""

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from migrations_app import approvals, checklist, promotion, tokens
from migrations_app.engine import services as engine
from migrations_app.models import Approval, Component, Phase, Plan, Rollout
from migrations_app.planfile import load_plan, parse_plan
from migrations_app.roles import CLI, Actor
from migrations_app.rollout import services as rollouts
from migrations_app.rollout import tasks as rollout_tasks
from migrations_app.states import ComponentState, PhaseState

PLAN_FILE = Path(__file__).resolve().parent / "plans" / "e2e.yaml"
PLAN = "e2e"
PLAN_URL = f"/plans/{PLAN}/"


def load() -> Plan:
    text = PLAN_FILE.read_text()
    return load_plan(parse_plan(text), text, actor=CLI).plan


def wait_for(predicate, what: str, timeout: float = 60.0, poke=None):
    """Poll until `predicate()` is truthy; `poke()` (if given) is called between polls."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        if poke:
            poke()
        time.sleep(0.3)


def tick_all(plan: Plan, user) -> None:
    for item in plan.checklist.order_by("position"):
        checklist.tick(item, actor=Actor.for_user(user))


def component_state(name: str) -> str:
    return Component.objects.get(plan__key=PLAN, name=name).state


def run_phase(key: str, user) -> None:
    """Start the phase and wait until the worker has migrated every component of it."""
    phase = Phase.objects.get(plan__key=PLAN, key=key)
    engine.start_phase(phase, actor=Actor.for_user(user), reason="arranged")
    wait_for(
        lambda: all(c.state == ComponentState.COMPLETED for c in phase.components.all()),
        f"phase {key} to be migrated by the worker",
    )


def promote(key: str, requester, approver) -> None:
    phase = Phase.objects.get(plan__key=PLAN, key=key)
    request = promotion.request_promotion(phase, actor=Actor.for_user(requester), reason="arranged")
    approvals.approve(request, actor=Actor.for_user(approver), comment="arranged")
    assert Phase.objects.get(pk=phase.pk).state == PhaseState.PROMOTED


def ready_for_traffic(plan: Plan, operator, admin, approver) -> Rollout:
    """Phase one run and promoted, phase two run: checkout migrated, its rollout idle."""
    tick_all(plan, operator)
    run_phase("prepare", operator)
    promote("prepare", admin, approver)
    run_phase("cutover", operator)
    return Rollout.objects.get(component__plan__key=PLAN, component__name="checkout")


def start_rollout(rollout: Rollout, operator) -> Rollout:
    return rollouts.start_rollout(rollout, actor=Actor.for_user(operator), reason="arranged")


def percentage() -> int:
    return Rollout.objects.get(component__plan__key=PLAN, component__name="checkout").percentage


def reconcile_now() -> None:
    """Ask the worker to look at the rollouts now (beat asks every 5 s)."""
    rollout_tasks.reconcile_all.delay()


def service_token() -> str:
    return tokens.create(name="e2e-data-plane", scopes=["metrics:write", "rollout:read"], actor=CLI)[1]


def report_metrics(server: str, token: str, *, samples: int, errors: int, provider: str = "migrated") -> None:
    """Request metrics as the data plane reports them: through the public API, with a token."""
    now = datetime.now(UTC).isoformat()
    items = [
        {
            "plan": PLAN,
            "component": "checkout",
            "operation": "checkout.create",
            "provider": provider,
            "duration_ms": 120,
            "success": i >= errors,
            "recorded_at": now,
        }
        for i in range(samples)
    ]
    response = httpx.post(f"{server}/api/v1/metrics", json=items, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 201, 202), response.text


def snapshot(server: str, token: str) -> dict:
    response = httpx.get(f"{server}/api/v1/plans/{PLAN}/rollout", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def pending_promotion(key: str) -> Approval:
    return Approval.objects.get(phase__plan__key=PLAN, phase__key=key, state=Approval.State.PENDING)
