"""The websocket a plan page opens (`/ws/plans/KEY/?view=...`).

For each event of its plan it pushes the page's regions that the event touches as
`hx-swap-oob` HTML, led by `<!--seq:N-->`, the event's number in the plan's sequence.
Events that touch nothing on the page still send `{"seq": N}`, and chart points go as JSON
(an event's points, `{"charts": [...]}`, just before its numbered message), so the browser
sees every number and knows when it missed one. On connect the socket says
`{"hello": true, "seq": N}`: a page older than N fetches its regions.

Events come through the process's hub (hub.py: one member of the plan's group per
process, not one per socket), and renders are shared: every socket of one process showing
the same page to the same kind of user gets one render per event, started as soon as the
event reaches the process, so 200 open browsers cost one set of queries.
"""

import asyncio
import logging
from collections import OrderedDict
from urllib.parse import parse_qsl

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from migrations_app import broadcast, fragments, hub
from migrations_app.broadcast import Event
from migrations_app.errors import DomainError
from migrations_app.models import Plan
from migrations_app.roles import Actor, Permission

# Close codes a page shows as "refused" (not "lost"): the browser does not retry them.
UNAUTHENTICATED, FORBIDDEN, NOT_FOUND = 4401, 4403, 4404
INTERNAL_ERROR = 1011

logger = logging.getLogger(__name__)

_renders: OrderedDict = OrderedDict()
RENDER_MEMORY = 512


def _shared_render(key, render) -> asyncio.Future:
    """One render per key in this process: the first socket starts it, the others await it."""
    future = _renders.get(key)
    if future is None:
        future = asyncio.ensure_future(database_sync_to_async(render)())
        _renders[key] = future
        while len(_renders) > RENDER_MEMORY:
            _renders.popitem(last=False)
    return future


class PlanConsumer(AsyncJsonWebsocketConsumer):
    # Events come from the hub, not from a channel of this socket's own.
    channel_layer_alias = None
    plan = None
    inbox = None
    sender = None

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
        plan = await self._page_plan(self.scope["url_route"]["kwargs"]["plan_key"])
        if plan is None:
            await self.close(code=NOT_FOUND)
            return
        # Listening before the hello's number is read: no event after it can be missed.
        self.plan, self.inbox = plan, hub.Inbox()
        await hub.current().join(plan.pk, self)
        await self.accept()
        seq = await database_sync_to_async(broadcast.current_sequence)(self.plan.pk)
        await self.send_json({"hello": True, "seq": seq})
        self.sender = asyncio.ensure_future(self._send_events())

    async def disconnect(self, code):
        if self.sender:
            self.sender.cancel()
        if self.plan:
            await hub.current().leave(self.plan.pk, self)

    async def receive_json(self, content, **kwargs):
        """The page sends nothing; a socket is for listening."""

    def deliver(self, message: dict) -> None:
        """From the hub, for each event: its render starts now, shared with every socket
        of this process that shows the same page to the same kind of user."""
        seq, event, payload = message.get("seq", 0), message["event"], message["payload"]
        if event == Event.CHART_POINTS:
            rendered = None
        else:
            rendered = _shared_render(self._render_key(seq, event), lambda: self._render(event, payload, seq))
        self.inbox.put((seq, event, payload, rendered))

    async def _send_events(self):
        try:
            while True:
                frames = await self._frames(*await self.inbox.get())
                if not await self._sent(frames):
                    return  # the browser has gone; its disconnect follows
        except asyncio.CancelledError:
            raise
        except Exception:
            # A page that stops hearing its plan must not look live: closed, it says "lost",
            # reconnects and fetches its regions afresh.
            logger.exception("plan %s socket: could not send an event", self.plan.key)
            await self.close(code=INTERNAL_ERROR)

    async def _frames(self, seq, event, payload, rendered) -> list[str]:
        """An event's messages to the browser, in order."""
        if rendered is None:
            return [await self.encode_json({"seq": seq, "chart": payload})]
        html, points = await rendered
        # Chart points unnumbered and first: the numbered message after them closes the event.
        frames = [await self.encode_json({"charts": points})] if points else []
        frames.append(f"<!--seq:{seq}-->\n{html}" if html else await self.encode_json({"seq": seq}))
        return frames

    async def _sent(self, frames: list[str]) -> bool:
        """False when the browser went away with the event on its way: the ASGI server
        raises an OSError for a send on a closed connection (uvicorn's ClientDisconnected).
        That is no error, and a page that comes back fetches its regions."""
        try:
            for frame in frames:
                await self.send(text_data=frame)
        except OSError:
            logger.debug("plan %s socket: the browser left before an event reached it", self.plan.key)
            return False
        return True

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
