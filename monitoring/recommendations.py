"""Recommendations from a report's figures, following the procedure's rules. Pure.

The procedure's PostMigrationAnalyzer recommends moving the workload to the provider that
performs better; its monitors warn at a p95 above 2000 ms after the migration and at
providers differing by 500 ms or 2 points. Its cost rule needs cost figures, which
Switchyard does not collect, so it has no counterpart here.
"""

from django.template.defaultfilters import pluralize

POST_MIGRATION_P95_MS = 2000  # ContinuousMonitor.setupPerformanceMonitoring
MAX_ERROR_RATE_INCREASE_POINTS = 0.1
MAX_LATENCY_INCREASE_PCT = 5.0


def _counted(n: int, word: str) -> str:
    return f"{n} {word}{pluralize(n)}"


def _item(category: str, priority: str, description: str, impact: str, effort: str) -> dict:
    return {"category": category, "priority": priority, "description": description, "impact": impact, "effort": effort}


def recommendations(report: dict) -> list[dict]:
    result = []
    overall = report["performance"]["overall"]
    change = overall["change"]
    if report["baseline"] is None:
        result.append(
            _item(
                "Process",
                "High",
                "Capture a performance baseline before traffic moves: without one nothing can be compared",
                "The report cannot judge performance or the success criteria",
                "Low",
            )
        )
    if change and change["avg_latency_pct"] is not None:
        pct = change["avg_latency_pct"]
        if pct < 0:
            result.append(
                _item(
                    "Performance",
                    "High",
                    "The migrated implementation outperforms the original: keep the primary workload on it "
                    "and retire the original once its rollback windows close",
                    f"Average latency {-pct:.1f}% below the baseline",
                    "Medium",
                )
            )
        elif pct > MAX_LATENCY_INCREASE_PCT:
            changed = [
                row for row in report["performance"]["operations"] if (row["change"] or {}).get("avg_latency_pct")
            ]
            slowest = sorted(changed, key=lambda row: -row["change"]["avg_latency_pct"])[:3]
            names = ", ".join(
                f"{r['component']}/{r['operation']} (+{r['change']['avg_latency_pct']:.1f}%)" for r in slowest
            )
            result.append(
                _item(
                    "Performance",
                    "High",
                    f"Average latency is {pct:.1f}% above the baseline: profile the slowest operations: {names}",
                    "The performance success criterion is not met",
                    "Medium",
                )
            )
    points = change["error_rate_points"] if change else None
    if points is not None and points >= MAX_ERROR_RATE_INCREASE_POINTS:
        result.append(
            _item(
                "Reliability",
                "High",
                f"The error rate rose by {points:.2f} points against the baseline: "
                "investigate the migrated implementation's errors before closing the migration",
                "The error rate success criterion is not met",
                "Medium",
            )
        )
    for row in report["performance"]["operations"]:
        current = row["current"]
        if current and current["p95_latency_ms"] is not None and current["p95_latency_ms"] > POST_MIGRATION_P95_MS:
            result.append(
                _item(
                    "Performance",
                    "Medium",
                    f"P95 of {row['component']}/{row['operation']} is {current['p95_latency_ms']:.0f} ms, above the "
                    f"{POST_MIGRATION_P95_MS} ms continuous monitoring warns at: tune it or raise capacity",
                    "Slow requests for 1 in 20 users",
                    "Medium",
                )
            )
    reliability = report["reliability"]
    if reliability["rollbacks"]:
        result.append(
            _item(
                "Reliability",
                "Medium",
                f"{_counted(reliability['rollbacks'], 'rollback')} happened during the migration: review the "
                "reasons in the audit log and keep the rollback procedures tested",
                "Lower risk for the next migration",
                "Low",
            )
        )
    if reliability["open_alerts"]:
        result.append(
            _item(
                "Operations",
                "Medium",
                f"{_counted(reliability['open_alerts'], 'alert')} {'is' if reliability['open_alerts'] == 1 else 'are'} "
                "still open: resolve or acknowledge each before closing",
                "Nothing known left unexamined",
                "Low",
            )
        )
    for phase in report["phases"]:
        if phase["finished"] and phase["within_plan"] is False:
            result.append(
                _item(
                    "Process",
                    "Low",
                    f"Phase {phase['name']} took {phase['actual_days']:.1f} days against at most "
                    f"{phase['planned_days'][1]} planned: revise the estimates of later migrations",
                    "More reliable schedules",
                    "Low",
                )
            )
    return result
