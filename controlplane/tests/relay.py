"""A websocket consumer that relays a plan group's events as they were published, for tests of
the transport underneath the dashboard (channel layer, threads, workers), not of its pages."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.testing import WebsocketCommunicator

from migrations_app import broadcast


class Relay(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.group = broadcast.plan_group(self.scope["url_route"]["kwargs"]["plan_id"])
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def plan_event(self, message):
        await self.send_json({"event": message["event"], "payload": message["payload"]})


def relay_socket(plan_id: int) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(Relay.as_asgi(), f"/relay/{plan_id}/")
    socket.scope["url_route"] = {"kwargs": {"plan_id": plan_id}}
    return socket
