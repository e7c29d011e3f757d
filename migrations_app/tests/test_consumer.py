"""The plan websocket: refuses anonymous users and roleless ones, relays what is broadcast."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from migrations_app import broadcast
from migrations_app.consumers import PlanConsumer


def communicator(plan_key, user):
    app = PlanConsumer.as_asgi()
    comm = WebsocketCommunicator(app, f"/ws/plans/{plan_key}/")
    comm.scope["user"] = user
    comm.scope["url_route"] = {"kwargs": {"plan_key": plan_key}}
    return comm


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_anonymous_socket_is_refused(tiny_plan):
    connected, code = await communicator("tiny", AnonymousUser()).connect()
    assert not connected
    assert code == 4401


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_user_without_a_role_is_refused(tiny_plan, nobody):
    connected, code = await communicator("tiny", nobody).connect()
    assert not connected
    assert code == 4403


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_socket_for_an_unknown_plan_is_refused(viewer):
    connected, _ = await communicator("nope", viewer).connect()
    assert not connected


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_viewer_receives_what_is_broadcast_for_the_plan(tiny_plan, viewer):
    comm = communicator("tiny", viewer)
    connected, _ = await comm.connect()
    assert connected
    await database_sync_to_async(broadcast.send_now)(tiny_plan.pk, broadcast.Event.PHASE_CHANGED, {"id": 1})
    message = await comm.receive_json_from(timeout=2)
    assert message == {"event": "phase.changed", "payload": {"id": 1}}
    await comm.disconnect()
