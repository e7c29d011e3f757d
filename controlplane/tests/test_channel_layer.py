"""The Redis channel layer as configured takes a crowd of sockets joining and leaving a
plan's group at once (a page reloaded by every operator, a network blip), and waits for
messages through quiet spells."""

import asyncio

import pytest
from channels.layers import get_channel_layer

CROWD = 300  # more than redis-py's default of 100 connections at once


@pytest.mark.asyncio
async def test_a_crowd_of_sockets_joins_and_leaves_a_group_at_once():
    layer = get_channel_layer()
    group = "plan.crowd-test"
    channels = [await layer.new_channel() for _ in range(CROWD)]

    await asyncio.gather(*(layer.group_add(group, channel) for channel in channels))
    await layer.group_send(group, {"type": "plan.event", "n": 1})
    assert (await asyncio.wait_for(layer.receive(channels[0]), 5))["n"] == 1
    assert (await asyncio.wait_for(layer.receive(channels[-1]), 5))["n"] == 1

    await asyncio.gather(*(layer.group_discard(group, channel) for channel in channels))
    await layer.group_send(group, {"type": "plan.event", "n": 2})
    with pytest.raises(TimeoutError):  # nobody is left in the group to receive it
        await asyncio.wait_for(layer.receive(channels[0]), 1)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_receive_waits_through_a_quiet_spell_longer_than_one_blocking_pop():
    layer = get_channel_layer()
    channel = await layer.new_channel()

    async def send_after_a_quiet_spell():
        await asyncio.sleep(layer.brpop_timeout + 1)
        await layer.send(channel, {"type": "plan.event", "n": 1})

    sender = asyncio.ensure_future(send_after_a_quiet_spell())
    # One empty pop ends and the next begins; neither ends in an error.
    assert (await asyncio.wait_for(layer.receive(channel), layer.brpop_timeout + 10))["n"] == 1
    await sender
