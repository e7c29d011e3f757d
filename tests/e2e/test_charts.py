"""The overview's rollout chart drawn by Plotly.js in Chromium: its labels stay readable
when promotions and rollbacks come close together (as they do in the demo, whose rollout
runs ten times faster)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import plotly

from migrations_app.fragments import charts

PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
NOW = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)


def component(pk, name, percentage):
    return SimpleNamespace(pk=pk, name=name, rollout=SimpleNamespace(percentage=percentage))


def change(component_id, action, percentage, minutes_ago):
    at = NOW - timedelta(minutes=minutes_ago)
    return SimpleNamespace(component_id=component_id, action=action, after={"percentage": percentage}, at=at)


def promotion(label, minutes_ago):
    return SimpleNamespace(at=NOW - timedelta(minutes=minutes_ago), target_label=label)


def drawn_labels(browser, figure):
    page = browser.new_page(viewport={"width": 640, "height": 400})
    try:
        page.set_content('<div id="chart" style="width: 600px"></div>')
        page.add_script_tag(path=str(PLOTLY_JS))
        page.evaluate("figure => Plotly.newPlot('chart', figure.data, figure.layout)", figure)
        return [
            (label.text_content(), label.bounding_box()) for label in page.locator("#chart .annotation-text-g").all()
        ]
    finally:
        page.close()


def overlap(a, b) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def test_labels_of_close_promotions_and_rollbacks_do_not_print_over_each_other(browser):
    edge, blue = component(1, "edge-functions", 0), component(2, "blue-green-deployment", 0)
    events = [
        change(1, "rollout.started", 10, 12),
        change(1, "rollout.advanced", 25, 9),
        change(1, "rollout.auto_rolled_back", 0, 8),
        change(2, "rollout.started", 10, 7.5),
        change(2, "rollout.emergency_rolled_back", 0, 7),
        change(1, "rollout.emergency_rolled_back", 0, 7),
    ]
    promotions = [promotion("truststream-v4.2/setup", 11), promotion("truststream-v4.2/abstraction", 10.5)]
    figure = charts.rollout_figure("chart", [edge, blue], events, promotions, NOW)["chart"]

    labels = drawn_labels(browser, figure)

    assert sorted(text for text, _ in labels) == [
        "blue-green-deployment: emergency rollback",
        "edge-functions: emergency rollback",
        "edge-functions: health gate rolled back",
        "promoted: truststream-v4.2/abstraction",
        "promoted: truststream-v4.2/setup",
    ]
    overlapping = [
        (first, second) for i, (first, a) in enumerate(labels) for second, b in labels[i + 1 :] if overlap(a, b)
    ]
    assert overlapping == []
