"""Faults injected into the demo's traffic simulator from the dashboard, so that an operator
can watch the health gate act: the simulator's `POST /faults` and `DELETE /faults`
(monitoring/simulator/server.py), called from the server at SIMULATOR_URL, audited."""

import os

import httpx
from django.conf import settings

from migrations_app import audit
from migrations_app.errors import Conflict, InvalidInput
from migrations_app.models import Plan
from migrations_app.roles import Actor, Permission

TIMEOUT_SECONDS = 5
# What the dashboard's form may set: the simulator's fault names, with their bounds.
RATES = ("migrated.error_rate", "original.error_rate", "comparison.mismatch_rate")
LATENCIES = ("migrated.latency_ms", "original.latency_ms")


def simulator_url() -> str:
    """The simulator's base URL: the setting, or the environment as the demo sets it at start."""
    return (settings.SIMULATOR_URL or os.environ.get("SIMULATOR_URL", "")).strip().rstrip("/")


def parse(name: str, value: str) -> dict:
    """One fault from the form, checked: rates from 0 to 1, latencies in ms, `health` a
    component name (its health URL answers 503) or `all`."""
    value = (value or "").strip()
    if name in RATES or name in LATENCIES:
        try:
            number = float(value)
        except ValueError:
            raise InvalidInput(f"value: {name} needs a number, not {value!r}") from None
        if name in RATES and not 0 <= number <= 1:
            raise InvalidInput(f"value: {name} is a rate from 0 to 1 (0.12 is 12%), not {value}")
        if name in LATENCIES and not 0 <= number <= 60_000:
            raise InvalidInput(f"value: {name} is in milliseconds, from 0 to 60000, not {value}")
        return {name: number}
    if name == "health":
        if not value:
            raise InvalidInput("value: name the component whose health URL should fail, or all")
        return {name: value}
    known = ", ".join((*RATES, *LATENCIES, "health"))
    raise InvalidInput(f"fault: {name!r} is not one the simulator knows ({known})")


def set_faults(plan: Plan, faults: dict | None, *, actor: Actor, reason: str) -> dict:
    """Inject `faults` (from `parse`) into the simulator, or clear them all (None).

    1. An operator (or admin) only; the simulator must be configured (SIMULATOR_URL).
    2. Call the simulator; a refusal or no answer is a Conflict naming it.
    3. Audit what was set, with the simulator's answer (its faults now).
    """
    actor.require(Permission.OPERATE, "inject faults into the simulator")
    base = simulator_url()
    if not base:
        raise Conflict("no simulator is configured (SIMULATOR_URL is not set)")
    url = f"{base}/faults"
    try:
        if faults is None:
            response = httpx.delete(url, timeout=TIMEOUT_SECONDS)
        else:
            response = httpx.post(url, json=faults, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        raise Conflict(f"the simulator at {base} did not answer: {type(error).__name__}") from None
    if response.status_code != 200:
        detail = response.text[:300]
        raise Conflict(f"the simulator refused it ({response.status_code}): {detail}")
    now = response.json()
    audit.record(
        actor=actor,
        action="simulator.faults_cleared" if faults is None else "simulator.fault_injected",
        target=plan,
        after=faults or {},
        reason=reason.strip(),
        data={"simulator": now},
    )
    return now
