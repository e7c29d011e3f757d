"""The rollout snapshot the data plane follows, and the one-key decision for those that cannot.

The ETag is the plan's version, read from the plan row alone: its id, its epoch (bumped in
the same transaction as every change to a rollout or to force-original) and the digest of
the plan file as loaded (a reload that changes fallback or comparison changes it). From the
database, a 304 costs one indexed single-row query and a 200 adds one for the rollouts. The
version is read before the rollouts: a change landing in between gives a newer body under
an older ETag, which the next poll replaces, never an older body under a newer ETag, which
would stick. On the hot path both come from the per-process cache (cache.py), which holds
the serialized snapshot: a 304 is then a dictionary lookup and a string comparison.
"""

import json
from dataclasses import dataclass

from django.db.models import F

from migrations_app.errors import NotFound
from migrations_app.models import Plan, Rollout
from migrations_app.rollout.cache import CACHE
from migrations_app.routing import bucket, use_migrated

HASH = {"algorithm": "murmur3_32_x86", "seed": 0, "input": "{component}:{key}", "bucket": "hash % 100 + 1"}


def version(plan_key: str) -> tuple[int, int, bool, str]:
    """(plan id, epoch, force_original, ETag) in one query; NotFound for an unknown plan."""
    row = Plan.objects.filter(key=plan_key).values_list("pk", "epoch", "force_original", "source_sha256").first()
    if row is None:
        raise NotFound(f"no plan {plan_key!r}")
    pk, epoch, force_original, digest = row
    return pk, epoch, force_original, f'"{pk}.{epoch}.{digest[:16]}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def body(plan_key: str, plan_id: int, epoch: int, force_original: bool) -> dict:
    rows = (
        Rollout.objects.filter(component__plan_id=plan_id)
        .order_by("component__position")
        .values_list("component__name", "percentage", "fallback", "comparison", "state", "epoch")
    )
    return {
        "plan": plan_key,
        "epoch": epoch,
        "force_original": force_original,
        "components": {
            name: {"percentage": pct, "fallback": fallback, "comparison": comparison, "state": state, "epoch": e}
            for name, pct, fallback, comparison, state, e in rows
        },
        "hash": HASH,
    }


@dataclass(frozen=True)
class PlanSnapshot:
    etag: str
    content: bytes  # the JSON body
    epoch: int
    force_original: bool
    components: dict[str, tuple[int, bool, bool]]  # name: (percentage, fallback, comparison)


def load(plan_key: str) -> PlanSnapshot:
    plan_id, epoch, force_original, etag = version(plan_key)
    data = body(plan_key, plan_id, epoch, force_original)
    components = {name: (c["percentage"], c["fallback"], c["comparison"]) for name, c in data["components"].items()}
    return PlanSnapshot(etag, json.dumps(data).encode(), epoch, force_original, components)


def current(plan_key: str) -> PlanSnapshot:
    """The plan's snapshot, from the cache."""
    return CACHE.get(("plan", plan_key), lambda: load(plan_key), usable=True)


def respond(plan_key: str, if_none_match: str | None, *, cached: bool) -> tuple[str, bytes | None]:
    """(ETag, JSON body or None for 304 Not Modified); `cached`: whether the cache may serve."""
    if cached:
        snapshot = current(plan_key)
        return snapshot.etag, None if matches(if_none_match, snapshot.etag) else snapshot.content
    plan_id, epoch, force_original, etag = version(plan_key)
    if matches(if_none_match, etag):
        return etag, None
    return etag, json.dumps(body(plan_key, plan_id, epoch, force_original)).encode()


def decide_key(plan_key: str, component: str, key: str, *, cached: bool = False) -> dict:
    """Whether `key` of `component` goes to the new implementation: cached, or in one query."""
    if cached:
        snapshot = current(plan_key)
        found = snapshot.components.get(component)
        if found is None:
            _not_found(plan_key, component)
        percentage, fallback, comparison = found
        return _decision(component, key, percentage, fallback, comparison, snapshot.force_original, snapshot.epoch)
    row = (
        Rollout.objects.filter(component__plan__key=plan_key, component__name=component)
        .annotate(force_original=F("component__plan__force_original"), plan_epoch=F("component__plan__epoch"))
        .values_list("percentage", "fallback", "comparison", "force_original", "plan_epoch")
        .first()
    )
    if row is None:
        _not_found(plan_key, component)
    return _decision(component, key, *row)


def _decision(component, key, percentage, fallback, comparison, force_original, epoch) -> dict:
    return {
        "use_migrated": use_migrated(component, key, percentage, force_original=force_original),
        "component": component,
        "key": key,
        "bucket": bucket(component, key),
        "percentage": percentage,
        "force_original": force_original,
        "fallback": fallback,
        "comparison": comparison,
        "epoch": epoch,
    }


def _not_found(plan_key: str, component: str):
    plan = Plan.objects.filter(key=plan_key).first()
    if plan is None:
        raise NotFound(f"no plan {plan_key!r}")
    if not plan.components.filter(name=component).exists():
        raise NotFound(f"plan {plan_key} has no component {component!r}")
    raise NotFound(f"component {component} serves no traffic: every key goes to the original")
