"""The websocket a plan page opens (`/ws/plans/KEY/?view=...`).

It joins the plan's group and, for each event, pushes the page's regions that the event
touches as `hx-swap-oob` HTML, led by `<!--seq:N-->`, the event's number in the plan's
sequence. Events that touch nothing on the page still send `{"seq": N}`, and chart points
go as JSON (an event's points, `{"charts": [...]}`, just before its numbered message), so
the browser sees every number and knows when it missed one. On connect
the socket says `{"hello": true, "seq": N}`: a page older than N fetches its regions.

Renders are shared: every socket of one process showing the same page to the same kind
of user gets one render per event, so 200 open browsers cost one set of queries.
"""

import asyncio
from collections import OrderedDict
from urllib.parse import parse_qsl

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from migrations_app import broadcast, fragments
from migrations_app.broadcast import Event
from migrations_app.errors import DomainError
from migrations_app.models import Plan
from migrations_app.roles import Actor, Permission

# Close codes a page shows as "refused" (not "lost"): the browser does not retry them.
UNAUTHENTICATED, FORBIDDEN, NOT_FOUND = 4401, 4403, 4404
# Group membership expires in the channel layer (a day by default): an open page renews
# its own well before, or it would silently stop hearing its plan.
REJOIN_SECONDS = 3600

_renders: OrderedDict = OrderedDict()
RENDER_MEMORY = 512


def _shared_render(key, render):
    """One render per key in this process: the first socket starts it, the others await it."""
    future = _renders.get(key)
    if future is None:
        future = asyncio.ensure_future(database_sync_to_async(render)())
        _renders[key] = future
        while len(_renders) > RENDER_MEMORY:
            _renders.popitem(last=False)
    return future


class PlanConsumer(AsyncJsonWebsocketConsumer):
    group = None
    rejoin = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        self.actor = await database_sync_to_async(Actor.for_user)(user)
        if not self.actor.can(Permission.VIEW):
            await self.close(code=FORBIDDEN)
            return
        self.query = dict(parse_qsl(self.scope.get("query_string", b"").decode()))
        self.plan = await self._page_plan(self.scope["url_route"]["kwargs"]["plan_key"])
        if self.plan is None:
            await self.close(code=NOT_FOUND)
            return
        self.group = broadcast.plan_group(self.plan.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.rejoin = asyncio.ensure_future(self._keep_joined())
        await self.accept()
        seq = await database_sync_to_async(broadcast.current_sequence)(self.plan.pk)
        await self.send_json({"hello": True, "seq": seq})

    async def disconnect(self, code):
        if self.rejoin:
            self.rejoin.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _keep_joined(self):
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            await self.channel_layer.group_add(self.group, self.channel_name)

    async def dispatch(self, message):
        # Channels runs a thread hop to close stale database connections before every
        # handler: one per socket per event, all queued ahead of the one shared render.
        # plan_event's database work goes through database_sync_to_async, which closes
        # stale connections itself, so its messages skip the hop.
        if message["type"] == broadcast.MESSAGE_TYPE:
            await self.plan_event(message)
            return
        await super().dispatch(message)

    async def receive_json(self, content, **kwargs):
        """The page sends nothing; a socket is for listening."""

    async def plan_event(self, message):
        seq, event, payload = message.get("seq", 0), message["event"], message["payload"]
        if event == Event.CHART_POINTS:
            await self.send_json({"seq": seq, "chart": payload})
            return
        html, points = await _shared_render(self._render_key(seq, event), lambda: self._render(event, payload, seq))
        if points:
            # Unnumbered and sent first: the numbered message after it closes the event.
            await self.send_json({"charts": points})
        if html:
            await self.send(text_data=f"<!--seq:{seq}-->\n{html}")
        else:
            await self.send_json({"seq": seq})

    def _render_key(self, seq, event):
        permissions = ",".join(sorted(self.actor.permissions))
        who = self.actor.name if self.query.get("view") == "approval" else ""
        query = tuple(sorted(self.query.items()))
        return (id(asyncio.get_running_loop()), self.plan.pk, seq, event, query, permissions, who)

    def _render(self, event, payload, seq) -> tuple[str, list[dict]]:
        try:
            page = fragments.page_for(self.plan, self.actor, self.query, seq=seq)
        except DomainError:
            return "", []  # the thing the page shows is gone; its next re-sync says so
        return fragments.render_event(page, event, payload), fragments.chart_points(page, event, payload)

    @database_sync_to_async
    def _page_plan(self, plan_key):
        plan = Plan.objects.filter(key=plan_key).first()
        if plan is None:
            return None
        try:
            fragments.page_for(plan, self.actor, self.query)
        except DomainError:
            return None
        return plan
