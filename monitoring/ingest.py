"""Ingesting metric and comparison batches: all of a batch is written, or none of it.

A batch is parsed and shape-checked by `monitoring.batches`, then checked against the
database here (the plan and its component exist; durations are not negative; timestamps
are neither far in the future nor older than the retention), and then written in one
transaction: raw samples with COPY (a batched INSERT on SQLite), the rollup deltas with
one upsert, the ingestion counters last.
"""

import json
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from migrations_app.models import Component
from migrations_app.roles import Actor, Permission
from monitoring import rollups
from monitoring.batches import COMPARISON_BATCH, METRIC_BATCH, BatchRefused, item_error, parse, refuse_items
from monitoring.buckets import bucket_start
from monitoring.models import ComparisonMismatch, IngestCounter, MetricSample

# Clocks of the data plane and the control plane may differ a little; an hour ahead is a
# bug (seconds sent as milliseconds, a wrong time zone), not skew.
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_DIFF_BYTES = 16 * 1024
SAMPLE_COLUMNS = ("component_id", "operation", "provider", "duration_ms", "success", "error_message", "recorded_at")
SAMPLE_TYPES = ("int8", "text", "text", "float8", "bool", "text", "timestamptz")


def ingest_metrics(body: bytes, kind: str, *, actor: Actor, now: datetime | None = None) -> int:
    """Validate and write a metrics batch; returns how many samples were written.

    1. Parse and shape-check the body (413, 400, 422 with every bad item).
    2. Resolve each item's plan and component, check durations and timestamps (422).
    3. In one transaction: COPY the raw samples, upsert the rollup deltas, count.
    """
    actor.require(Permission.METRICS_WRITE, "report metrics")
    now = now or timezone.now()
    items, errors = _parsed(body, kind, METRIC_BATCH, IngestCounter.Kind.METRICS)
    total = len(items) + len({error["index"] for error in errors})
    try:
        rows = _sample_rows(items, _components(items), now, errors)
    except BatchRefused:
        count_refused(IngestCounter.Kind.METRICS, total)
        raise
    starts: dict[datetime, datetime] = {}  # most samples share a few timestamps (often just `now`)
    deltas = rollups.fold_metrics(
        (
            component_id,
            operation,
            provider,
            duration,
            success,
            starts.get(at) or starts.setdefault(at, bucket_start(at)),
        )
        for component_id, operation, provider, duration, success, _, at in rows
    )
    with transaction.atomic():
        _write_samples(rows)
        rollups.apply_metric_deltas(deltas)
        _count(IngestCounter.Kind.METRICS, IngestCounter.Outcome.ACCEPTED, len(rows))
    return len(rows)


def ingest_comparisons(body: bytes, kind: str, *, actor: Actor, now: datetime | None = None) -> int:
    """Validate and write a comparisons batch: rollup counts per bucket, and the latest
    mismatching diffs (ComparisonMismatch.KEEP_PER_COMPONENT per component)."""
    actor.require(Permission.METRICS_WRITE, "report comparisons")
    now = now or timezone.now()
    items, errors = _parsed(body, kind, COMPARISON_BATCH, IngestCounter.Kind.COMPARISONS)
    total = len(items) + len({error["index"] for error in errors})
    try:
        checked = _comparison_rows(items, _components(items), now, errors)
    except BatchRefused:
        count_refused(IngestCounter.Kind.COMPARISONS, total)
        raise
    deltas: dict[tuple, list] = {}
    mismatches: dict[int, list[ComparisonMismatch]] = {}
    for component_id, request_id, equivalent, diff, at in checked:
        delta = deltas.setdefault((component_id, bucket_start(at)), [0, 0])
        delta[0] += 1
        if not equivalent:
            delta[1] += 1
            mismatches.setdefault(component_id, []).append(
                ComparisonMismatch(component_id=component_id, request_id=request_id, diff=diff, received_at=now)
            )
    keep = ComparisonMismatch.KEEP_PER_COMPONENT
    with transaction.atomic():
        rollups.apply_comparison_deltas(deltas)
        for component_id, rows in sorted(mismatches.items()):
            ComparisonMismatch.objects.bulk_create(rows[-keep:])
            _trim_mismatches(component_id, keep)
        _count(IngestCounter.Kind.COMPARISONS, IngestCounter.Outcome.ACCEPTED, len(checked))
    return len(checked)


def _parsed(body: bytes, kind: str, adapter, counter_kind: str) -> tuple[list[tuple[int, dict]], list[dict]]:
    try:
        return parse(body, kind, adapter)
    except BatchRefused:
        count_refused(counter_kind, 0)
        raise


