"""The embedded channel layer: what a Celery worker thread publishes reaches a websocket
consumer in the server's event loop at once, and nothing is lost when many threads publish."""

import threading

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import override_settings

from migrations_app import broadcast
from migrations_app.consumers import PlanConsumer

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


def communicator(plan, user):
    comm = WebsocketCommunicator(PlanConsumer.as_asgi(), f"/ws/plans/{plan.key}/")
    comm.scope["user"] = user
    comm.scope["url_route"] = {"kwargs": {"plan_key": plan.key}}
    return comm


def in_threads(count, target, *args):
    """Run `target(i, *args)` in `count` plain threads, as a Celery worker's pool does."""
    threads = [threading.Thread(target=target, args=(i, *args)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@override_settings(CHANNEL_LAYERS=THREAD_SAFE)
async def test_a_broadcast_from_a_worker_thread_reaches_the_consumer_promptly(tiny_plan, viewer):
    comm = communicator(tiny_plan, viewer)
    connected, _ = await comm.connect()
    assert connected
    threading.Thread(
        target=broadcast.send_now, args=(tiny_plan.pk, broadcast.Event.STEP_STARTED, {"step": "create orders_v2"})
    ).start()
    message = await comm.receive_json_from(timeout=PROMPTLY)
    assert message == {"event": "step.started", "payload": {"step": "create orders_v2"}}
    await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@override_settings(CHANNEL_LAYERS=THREAD_SAFE)
async def test_many_threads_publishing_at_once_lose_nothing_and_keep_each_threads_order(tiny_plan, viewer):
    comm = communicator(tiny_plan, viewer)
    connected, _ = await comm.connect()
    assert connected

    def publish(thread, count):
        for n in range(count):
            broadcast.send_now(tiny_plan.pk, broadcast.Event.LOG_LINE, {"thread": thread, "n": n})

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
