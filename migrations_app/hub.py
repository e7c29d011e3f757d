"""One listener per plan in each server process, shared by every socket showing that plan.

Without it, each open page is a member of its plan's group in the channel layer: an event
for a plan that 200 browsers watch is 200 messages through Redis, read back one by one.
Here each process joins the group once per plan (per event loop), receives each event
once, and hands it to its sockets in memory. Each socket has an inbox of its own, so a
slow browser delays only itself; when its inbox is full, events are dropped for it and
the gap in the numbers makes its page re-sync.

    listener = await hub.join(plan_id, subscriber)   # subscriber.deliver(message) per event
    ...
    await hub.leave(plan_id, subscriber)             # the last one out stops the listener

A listener renews its group membership every REJOIN_SECONDS (the layer forgets members
after a day) and, when the layer fails while it listens, retries after RETRY_SECONDS; the
events it missed meanwhile show as a gap.
"""

import asyncio
import contextlib
import logging
import weakref
from typing import Protocol

from channels.layers import get_channel_layer

from migrations_app import broadcast

logger = logging.getLogger(__name__)

# Group membership expires in the channel layer (a day by default): renewed well before.
REJOIN_SECONDS = 3600
RETRY_SECONDS = 1.0
# Events a socket may have waiting; beyond it they are dropped for that socket alone.
INBOX_BOUND = 1000
# A listener told to stop has this long to leave the group before it is cancelled.
STOP_SECONDS = 5.0
STOP = "hub.stop"


class Subscriber(Protocol):
    def deliver(self, message: dict) -> None:
        """Take one event; must not block (the listener delivers to every socket in turn)."""


class Inbox:
    """A socket's bounded queue of waiting events."""

    def __init__(self, bound: int = INBOX_BOUND):
        self._queue: asyncio.Queue = asyncio.Queue(bound)
        self.dropped = 0

    def put(self, item) -> bool:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            return False
        return True

    async def get(self):
        return await self._queue.get()

    def __len__(self) -> int:
        return self._queue.qsize()


class Listener:
    """The plan's one member of its group in this process, fanning each event out."""

    def __init__(self, layer, plan_id: int):
        self.layer = layer
        self.group = broadcast.plan_group(plan_id)
        self.subscribers: set = set()
        self.channel: str | None = None
        self._joined = asyncio.get_running_loop().create_future()
        self._stopping = False
        self._task = asyncio.ensure_future(self._run())

    async def joined(self) -> None:
        """Return once the listener is in the group (raise if it could not join)."""
        await asyncio.shield(self._joined)

    async def stop(self) -> None:
        """Leave the group. The listener is woken by a message of its own rather than
        cancelled: a read from Redis cut short can swallow the cancellation and wait on."""
        self._stopping = True
        if not self._task.done():
            try:
                await asyncio.wait_for(self.layer.send(self.channel, {"type": STOP}), STOP_SECONDS)
                await asyncio.wait_for(asyncio.shield(self._task), STOP_SECONDS)
            except Exception:
                logger.warning("live events: the listener of %s did not stop by itself", self.group)
                self._task.cancel()
        # The Redis layer clears a received message from its backup queue in a task of its
        # own and holds a lock of this process's channels until then: let it finish here,
        # not after the loop is gone (a server's shutdown, the end of a test).
        wait_received = getattr(self.layer, "wait_received", None)
        if wait_received is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(wait_received(), STOP_SECONDS)

    async def _run(self) -> None:
        try:
            self.channel = await self.layer.new_channel(prefix="plan-hub")
            await self.layer.group_add(self.group, self.channel)
        except Exception as error:
            self._joined.set_exception(error)
            return
        self._joined.set_result(None)
        renewal = asyncio.ensure_future(self._keep_joined())
        try:
            await self._listen()
        finally:
            renewal.cancel()
            with contextlib.suppress(Exception):
                await asyncio.shield(self.layer.group_discard(self.group, self.channel))

    async def _listen(self) -> None:
        while not self._stopping:
            try:
                message = await self.layer.receive(self.channel)
            except Exception:
                if self._stopping:
                    return
                if asyncio.current_task().cancelling():
                    # Cancelled (the loop is closing), and the read from Redis made a
                    # connection error of it: the cancellation still stands.
                    raise asyncio.CancelledError from None
                logger.exception("live events: listening to %s failed; retrying", self.group)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if message.get("type") == broadcast.MESSAGE_TYPE:
                for subscriber in list(self.subscribers):
                    subscriber.deliver(message)

    async def _keep_joined(self) -> None:
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            try:
                await self.layer.group_add(self.group, self.channel)
            except Exception:
                logger.exception("live events: could not renew %s; retrying", self.group)
                await asyncio.sleep(RETRY_SECONDS)


class Hub:
    """The listeners of one event loop, by plan."""

    def __init__(self):
        self.listeners: dict[int, Listener] = {}

    async def join(self, plan_id: int, subscriber: Subscriber) -> Listener:
        listener = self.listeners.get(plan_id)
        if listener is None:
            listener = self.listeners[plan_id] = Listener(get_channel_layer(), plan_id)
        listener.subscribers.add(subscriber)
        try:
            await listener.joined()
        except BaseException:
            await self.leave(plan_id, subscriber)
            raise
        return listener

    async def leave(self, plan_id: int, subscriber: Subscriber) -> None:
        listener = self.listeners.get(plan_id)
        if listener is None:
            return
        listener.subscribers.discard(subscriber)
        if not listener.subscribers:
            del self.listeners[plan_id]
            await listener.stop()


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def current() -> Hub:
    """The hub of the running event loop (a server has one; each test has its own)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub
