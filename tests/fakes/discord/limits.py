"""Discord's REST rate limits (global and per-route buckets) and scripted faults."""

from __future__ import annotations

import hashlib
import re
import time
from collections import deque
from dataclasses import dataclass, field

# The global limit does not apply to interaction callbacks and interaction webhooks.
GLOBAL_PER_SECOND = 50


@dataclass
class Limits:
    """Per-route limits. Discord's message bucket is 5 per 5 s per channel; the fake keeps the
    5 and shortens the window to a quarter second so tests can watch many windows go by."""

    global_per_second: int = GLOBAL_PER_SECOND
    window: float = 0.25
    messages: int = 5  # POST /channels/{id}/messages, per channel
    edits: int = 5  # PATCH /channels/{id}/messages/{id}, per channel
    dms: int = 10  # POST /users/@me/channels
    other: int = 50


@dataclass
class Bucket:
    name: str
    limit: int
    window: float
    used: int = 0
    resets_at: float = 0.0

    @property
    def hash(self) -> str:
        return hashlib.sha1(self.name.encode()).hexdigest()[:16]

    def take(self, now: float) -> bool:
        if now >= self.resets_at:
            self.used, self.resets_at = 0, now + self.window
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    def headers(self, now: float) -> dict[str, str]:
        reset_after = max(0.0, self.resets_at - now)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.hash,
        }


_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"^/channels/(\d+)/messages$"), "messages"),
    ("PATCH", re.compile(r"^/channels/(\d+)/messages/\d+$"), "edits"),
    ("POST", re.compile(r"^/users/@me/channels$"), "dms"),
)


class RateLimiter:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.buckets: dict[tuple[str, str], Bucket] = {}
        self.recent: deque[float] = deque()  # global: times of the last second's requests

    def bucket(self, method: str, path: str) -> Bucket:
        kind, major = "other", re.sub(r"\d+", "{id}", path)
        for m, pattern, name in _ROUTES:
            match = pattern.match(path)
            if m == method and match:
                kind, major = name, match.group(1) if match.groups() else ""
                break
        key = (f"{method} {kind}", major)
        if key not in self.buckets:
            limit = getattr(self.limits, kind)
            self.buckets[key] = Bucket(f"{method} {kind}", limit, self.limits.window)
        return self.buckets[key]

    def take_global(self, now: float) -> float:
        """0 when allowed, else seconds until the global window has room."""
        while self.recent and now - self.recent[0] >= 1.0:
            self.recent.popleft()
        if len(self.recent) >= self.limits.global_per_second:
            return max(0.001, 1.0 - (now - self.recent[0]))
        self.recent.append(now)
        return 0.0


@dataclass
class Fault:
    """A scripted answer for the next `times` requests matching method and path.

    status 429 answers a rate limit with `retry_after` (global or not); 5xx answers an error.
    after=True processes the request first and then answers the error, as when the response
    is lost on the way back (the client retries what Discord already did). delay slows the
    answer by that many seconds (with status 0: a slow success).
    """

    method: str
    path: str
    status: int = 429
    times: int = 1
    retry_after: float = 0.05
    is_global: bool = False
    after: bool = False
    delay: float = 0.0
    pattern: re.Pattern[str] = field(init=False)
    used: int = 0

    def __post_init__(self) -> None:
        self.pattern = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        return (
            self.used < self.times
            and self.method in (method, "*")
            and self.pattern.search(path) is not None
        )
