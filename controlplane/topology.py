"""Checking the topology end to end: a worker on each queue answers on a plan's live channel.

An operator who adds a worker on another machine wants to see more than the worker
starting: that tasks reach it through the broker, and that what it publishes reaches the
web processes through the channel layer (a worker with another REDIS_URL or
CHANNEL_PREFIX runs tasks whose events no browser sees). A ping travels exactly that way,
and the web process that sent it listens on the plan's group as a dashboard's socket
does. It changes no state, so it is not audited.
"""

import asyncio
import os
import socket
from contextlib import contextmanager
from uuid import uuid4

from asgiref.sync import async_to_sync
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers, get_channel_layer
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from controlplane import tasks
from controlplane.celery import app
from migrations_app import broadcast
from migrations_app.broadcast import Event
from migrations_app.models import Plan
from migrations_app.roles import Actor, Permission

# How long the web process listens for the answers. A ping no worker took by then expires
# in the broker instead of answering minutes later.
ANSWER_TIMEOUT_SECONDS = 10


def queues() -> list[str]:
    return [queue.name for queue in app.conf.task_queues]


def ping_workers(plan: Plan, *, actor: Actor) -> dict:
    """1. refuse an actor who may not operate;
    2. listen on the plan's group;
    3. send one ping per queue, each answered by whichever worker takes it, and tell the
       plan's open dashboards that a ping is out;
    4. return the answers that came back in time, and the queues that did not answer."""
    actor.require(Permission.OPERATE, "ping the workers")
    timeout = ANSWER_TIMEOUT_SECONDS
    ping = {"ping": uuid4().hex, "queues": queues(), "sent_at": timezone.now().isoformat(), "by": actor.name}
    with _listening(plan.pk) as receive:
        for queue in ping["queues"]:
            tasks.answer_ping.apply_async((plan.pk, ping["ping"], queue, ping["sent_at"]), queue=queue, expires=timeout)
        broadcast.publish(plan.pk, Event.WORKERS_PINGED, ping)
        answers = receive(ping, timeout)
    return ping | {
        "answers": [answers[queue] for queue in ping["queues"] if queue in answers],
        "missing": [queue for queue in ping["queues"] if queue not in answers],
    }


def answer_ping(plan_id: int, ping_id: str, queue: str, sent_at: str) -> None:
    """Say which machine and process took the ping from `queue`, and how long it waited."""
    answered_at = timezone.now()
    waited = answered_at - parse_datetime(sent_at)
    payload = {
        "ping": ping_id,
        "queue": queue,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "answered_at": answered_at.isoformat(),
        "waited_ms": round(waited.total_seconds() * 1000, 1),
    }
    broadcast.send_now(plan_id, Event.WORKER_ANSWERED, payload)


@contextmanager
def _listening(plan_id: int):
    """A channel of this process in the plan's group while the block runs; yields
    `receive(ping, timeout)`. With Redis, a layer of its own: a Redis layer receives on one
    event loop at a time, and this process's sockets receive on the server's. In memory
    there is one layer per process, and it takes a receive from any thread."""
    layer = get_channel_layer() if settings.EMBEDDED else channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    group = broadcast.plan_group(plan_id)
    channel = async_to_sync(layer.new_channel)("ping.")
    async_to_sync(layer.group_add)(group, channel)
    try:
        yield lambda ping, timeout: async_to_sync(_answers)(layer, channel, ping, timeout)
    finally:
        async_to_sync(layer.group_discard)(group, channel)
        if not settings.EMBEDDED:
            async_to_sync(layer.close_pools)()


async def _answers(layer, channel: str, ping: dict, timeout: float) -> dict[str, dict]:
    """The answers to `ping` by queue, each with the sequence number it was sent with."""
    answers: dict[str, dict] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(answers) < len(ping["queues"]):
        try:
            message = await asyncio.wait_for(layer.receive(channel), deadline - loop.time())
        except TimeoutError:
            break
        payload = message.get("payload") or {}
        if message.get("event") == Event.WORKER_ANSWERED and payload.get("ping") == ping["ping"]:
            answers[payload["queue"]] = payload | {"seq": message.get("seq")}
    return answers
