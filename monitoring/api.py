"""Monitoring endpoints: ingestion, health, comparisons, charts, alerts, baseline,
assessment, report and the webhook delivery log."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from migrations_app.errors import NotFound
from migrations_app.models import Component, Plan
from migrations_app.roles import Permission
from monitoring import alerts, assessment, baseline, charts, comparisons, health, ingest, probes, report, report_csv
from monitoring.batches import COMPARISON_BATCH, METRIC_BATCH, BatchRefused, check_envelope
from monitoring.models import Alert, IngestCounter, ProbeResult, WebhookDelivery

router = Router(tags=["monitoring"])


def _plan(key: str) -> Plan:
    plan = Plan.objects.filter(key=key).first()
    if plan is None:
        raise NotFound(f"no plan {key!r}")
    return plan


def _component(plan_key: str, name: str) -> Component:
    component = Component.objects.select_related("plan").filter(plan__key=plan_key, name=name).first()
    if component is None:
        _plan(plan_key)
        raise NotFound(f"plan {plan_key!r} has no component {name!r}")
    return component


def _batch_body(adapter) -> dict:
    schema = adapter.json_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "application/x-ndjson": {"schema": {"type": "string", "description": "One item (JSON object) a line."}},
            },
        }
    }


class Accepted(Schema):
    accepted: int


class Refused(Schema):
    detail: list[dict] | str


def _ingest(request, service, kind: str):
    request.auth.require(Permission.METRICS_WRITE, f"report {kind}")
    limit = settings.METRICS_MAX_BODY_BYTES
    try:
        length = request.META.get("CONTENT_LENGTH")
        media = check_envelope(request.META.get("CONTENT_TYPE", ""), int(length) if length else None, limit)
        body = request.read(limit + 1)
        if len(body) > limit:
            raise BatchRefused(413, f"the body is over {limit} bytes; at most {limit} are taken per request")
    except BatchRefused as refused:
        ingest.count_refused(kind, 0)
        return JsonResponse({"detail": refused.detail}, status=refused.status)
    try:
        return {"accepted": service(body, media, actor=request.auth)}
    except BatchRefused as refused:
        return JsonResponse({"detail": refused.detail}, status=refused.status)


@router.post(
    "/metrics",
    response={200: Accepted, 400: Refused, 413: Refused, 415: Refused, 422: Refused},
    openapi_extra=_batch_body(METRIC_BATCH),
    summary="Report request metrics (JSON array or NDJSON, up to 10,000 items)",
)
def post_metrics(request):
    return _ingest(request, ingest.ingest_metrics, IngestCounter.Kind.METRICS)


@router.post(
    "/comparisons",
    response={200: Accepted, 400: Refused, 413: Refused, 415: Refused, 422: Refused},
    openapi_extra=_batch_body(COMPARISON_BATCH),
    summary="Report shadow comparison results (JSON array or NDJSON, up to 10,000 items)",
)
def post_comparisons(request):
    return _ingest(request, ingest.ingest_comparisons, IngestCounter.Kind.COMPARISONS)


class ProviderOut(Schema):
    provider: str
    samples: int
    errors: int
    error_rate: float
    avg_latency_ms: float | None
    p95_latency_ms: float | None
    healthy: bool | None
    reasons: list[str]


class HealthOut(Schema):
    component: str
    window_seconds: int
    providers: dict[str, ProviderOut]
    mismatch_rate: float | None
    comparisons: int
    database_healthy: bool
    probe_healthy: bool | None
    enough_samples: bool
    healthy: bool
    failing: bool
    reasons: list[str]
    warnings: list[str]
    thresholds: dict


WINDOW = Field(None, ge=10, le=7 * 86400, description="Seconds; the rollout's health window by default.")


class WindowQuery(Schema):
    window: int | None = WINDOW


@router.get("/plans/{plan_key}/components/{component}/health", response=HealthOut)
def component_health(request, plan_key: str, component: str, query: Query[WindowQuery]):
    request.auth.require(Permission.VIEW, "read health")
    verdict = health.evaluate(_component(plan_key, component), window_seconds=query.window)
    return {**verdict.figures(), "failing": verdict.failing}


@router.get("/plans/{plan_key}/components/{component}/comparisons")
def component_comparisons(request, plan_key: str, component: str, query: Query[WindowQuery]):
    request.auth.require(Permission.VIEW, "read comparisons")
    return comparisons.summary(_component(plan_key, component), window_seconds=query.window)


class SeriesQuery(Schema):
    window: int = Field(3600, ge=10, le=7 * 86400)
    step: int = Field(60, ge=10, le=86400)


@router.get("/plans/{plan_key}/components/{component}/series")
def component_series(request, plan_key: str, component: str, query: Query[SeriesQuery]):
    """Chart points per provider (error rate, average and p95 latency) and mismatch rate."""
    request.auth.require(Permission.VIEW, "read charts")
    return charts.series(_component(plan_key, component), window_seconds=query.window, step_seconds=query.step)


class AlertsQuery(Schema):
    state: str = Field("open", pattern="^(open|all)$", description="open (unresolved) or all (latest 200)")


@router.get("/plans/{plan_key}/alerts")
def list_alerts(request, plan_key: str, query: Query[AlertsQuery]):
    request.auth.require(Permission.VIEW, "read alerts")
    rows = Alert.objects.filter(plan=_plan(plan_key))
    if query.state == "open":
        rows = rows.filter(resolved_at__isnull=True)
    return [alerts.payload(alert) for alert in rows[:200]]


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge_alert(request, alert_id: int):
    alert = Alert.objects.select_related("plan").filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alerts.payload(alerts.acknowledge(alert, actor=request.auth))


@router.get("/plans/{plan_key}/probes")
def latest_probes(request, plan_key: str):
    """The latest probe of each of the plan's health URLs, and of each target database."""
    request.auth.require(Permission.VIEW, "read probes")
    plan = _plan(plan_key)
    latest = []
    for component in plan.components.exclude(health_url=""):
        latest += list(ProbeResult.objects.filter(component=component, kind=ProbeResult.Kind.HTTP)[:1])
    for alias in settings.TARGET_DATABASES:
        latest += list(ProbeResult.objects.filter(kind=ProbeResult.Kind.DATABASE, target=alias)[:1])
    return [probes.payload(result) for result in latest]


