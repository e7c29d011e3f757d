"""Plotly figures, built here and drawn by Plotly.js in the page (live.js), with live points
appended in place (`Plotly.extendTraces`) as chart messages arrive on the page's socket.

Each figure is a plain dict (Plotly's JSON), embedded with `json_script`. A chart's element
id names it (`chart-error-rate-<component>`); a live point names the same id and the
traces it extends, in the order the figure built them.
"""

import json
from datetime import datetime, timedelta

import plotly.graph_objects as go

from monitoring import charts as series_of
from monitoring.buckets import BUCKET_SECONDS
from monitoring.verdict import MIGRATED, ORIGINAL

PROVIDERS = (ORIGINAL, MIGRATED)
COLOURS = {ORIGINAL: "#6b7280", MIGRATED: "#2563eb"}
HISTORY_SECONDS = 3600
# Rollout changes that mark the rollout chart, and the words of the mark.
MARKS = {
    "rollout.auto_rolled_back": "health gate rolled back",
    "rollout.emergency_rolled_back": "emergency rollback",
    "rollout.planned_rollback_started": "planned rollback",
    "rollout.percentage_set": "set by hand",
    "rollout.paused": "paused",
    "rollout.completed": "100%: completed",
}
PROMOTED = "phase.promoted"


def _layout(title: str, y_title: str, **extra) -> dict:
    return {
        "title": {"text": title, "font": {"size": 14}},
        "height": 260,
        "margin": {"l": 56, "r": 16, "t": 36, "b": 36},
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": -0.2},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        **extra,
    }


def _as_json(figure: go.Figure) -> dict:
    return json.loads(figure.to_json())


def _threshold(value, label: str) -> dict:
    return {
        "shapes": [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": value,
                "y1": value,
                "line": {"color": "#b91c1c", "dash": "dash", "width": 1.5},
            }
        ],
        "annotations": [
            {
                "xref": "paper",
                "x": 1,
                "y": value,
                "xanchor": "right",
                "yanchor": "bottom",
                "text": label,
                "showarrow": False,
                "font": {"color": "#b91c1c", "size": 11},
            }
        ],
    }


def health_figures(component, now: datetime) -> dict[str, dict]:
    """Error rate (%) and p95 latency (ms) per provider, one point per 10-second bucket over
    the last hour, the thresholds drawn; and the comparison mismatch rate (%)."""
    data = series_of.series(component, window_seconds=HISTORY_SECONDS, step_seconds=BUCKET_SECONDS, now=now)
    thresholds = component.rollout.health if hasattr(component, "rollout") else {}
    max_error = thresholds.get("max_error_rate")
    warn_p95 = thresholds.get("warn_p95_latency_ms")
    error_rate, p95 = go.Figure(), go.Figure()
    for provider in PROVIDERS:
        points = data["providers"][provider]
        x = [p["at"] for p in points]
        style = {"mode": "lines+markers", "marker": {"size": 3}, "line": {"color": COLOURS[provider]}}
        error_rate.add_trace(
            go.Scatter(x=x, y=[_pct(p["error_rate"]) for p in points], name=f"{provider} error rate", **style)
        )
        p95.add_trace(go.Scatter(x=x, y=[p["p95_latency_ms"] for p in points], name=f"{provider} p95", **style))
    threshold = _threshold(max_error * 100, f"rollback above {max_error * 100:g}%") if max_error is not None else {}
    error_rate.update_layout(**_layout("Error rate per provider", "%", **threshold))
    threshold = _threshold(warn_p95, f"warning above {warn_p95:g} ms") if warn_p95 is not None else {}
    p95.update_layout(**_layout("p95 latency per provider", "ms", **threshold))
    mismatch = go.Figure(
        go.Scatter(
            x=[p["at"] for p in data["mismatch_rate"]],
            y=[_pct(p["mismatch_rate"]) for p in data["mismatch_rate"]],
            name="mismatch rate",
            mode="lines+markers",
            marker={"size": 3},
            line={"color": "#7c3aed"},
        )
    )
    limit = thresholds.get("max_mismatch_rate")
    threshold = _threshold(limit * 100, f"limit {limit * 100:g}%") if limit is not None else {}
    mismatch.update_layout(**_layout("Comparison mismatch rate", "%", **threshold))
    name = component.name
    return {
        f"chart-error-rate-{name}": _as_json(error_rate),
        f"chart-p95-{name}": _as_json(p95),
        f"chart-mismatch-{name}": _as_json(mismatch),
    }


