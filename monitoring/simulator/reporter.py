"""Reporting through the public API: metrics and comparisons buffered and sent in batches
(POST /api/v1/metrics and /comparisons). A batch the control plane cannot take now is
kept for the next flush, up to a bound; beyond it the oldest are dropped, and counted."""

import logging
import threading

import httpx

logger = logging.getLogger(__name__)

MAX_BATCH = 10_000
MAX_BUFFERED = 100_000


class Reporter:
    def __init__(self, base_url: str, token: str, *, client: httpx.Client | None = None):
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.Client(timeout=10)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.buffers: dict[str, list[dict]] = {"metrics": [], "comparisons": []}
        self.sent = {"metrics": 0, "comparisons": 0}
        self.dropped = {"metrics": 0, "comparisons": 0}
        self.refused = 0
        self.lock = threading.Lock()

    def add(self, kind: str, items: list[dict]) -> None:
        with self.lock:
            buffer = self.buffers[kind]
            buffer.extend(items)
            excess = len(buffer) - MAX_BUFFERED
            if excess > 0:
                del buffer[:excess]
                self.dropped[kind] += excess

    def flush(self) -> None:
        for kind in self.buffers:
            while True:
                with self.lock:
                    batch = self.buffers[kind][:MAX_BATCH]
                if not batch or not self._post(kind, batch):
                    break
                with self.lock:
                    del self.buffers[kind][: len(batch)]
                self.sent[kind] += len(batch)

    def _post(self, kind: str, batch: list[dict]) -> bool:
        try:
            response = self.client.post(f"{self.base_url}/api/v1/{kind}", json=batch, headers=self.headers)
        except httpx.HTTPError as error:
            logger.warning("cannot report %s to %s: %s", kind, self.base_url, error)
            return False
        if response.status_code == 200:
            return True
        if response.status_code in (400, 413, 422):
            # The control plane will never take this batch: keeping it would block the rest.
            logger.error("%s batch refused (%s): %s", kind, response.status_code, response.text[:500])
            self.refused += len(batch)
            with self.lock:
                del self.buffers[kind][: len(batch)]
            return False
        logger.warning("reporting %s answered %s: %s", kind, response.status_code, response.text[:200])
        return False