@router.get("/plans/{plan_key}/webhooks")
def webhook_log(request, plan_key: str):
    """The latest 100 webhook deliveries of the plan: what was sent, when, how it went."""
    request.auth.require(Permission.VIEW, "read the webhook delivery log")
    return [
        {
            "id": d.pk,
            "kind": d.kind,
            "text": d.text,
            "state": d.state,
            "attempts": d.attempts,
            "target_host": d.target_host,
            "last_status_code": d.last_status_code,
            "last_error": d.last_error,
            "created_at": d.created_at.isoformat(),
            "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
            "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
        }
        for d in WebhookDelivery.objects.filter(plan=_plan(plan_key))[:100]
    ]


def _baseline_out(row) -> dict:
    return {
        "id": row.pk,
        "captured_at": row.captured_at.isoformat(),
        "captured_by": row.captured_by_name,
        "window_seconds": row.window_seconds,
        "reason": row.reason,
        "entries": [
            {
                "component": e.component.name,
                "operation": e.operation,
                "samples": e.samples,
                "error_rate": e.error_rate,
                "avg_latency_ms": e.avg_latency_ms,
                "p95_latency_ms": e.p95_latency_ms,
                "throughput_per_s": e.throughput_per_s,
            }
            for e in row.entries.select_related("component")
        ],
        "assessments": [_assessment_out(a) for a in row.assessments.all()],
    }


def _assessment_out(row) -> dict:
    ran_at = row.ran_at.isoformat()
    return {"id": row.pk, "database": row.database, "vendor": row.vendor, "ran_at": ran_at, **row.result}


@router.get("/plans/{plan_key}/baseline")
def get_baseline(request, plan_key: str):
    request.auth.require(Permission.VIEW, "read the baseline")
    row = baseline.latest(_plan(plan_key))
    if row is None:
        raise NotFound(f"plan {plan_key!r} has no baseline yet: capture one (POST to this URL)")
    return _baseline_out(row)


class CaptureIn(Schema):
    window_seconds: int | None = Field(None, ge=60, le=7 * 86400)
    reason: str = ""


@router.post("/plans/{plan_key}/baseline", response={201: dict})
def capture_baseline(request, plan_key: str, payload: CaptureIn):
    row = baseline.capture(_plan(plan_key), request.auth, window_seconds=payload.window_seconds, reason=payload.reason)
    return Status(201, _baseline_out(row))


@router.get("/plans/{plan_key}/assessment")
def get_assessment(request, plan_key: str):
    request.auth.require(Permission.VIEW, "read the assessment")
    return [_assessment_out(row) for row in assessment.latest(_plan(plan_key))]


class AssessIn(Schema):
    database: str | None = None


@router.post("/plans/{plan_key}/assessment", response={201: list[dict]})
def run_assessment(request, plan_key: str, payload: AssessIn):
    rows = assessment.run(_plan(plan_key), request.auth, database=payload.database)
    return Status(201, [_assessment_out(row) for row in rows])


class ReportQuery(Schema):
    window: int | None = Field(None, ge=60, le=30 * 86400, description="Seconds; the baseline's window by default.")


@router.get("/plans/{plan_key}/report")
def get_report(request, plan_key: str, query: Query[ReportQuery]):
    request.auth.require(Permission.VIEW, "read the report")
    return report.build_report(_plan(plan_key), window_seconds=query.window)


@router.get("/plans/{plan_key}/report.csv")
def get_report_csv(request, plan_key: str, query: Query[ReportQuery]):
    request.auth.require(Permission.VIEW, "read the report")
    text = report_csv.to_csv(report.build_report(_plan(plan_key), window_seconds=query.window))
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{plan_key}-report.csv"'
    return response
