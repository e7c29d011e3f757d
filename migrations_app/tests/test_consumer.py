"""The plan websocket: refuses anonymous and roleless users, and pushes each event as the
page's rendered regions (hx-swap-oob), numbered in the plan's sequence."""

import asyncio
import json
import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from conftest import actor
from migrations_app import broadcast, checklist
from migrations_app.consumers import PlanConsumer
from migrations_app.models import ChecklistItem, Run, StepAttempt


def communicator(plan_key, user, query="view=overview", application=None):
    comm = WebsocketCommunicator(application or PlanConsumer.as_asgi(), f"/ws/plans/{plan_key}/?{query}")
    comm.scope["user"] = user
    comm.scope["url_route"] = {"kwargs": {"plan_key": plan_key}}
    return comm


async def connected(plan_key, user, query="view=overview"):
    comm = communicator(plan_key, user, query)
    ok, _ = await comm.connect()
    assert ok
    hello = await comm.receive_json_from(timeout=3)
    assert hello["hello"] is True
    return comm, hello["seq"]


def sequence_of(text: str) -> int:
    match = re.match(r"<!--seq:(\d+)-->", text)
    assert match, text[:80]
    return int(match.group(1))


async def tick_first_item(plan, user):
    item = await database_sync_to_async(ChecklistItem.objects.get)(plan=plan, position=0)
    await database_sync_to_async(checklist.tick)(item, actor=await database_sync_to_async(actor)(user))


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_anonymous_socket_is_refused(tiny_plan):
    ok, code = await communicator("tiny", AnonymousUser()).connect()
    assert not ok
    assert code == 4401


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_user_without_a_role_is_refused(tiny_plan, nobody):
    ok, code = await communicator("tiny", nobody).connect()
    assert not ok
    assert code == 4403


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("plan_key, query", [("nope", "view=overview"), ("tiny", "view=component&component=nope")])
async def test_a_socket_for_an_unknown_plan_or_page_is_refused(tiny_plan, viewer, plan_key, query):
    ok, code = await communicator(plan_key, viewer, query).connect()
    assert not ok
    assert code == 4404


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_tick_reaches_an_open_page_as_its_checklist_fragment_with_the_next_numbers(tiny_plan, operator, viewer):
    comm, hello_seq = await connected("tiny", viewer)
    await tick_first_item(tiny_plan, operator)
    fragment, audit = await comm.receive_from(timeout=3), await comm.receive_from(timeout=3)
    # The change first, then its audit event.
    assert (sequence_of(fragment), sequence_of(audit)) == (hello_seq + 1, hello_seq + 2)
    assert 'id="checklist"' in fragment and 'hx-swap-oob="true"' in fragment
    assert "Ticked by <strong>olga-operator</strong>" in fragment
    assert 'id="audit-latest"' in audit and "checklist.ticked" in audit
    await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_each_user_gets_the_buttons_of_their_own_role(tiny_plan, operator, viewer):
    as_viewer, _ = await connected("tiny", viewer)
    as_operator, _ = await connected("tiny", operator)
    await database_sync_to_async(broadcast.send_now)(tiny_plan.pk, broadcast.Event.CHECKLIST_CHANGED, {"id": 0})
    seen_by_viewer = await as_viewer.receive_from(timeout=3)
    seen_by_operator = await as_operator.receive_from(timeout=3)
    assert sequence_of(seen_by_viewer) == sequence_of(seen_by_operator)
    assert "Ticking is not available: needs the operator or admin role" in seen_by_viewer
    assert "Ticking is not available" not in seen_by_operator
    assert re.search(r'<button type="submit" class="btn primary" aria-label="Tick: Backups taken">', seen_by_operator)
    await as_viewer.disconnect()
    await as_operator.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_event_that_changes_nothing_on_the_page_still_sends_its_number(tiny_plan, viewer):
    comm, hello_seq = await connected("tiny", viewer)
    payload = {"component": 1, "step": 1, "line": "hello"}
    await database_sync_to_async(broadcast.send_now)(tiny_plan.pk, broadcast.Event.LOG_LINE, payload)
    assert await comm.receive_json_from(timeout=3) == {"seq": hello_seq + 1}
    await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_log_line_is_appended_to_its_step_output_on_the_component_page(tiny_plan, viewer):
    attempt = await database_sync_to_async(running_attempt)(tiny_plan)
    comm, hello_seq = await connected("tiny", viewer, "view=component&component=alpha")
    # As the engine sends it (engine/attempts.py LiveLog): the attempt, the component's and step's names.
    payload = {"attempt": attempt.pk, "component": "alpha", "step": "make table", "line": "created <table> t"}
    await database_sync_to_async(broadcast.send_now)(tiny_plan.pk, broadcast.Event.LOG_LINE, payload)
    message = await comm.receive_from(timeout=3)
    assert sequence_of(message) == hello_seq + 1
    assert f'hx-swap-oob="beforeend:#output-attempt-{attempt.pk}"' in message
    assert "created &lt;table&gt; t" in message
    await comm.disconnect()


