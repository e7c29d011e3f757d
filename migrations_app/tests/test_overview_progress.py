"""Each component row's progress on the overview: steps done in the component's newest run
(a step reversed after it was done is not done), whether one runs now, and the time from
the run's first start to its last end, read in one query for every component."""

from datetime import timedelta

import pytest
from django.utils import timezone

from benchmarks.dashboard import synthetic_plan
from migrations_app.fragments import OverviewPage
from migrations_app.fragments.overview import progress_of
from migrations_app.models import Run, StepAttempt
from migrations_app.roles import Actor

A = StepAttempt
FORWARD, REVERSE = A.Direction.FORWARD, A.Direction.REVERSE
COMPLETED, FAILED, STARTED = A.Status.COMPLETED, A.Status.FAILED, A.Status.STARTED


@pytest.fixture
def plan(db):
    return synthetic_plan(4, key="progress")  # c0..c3, three steps each


def attempt(run, component, position, direction, status, started, seconds=None):
    return A.objects.create(
        run=run,
        component=component,
        step=component.steps.get(position=position),
        direction=direction,
        status=status,
        triggered_by_name="olga-operator",
        started_at=started,
        finished_at=None if seconds is None else started + timedelta(seconds=seconds),
    )


def run_for(plan, component, state=Run.State.COMPLETED):
    return Run.objects.create(
        plan=plan, phase=component.phase, kind=Run.Kind.RETRY, state=state, triggered_by_name="olga"
    )


@pytest.mark.django_db
def test_each_row_shows_where_its_newest_run_left_the_steps(plan, operator):
    c0, c1, c2, c3 = plan.components.order_by("position")
    t = timezone.now() - timedelta(hours=1)
    # c0: an older run did every step; the newest did one, failed the next and reversed the first.
    older = run_for(plan, c0)
    for position in range(3):
        attempt(older, c0, position, FORWARD, COMPLETED, t, seconds=5)
    newest_c0 = run_for(plan, c0, Run.State.FAILED)
    attempt(newest_c0, c0, 0, FORWARD, COMPLETED, t + timedelta(minutes=10), seconds=30)
    attempt(newest_c0, c0, 1, FORWARD, FAILED, t + timedelta(minutes=11), seconds=20)
    attempt(newest_c0, c0, 0, REVERSE, COMPLETED, t + timedelta(minutes=12), seconds=40)
    # c2: one step done in a run that also holds an older attempt of c1.
    shared = run_for(plan, c2)
    attempt(shared, c1, 0, FORWARD, COMPLETED, t + timedelta(minutes=20), seconds=10)
    attempt(shared, c2, 0, FORWARD, COMPLETED, t + timedelta(minutes=21), seconds=90)
    # c1: its newest run did a step and runs the next one now.
    newest_c1 = run_for(plan, c1, Run.State.RUNNING)
    attempt(newest_c1, c1, 0, FORWARD, COMPLETED, t + timedelta(minutes=30), seconds=60)
    attempt(newest_c1, c1, 1, FORWARD, STARTED, t + timedelta(minutes=31))

    page = OverviewPage(plan, Actor.for_user(operator))
    rows = {c.name: c.progress for c in page.components}

    assert (rows["c0"].done, rows["c0"].running) == (0, False)
    # From the first to the last of the latest attempts: step 1 at 11 min to step 0 reversed by 12 min 40 s.
    assert rows["c0"].elapsed == timedelta(minutes=1, seconds=40)
    assert (rows["c1"].done, rows["c1"].running) == (1, True)
    assert rows["c1"].elapsed == page.now - (t + timedelta(minutes=30))
    assert (rows["c2"].done, rows["c2"].running, rows["c2"].elapsed) == (1, False, timedelta(seconds=90))
    assert (rows["c3"].done, rows["c3"].running, rows["c3"].elapsed) == (0, False, None)
    assert {p.total for p in rows.values()} == {3}

    # The same figures as the component page's count from the attempts themselves.
    for component, run in ((c0, newest_c0), (c1, newest_c1), (c2, shared)):
        latest = {}
        for a in A.objects.filter(run=run, component=component).order_by("started_at", "id"):
            latest[a.step_id] = a
        component.step_count = 3
        assert rows[component.name] == progress_of(component, list(latest.values()), page.now), component.name


@pytest.mark.django_db
def test_the_row_says_it_in_words(logged_in, viewer, plan):
    c0 = plan.components.get(name="c0")
    run = run_for(plan, c0)
    start = timezone.now() - timedelta(minutes=3)
    attempt(run, c0, 0, FORWARD, COMPLETED, start, seconds=60)
    attempt(run, c0, 1, FORWARD, COMPLETED, start + timedelta(seconds=60), seconds=60)
    html = logged_in(viewer).get("/plans/progress/").content.decode()
    row = html[html.index('<tr id="component-c0">') :]
    row = row[: row.index("</tr>")]
    assert 'aria-valuenow="2"' in row and "2 / 3 steps · 2 min of ~20 min" in row
