"""`/metrics`: the control plane's own state in Prometheus' text format.

Rollout percentage and state per component, phase states, force-original, open alerts,
ingestion counts, the latest probes and the webhook delivery log.
"""

from collections import Counter

from migrations_app.models import Component, Phase, Plan, Rollout
from migrations_app.states import PhaseState, RolloutState
from monitoring.models import Alert, IngestCounter, ProbeResult, WebhookDelivery


def _escape(value) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _line(name: str, labels: dict, value) -> str:
    inner = ",".join(f'{key}="{_escape(v)}"' for key, v in labels.items())
    return f"{name}{{{inner}}} {value}" if inner else f"{name} {value}"


class Exposition:
    def __init__(self):
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        self.lines.extend(_line(name, labels, value) for labels, value in samples)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _latest_probes():
    seen, latest = set(), []
    for result in ProbeResult.objects.select_related("component__plan").order_by("-at", "-id")[:2000]:
        key = (result.kind, result.component_id, result.target)
        if key not in seen:
            seen.add(key)
            latest.append(result)
    return latest


def render() -> str:
    out = Exposition()
    rollouts = list(
        Rollout.objects.select_related("component__plan").order_by("component__plan__key", "component__position")
    )
    out.family(
        "switchyard_rollout_percentage",
        "gauge",
        "Share of a component's requests routed to the migrated implementation.",
        ((({"plan": r.component.plan.key, "component": r.component.name}), r.percentage) for r in rollouts),
    )
    out.family(
        "switchyard_rollout_state",
        "gauge",
        "1 for the rollout's current state.",
        (
            ({"plan": r.component.plan.key, "component": r.component.name, "state": state}, int(r.state == state))
            for r in rollouts
            for state in RolloutState.values
        ),
    )
    phases = list(Phase.objects.select_related("plan").order_by("plan__key", "position"))
    out.family(
        "switchyard_phase_state",
        "gauge",
        "1 for the phase's current state.",
        (
            ({"plan": p.plan.key, "phase": p.key, "state": state}, int(p.state == state))
            for p in phases
            for state in PhaseState.values
        ),
    )
    components = Counter(Component.objects.values_list("plan__key", "state"))
    out.family(
        "switchyard_components",
        "gauge",
        "Components per plan and state.",
        (({"plan": plan, "state": state}, count) for (plan, state), count in sorted(components.items())),
    )
    plans = list(Plan.objects.order_by("key"))
    out.family(
        "switchyard_force_original",
        "gauge",
        "1 while the plan's kill switch sends every request to the original.",
        (({"plan": p.key}, int(p.force_original)) for p in plans),
    )
    open_alerts = Counter(Alert.objects.filter(resolved_at__isnull=True).values_list("plan__key", "severity"))
    out.family(
        "switchyard_alerts_open",
        "gauge",
        "Open (unresolved) alerts.",
        (
            ({"plan": p.key, "severity": severity}, open_alerts.get((p.key, severity), 0))
            for p in plans
            for severity in Alert.Severity.values
        ),
    )
    counters = {(c.kind, c.outcome): c for c in IngestCounter.objects.all()}
    keys = [(k, o) for k in IngestCounter.Kind.values for o in IngestCounter.Outcome.values]
    out.family(
        "switchyard_ingest_batches_total",
        "counter",
        "Batches taken (accepted) or refused (rejected) by the ingestion endpoints.",
        (({"kind": k, "outcome": o}, counters[(k, o)].batches if (k, o) in counters else 0) for k, o in keys),
    )
    out.family(
        "switchyard_ingest_items_total",
        "counter",
        "Samples or comparisons in those batches.",
        (({"kind": k, "outcome": o}, counters[(k, o)].items if (k, o) in counters else 0) for k, o in keys),
    )
    probes = _latest_probes()
    out.family(
        "switchyard_probe_up",
        "gauge",
        "1 when the latest probe of a health URL or database succeeded.",
        (
            (
                {
                    "kind": r.kind,
                    "plan": r.component.plan.key if r.component_id else "",
                    "component": r.component.name if r.component_id else "",
                    "target": r.target,
                },
                int(r.ok),
            )
            for r in probes
        ),
    )
    deliveries = Counter(WebhookDelivery.objects.values_list("state", flat=True))
    out.family(
        "switchyard_webhook_deliveries",
        "gauge",
        "Webhook deliveries by state.",
        (({"state": state}, deliveries.get(state, 0)) for state in WebhookDelivery.State.values),
    )
    return out.text()
