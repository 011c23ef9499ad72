"""Column types shared by the tables."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from bot.core.text import clean

# The core removes control characters from everything people type and platforms send; these
# types do it again on the way into the database, the last line of defence: PostgreSQL
# refuses NUL in text and in JSONB, and no control character has a place in a stored field.


class CleanString(TypeDecorator[str]):
    """VARCHAR(n) that stores no control characters."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else clean(value)


class CleanText(TypeDecorator[str]):
    """TEXT that stores no control characters."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else clean(value)


def clean_json(value: Any) -> Any:
    """Every string inside (keys too) without control characters."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean_json(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


# A control character as json.dumps (ensure_ascii) writes it: \u0000-\u001f, \u007f and
# \u0080-\u009f, or \b \f \r by name (\n and \t may stay). A false alarm (a typed
# backslash before "u0000") only costs the slow path.
_JSON_CONTROL = re.compile(r"\\u00(?:[0189][0-9a-f]|7f)|\\[bfr]")


class CleanJson(TypeDecorator[Any]):
    """JSON (JSONB on PostgreSQL: smaller, compared by value) whose strings hold no control
    characters: JSONB can't hold NUL at all."""

    impl = JSON().with_variant(JSONB(), "postgresql")
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        # Encoding in C and searching once is far faster than walking a payload of hundreds
        # of spans in Python; only a value that holds a control character is walked.
        if not _JSON_CONTROL.search(json.dumps(value)):
            return value
        return clean_json(value)


Json = CleanJson()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive value has no meaning we could guess safely: refuse it.
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
