"""Checking the topology end to end: a worker on each queue answers on a plan's live channel.

An operator who adds a worker on another machine wants to see more than the worker
starting: that tasks reach it through the broker, and that what it publishes reaches the
browsers through the channel layer (a worker with another REDIS_URL or CHANNEL_PREFIX
runs tasks whose events no one sees). A ping travels exactly that way. It changes no
state, so it is not audited.
"""

import os
import socket
from uuid import uuid4

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from controlplane import tasks
from controlplane.celery import app
from migrations_app import broadcast
from migrations_app.models import Plan
from migrations_app.roles import Actor, Permission

# A ping for a queue that no worker consumes expires instead of answering hours later.
PING_EXPIRES_SECONDS = 60


def queues() -> list[str]:
    return [queue.name for queue in app.conf.task_queues]


def ping_workers(plan: Plan, *, actor: Actor) -> dict:
    """1. refuse an actor who may not operate;
    2. send one ping per queue, each answered by whichever worker takes it;
    3. tell the plan's open dashboards that a ping is out."""
    actor.require(Permission.OPERATE, "ping the workers")
    ping = {"ping": uuid4().hex, "queues": queues(), "sent_at": timezone.now().isoformat(), "by": actor.name}
    for queue in ping["queues"]:
        tasks.answer_ping.apply_async(
            (plan.pk, ping["ping"], queue, ping["sent_at"]), queue=queue, expires=PING_EXPIRES_SECONDS
        )
    broadcast.publish(plan.pk, broadcast.Event.WORKERS_PINGED, ping)
    return ping


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
    broadcast.send_now(plan_id, broadcast.Event.WORKER_ANSWERED, payload)
