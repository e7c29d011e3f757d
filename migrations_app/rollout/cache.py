"""A per-process cache for the data plane's hot path (snapshot, decide, service tokens),
emptied by PostgreSQL the moment anything it holds changes.

Every request on the data plane would otherwise open a database connection (Django closes
them after each request under ASGI) and run two or three queries: several milliseconds,
where the request itself costs a fraction of one. Instead, triggers on the plan, rollout
and token tables `NOTIFY switchyard_rollout` (migration 0004_rollout), delivered when the writing
transaction commits, whoever wrote (a service, the plan loader, the admin, another
process); one listener thread per process empties the cache on each. The process that
made a change also empties it on commit, before its own response leaves.

The cache serves only while its listener is connected (otherwise nothing could tell it
about a change), only on PostgreSQL, and never inside a transaction, where a reader must
see its own uncommitted writes.
"""

import logging
import threading
import time

import psycopg
from django.conf import settings
from django.db import connections, transaction

logger = logging.getLogger(__name__)

CHANNEL = "switchyard_rollout"
_MISSING = object()
TRIGGERS_PRESENT = (
    "SELECT count(*) = 3 FROM pg_trigger WHERE tgname IN ('migrations_app_plan_notify_rollout', "
    "'migrations_app_rollout_notify_rollout', 'migrations_app_apitoken_notify_rollout')"
)


class Cache:
    def __init__(self):
        self.entries: dict = {}
        self.generation = 0
        self.listening = False
        self._lock = threading.Lock()
        self._listener: threading.Thread | None = None

    def usable(self) -> bool:
        """Whether the cache may serve now. Ask once per request: it looks at the thread's
        database connections, without making one (Django makes one per request thread under
        ASGI, which would cost more than the cached answer itself)."""
        if self._listener is None:
            if not settings.ROLLOUT_CACHE or connections["default"].vendor != "postgresql":
                return False
            self._start_listener()
        return self.listening and not any(c.in_atomic_block for c in connections.all(initialized_only=True))

    def get(self, key, load, usable: bool):
        """The cached value of `key`, or `load()` (kept, unless a change landed meanwhile)."""
        if not usable:
            return load()
        generation = self.generation
        entry = self.entries.get(key, _MISSING)
        if entry is not _MISSING and entry[0] == generation:
            return entry[1]
        value = load()
        self.entries[key] = (generation, value)
        return value

    def forget(self, key) -> None:
        self.entries.pop(key, None)

    def invalidate(self) -> None:
        with self._lock:
            self.generation += 1
            self.entries.clear()

    def _start_listener(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            params = connections["default"].get_connection_params()
            self._listener = threading.Thread(target=self._listen, args=(params,), name="rollout-cache", daemon=True)
            self._listener.start()

    def _listen(self, params: dict) -> None:
        params = {k: v for k, v in params.items() if k not in {"cursor_factory", "context", "prepare_threshold"}}
        while True:
            try:
                with psycopg.connect(**params, autocommit=True) as listener:
                    if not listener.execute(TRIGGERS_PRESENT).fetchone()[0]:
                        logger.warning("rollout cache off: the notify triggers of migration 0004_rollout are missing")
                        return
                    listener.execute(f"LISTEN {CHANNEL}")
                    self.invalidate()
                    self.listening = True
                    for _ in listener.notifies():
                        self.invalidate()
            except Exception:
                logger.warning("rollout cache listener disconnected; serving from the database", exc_info=True)
            finally:
                self.listening = False
                self.invalidate()
            time.sleep(1)


CACHE = Cache()


def changed_on_commit() -> None:
    """Empty this process's cache as soon as the current transaction commits."""
    transaction.on_commit(CACHE.invalidate)
