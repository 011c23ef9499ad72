"""The log filter keeps tokens and secrets out of every line, in text and in JSON."""

from __future__ import annotations

import io
import json
import logging

from bot.logs import LIBRARY_FLOORS, JsonFormatter, RedactingFilter, configure, redact

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


def test_the_sdks_never_log_bodies_even_at_debug() -> None:
    """configure("DEBUG") as RALLYBOT_LOG_LEVEL=DEBUG does; each SDK logs a body as it does."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in LIBRARY_FLOORS}
    out = io.StringIO()
    try:
        configure("DEBUG")
        (handler,) = root.handlers
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(out)
        body = "join note: logscan-unit-body"
        logging.getLogger("slack_sdk.web.async_base_client").debug("Sending a request: %s", body)
        # Bolt sets loggers it creates to the root's level: the handler still drops them.
        bolt = logging.getLogger("slack_bolt.AsyncApp")
        bolt.setLevel(logging.DEBUG)
        bolt.debug("Responding with %s", body)
        logging.getLogger("rallybot:command").debug("listener body %s", body)
        logging.getLogger("discord.gateway").debug("For Shard ID None: WebSocket Event: %s", body)
        logging.getLogger("sqlalchemy.engine.Engine").info("INSERT ... %s", body)
        logging.getLogger("sqlalchemy.engine.Engine").debug("Row (%r,)", body)
        logging.getLogger("aiosqlite").debug("executing %s", body)
        logging.getLogger("bot.delivery.outbox").debug("our own debug line")
        logging.getLogger("slack_sdk.socket_mode").warning("a warning without a body")
    finally:
        root.handlers[:], root.level = saved
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    logged = out.getvalue()
    assert "logscan-unit-body" not in logged
    assert "our own debug line" in logged and "a warning without a body" in logged
