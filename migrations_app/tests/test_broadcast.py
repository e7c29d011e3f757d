"""Live events leave through one sender per process: in order, numbered without gaps, only
after commit, and never at the expense of the caller when the channel layer fails."""

import asyncio
import itertools
import logging
import os
import threading

import pytest
from channels.layers import get_channel_layer
from django.db import transaction
from django.test import override_settings

from conftest import actor
from migrations_app import broadcast, checklist
from migrations_app.broadcast import Event
from migrations_app.models import ChecklistItem
from tests.e2e.server import free_port

# Numbers of plans that exist only in these tests, apart from every real plan's sequence.
_plan_ids = itertools.count(2_000_000_000 + os.getpid() % 10_000 * 1000)


class Listener:
    """A channel in the plan's group on the real channel layer, read in a thread of its own
    while the test sends (the layer holds at most `capacity` unread messages a channel)."""

    def __init__(self, plan_id: int, expect: int, timeout: float = 10.0):
        self.messages: list[dict] = []
        self._joined = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._listen(plan_id, expect, timeout),))
        self._thread.start()
        assert self._joined.wait(10), "the listener did not join the group"

    async def _listen(self, plan_id: int, expect: int, timeout: float) -> None:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(broadcast.plan_group(plan_id), channel)
        self._joined.set()
        try:
            while len(self.messages) < expect:
                self.messages.append(await asyncio.wait_for(layer.receive(channel), timeout))
        except TimeoutError:
            pass

    def wait(self) -> list[dict]:
        self._thread.join(30)
        return self.messages


def test_events_arrive_in_the_order_they_were_sent_numbered_without_gaps():
    plan_id = next(_plan_ids)
    before = broadcast.current_sequence(plan_id)
    listener = Listener(plan_id, expect=500)

    for i in range(500):
        broadcast.send_now(plan_id, Event.LOG_LINE, {"line": f"line {i}"})

    received = listener.wait()
    assert [m["payload"]["line"] for m in received] == [f"line {i}" for i in range(500)]
    assert [m["seq"] for m in received] == list(range(before + 1, before + 501))
    assert {m["event"] for m in received} == {"step.log"}


def test_events_from_many_threads_of_a_process_arrive_in_the_order_of_their_numbers():
    plan_id = next(_plan_ids)
    listener = Listener(plan_id, expect=200)

    def send(thread: int):
        for i in range(50):
            broadcast.send_now(plan_id, Event.LOG_LINE, {"line": f"{thread}.{i}"})

    threads = [threading.Thread(target=send, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    received = listener.wait()
    numbers = [m["seq"] for m in received]
    assert len(received) == 200
    assert numbers == sorted(numbers) and numbers == list(range(numbers[0], numbers[0] + 200))
    for thread in range(4):  # and each thread's own events in the order it sent them
        lines = [m["payload"]["line"] for m in received if m["payload"]["line"].startswith(f"{thread}.")]
        assert lines == [f"{thread}.{i}" for i in range(50)]


def test_send_now_returns_before_the_event_is_delivered_and_flush_waits_for_it():
    plan_id = next(_plan_ids)
    listener = Listener(plan_id, expect=1)

    broadcast.send_now(plan_id, Event.LOG_LINE, {"line": "hello"})

    assert broadcast.flush(timeout=10) is True
    assert [m["payload"] for m in listener.wait()] == [{"line": "hello"}]


@pytest.mark.django_db(transaction=True)
def test_an_event_published_in_a_transaction_that_rolls_back_is_never_sent(tiny_plan):
    before = broadcast.current_sequence(tiny_plan.pk)
    listener = Listener(tiny_plan.pk, expect=2, timeout=2)

    with pytest.raises(RuntimeError), transaction.atomic():
        broadcast.publish(tiny_plan.pk, Event.PLAN_CHANGED, {"what": "rolled back"})
        raise RuntimeError("the change failed")
    with transaction.atomic():
        broadcast.publish(tiny_plan.pk, Event.PLAN_CHANGED, {"what": "committed"})

    received = listener.wait()
    assert [(m["payload"], m["seq"]) for m in received] == [({"what": "committed"}, before + 1)]


@pytest.mark.django_db(transaction=True)
def test_a_channel_layer_that_cannot_be_reached_does_not_break_the_change(tiny_plan, operator, caplog):
    item = ChecklistItem.objects.get(plan=tiny_plan, position=0)
    unreachable = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"], "prefix": "unreachable"},
        }
    }
    caplog.set_level(logging.ERROR, logger="migrations_app.broadcast")

    with override_settings(CHANNEL_LAYERS=unreachable):
        checklist.tick(item, actor=actor(operator))
        assert broadcast.flush(timeout=20) is True

    item.refresh_from_db()
    assert item.checked_by == operator
    assert any("could not publish" in r.getMessage() for r in caplog.records)
    # The sender lives on: with the layer back, the next event arrives.
    listener = Listener(tiny_plan.pk, expect=1)
    broadcast.send_now(tiny_plan.pk, Event.CHECKLIST_CHANGED, {"id": item.pk})
    assert [m["payload"] for m in listener.wait()] == [{"id": item.pk}]


def test_a_forked_process_gets_a_sender_of_its_own():
    plan_id = next(_plan_ids)
    broadcast.send_now(plan_id, Event.LOG_LINE, {"line": "from the parent"})  # the parent's sender runs
    assert broadcast.flush(timeout=10)
    listener = Listener(plan_id, expect=2)

    pid = os.fork()
    if pid == 0:  # the child, like a Celery prefork worker: no thread of the parent's came along
        code = 1
        try:
            broadcast.send_now(plan_id, Event.LOG_LINE, {"line": "from the child"})
            code = 0 if broadcast.flush(timeout=10) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    broadcast.send_now(plan_id, Event.LOG_LINE, {"line": "from the parent again"})

    assert os.waitstatus_to_exitcode(status) == 0
    assert [m["payload"]["line"] for m in listener.wait()] == ["from the child", "from the parent again"]
