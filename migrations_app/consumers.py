"""The websocket a plan page opens: it joins the plan's group and relays its events."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from migrations_app import broadcast
from migrations_app.models import Plan
from migrations_app.roles import Actor, Permission


class PlanConsumer(AsyncJsonWebsocketConsumer):
    group = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        plan_id = await self._visible_plan_id(user, self.scope["url_route"]["kwargs"]["plan_key"])
        if plan_id is None:
            await self.close(code=4403)
            return
        self.group = broadcast.plan_group(plan_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def plan_event(self, message):
        await self.send_json({"event": message["event"], "payload": message["payload"]})

    @database_sync_to_async
    def _visible_plan_id(self, user, plan_key):
        if not Actor.for_user(user).can(Permission.VIEW):
            return None
        return Plan.objects.filter(key=plan_key).values_list("pk", flat=True).first()
