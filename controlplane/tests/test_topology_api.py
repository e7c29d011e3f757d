"""The topology check: an operator pings the workers, a worker on each queue answers through
the channel layer, and the web process returns the answers. A real worker on Redis, the
Redis channel layer, the HTTP API."""

import pytest
import redis
from asgiref.sync import sync_to_async
from celery.contrib.testing.worker import start_worker
from channels.testing import WebsocketCommunicator
from django.conf import settings

from controlplane import topology
from controlplane.celery import app
from migrations_app.consumers import PlanConsumer

PING = "/api/v1/plans/{}/workers/ping"


def waiting_messages() -> dict[str, int]:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return {queue: broker.llen(queue) for queue in ("control", "migrations")}


def test_an_anonymous_call_is_refused(client, tiny_plan):
    response = client.post(PING.format("tiny"))
    assert response.status_code == 401
    assert response.json()["detail"].startswith("authentication required")


def test_a_viewer_may_not_ping_and_nothing_is_sent(logged_in, viewer, tiny_plan):
    before = waiting_messages()
    response = logged_in(viewer).post(PING.format("tiny"))
    assert response.status_code == 403
    assert "operator" in response.json()["detail"]
    assert waiting_messages() == before


def test_an_unknown_plan_is_named(logged_in, operator):
    response = logged_in(operator).post(PING.format("no-such-plan"))
    assert response.status_code == 404
    assert response.json() == {"detail": "no plan 'no-such-plan'"}


@pytest.mark.django_db(transaction=True)
def test_queues_no_worker_answers_are_named(logged_in, operator, tiny_plan, monkeypatch):
    monkeypatch.setattr(topology, "ANSWER_TIMEOUT_SECONDS", 0.5)
    response = logged_in(operator).post(PING.format("tiny"))
    assert response.status_code == 504
    body = response.json()
    assert body["answers"] == []
    assert body["missing"] == ["control", "migrations"]
    assert body["detail"].startswith("no answer from the control, migrations queue within 0.5 s")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_worker_on_each_queue_answers_and_open_sockets_see_the_answers(tiny_plan, operator, client):
    await sync_to_async(client.force_login)(operator)
    socket = WebsocketCommunicator(PlanConsumer.as_asgi(), "/ws/plans/tiny/")
    socket.scope["user"] = operator
    socket.scope["url_route"] = {"kwargs": {"plan_key": "tiny"}}
    assert (await socket.connect())[0]
    hello = await socket.receive_json_from(timeout=10)

    def ping_with_a_worker_running():
        # Started outside the event loop: the worker's start-up closes Django's connections,
        # which Django refuses to do from async code.
        with start_worker(
            app, pool="threads", concurrency=2, perform_ping_check=False, queues=["control", "migrations"]
        ):
            return client.post(PING.format("tiny"))

    response = await sync_to_async(ping_with_a_worker_running)()
    assert response.status_code == 200, response.content
    ping = response.json()
    assert ping["by"] == operator.username
    assert ping["missing"] == []
    assert [answer["queue"] for answer in ping["answers"]] == ["control", "migrations"]
    # Both answers went to the plan's group, where the open socket was listening too.
    answered = {answer["seq"] for answer in ping["answers"]}
    assert all(seq > hello["seq"] for seq in answered)
    received = set()
    while not answered <= received:
        received.add((await socket.receive_json_from(timeout=10))["seq"])
    await socket.disconnect()
