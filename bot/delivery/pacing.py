"""Token buckets, so the dispatcher paces itself by the platforms' published limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.ports import Limit


@dataclass
class _Bucket:
    tokens: float
    updated: float
    held_until: float = 0.0


class Pacer:
    """One bucket per limit key; a send waits until every bucket it counts against has a
    token. A 429 empties the destination's buckets for Retry-After seconds."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._buckets: dict[str, _Bucket] = {}
        self._lock = asyncio.Lock()

    def _bucket(self, limit: Limit, now: float) -> _Bucket:
        bucket = self._buckets.get(limit.key)
        if bucket is None:
            bucket = self._buckets[limit.key] = _Bucket(float(limit.burst), now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(limit.burst), bucket.tokens + elapsed * limit.per_second)
        bucket.updated = now
        return bucket

    def delay(self, limits: Sequence[Limit]) -> float:
        """Seconds until a send under these limits may go (0: now)."""
        now = self._now()
        wait = 0.0
        for limit in limits:
            bucket = self._bucket(limit, now)
            wait = max(wait, bucket.held_until - now)
            if bucket.tokens < 1.0:
                wait = max(wait, (1.0 - bucket.tokens) / limit.per_second)
        return wait

    async def acquire(self, limits: Sequence[Limit]) -> None:
        while True:
            async with self._lock:
                wait = self.delay(limits)
                if wait <= 0:
                    now = self._now()
                    for limit in limits:
                        self._bucket(limit, now).tokens -= 1.0
                    return
            await asyncio.sleep(wait)

    def hold(self, limits: Sequence[Limit], seconds: float) -> None:
        """The platform asked us to wait: nothing under these limits goes for `seconds`."""
        now = self._now()
        for limit in limits:
            bucket = self._bucket(limit, now)
            bucket.tokens = 0.0
            bucket.held_until = max(bucket.held_until, now + seconds)
