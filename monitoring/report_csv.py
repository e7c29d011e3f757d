"""The report as CSV: one row per figure, for spreadsheets."""

import csv
import io

from controlplane.spreadsheet import text_cell

HEADER = ("section", "component", "operation", "metric", "baseline", "current", "change", "note")
METRICS = ("samples", "error_rate", "avg_latency_ms", "p95_latency_ms", "throughput_per_s")
CHANGES = {
    "error_rate": "error_rate_points",
    "avg_latency_ms": "avg_latency_pct",
    "p95_latency_ms": "p95_latency_pct",
    "throughput_per_s": "throughput_pct",
}


def _value(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def _row(*cells) -> list:
    """Numbers as figures; text (names from the plan file, operations sent to the metrics
    API) kept from being read as a formula."""
    return [_value(cell) if cell is None or isinstance(cell, int | float) else text_cell(cell) for cell in cells]


def _performance_rows(section: str, component: str, operation: str, row: dict):
    base, current, change = row["baseline"] or {}, row["current"] or {}, row["change"] or {}
    for metric in METRICS:
        yield _row(
            section,
            component,
            operation,
            metric,
            base.get(metric),
            current.get(metric),
            change.get(CHANGES.get(metric, "")),
            "",
        )


def to_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for row in report["performance"]["operations"]:
        writer.writerows(_performance_rows("performance", row["component"], row["operation"], row))
    writer.writerows(_performance_rows("overall", "", "", report["performance"]["overall"]))
    for criterion in report["success_criteria"]:
        met = {True: "met", False: "not met", None: "not measurable"}[criterion["met"]]
        change = criterion.get("value_points", criterion.get("value_pct"))
        writer.writerow(
            _row(
                "success",
                "",
                "",
                criterion["criterion"],
                criterion["baseline"],
                criterion["current"],
                change,
                met,
            )
        )
    for key, value in report["reliability"].items():
        if not isinstance(value, dict):
            writer.writerow(_row("reliability", "", "", key, "", value, "", ""))
    for phase in report["phases"]:
        planned = f"{phase['planned_days'][0]}-{phase['planned_days'][1]} days"
        note = {True: "within plan", False: "over plan", None: "not started"}[phase["within_plan"]]
        writer.writerow(_row("phase", "", "", phase["name"], planned, phase["actual_days"], "", note))
    for item in report["recommendations"]:
        writer.writerow(
            _row("recommendation", "", "", item["category"], item["priority"], item["description"], "", item["impact"])
        )
    return out.getvalue()