def _components(items: list[tuple[int, dict]]) -> dict[tuple[str, str], int | None]:
    """(plan key, component name) -> component id; None for an unknown plan, 0 for a plan
    without that component."""
    wanted = {(item["plan"], item["component"]) for _, item in items}
    plans = {plan for plan, _ in wanted}
    found = {
        (plan, name): pk
        for pk, plan, name in Component.objects.filter(plan__key__in=plans).values_list("pk", "plan__key", "name")
    }
    found_plans = {plan for plan, _ in found}
    return {key: found.get(key, 0 if key[0] in found_plans else None) for key in wanted}


def _locate(item: dict, index: int, components: dict, errors: list[dict]) -> int | None:
    component_id = components[(item["plan"], item["component"])]
    if component_id is None:
        errors.append(item_error(index, "plan", f"unknown plan {item['plan']!r}"))
        return None
    if component_id == 0:
        errors.append(item_error(index, "component", f"plan {item['plan']!r} has no component {item['component']!r}"))
        return None
    return component_id


def _recorded_at(item: dict, index: int, now: datetime, errors: list[dict]) -> datetime:
    at = item.get("recorded_at")
    if at is None:
        return now
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if at > now + FUTURE_TOLERANCE:
        ahead = (at - now).total_seconds()
        errors.append(
            item_error(
                index,
                "recorded_at",
                f"{at.isoformat()} is {ahead:.0f} s in the future; clocks may differ by at most "
                f"{FUTURE_TOLERANCE.total_seconds():.0f} s",
            )
        )
    elif at < now - timedelta(hours=settings.METRICS_RETENTION_HOURS):
        errors.append(
            item_error(
                index,
                "recorded_at",
                f"{at.isoformat()} is older than the metrics retention ({settings.METRICS_RETENTION_HOURS} h)",
            )
        )
    return at


def _refuse_if(errors: list[dict]) -> None:
    if errors:
        errors.sort(key=lambda error: (error["index"] is None, error["index"] or 0))
        raise refuse_items(errors)


def _sample_rows(items: list[tuple[int, dict]], components: dict, now: datetime, errors: list[dict]) -> list[tuple]:
    rows = []
    for index, item in items:
        component_id = _locate(item, index, components, errors)
        duration = item["duration_ms"]
        if duration < 0:
            errors.append(item_error(index, "duration_ms", f"must not be negative, got {duration}"))
        at = _recorded_at(item, index, now, errors)
        rows.append(
            (
                component_id,
                item["operation"],
                item["provider"],
                duration,
                item["success"],
                item.get("error_message") or "",
                at,
            )
        )
    _refuse_if(errors)
    return rows


def _comparison_rows(items: list[tuple[int, dict]], components: dict, now: datetime, errors: list[dict]) -> list[tuple]:
    rows = []
    for index, item in items:
        component_id = _locate(item, index, components, errors)
        diff = item.get("diff")
        if diff is not None:
            size = len(json.dumps(diff))
            if size > MAX_DIFF_BYTES:
                errors.append(item_error(index, "diff", f"is {size} bytes of JSON; at most {MAX_DIFF_BYTES}"))
        at = _recorded_at(item, index, now, errors)
        rows.append((component_id, item["request_id"], item["equivalent"], diff, at))
    _refuse_if(errors)
    return rows


def _write_samples(rows: list[tuple]) -> None:
    table = MetricSample._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The psycopg 3 cursor: COPY streams the rows in one go; the binary format with
            # the types declared skips text formatting and parsing (about twice as fast).
            with cursor.cursor.copy(f"COPY {table} ({', '.join(SAMPLE_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(SAMPLE_TYPES)
                for row in rows:
                    copy.write_row(row)
        else:
            adapt = connection.ops.adapt_datetimefield_value
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(SAMPLE_COLUMNS)}) VALUES ({', '.join(['%s'] * len(SAMPLE_COLUMNS))})",
                [(*row[:6], adapt(row[6])) for row in rows],
            )


def _trim_mismatches(component_id: int, keep: int) -> None:
    oldest_kept = list(
        ComparisonMismatch.objects.filter(component_id=component_id)
        .order_by("-id")
        .values_list("id", flat=True)[keep - 1 : keep]
    )
    if oldest_kept:
        ComparisonMismatch.objects.filter(component_id=component_id, id__lt=oldest_kept[0]).delete()


def _count(kind: str, outcome: str, items: int) -> None:
    table = IngestCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (kind, outcome, batches, items) VALUES (%s, %s, 1, %s) "
            f"ON CONFLICT (kind, outcome) DO UPDATE SET batches = {table}.batches + 1, "
            f"items = {table}.items + EXCLUDED.items",
            [kind, outcome, items],
        )


def count_refused(kind: str, items: int) -> None:
    """A refused batch is counted on its own: nothing else of it is written."""
    with transaction.atomic():
        _count(kind, IngestCounter.Outcome.REJECTED, items)