def running_attempt(plan):
    alpha = plan.components.get(name="alpha")
    run = Run.objects.create(plan=plan, phase=alpha.phase, state=Run.State.RUNNING, triggered_by_name="olga")
    return StepAttempt.objects.create(
        run=run, component=alpha, step=alpha.steps.get(position=0), triggered_by_name="olga", started_at=timezone.now()
    )


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_component_page_draws_the_running_attempts_output_where_its_lines_go(tiny_plan, viewer, logged_in):
    attempt = await database_sync_to_async(running_attempt)(tiny_plan)
    comm, hello_seq = await connected("tiny", viewer, "view=component&component=alpha")
    started = {"id": attempt.pk, "run": attempt.run_id, "component": "alpha", "step": "make table", "position": 0}
    await database_sync_to_async(broadcast.send_now)(tiny_plan.pk, broadcast.Event.STEP_STARTED, started)
    message = await comm.receive_from(timeout=3)
    assert f'id="output-attempt-{attempt.pk}"' in message
    # An event of another component changes nothing here.
    other = {**started, "component": "beta"}
    await database_sync_to_async(broadcast.send_now)(tiny_plan.pk, broadcast.Event.STEP_STARTED, other)
    assert await comm.receive_json_from(timeout=3) == {"seq": hello_seq + 2}
    await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_chart_points_arrive_as_json_with_their_number(tiny_plan, viewer):
    comm, hello_seq = await connected("tiny", viewer)
    points = {"chart": "chart-error-rate-beta", "x": ["2025-01-01T00:00:10Z"], "y": [[0.01], [0.02]]}
    await database_sync_to_async(broadcast.send_now)(tiny_plan.pk, broadcast.Event.CHART_POINTS, points)
    message = json.loads(await comm.receive_from(timeout=3))
    assert message == {"seq": hello_seq + 1, "chart": points}
    await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_socket_that_connects_after_events_is_told_the_latest_number(tiny_plan, operator, viewer):
    before = await database_sync_to_async(broadcast.current_sequence)(tiny_plan.pk)
    await tick_first_item(tiny_plan, operator)
    comm, hello_seq = await connected("tiny", viewer)
    # The page rendered before the tick holds `before`: the hello tells it to re-sync.
    assert hello_seq == before + 2
    await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_rollout_change_sends_its_chart_point_then_its_numbered_fragments(tiny_plan, viewer):
    comm, hello_seq = await connected("tiny", viewer)
    payload = {"id": 1, "component": "beta", "state": "progressing", "percentage": 25}
    await database_sync_to_async(broadcast.send_now)(tiny_plan.pk, broadcast.Event.ROLLOUT_CHANGED, payload)
    points = json.loads(await comm.receive_from(timeout=3))
    assert [(p["chart"], p["traces"], p["y"]) for p in points["charts"]] == [("chart-rollout", [0], [[25]])]
    assert "seq" not in points  # the numbered message follows
    fragments = await comm.receive_from(timeout=3)
    assert sequence_of(fragments) == hello_seq + 1 and 'id="traffic"' in fragments
    await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_open_page_renews_its_group_membership_before_it_expires(tiny_plan, viewer, monkeypatch):
    from channels.layers import get_channel_layer

    from migrations_app import hub

    monkeypatch.setattr(hub, "REJOIN_SECONDS", 0.2)
    comm, _ = await connected("tiny", viewer)
    # The Redis layer forgets the group's members, as it does when group_expiry passes.
    layer = get_channel_layer()
    group = broadcast.plan_group(tiny_plan.pk)
    await layer.connection(layer.consistent_hash(group)).delete(layer._group_key(group))
    await layer.group_send(group, {"type": broadcast.MESSAGE_TYPE, "event": "plan.changed", "payload": {}, "seq": 998})
    assert await comm.receive_nothing(timeout=0.1)  # forgotten: nothing arrives
    await asyncio.sleep(0.4)  # the renewal runs meanwhile
    await layer.group_send(group, {"type": broadcast.MESSAGE_TYPE, "event": "plan.changed", "payload": {}, "seq": 999})
    assert await comm.receive_from(timeout=3)
    await comm.disconnect()


class LeavingBrowser:
    """The server's side of a browser that goes away: once `gone`, a send raises an OSError,
    as the ASGI spec asks of a server whose connection has closed (uvicorn raises its
    ClientDisconnected, an OSError)."""

    def __init__(self, application):
        self.application, self.gone = application, False

    async def __call__(self, scope, receive, send):
        async def send_unless_gone(message):
            if self.gone:
                raise ConnectionResetError("the browser has gone")
            await send(message)

        await self.application(scope, receive, send_unless_gone)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_browser_that_leaves_with_an_event_on_its_way_is_no_error(tiny_plan, operator, viewer, caplog):
    # Closing a tab is ordinary: it must not fill the log with errors and tracebacks.
    caplog.set_level("DEBUG", logger="migrations_app.consumers")
    browser = LeavingBrowser(PlanConsumer.as_asgi())
    comm = communicator("tiny", viewer, application=browser)
    assert (await comm.connect())[0]
    assert (await comm.receive_json_from(timeout=3))["hello"] is True
    browser.gone = True
    await tick_first_item(tiny_plan, operator)
    for _ in range(100):
        said = [r for r in caplog.records if r.name == "migrations_app.consumers"]
        if said:
            break
        await asyncio.sleep(0.05)
    assert [(r.levelname, r.getMessage()) for r in said] == [
        ("DEBUG", "plan tiny socket: the browser left before an event reached it")
    ]
    await comm.disconnect()
