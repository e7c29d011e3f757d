"""The plan overview: phases, readiness checklist, components, traffic, alerts, approvals,
latest audit events. Its query count is fixed: nothing here queries per component."""

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import cached_property
from types import SimpleNamespace

from django.db.models import Count

from controlplane import sql
from migrations_app import access, faults, promotion
from migrations_app.broadcast import Event
from migrations_app.models import Approval, AuditEvent, Component, Phase, Run, Step, StepAttempt
from migrations_app.states import ComponentState, PhaseState, RolloutState
from migrations_app.timescale import scaled
from migrations_app.windows import rollback_window
from monitoring.alerts import open_alerts
from monitoring.verdict import HealthVerdict

from . import charts, health
from .base import PlanPage, merged

# The rollout chart reads this many of the newest rollout changes (a long rollout's history
# stays in the audit log; the chart shows its recent part).
CHART_EVENTS = 2000

A = StepAttempt


def duration_text(value: timedelta | None) -> str:
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (24 * 60)} d {minutes // 60 % 24} h"


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    running: bool
    elapsed: timedelta | None
    estimate: timedelta | None

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def elapsed_text(self) -> str:
        return duration_text(self.elapsed)

    @property
    def estimate_text(self) -> str:
        return duration_text(self.estimate)

    @property
    def over_estimate(self) -> bool:
        return bool(self.elapsed and self.estimate and self.elapsed > self.estimate)


def estimate_of(component) -> timedelta | None:
    return timedelta(minutes=component.estimated_minutes) if component.estimated_minutes else None


def progress_of(component, latest: list[StepAttempt], now: datetime) -> Progress:
    """Steps done: steps whose latest attempt is a completed forward one (a reversed step is
    not done). Elapsed: from the first to the last of the latest attempts of the newest run.
    The component page counts this way; the overview sums the same in SQL
    (`progress_in_newest_runs`), and a test holds the two equal."""
    estimate = estimate_of(component)
    done = sum(1 for a in latest if a.direction == A.Direction.FORWARD and a.status == A.Status.COMPLETED)
    running = any(a.status == A.Status.STARTED for a in latest)
    newest_run = max(latest, key=lambda a: (a.started_at, a.id)).run_id if latest else None
    of_run = [a for a in latest if a.run_id == newest_run]
    elapsed = None
    if of_run:
        start = min(a.started_at for a in of_run)
        end = now if running else max((a.finished_at or a.started_at) for a in of_run)
        elapsed = end - start
    return Progress(done=done, total=component.step_count, running=running, elapsed=elapsed, estimate=estimate)


@dataclass(frozen=True)
class TrafficCard:
    component: Component
    rollout: object
    next_step: int | None
    next_needs_approval: bool
    next_due: datetime | None
    finish_earliest: datetime | None
    gates: dict
    health: HealthVerdict | None
    interval_seconds: int

    @cached_property
    def thresholds(self) -> dict:
        return self.health.thresholds if self.health else (self.rollout.health or {})

    @cached_property
    def limits(self) -> dict:
        """The thresholds as the health table's headings show them."""
        thresholds = self.thresholds
        return {
            "error_rate": _number(thresholds.get("max_error_rate"), 100, "%"),
            "avg_latency": _number(thresholds.get("max_avg_latency_ms"), 1, " ms"),
            "p95_latency": _number(thresholds.get("warn_p95_latency_ms"), 1, " ms"),
        }

    @cached_property
    def providers(self) -> list:
        """Each provider's figures beside the thresholds they are judged against, as shown."""
        if self.health is None:
            return []
        thresholds = self.thresholds
        rows = []
        for p in self.health.providers.values():
            error_over = bool(p.samples and p.error_rate > thresholds.get("max_error_rate", 1))
            avg_over = bool(p.avg_latency_ms and p.avg_latency_ms > thresholds.get("max_avg_latency_ms", 1e12))
            p95_over = bool(p.p95_latency_ms and p.p95_latency_ms > thresholds.get("warn_p95_latency_ms", 1e12))
            rows.append(
                {
                    "provider": p.provider,
                    "samples": p.samples,
                    "error_rate": (f"{p.error_rate * 100:.1f}%" if p.samples else "—") + (" ✖" if error_over else ""),
                    "error_over": error_over,
                    "avg_latency": _number(p.avg_latency_ms, 1, " ms") + (" ✖" if avg_over else ""),
                    "avg_over": avg_over,
                    "p95_latency": _number(p.p95_latency_ms, 1, " ms") + (" ⚠" if p95_over else ""),
                    "p95_over": p95_over,
                }
            )
        return rows


def _number(value: float | None, scale: float, unit: str) -> str:
    """A figure rounded to a whole number with its unit, or a dash when there is none."""
    return "—" if value is None else f"{value * scale:.0f}{unit}"


def traffic_card(plan, component, actor, now: datetime, health: HealthVerdict | None) -> TrafficCard:
    rollout = component.rollout
    ahead = [s for s in rollout.steps if s > rollout.percentage]
    next_step = ahead[0] if ahead else None
    due = finish = None
    # The controller's own clock (reconcile.view_of): the interval as applied (timescale), from
    # the later of the last move and the last state change.
    interval = scaled(rollout.interval_seconds)
    if rollout.state == RolloutState.PROGRESSING and next_step is not None:
        moments = [m for m in (rollout.percentage_changed_at, rollout.state_changed_at) if m is not None]
        since = max(moments) if moments else now
        due = since + timedelta(seconds=interval)
        finish = due + timedelta(seconds=interval * (len(ahead) - 1))
    return TrafficCard(
        component=component,
        rollout=rollout,
        next_step=next_step,
        next_needs_approval=next_step in (rollout.approval_at or []),
        next_due=due,
        finish_earliest=finish,
        gates=access.rollout_gates(actor, plan, rollout, now=now),
        health=health,
        interval_seconds=interval,
    )


# Per component of the plan: its number of steps, and where its newest run (the run of its
# newest attempt, found on the (component, -started_at) index) left them, over the latest
# attempt of each step (a run that fails reverses the steps it did, so a step can have
# several attempts in one run): steps done, whether one is running, the first start and the
# last end. SQL, for what the ORM cannot say in one query (the latest per step, then the
# sums), and because building the two counts as annotations of the component query cost
# more than running them. The attempts are found by run: a component filter beside it
# makes PostgreSQL also read the component index, which holds every attempt the components
# ever had (300,000 rows for 100,000 runs).
PROGRESS_SQL = """
WITH newest AS (
    SELECT component.id AS component_id,
           (SELECT COUNT(*) FROM {step} step WHERE step.component_id = component.id) AS steps,
           (SELECT attempt.run_id FROM {attempt} attempt WHERE attempt.component_id = component.id
            ORDER BY attempt.started_at DESC LIMIT 1) AS run_id
    FROM {component} component
    WHERE component.plan_id = %s
)
SELECT newest.component_id, newest.steps,
       SUM(CASE WHEN latest.direction = %s AND latest.status = %s THEN 1 ELSE 0 END),
       MAX(CASE WHEN latest.status = %s THEN 1 ELSE 0 END),
       MIN(latest.started_at),
       MAX(COALESCE(latest.finished_at, latest.started_at))
FROM newest LEFT JOIN (
    SELECT component_id, run_id, direction, status, started_at, finished_at,
           ROW_NUMBER() OVER (PARTITION BY component_id, run_id, step_id ORDER BY started_at DESC, id DESC) AS nth
    FROM {attempt}
    WHERE run_id IN (SELECT run_id FROM newest)
) latest ON latest.component_id = newest.component_id AND latest.run_id = newest.run_id AND latest.nth = 1
GROUP BY newest.component_id, newest.steps
"""


def progress_in_newest_runs(plan, components, now: datetime) -> dict[int, Progress]:
    """Each component's progress in its newest run, as `progress_of` counts it from the
    attempts: one query, a row per component. A run retries, migrates or reverses the
    component as a whole, so its newest run says where each step stands."""
    query = PROGRESS_SQL.format(step=Step._meta.db_table, attempt=A._meta.db_table, component=Component._meta.db_table)
    found = sql.rows(query, [plan.pk, A.Direction.FORWARD, A.Status.COMPLETED, A.Status.STARTED])
    by_pk = {c.pk: c for c in components}
    progress = {}
    for component_id, steps, done, running, first, last in found:
        component, running = by_pk.get(component_id), bool(running)
        if component is None:
            continue  # added to the plan after the components were read
        elapsed = None if first is None else (now if running else sql.moment(last)) - sql.moment(first)
        progress[component_id] = Progress(done or 0, steps, running, elapsed, estimate_of(component))
    return progress


class OverviewPage(PlanPage):
    view = "overview"
    template = "migrations_app/overview.html"
    regions = {
        **PlanPage.regions,
        "phases": "migrations_app/regions/phases.html",
        "checklist": "migrations_app/regions/checklist.html",
        "approvals": "migrations_app/regions/approvals.html",
        "alerts": "migrations_app/regions/alerts.html",
        "traffic": "migrations_app/regions/traffic.html",
        "components": "migrations_app/regions/components.html",
        "charts": "migrations_app/regions/charts.html",
        "audit-latest": "migrations_app/regions/audit_latest.html",
    }
    # The charts region is drawn once and then only extended (chart_points): a redraw on
    # every event would lose the reader's zoom and hover.
    refresh = merged(
        PlanPage.refresh,
        {
            Event.PHASE_CHANGED: ("phases", "checklist", "components", "approvals", "traffic"),
            Event.CHECKLIST_CHANGED: ("checklist", "phases"),
            Event.COMPONENT_CHANGED: ("components", "phases", "traffic"),
            Event.ROLLOUT_CHANGED: ("traffic", "phases", "components"),
            Event.RUN_CHANGED: ("phases", "components"),
            Event.STEP_STARTED: ("components",),
            Event.STEP_FINISHED: ("components",),
            Event.HEALTH_CHANGED: ("traffic",),
            Event.PROBES_RECORDED: ("traffic",),
            Event.ALERT_CHANGED: ("alerts", "phases"),
            Event.APPROVAL_CHANGED: ("approvals", "phases", "traffic"),
            Event.AUDIT_RECORDED: ("audit-latest",),
        },
    )

    # --- data (each a fixed number of queries) ---------------------------------------------

    @cached_property
    def components(self) -> list[Component]:
        components = list(Component.objects.filter(plan=self.plan).select_related("rollout").order_by("position"))
        # Phases and dependencies stay within a plan: matched to the instances in hand (a
        # join or a prefetch would build a second instance per component).
        phases = {phase.pk: phase for phase in self.plan_phases}
        by_pk = {c.pk: c for c in components}
        depends_on = defaultdict(list)
        pairs = Component.depends_on.through.objects.filter(from_component__plan=self.plan)
        pairs = pairs.values_list("from_component_id", "to_component_id")
        for source, target in sorted(pairs, key=lambda pair: by_pk[pair[1]].position):
            depends_on[source].append(by_pk[target].name)
        for c in components:
            c.phase = phases[c.phase_id]
            c.depends_on_text = ", ".join(depends_on[c.pk]) or "—"
        progress = progress_in_newest_runs(self.plan, components, self.now)
        traffic = [c for c in components if c.traffic]
        for c in traffic:
            c.rollout.component = c  # the rules read the component (and its phase) from the rollout
        verdicts = health.verdicts(self.plan, traffic, self.now)
        for c in components:
            c.progress = progress.get(c.pk) or Progress(0, 0, False, None, estimate_of(c))  # removed meanwhile
            c.card = traffic_card(self.plan, c, self.actor, self.now, verdicts.get(c.pk)) if c.traffic else None
        return components

    @cached_property
    def active_runs(self) -> dict[int, Run]:
        runs = Run.objects.filter(plan=self.plan, state__in=Run.ACTIVE_STATES).only(
            "pk", "phase_id", "state", "kind", "stop"
        )
        return {run.phase_id: run for run in runs}

    @cached_property
    def pending_approvals(self) -> list[Approval]:
        # The regions show each one's own words (summary, counts, times) and link to its
        # page; a join to its phase or rollout would cost more than the rest of the query.
        return list(
            Approval.objects.filter(plan=self.plan, state=Approval.State.PENDING)
            .annotate(vote_count=Count("votes"))
            .order_by("requested_at")
        )

    @cached_property
    def pending_clear(self) -> Approval | None:
        return next((a for a in self.pending_approvals if a.kind == Approval.Kind.CLEAR_FORCE_ORIGINAL), None)

    @cached_property
    def checklist(self):
        return list(self.plan.checklist.select_related("checked_by").order_by("position"))

    @cached_property
    def checklist_done(self) -> bool:
        return all(item.is_checked for item in self.checklist)

    @cached_property
    def plan_phases(self) -> list[Phase]:
        phases = list(self.plan.phases.order_by("position"))
        for phase in phases:
            phase.plan = self.plan
        return phases

    @cached_property
    def phases(self):
        phases = self.plan_phases
        by_phase = defaultdict(list)
        for c in self.components:
            by_phase[c.phase_id].append(c)
        promotion_requests = {a.phase_id: a for a in self.pending_approvals if a.kind == Approval.Kind.PHASE_PROMOTION}
        previous = None
        for phase in phases:
            members = by_phase[phase.pk]
            phase.members = members
            phase.migrated = sum(1 for c in members if c.state == ComponentState.COMPLETED)
            phase.active_run = self.active_runs.get(phase.pk)
            phase.pending_promotion = promotion_requests.get(phase.pk)
            phase.window = rollback_window(phase.promoted_at, phase.rollback_window_hours, self.now)
            # The promotion's own gates, read only while they can matter (a few queries per
            # phase in progress, never per component).
            phase.gates = (
                promotion.check_gates(phase)
                if phase.state in (PhaseState.IN_PROGRESS, PhaseState.AWAITING_APPROVAL)
                else []
            )
            phase.start_gate = access.start_phase_gate(
                self.actor,
                phase,
                previous,
                checklist_items=self.checklist,
                active_run=phase.active_run,
                unmigrated=len(members) - phase.migrated,
            )
            phase.promote_gate = access.request_promotion_gate(self.actor, phase, phase.gates)
            phase.cancel_gate = access.cancel_gate(self.actor, phase.active_run) if phase.active_run else None
            previous = phase
        return phases

    @cached_property
    def first_phase(self):
        return self.phases[0] if self.phases else None

    @cached_property
    def checklist_gate(self):
        return access.checklist_gate(self.actor, self.first_phase)

    @cached_property
    def traffic(self) -> list[TrafficCard]:
        return [c.card for c in self.components if c.card is not None]

    @cached_property
    def alerts(self):
        """Monitoring's open alerts, each with its Acknowledge gate."""
        return [
            SimpleNamespace(**asdict(alert), gate=access.acknowledge_gate(self.actor, alert))
            for alert in open_alerts(self.plan)
        ]

    @cached_property
    def latest_audit(self) -> list[AuditEvent]:
        return list(
            AuditEvent.objects.filter(plan=self.plan)
            .only("at", "actor_name", "action", "target_label", "reason")
            .order_by("-at", "-pk")[:10]
        )

    @property
    def simulator(self) -> bool:
        return bool(faults.simulator_url())

    @cached_property
    def simulator_gate(self):
        return access.simulator_gate(self.actor)

    @cached_property
    def fault_names(self):
        return [*faults.RATES, *faults.LATENCIES, "health"]

    # --- charts ----------------------------------------------------------------------------

    @cached_property
    def traffic_components(self) -> list[Component]:
        return [c for c in self.components if c.traffic]

    @cached_property
    def figures(self) -> dict:
        components = self.traffic_components
        figures = {}
        if components:
            events = list(
                AuditEvent.objects.filter(plan=self.plan, target_type="rollout")
                .only("at", "action", "component_id", "after")
                .order_by("-at", "-pk")[:CHART_EVENTS]
            )[::-1]
            promotions = []
            if any(phase.promoted_at for phase in self.plan_phases):  # set by a promotion, never cleared
                promotions = list(
                    AuditEvent.objects.filter(plan=self.plan, action=charts.PROMOTED)
                    .only("at", "target_label")
                    .order_by("at")
                )
            figures = charts.rollout_figure("chart-rollout", components, events, promotions, self.now)
        return figures | charts.phases_figure(self.phases, self.now)

    def chart_points(self, event: str, payload: dict) -> list[dict]:
        """Points to append live: a rollout's new percentage on the traffic chart."""
        if event != Event.ROLLOUT_CHANGED or "percentage" not in payload:
            return []
        names = list(
            Component.objects.filter(plan=self.plan, traffic=True).order_by("position").values_list("name", flat=True)
        )
        if payload.get("component") not in names:
            return []
        trace = names.index(payload["component"])
        return [charts.rollout_point("chart-rollout", trace, payload["percentage"], self.now)]
