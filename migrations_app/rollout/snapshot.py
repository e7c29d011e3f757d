"""The rollout snapshot the data plane follows, and the one-key decision for those that cannot.

The ETag is the plan's version, read from the plan row alone: its id, its epoch (bumped in
the same transaction as every change to a rollout or to force-original) and the digest of
the plan file as loaded (a reload that changes fallback or comparison changes it). So a
304 costs one indexed single-row query; a 200 adds one query for the rollouts. The version
is read before the rollouts: a change landing in between gives a newer body under an older
ETag, which the next poll replaces, never an older body under a newer ETag, which would stick.
"""

from django.db.models import F

from migrations_app.errors import NotFound
from migrations_app.models import Plan, Rollout
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


def decide_key(plan_key: str, component: str, key: str) -> dict:
    """Whether `key` of `component` goes to the new implementation, in one query."""
    row = (
        Rollout.objects.filter(component__plan__key=plan_key, component__name=component)
        .annotate(force_original=F("component__plan__force_original"), plan_epoch=F("component__plan__epoch"))
        .values_list("percentage", "fallback", "comparison", "force_original", "plan_epoch")
        .first()
    )
    if row is None:
        _not_found(plan_key, component)
    percentage, fallback, comparison, force_original, epoch = row
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
