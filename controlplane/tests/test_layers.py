"""The embedded channel layer: what a Celery worker thread publishes reaches a websocket
consumer in the server's event loop at once, nothing is lost when many threads publish,
and a thread can listen on a group too."""

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import override_settings

from controlplane.tests.relay import relay_socket
from migrations_app import broadcast

THREAD_SAFE = {
    "default": {
        "BACKEND": "controlplane.layers.ThreadSafeInMemoryChannelLayer",
        "CONFIG": {"capacity": settings.CHANNEL_CAPACITY},
    }
}
# Not a speed target (benchmarks/layers.py measures under 1 ms, against the stock layer):
# a bound only a broken route misses. A message put into the loop's queue from another
# thread without waking the loop waits for the loop's next wake-up, and while the test
# waits here that wake-up is this very timeout, so such a route always misses it, however
# generous it is; 5 s leaves a loaded machine all the room it needs.
PROMPTLY = 5


PLAN_ID = 4242  # a plan group; the consumer relays it and needs no rows


def in_threads(count, target, *args):
    """Run `target(i, *args)` in `count` plain threads, as a Celery worker's pool does."""
    threads = [threading.Thread(target=target, args=(i, *args)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.asyncio
@pytest.mark.django_db  # no rows, but a consumer closes stale database connections between messages
@override_settings(CHANNEL_LAYERS=THREAD_SAFE)
async def test_a_broadcast_from_a_worker_thread_reaches_the_consumer_promptly():
    comm = relay_socket(PLAN_ID)
    connected, _ = await comm.connect()
    assert connected
    threading.Thread(
        target=broadcast.send_now, args=(PLAN_ID, broadcast.Event.STEP_STARTED, {"step": "create orders_v2"})
    ).start()
    message = await comm.receive_json_from(timeout=PROMPTLY)
    assert message == {"event": "step.started", "payload": {"step": "create orders_v2"}}
    await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db  # no rows, but a consumer closes stale database connections between messages
@override_settings(CHANNEL_LAYERS=THREAD_SAFE)
async def test_many_threads_publishing_at_once_lose_nothing_and_keep_each_threads_order():
    comm = relay_socket(PLAN_ID)
    connected, _ = await comm.connect()
    assert connected

    def publish(thread, count):
        for n in range(count):
            broadcast.send_now(PLAN_ID, broadcast.Event.LOG_LINE, {"thread": thread, "n": n})

    sender = threading.Thread(target=in_threads, args=(8, publish, 25))
    sender.start()
    received = [await comm.receive_json_from(timeout=PROMPTLY) for _ in range(8 * 25)]
    sender.join()
    by_thread = {}
    for message in received:
        by_thread.setdefault(message["payload"]["thread"], []).append(message["payload"]["n"])
    assert by_thread == {thread: list(range(25)) for thread in range(8)}
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db  # no rows, but a consumer closes stale database connections between messages
@override_settings(CHANNEL_LAYERS=THREAD_SAFE)
async def test_a_thread_can_listen_on_a_group_while_the_server_loop_serves_it():
    comm = relay_socket(PLAN_ID)
    assert (await comm.connect())[0]
    layer = get_channel_layer()
    heard = []

    def listen():
        channel = async_to_sync(layer.new_channel)("listener.")
        async_to_sync(layer.group_add)(broadcast.plan_group(PLAN_ID), channel)
        joined.set()
        heard.append(async_to_sync(layer.receive)(channel))

    joined = threading.Event()
    listener = threading.Thread(target=listen)
    listener.start()
    await asyncio.to_thread(joined.wait, PROMPTLY)
    threading.Thread(target=broadcast.send_now, args=(PLAN_ID, broadcast.Event.PLAN_CHANGED, {"id": 7})).start()
    # The socket in the server's loop and the listening thread both receive it.
    assert await comm.receive_json_from(timeout=PROMPTLY) == {"event": "plan.changed", "payload": {"id": 7}}
    await asyncio.to_thread(listener.join, PROMPTLY)
    assert [(m["event"], m["payload"]) for m in heard] == [("plan.changed", {"id": 7})]
    await comm.disconnect()
