"""Probes: each component's health URL and each target database, every few seconds.

Results are stored (ProbeResult) and published to the plans' dashboards. Health reads
the latest ones: a target counts as down when its last two probes failed (one lost
packet proves nothing), and as unknown when it has not been probed recently.
"""

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import connection
from django.utils import timezone

from controlplane import sql
from migrations_app import broadcast
from migrations_app.models import Component, Plan
from monitoring import targets
from monitoring.models import ProbeResult

TIMEOUT_SECONDS = 5
EXPECTED_STATUS = 200
CONSECUTIVE_FAILURES = 2
# Older than this, a probe says nothing about now (beat stopped, worker busy).
STALE_AFTER = timedelta(seconds=120)
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class UnresolvedReference(Exception):
    pass


def resolve(template: str) -> str:
    """`${NAME}` replaced by the environment variable NAME, resolved at probe time."""

    def value(match):
        name = match.group(1)
        if name not in os.environ:
            raise UnresolvedReference(f"{name} is not set in the environment")
        return os.environ[name]

    return ENV_REFERENCE.sub(value, template)


def probe_http(component: Component, now: datetime) -> ProbeResult:
    result = ProbeResult(kind=ProbeResult.Kind.HTTP, component=component, target=component.health_url, at=now, ok=False)
    try:
        url = resolve(component.health_url)
        started = time.perf_counter()
        response = httpx.get(url, timeout=TIMEOUT_SECONDS, follow_redirects=False)
        result.latency_ms = (time.perf_counter() - started) * 1000
        result.status_code = response.status_code
        result.ok = response.status_code == EXPECTED_STATUS
        if not result.ok:
            result.error = f"answered {response.status_code}, expected {EXPECTED_STATUS}"
    except UnresolvedReference as error:
        result.error = str(error)
    except httpx.HTTPError as error:
        result.error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return result


def probe_database(alias: str, now: datetime) -> ProbeResult:
    result = ProbeResult(kind=ProbeResult.Kind.DATABASE, target=alias, at=now, ok=False)
    try:
        with targets.connect(alias, timeout_seconds=TIMEOUT_SECONDS) as connection:
            started = time.perf_counter()
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            result.latency_ms = (time.perf_counter() - started) * 1000
            result.ok = True
    except Exception as error:  # any driver's error means the same: the database does not answer
        result.error = f"{type(error).__name__}: {error}".strip()
    return result


def run_probes(now: datetime | None = None) -> list[ProbeResult]:
    """Probe every health URL and every target database at once, store and publish.

    1. Probe in a small thread pool, so one hanging URL costs its timeout, not the round.
    2. Store all results in one insert.
    3. Publish each plan's results (databases go to every plan) after commit.
    """
    now = now or timezone.now()
    components = list(Component.objects.exclude(health_url="").select_related("plan"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        http = list(pool.map(lambda c: probe_http(c, now), components))
        databases = list(pool.map(lambda alias: probe_database(alias, now), settings.TARGET_DATABASES))
    ProbeResult.objects.bulk_create(http + databases)
    for plan_id in Plan.objects.values_list("pk", flat=True):
        mine = [r for r in http if r.component.plan_id == plan_id] + databases
        broadcast.publish(plan_id, broadcast.Event.PROBES_RECORDED, {"results": [payload(r) for r in mine]})
    return http + databases


def payload(result: ProbeResult) -> dict:
    return {
        "kind": result.kind,
        "component": result.component.name if result.component_id else None,
        "target": result.target,
        "ok": result.ok,
        "status_code": result.status_code,
        "latency_ms": result.latency_ms,
        "error": result.error,
        "at": result.at.isoformat(),
    }


@dataclass(frozen=True)
class ProbeStatus:
    healthy: bool | None  # None: nothing to probe, or no recent probe
    reason: str = ""
    warnings: list[str] = field(default_factory=list)


def status_from(results: list[ProbeResult], label: str, now: datetime) -> ProbeStatus:
    """A target's status from its latest probes, newest first (the health URL's or a
    database's, however they were read)."""
    recent = [r for r in results if now - r.at <= STALE_AFTER]
    if not recent:
        return ProbeStatus(None, warnings=[f"{label}: not probed in the last {STALE_AFTER.total_seconds():.0f} s"])
    if len(recent) >= CONSECUTIVE_FAILURES and not any(r.ok for r in recent[:CONSECUTIVE_FAILURES]):
        return ProbeStatus(False, reason=f"{label}: failed its last {CONSECUTIVE_FAILURES} probes ({recent[0].error})")
    return ProbeStatus(True)


def health_url_status(component: Component, now: datetime) -> ProbeStatus:
    if not component.health_url:
        return ProbeStatus(None)
    results = list(
        ProbeResult.objects.filter(component=component, kind=ProbeResult.Kind.HTTP, at__lte=now).order_by("-at")[
            :CONSECUTIVE_FAILURES
        ]
    )
    return health_url_status_from(component, results, now)


def health_url_status_from(component: Component, results: list[ProbeResult], now: datetime) -> ProbeStatus:
    """The health URL's status from its latest probes, newest first, however they were read
    (the plan overview reads every traffic component's at once)."""
    if not component.health_url:
        return ProbeStatus(None)
    return status_from(results, f"health URL {component.health_url}", now)


@dataclass(frozen=True)
class DatabaseStatus:
    healthy: bool
    reasons: list[str]
    warnings: list[str]


# The plan's databases (`targets.used_by`) beside their probes of the last STALE_AFTER, in
# one query: an older probe says nothing about now (`status_from` sets it aside), and a
# database with none is still listed, as not probed. SQL, for the outer join the ORM
# cannot say; it took a query for the names and one per database.
DATABASE_PROBES_SQL = """
SELECT used.name, probe.ok, probe.error, probe.at
FROM ({used}) used
LEFT JOIN {probe} probe ON probe.kind = %s AND probe.target = used.name AND probe.at >= %s AND probe.at <= %s
ORDER BY probe.at DESC, probe.id DESC
"""


def database_status(plan: Plan, now: datetime) -> DatabaseStatus:
    """The plan's databases: unhealthy when one failed its last probes. Not probed
    recently is a warning, not a failure: a stopped beat must not roll traffic back."""
    if not settings.TARGET_DATABASES:
        return DatabaseStatus(healthy=True, reasons=[], warnings=[])
    used, used_params = targets.used_by(plan)
    query = DATABASE_PROBES_SQL.format(used=used, probe=ProbeResult._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    found: dict[str, list[ProbeResult]] = {}
    for name, ok, error, at in sql.rows(
        query, [*used_params, ProbeResult.Kind.DATABASE, adapt(now - STALE_AFTER), adapt(now)]
    ):
        latest = found.setdefault(name, [])
        if at is not None and len(latest) < CONSECUTIVE_FAILURES:
            latest.append(
                ProbeResult(kind=ProbeResult.Kind.DATABASE, target=name, ok=bool(ok), error=error, at=sql.moment(at))
            )
    reasons, warnings = [], []
    for alias in sorted(found):
        status = status_from(found[alias], f"database {alias!r}", now)
        if status.healthy is False:
            reasons.append(status.reason)
        warnings += status.warnings
    return DatabaseStatus(healthy=not reasons, reasons=reasons, warnings=warnings)


def prune(before: datetime) -> int:
    return ProbeResult.objects.filter(at__lt=before).delete()[0]
