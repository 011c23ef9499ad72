"""Logging setup with a filter that keeps tokens and secrets out of every log line."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

# Slack tokens (xoxb-, xoxp-, xapp-…), Discord bot tokens, bearer headers and URL passwords.
_PATTERNS = (
    re.compile(r"xox[abeoprs]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"[MNO][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,40}"),
    re.compile(r"(?i)(bearer|bot)\s+[A-Za-z0-9._-]{20,}"),
    re.compile(r"(?<=://)([^:/@\s]+):([^@/\s]+)@"),
)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's final text with secrets removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


# The SDKs' own loggers log whole requests and responses below these levels (slack_sdk and
# Bolt the JSON of every call at DEBUG, a join note included; discord.py gateway payloads;
# SQLAlchemy statements and result rows at INFO and DEBUG; aiosqlite every parameter): message
# bodies must never reach the logs, whatever RALLYBOT_LOG_LEVEL says.
LIBRARY_FLOORS = {
    "slack_sdk": logging.INFO,
    "slack_bolt": logging.INFO,
    "bot.adapters.slack.bolt": logging.INFO,  # Bolt's app logger, named by rallybot
    "rallybot": logging.INFO,  # Bolt's loggers for the app's listeners ("rallybot:command")
    "discord": logging.INFO,
    "aiohttp": logging.INFO,
    "asyncpg": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "alembic": logging.WARNING,
    "apscheduler": logging.WARNING,
    "matplotlib": logging.WARNING,
    "fontTools": logging.WARNING,
    "fpdf": logging.WARNING,
    "PIL": logging.WARNING,
    "asyncio": logging.INFO,
}


def floor(name: str) -> int:
    """The lowest level a record of this logger may have to be logged (0: any)."""
    name = name.replace(":", ".")
    while name:
        found = LIBRARY_FLOORS.get(name)
        if found is not None:
            return found
        name = name.rpartition(".")[0]
    return 0


class LibraryFloor(logging.Filter):
    """Drops the SDKs' records below their floor. On the handler, not only as logger levels:
    Bolt copies the root's level onto loggers it creates, which would lift a parent's level."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= floor(record.name)


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for log collectors; the same redaction applies first."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "text", file: Path | None = None) -> None:
    """Log to stderr (stdout belongs to the console), or to a file (the interactive console,
    so nothing is printed over its prompt), with the redacting filter."""
    handler: logging.Handler = (
        logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(LibraryFloor())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Also as levels, so the libraries don't even format what would be dropped.
    for name, lowest in LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(lowest, root.level))
