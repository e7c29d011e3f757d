"""The audit page: filters by actor, action, component and time; the CSV export."""

import csv
import io
import re
from datetime import UTC, datetime

import pytest

from migrations_app.models import AuditEvent

AUDIT = "/plans/tiny/audit/"
CSV = "/plans/tiny/audit.csv"


@pytest.fixture
def history(tiny_plan, operator, approver):
    """Audit events at fixed times (rows of the append-only log, as audit.record writes them)."""
    alpha, beta = tiny_plan.components.get(name="alpha"), tiny_plan.components.get(name="beta")
    rows = [
        (operator, "checklist.ticked", None, "", datetime(2025, 3, 1, 9, 0, tzinfo=UTC)),
        (operator, "component.started", alpha, "", datetime(2025, 3, 1, 10, 0, tzinfo=UTC)),
        (approver, "rollout.approved", beta, '=HYPERLINK("http://x")', datetime(2025, 3, 2, 10, 0, tzinfo=UTC)),
        (operator, "rollout.paused", beta, "latency looks odd", datetime(2025, 3, 3, 10, 0, tzinfo=UTC)),
    ]
    for user, action, component, reason, at in rows:
        AuditEvent.objects.create(
            at=at,
            actor=user,
            actor_name=user.username,
            action=action,
            plan=tiny_plan,
            component=component,
            target_type="component" if component else "plan",
            target_id=str(component.pk if component else tiny_plan.pk),
            target_label=str(component or tiny_plan),
            reason=reason,
            after={"marker": "dated"},
        )


def actions_on_page(html: str) -> list[str]:
    table = re.search(r'<section class="card" id="audit-events">.*?</section>', html, re.S).group(0)
    return re.findall(r"<td><code>([a-z_.]+)</code></td>", table)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, expected",
    [
        ("actor=anna-approver", ["rollout.approved"]),
        ("action=rollout", ["rollout.paused", "rollout.approved"]),
        ("action=rollout.paused", ["rollout.paused"]),
        ("component=alpha", ["component.started"]),
        ("since=2025-03-02T00:00&until=2025-03-03T00:00", ["rollout.approved"]),
        ("actor=olga-operator&component=beta", ["rollout.paused"]),
    ],
)
def test_the_audit_page_filters(logged_in, viewer, history, query, expected):
    response = logged_in(viewer).get(f"{AUDIT}?{query}")
    assert response.status_code == 200
    assert actions_on_page(response.content.decode()) == expected


@pytest.mark.django_db
def test_a_bad_time_filter_is_refused_with_the_field_named(logged_in, viewer, history):
    response = logged_in(viewer).get(AUDIT + "?since=yesterday")
    assert response.status_code == 422
    assert "Filter refused: since: Enter a valid date/time." in response.content.decode()
    assert actions_on_page(response.content.decode()) == []


@pytest.mark.django_db
def test_until_before_since_is_refused(logged_in, viewer, history):
    response = logged_in(viewer).get(CSV + "?since=2025-03-03&until=2025-03-01")
    assert response.status_code == 422
    assert b"until: must be after 'since'" in b"".join(response.streaming_content)


@pytest.mark.django_db
def test_the_csv_export_has_the_filtered_events_with_before_after_and_reason(logged_in, viewer, history):
    response = logged_in(viewer).get(CSV + "?component=beta")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.match(r'attachment; filename="tiny-audit-\d{8}T\d{6}Z.csv"', response["Content-Disposition"])
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["action"] for r in rows] == ["rollout.paused", "rollout.approved"]
    assert rows[0]["actor"] == "olga-operator"
    assert rows[0]["component"] == "beta"
    assert rows[0]["reason"] == "latency looks odd"
    assert rows[0]["after"] == '{"marker": "dated"}'
    assert rows[0]["at"] == "2025-03-03T10:00:00+00:00"
    # A reason typed as a formula stays text in a spreadsheet.
    assert rows[1]["reason"] == '\'=HYPERLINK("http://x")'


@pytest.mark.django_db
def test_the_export_link_carries_the_page_filters(logged_in, viewer, history):
    html = logged_in(viewer).get(AUDIT + "?actor=olga-operator&component=beta").content.decode()
    assert 'href="/plans/tiny/audit.csv?actor=olga-operator&amp;component=beta"' in html


@pytest.mark.django_db
def test_the_audit_page_needs_a_role(logged_in, nobody, history):
    assert logged_in(nobody).get(CSV).status_code == 403
