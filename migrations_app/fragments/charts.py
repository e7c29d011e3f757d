"""Plotly figures, built here and drawn by Plotly.js in the page (live.js), with live points
appended in place (`Plotly.extendTraces`) as chart messages arrive on the page's socket.

Each figure is a plain dict in Plotly's figure format (`{"data": [...], "layout": {...}}`),
embedded with `json_script`; built as dicts rather than `plotly.graph_objects`, whose
validation would cost more than the rest of the overview (the tests validate them with
it). A chart's element id names it (`chart-error-rate-<component>`); a live point names the
same id and the traces it extends, in the order the figure built them.
"""

from datetime import datetime, timedelta

from monitoring import charts as series_of
from monitoring.buckets import BUCKET_SECONDS
from monitoring.verdict import MIGRATED, ORIGINAL

PROVIDERS = (ORIGINAL, MIGRATED)
COLOURS = {ORIGINAL: "#6b7280", MIGRATED: "#2563eb"}
HISTORY_SECONDS = 3600
# Labels of marks close in time would print over each other: each mark's label stands on
# one of this many rows, in turn by time, so neighbours never share a row.
LABEL_ROWS = 3
LABEL_ROW_PX = 18
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


def _scatter(x, y, name: str, **style) -> dict:
    return {"type": "scatter", "x": x, "y": y, "name": name, "mode": "lines+markers", "marker": {"size": 3}, **style}


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
    error_rate, p95 = [], []
    for provider in PROVIDERS:
        points = data["providers"][provider]
        x = [p["at"] for p in points]
        line = {"line": {"color": COLOURS[provider]}}
        error_rate.append(_scatter(x, [_pct(p["error_rate"]) for p in points], f"{provider} error rate", **line))
        p95.append(_scatter(x, [p["p95_latency_ms"] for p in points], f"{provider} p95", **line))
    mismatch = [
        _scatter(
            [p["at"] for p in data["mismatch_rate"]],
            [_pct(p["mismatch_rate"]) for p in data["mismatch_rate"]],
            "mismatch rate",
            line={"color": "#7c3aed"},
        )
    ]
    limit = thresholds.get("max_mismatch_rate")
    name = component.name
    return {
        f"chart-error-rate-{name}": {
            "data": error_rate,
            "layout": _layout(
                "Error rate per provider",
                "%",
                **(
                    _threshold(max_error * 100, f"rollback above {max_error * 100:g}%") if max_error is not None else {}
                ),
            ),
        },
        f"chart-p95-{name}": {
            "data": p95,
            "layout": _layout(
                "p95 latency per provider",
                "ms",
                **(_threshold(warn_p95, f"warning above {warn_p95:g} ms") if warn_p95 is not None else {}),
            ),
        },
        f"chart-mismatch-{name}": {
            "data": mismatch,
            "layout": _layout(
                "Comparison mismatch rate",
                "%",
                **(_threshold(limit * 100, f"limit {limit * 100:g}%") if limit is not None else {}),
            ),
        },
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
    traces, annotations, shapes = [], [], []
    for component in components:
        mine = [e for e in events if e.component_id == component.pk and "percentage" in (e.after or {})]
        x = [e.at.isoformat() for e in mine]
        y = [e.after["percentage"] for e in mine]
        # The line runs to now at the current percentage; live points extend it from there.
        x.append(now.isoformat())
        y.append(component.rollout.percentage)
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": y,
                "name": component.name,
                "mode": "lines+markers",
                "line": {"shape": "hv"},
            }
        )
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
                        "font": {"size": 10, "color": "#b91c1c" if "back" in e.action else "#374151"},
                    }
                )
    annotations.sort(key=lambda mark: mark["x"])
    for row, mark in enumerate(annotations):
        mark["ay"] = -28 - LABEL_ROW_PX * (row % LABEL_ROWS)
    for row, promotion in enumerate(promotions):
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
            {
                "x": at,
                "yref": "paper",
                "y": 1,
                "text": f"promoted: {promotion.target_label}",
                "showarrow": False,
                "xanchor": "left",  # from just right of its line
                "xshift": 3,
                "yshift": -LABEL_ROW_PX * (row % LABEL_ROWS),
            }
        )
    layout = _layout("Traffic on the new implementation", "%", shapes=shapes, annotations=annotations[-40:])
    layout["yaxis"]["range"] = [0, 105]
    return {chart_id: {"data": traces, "layout": layout}}


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
    planned = {
        "type": "bar",
        "y": names,
        "x": planned_ms,
        "base": planned_base,
        "orientation": "h",
        "name": "planned",
        "marker": {"color": "#cbd5e1"},
    }
    actual = {
        "type": "bar",
        "y": actual_names,
        "x": actual_ms,
        "base": actual_base,
        "orientation": "h",
        "name": "actual",
        "marker": {"color": "#2563eb"},
    }
    layout = _layout("Phases: planned against actual", "", barmode="overlay")
    # The phases' names label the bars: the margin grows to fit the longest of them.
    layout["yaxis"] = {"autorange": "reversed", "automargin": True}
    return {"chart-phases": {"data": [planned, actual], "layout": layout}}


def rollout_point(chart_id: str, trace: int, percentage: int, at: datetime) -> dict:
    return {"chart": chart_id, "x": [at.isoformat()], "y": [[percentage]], "traces": [trace]}


def _pct(rate):
    return None if rate is None else round(rate * 100, 3)
