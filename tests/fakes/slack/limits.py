"""Slack's published Web API rate limits, as token buckets the fake enforces."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

# Calls per minute per workspace per app (bursts allowed: a bucket holds a minute's worth).
TIER = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIER = {
    "apps.connections.open": 1,
    "auth.test": 4,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "conversations.open": 3,
    "files.completeUploadExternal": 4,
    "files.getUploadURLExternal": 4,
    "oauth.v2.access": 4,
    "team.info": 3,
    "users.info": 4,
    "views.open": 4,
    "views.publish": 4,
}


@dataclass
class Bucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float = -1.0
    at: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """0 when a call may go now (and takes a token), else the seconds until it could."""
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.capacity
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class Limits:
    """chat.postMessage: about one message per second per channel, with a short burst."""

    post_per_second: float = 1.0
    post_burst: int = 4
    tier_scale: float = 1.0  # >1 makes every tier more generous (benchmarks)


class RateLimiter:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._buckets: dict[tuple[str, ...], Bucket] = {}

    def _bucket(self, key: tuple[str, ...], rate: float, capacity: float) -> Bucket:
        found = self._buckets.get(key)
        if found is None:
            found = self._buckets[key] = Bucket(rate, capacity)
        return found

    def check(self, scope: str, method: str, channel: str | None) -> int:
        """0 if allowed, else the Retry-After seconds Slack would send."""
        if method == "chat.postMessage":
            wait = self._bucket(
                (scope, method, channel or ""),
                self.limits.post_per_second,
                self.limits.post_burst,
            ).take()
        else:
            per_minute = TIER[METHOD_TIER.get(method, 3)] * self.limits.tier_scale
            wait = self._bucket((scope, method), per_minute / 60.0, per_minute).take()
        return 0 if wait <= 0 else max(1, math.ceil(wait))
