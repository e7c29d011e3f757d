"""The hub: one member of a plan's group per process, however many sockets show the plan,
and each socket's events in order, a slow one holding up nobody else."""

import asyncio
import threading

import pytest
import pytest_asyncio
from channels.layers import get_channel_layer

from migrations_app import broadcast, hub
from migrations_app.tests.test_consumer import connected


class Collector:
    """A subscriber that keeps what it is given in an inbox, as a socket does."""

    def __init__(self, bound=hub.INBOX_BOUND):
        self.inbox = hub.Inbox(bound)

    def deliver(self, message):
        self.inbox.put(message["seq"])

    async def take(self, n):
        return [await asyncio.wait_for(self.inbox.get(), 3) for _ in range(n)]


async def members(group):
    layer = get_channel_layer()
    return await layer.connection(layer.consistent_hash(group)).zcard(layer._group_key(group))


async def send(plan_id, seq):
    message = {"type": broadcast.MESSAGE_TYPE, "event": "plan.changed", "payload": {}, "seq": seq}
    await get_channel_layer().group_send(broadcast.plan_group(plan_id), message)


PLAN_ID = 424242


@pytest_asyncio.fixture(autouse=True)
async def no_members_left_over():
    """The group starts empty whatever an earlier run left in Redis."""
    layer = get_channel_layer()
    group = broadcast.plan_group(PLAN_ID)
    await layer.connection(layer.consistent_hash(group)).delete(layer._group_key(group))


@pytest.mark.asyncio
async def test_sockets_of_one_plan_share_one_group_member_and_each_gets_every_event():
    first, second = Collector(), Collector()
    await hub.current().join(PLAN_ID, first)
    await hub.current().join(PLAN_ID, second)
    assert await members(broadcast.plan_group(PLAN_ID)) == 1
    for seq in (1, 2, 3):
        await send(PLAN_ID, seq)
    assert await first.take(3) == [1, 2, 3]
    assert await second.take(3) == [1, 2, 3]
    await hub.current().leave(PLAN_ID, first)
    await hub.current().leave(PLAN_ID, second)


@pytest.mark.asyncio
async def test_the_last_socket_out_takes_the_process_out_of_the_group():
    first, second = Collector(), Collector()
    await hub.current().join(PLAN_ID, first)
    await hub.current().join(PLAN_ID, second)
    await hub.current().leave(PLAN_ID, first)
    await send(PLAN_ID, 1)
    assert await second.take(1) == [1]  # the one still open still hears the plan
    await hub.current().leave(PLAN_ID, second)
    assert await members(broadcast.plan_group(PLAN_ID)) == 0
    assert PLAN_ID not in hub.current().listeners


@pytest.mark.asyncio
async def test_a_full_inbox_drops_events_for_its_socket_alone():
    slow, quick = Collector(bound=1), Collector()
    await hub.current().join(PLAN_ID, slow)
    await hub.current().join(PLAN_ID, quick)
    for seq in (1, 2, 3):
        await send(PLAN_ID, seq)
    assert await quick.take(3) == [1, 2, 3]
    assert await slow.take(1) == [1]
    assert slow.inbox.dropped == 2  # its page sees the gap from 1 to the next and re-syncs
    await hub.current().leave(PLAN_ID, slow)
    await hub.current().leave(PLAN_ID, quick)


@pytest.mark.asyncio
async def test_a_listener_goes_on_after_the_layer_fails_under_it(monkeypatch):
    monkeypatch.setattr(hub, "RETRY_SECONDS", 0.05)
    layer = get_channel_layer()
    receive, failures = layer.receive, []

    async def failing_once(channel):
        if not failures:
            failures.append(channel)
            raise ConnectionError("Redis went away")
        return await receive(channel)

    monkeypatch.setattr(layer, "receive", failing_once)
    collector = Collector()
    await hub.current().join(PLAN_ID, collector)
    await asyncio.sleep(0.2)
    await send(PLAN_ID, 7)
    assert await collector.take(1) == [7]
    assert failures
    await hub.current().leave(PLAN_ID, collector)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_two_pages_of_one_plan_in_one_process_are_one_member_of_its_group(tiny_plan, viewer, operator):
    as_viewer, _ = await connected("tiny", viewer)
    as_operator, _ = await connected("tiny", operator, "view=component&component=alpha")
    assert await members(broadcast.plan_group(tiny_plan.pk)) == 1
    await as_viewer.disconnect()
    await as_operator.disconnect()
    assert await members(broadcast.plan_group(tiny_plan.pk)) == 0


def test_a_loop_that_closes_with_a_page_still_open_ends_its_listener():
    """As a server's shutdown does: every task is cancelled, the listener's blocking read
    from Redis among them, and the loop must not wait on it."""

    async def open_and_walk_away():
        await hub.current().join(PLAN_ID, Collector())
        await asyncio.sleep(0.2)  # the listener waits in Redis's blocking pop

    closing = threading.Thread(target=asyncio.run, args=(open_and_walk_away(),), daemon=True)
    closing.start()
    closing.join(timeout=10)
    assert not closing.is_alive()
