"""The log filter keeps tokens and secrets out of every line, in text and in JSON."""

from __future__ import annotations

import io
import json
import logging

from bot.logging import JsonFormatter, RedactingFilter, redact

SECRETS = [
    "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx",
    "xapp-1-A111-222-abcdef0123456789",
    "MTA5ODc2NTQzMjEwOTg3NjU0.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB",
    "postgres://rally:s3cret@db.internal:5432/rallybot",
]


def test_tokens_and_url_passwords_are_redacted() -> None:
    for secret in SECRETS:
        cleaned = redact(f"calling with {secret} now")
        assert "[redacted]" in cleaned
        assert "s3cret" not in cleaned and "AbCdEfGh" not in cleaned and "abcdef0123" not in cleaned


def test_the_filter_cleans_messages_arguments_and_tracebacks_as_json() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("token %s rejected", SECRETS[0])
        try:
            raise RuntimeError(f"auth failed for {SECRETS[1]}")
        except RuntimeError:
            log.exception("while connecting")
    finally:
        log.removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["message"] == "token [redacted] rejected"
    assert "[redacted]" in lines[1]["exception"] and SECRETS[1] not in lines[1]["exception"]
