"""Malformed and unsigned requests to `rallybot web`'s /slack/events: checked on their raw
bytes before anything parses them, answered 400 or 401 without a traceback, and logged in
one short line that a flood can't multiply."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from urllib.parse import urlencode

import aiohttp
import pytest

from tests.adapters.slack.harness import SECRET, SlackBot

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
GATE = "bot.adapters.slack.gate"


async def post(
    bot: SlackBot,
    session: aiohttp.ClientSession,
    body: bytes,
    content_type: str = JSON,
    timestamp: str | None = None,
    signature: str | None = None,
    sign: bool = True,
    skew: int = 0,
) -> tuple[int, str]:
    # The time is taken when the request is sent (a parametrised value would be stale).
    stamp = str(int(time.time()) + skew) if timestamp is None else timestamp
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp}
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    elif sign:  # as Slack signs: v0 HMAC-SHA256 over the exact bytes sent
        base = b"v0:" + stamp.encode() + b":" + body
        digest = hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
        headers["X-Slack-Signature"] = f"v0={digest}"
    url = f"http://127.0.0.1:{bot.port}/slack/events"
    async with session.post(url, data=body, headers=headers) as answer:
        return answer.status, await answer.text()


def event(text: str = "hello") -> bytes:
    return json.dumps({"type": "event_callback", "team_id": "T0000001", "x": text}).encode()


@pytest.mark.parametrize(
    ("case", "body", "options", "status"),
    [
        ("signed, not JSON", b'{"type": "event_callback",', {}, 400),
        ("signed, a JSON list", b"[1, 2]", {}, 400),
        ("signed, not UTF-8", b"text=\xff\xfe\xfd&team_id=T1", {"content_type": FORM}, 400),
        ("signed, payload not JSON", b"payload=%7Bnope", {"content_type": FORM}, 400),
        ("signed, neither JSON nor a form", b"hello", {"content_type": "text/plain"}, 400),
        ("empty timestamp", event(), {"timestamp": ""}, 400),
        ("timestamp not a number", event(), {"timestamp": "soon"}, 400),
        ("timestamp in other digits", event(), {"timestamp": "\uff11\uff12"}, 400),
        ("stale", event(), {"skew": -400}, 401),
        ("from the future", event(), {"skew": 400}, 401),
        ("no signature", event(), {"sign": False}, 401),
        ("wrong signature", event(), {"signature": "v0=" + "0" * 64}, 401),
        ("unsigned, not JSON", b"{not json", {"signature": "v0=forged"}, 401),
        ("unsigned, not UTF-8", b"\xff\xfe", {"signature": "v0=forged"}, 401),
    ],
)
async def test_a_bad_request_is_refused_before_its_body_is_parsed(
    bot: SlackBot,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    case: str,
    body: bytes,
    options: dict[str, str | bool | int],
    status: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    answered, text = await post(bot, session, body, **options)  # type: ignore[arg-type]
    assert answered == status, (case, text)
    assert text in ("bad request", "invalid signature")
    refused = [r for r in caplog.records if r.name == GATE]
    assert len(refused) == 1 and refused[0].levelno == logging.WARNING
    line = refused[0].getMessage()
    assert line.startswith("refused a request to /slack/events: ") and len(line) < 100
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], case
    assert "Traceback" not in caplog.text
    # The body never reached Bolt: no listener, no Web API call.
    assert [c.method for c in bot.fake.calls] == ["auth.test"]  # at start, nothing since


async def test_a_flood_of_bad_requests_is_one_line_then_a_count(
    bot: SlackBot, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    bot.http.gate.refusals.every = 0.5
    caplog.set_level(logging.INFO, logger=GATE)
    for i in range(150):
        stamp = "soon" if i % 3 == 0 else None
        signature = None if i % 3 == 0 else "v0=forged"
        status, _ = await post(bot, session, b"{x", timestamp=stamp, signature=signature)
        assert status in (400, 401)
    await asyncio.sleep(0.7)
    lines = [r.getMessage() for r in caplog.records if r.name == GATE]
    assert lines[0] == "refused a request to /slack/events: timestamp not a number (400)"
    assert lines[1:] == [
        "refused 149 more requests to /slack/events "
        "(wrong signature (401): 100, timestamp not a number (400): 49)"
    ]


async def test_a_signed_request_still_goes_through(
    bot: SlackBot, session: aiohttp.ClientSession
) -> None:
    sent = await bot.send.command("T0000001", "UEVE", "help")
    assert sent.status == 200
    (said,) = await bot.fake.response(str(sent.response_id))
    assert "/rally join" in said["text"] or said.get("blocks")
    # And a signed form body is parsed by Bolt as before.
    status, _ = await post(
        bot,
        session,
        urlencode({"payload": json.dumps({"type": "unknown_kind"})}).encode(),
        FORM,
    )
    assert status in (200, 404)
