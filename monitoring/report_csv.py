"""The report as CSV: one row per figure, for spreadsheets."""

import csv
import io

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


def _performance_rows(section: str, component: str, operation: str, row: dict):
    base, current, change = row["baseline"] or {}, row["current"] or {}, row["change"] or {}
    for metric in METRICS:
        yield (
            section,
            component,
            operation,
            metric,
            _value(base.get(metric)),
            _value(current.get(metric)),
            _value(change.get(CHANGES.get(metric, ""))),
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
            (
                "success",
                "",
                "",
                criterion["criterion"],
                _value(criterion["baseline"]),
                _value(criterion["current"]),
                _value(change),
                met,
            )
        )
    for key, value in report["reliability"].items():
        if not isinstance(value, dict):
            writer.writerow(("reliability", "", "", key, "", value, "", ""))
    for phase in report["phases"]:
        planned = f"{phase['planned_days'][0]}-{phase['planned_days'][1]} days"
        note = {True: "within plan", False: "over plan", None: "not started"}[phase["within_plan"]]
        writer.writerow(("phase", "", "", phase["name"], planned, _value(phase["actual_days"]), "", note))
    for item in report["recommendations"]:
        writer.writerow(
            ("recommendation", "", "", item["category"], item["priority"], item["description"], "", item["impact"])
        )
    return out.getvalue()
