"""The embedded mode's channel layer: in-process, and safe to send to from any thread.

Channels' InMemoryChannelLayer keeps each channel as an asyncio.Queue of the event loop
whose consumer waits on it. A Celery task in a worker thread publishes through
`async_to_sync`, that is from another event loop in another thread: the put wakes the
waiting consumer without waking its loop, so the message waits for that loop's next
unrelated wake-up (about 2 s in the server; DESIGN.md) and the layer's dicts are changed
from two threads at once.

This layer runs every operation on the loop its consumers live on (the first that called
`receive`, while it runs) with `asyncio.run_coroutine_threadsafe`, which wakes that loop
at once. Sending, and receiving too, work from any thread; the queues live in one loop.
"""

import asyncio

from channels.layers import InMemoryChannelLayer

# A sender waits this long for the server's loop to take its message. The loop answers in
# well under a millisecond; a loop that does not answer is shutting down, and a worker
# must not hang on a broadcast that no browser will read.
HANDOFF_TIMEOUT_SECONDS = 5


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._consumer_loop: asyncio.AbstractEventLoop | None = None

    async def receive(self, channel):
        # Bind to the first receiving loop; rebind only when it is gone (a restarted
        # server, a new test loop).
        if not self._is_live(self._consumer_loop):
            self._consumer_loop = asyncio.get_running_loop()
        # Waiting for a message takes as long as it takes: no hand-off timeout.
        return await self._on_consumer_loop(super().receive, channel, timeout=None)

    async def send(self, channel, message):
        return await self._on_consumer_loop(super().send, channel, message)

    async def group_send(self, group, message):
        return await self._on_consumer_loop(super().group_send, group, message)

    async def group_add(self, group, channel):
        return await self._on_consumer_loop(super().group_add, group, channel)

    async def group_discard(self, group, channel):
        return await self._on_consumer_loop(super().group_discard, group, channel)

    async def flush(self):
        return await self._on_consumer_loop(super().flush)

    async def _on_consumer_loop(self, method, *args, timeout=HANDOFF_TIMEOUT_SECONDS):
        target = self._consumer_loop
        if not self._is_live(target) or target is asyncio.get_running_loop():
            return await method(*args)
        # Cancelling the wait (a receive's timeout) cancels the operation in the target loop.
        future = asyncio.run_coroutine_threadsafe(method(*args), target)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    @staticmethod
    def _is_live(loop: asyncio.AbstractEventLoop | None) -> bool:
        return loop is not None and loop.is_running() and not loop.is_closed()