def health_points(component, now: datetime) -> list[dict]:
    """The last complete 10-second bucket of each health chart, for appending live."""
    at = now - timedelta(seconds=BUCKET_SECONDS)
    data = series_of.series(component, window_seconds=BUCKET_SECONDS, step_seconds=BUCKET_SECONDS, now=at)
    name, points = component.name, []
    by_provider = {p: {point["at"]: point for point in data["providers"][p]} for p in PROVIDERS}
    moments = sorted({at for points in by_provider.values() for at in points})
    for moment in moments:
        rows = [by_provider[p].get(moment) for p in PROVIDERS]
        traces = [i for i, row in enumerate(rows) if row is not None]
        points.append(
            {
                "chart": f"chart-error-rate-{name}",
                "x": [moment],
                "y": [[_pct(rows[i]["error_rate"])] for i in traces],
                "traces": traces,
            }
        )
        points.append(
            {
                "chart": f"chart-p95-{name}",
                "x": [moment],
                "y": [[rows[i]["p95_latency_ms"]] for i in traces],
                "traces": traces,
            }
        )
    for row in data["mismatch_rate"]:
        points.append(
            {"chart": f"chart-mismatch-{name}", "x": [row["at"]], "y": [[_pct(row["mismatch_rate"])]], "traces": [0]}
        )
    return points


def rollout_figure(chart_id: str, components, events, promotions, now: datetime) -> dict:
    """Rollout % over time, one trace per traffic component (as steps: a percentage holds
    until the next change), rollbacks and hand settings marked, promotions as lines.

    `events`: audit events of the components' rollouts, oldest first; `promotions`: the
    plan's phase promotions."""
    figure = go.Figure()
    annotations, shapes = [], []
    for component in components:
        mine = [e for e in events if e.component_id == component.pk and "percentage" in (e.after or {})]
        x = [e.at.isoformat() for e in mine]
        y = [e.after["percentage"] for e in mine]
        # The line runs to now at the current percentage; live points extend it from there.
        x.append(now.isoformat())
        y.append(component.rollout.percentage)
        figure.add_trace(go.Scatter(x=x, y=y, name=component.name, mode="lines+markers", line={"shape": "hv"}))
        for e in mine:
            if e.action in MARKS:
                annotations.append(
                    {
                        "x": e.at.isoformat(),
                        "y": e.after["percentage"],
                        "text": f"{component.name}: {MARKS[e.action]}",
                        "showarrow": True,
                        "arrowhead": 2,
                        "ax": 0,
                        "ay": -28,
                        "font": {"size": 10, "color": "#b91c1c" if "back" in e.action else "#374151"},
                    }
                )
    for promotion in promotions:
        at = promotion.at.isoformat()
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": at,
                "x1": at,
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dot"},
            }
        )
        annotations.append(
            {"x": at, "yref": "paper", "y": 1, "text": f"promoted: {promotion.target_label}", "showarrow": False}
        )
    figure.update_layout(
        **_layout("Traffic on the new implementation", "%", shapes=shapes, annotations=annotations[-40:]),
    )
    figure.update_yaxes(range=[0, 105])
    return {chart_id: _as_json(figure)}


def phases_figure(phases, now: datetime) -> dict:
    """Phases planned against actual: the plan's days laid end to end from the first start,
    beside when each phase really started and was promoted (or now, while it runs)."""
    started = [p.started_at for p in phases if p.started_at]
    origin = min(started) if started else now
    names, planned_base, planned_ms, actual_base, actual_ms, actual_names = [], [], [], [], [], []
    cursor = origin
    for phase in phases:
        names.append(phase.name)
        planned_base.append(cursor.isoformat())
        planned_ms.append(phase.days_max * 86_400_000)
        cursor += timedelta(days=phase.days_max)
        if phase.started_at:
            actual_names.append(phase.name)
            actual_base.append(phase.started_at.isoformat())
            actual_ms.append(((phase.promoted_at or now) - phase.started_at).total_seconds() * 1000)
    figure = go.Figure()
    figure.add_trace(
        go.Bar(y=names, x=planned_ms, base=planned_base, orientation="h", name="planned", marker={"color": "#cbd5e1"})
    )
    figure.add_trace(
        go.Bar(
            y=actual_names,
            x=actual_ms,
            base=actual_base,
            orientation="h",
            name="actual",
            marker={"color": "#2563eb"},
        )
    )
    figure.update_layout(**_layout("Phases: planned against actual", "", barmode="overlay"))
    figure.update_yaxes(autorange="reversed", rangemode=None)
    return {"chart-phases": _as_json(figure)}


def rollout_point(chart_id: str, trace: int, percentage: int, at: datetime) -> dict:
    return {"chart": chart_id, "x": [at.isoformat()], "y": [[percentage]], "traces": [trace]}


def _pct(rate):
    return None if rate is None else round(rate * 100, 3)
