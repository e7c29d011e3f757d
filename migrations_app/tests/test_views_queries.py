"""The plan overview costs a fixed number of queries, whatever the plan's size or history;
so does rendering its regions for a pushed event."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmarks.dashboard import add_history, synthetic_plan
from migrations_app import fragments
from migrations_app.broadcast import Event
from migrations_app.roles import Actor

# Session, user, groups, plan (by key, then whole), checklist, phases, components with
# their dependencies and latest attempts, active runs, approvals, audit, emergency events;
# health of every traffic card at once (rollups, comparisons, probes, the plan's databases),
# open alerts, and the charts' rollout changes and promotions.
MAX_QUERIES = 21


def overview_queries(client, plan) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/plans/{plan.key}/")
    assert response.status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_the_overview_does_not_query_per_component_or_run(logged_in, operator, django_assert_max_num_queries):
    small = synthetic_plan(5, key="small")
    add_history(small, runs=10)
    large = synthetic_plan(50, key="large")
    add_history(large, runs=200)
    client = logged_in(operator)
    with django_assert_max_num_queries(MAX_QUERIES):
        client.get("/plans/large/")
    assert overview_queries(client, small) == overview_queries(client, large)
    html = client.get("/plans/large/").content.decode()
    assert html.count('<tr id="component-') == 50
    assert "3 / 3 steps" in html  # the history's completed attempts count as done


@pytest.mark.django_db
def test_rendering_an_event_for_a_large_plan_does_not_query_per_component(operator):
    small, large = synthetic_plan(5, key="small"), synthetic_plan(50, key="large")
    add_history(small, runs=10)
    add_history(large, runs=100)
    counts = []
    for plan in (small, large):
        page = fragments.page_for(plan, Actor.for_user(operator), {"view": "overview"}, seq=1)
        with CaptureQueriesContext(connection) as queries:
            html = fragments.render_event(page, Event.COMPONENT_CHANGED, {"id": 1})
        assert 'id="components"' in html and 'hx-swap-oob="true"' in html
        counts.append(len(queries))
    assert counts[0] == counts[1]
