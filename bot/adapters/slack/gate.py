"""Slack's signed requests checked on their raw bytes before anything parses them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.typedefs import Middleware

log = logging.getLogger(__name__)

MAX_SKEW = 60 * 5  # Slack's own rule: a request more than five minutes off is refused
LOG_EVERY = 60.0  # seconds between two lines about refused requests

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class RefusalLog:
    """One short line about a refused request, then at most one line every `every` seconds
    with how many more were refused and why: a flood of forged requests can't flood the log."""

    def __init__(self, every: float = LOG_EVERY, clock: Callable[[], float] = time.monotonic):
        self.every = every
        self.clock = clock
        self.waiting: Counter[str] = Counter()
        self._last = float("-inf")
        self._flush: asyncio.TimerHandle | None = None

    def refused(self, path: str, status: int, reason: str) -> None:
        now = self.clock()
        if now - self._last >= self.every and not self.waiting:
            self._last = now
            log.warning("refused a request to %s: %s (%d)", path, reason, status)
            return
        self.waiting[f"{reason} ({status})"] += 1
        if self._flush is None:
            delay = max(0.0, self._last + self.every - now)
            self._flush = asyncio.get_running_loop().call_later(delay, self.flush, path)

    def flush(self, path: str) -> None:
        self._flush = None
        if not self.waiting:
            return
        self._last = self.clock()
        total = sum(self.waiting.values())
        reasons = ", ".join(f"{reason}: {n}" for reason, n in self.waiting.most_common())
        self.waiting.clear()
        log.warning("refused %d more requests to %s (%s)", total, path, reasons)

    def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None


class SlackGate:
    """Checks the timestamp and the signature against the exact bytes received, then that the
    body is what Slack sends (UTF-8; JSON, or a form whose payload is JSON), before Bolt or
    anything else reads it. A bad request gets 400 (malformed) or 401 (not Slack's), no
    traceback, and one short, rate-limited log line."""

    def __init__(self, signing_secret: str, refusals: RefusalLog | None = None) -> None:
        self.secret = signing_secret.encode()
        self.refusals = refusals or RefusalLog()

    def signed(self, stamp: str, body: bytes, signature: str) -> bool:
        """Slack's v0 signature over the exact bytes. (slack_sdk's SignatureVerifier decodes
        the body as UTF-8 first, and raises on anything else: here a forged body of any
        bytes is simply not signed.)"""
        base = b"v0:" + stamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self.secret, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.encode())

    def middleware(self, paths: frozenset[str]) -> Middleware:
        @web.middleware
        async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path not in paths or request.method != "POST":
                return await handler(request)
            try:
                await self.check(request)
            except Refused as refused:
                self.refusals.refused(request.path, refused.status, refused.reason)
                text = "bad request" if refused.status == 400 else "invalid signature"
                return web.Response(status=refused.status, text=text)
            return await handler(request)

        return gate

    async def check(self, request: web.Request) -> None:
        stamp = request.headers.get("X-Slack-Request-Timestamp", "").strip()
        signature = request.headers.get("X-Slack-Signature", "").strip()
        if not stamp:
            raise Refused(400, "no timestamp")
        if not stamp.isascii() or not stamp.isdigit():
            raise Refused(400, "timestamp not a number")
        if abs(time.time() - int(stamp)) > MAX_SKEW:
            raise Refused(401, "stale timestamp")
        if not signature:
            raise Refused(401, "no signature")
        body = await request.read()
        if not self.signed(stamp, body, signature):
            raise Refused(401, "wrong signature")
        # Signed by Slack: now the body may be read, and must be what Slack sends.
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "body not UTF-8") from None
        if request.content_type == "application/json":
            _json_object(text)
        elif request.content_type == "application/x-www-form-urlencoded":
            form = parse_qs(text, keep_blank_values=True)
            if "payload" in form:
                _json_object(form["payload"][0])
        else:
            raise Refused(400, "not JSON or a form")


def _json_object(text: str) -> None:
    try:
        value = json.loads(text)
    except ValueError:
        raise Refused(400, "body not JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, "body not a JSON object")
