"""Ingest rate limits per project and per sending address: token buckets in memory.

Each server process keeps its own buckets (behind a load balancer the limits apply per
process). Addresses are only held in memory, in a bounded table, and never written.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

MAX_KEYS = 100_000


class Buckets:
    """Token buckets: `per_minute` requests a minute, bursts up to a minute's worth."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(max(1, per_minute))
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._now = time.monotonic

    def take(self, key: str) -> float:
        """0 when allowed (a token is used), else the seconds until one is available."""
        if self.rate <= 0:
            return 0.0
        now = self._now()
        with self._lock:
            tokens, stamp = self._state.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - stamp) * self.rate)
            if tokens >= 1:
                self._state[key] = (tokens - 1, now)
                wait = 0.0
            else:
                self._state[key] = (tokens, now)
                wait = (1 - tokens) / self.rate
            while len(self._state) > MAX_KEYS:
                self._state.popitem(last=False)
        return wait


class IngestLimits:
    def __init__(self, per_project: int, per_address: int) -> None:
        self.projects = Buckets(per_project)
        self.addresses = Buckets(per_address)

    def check(self, project_id: int, address: str) -> int:
        """Seconds to tell the recorder to wait (Retry-After), or 0."""
        wait = self.addresses.take(address) if address else 0.0
        if not wait:
            wait = self.projects.take(str(project_id))
        return 0 if not wait else max(1, int(wait + 0.999))
