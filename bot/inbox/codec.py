"""Commands, callers and replies as JSON, so a stored request is worked as it was received."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import timedelta
from enum import Enum
from functools import cache
from typing import Any

from bot.core import commands as c
from bot.core.messages import Reply, from_dict, to_dict


def _dump(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, timedelta):
        return value.total_seconds()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, frozenset | set):
        return sorted(_dump(v) for v in value)
    if isinstance(value, tuple | list):
        return [_dump(v) for v in value]
    return value


def _load(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _load(inner[0], value) if len(inner) == 1 else value
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if hint is timedelta:
        return timedelta(seconds=float(value))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value)
    if origin in (frozenset, set):
        return frozenset(_load(args[0], v) for v in value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_load(args[0], v) for v in value)
        return tuple(_load(a, v) for a, v in zip(args, value, strict=True))
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(c))


def _build(cls: type, data: dict[str, Any]) -> Any:
    hints = _hints(cls)
    return cls(**{name: _load(hints[name], value) for name, value in data.items()})


@cache
def _commands() -> dict[str, type]:
    return {
        name: value
        for name, value in vars(c).items()
        if isinstance(value, type) and dataclasses.is_dataclass(value)
    }


def dump_command(command: c.Command) -> dict[str, Any]:
    return {"type": type(command).__name__, "fields": _dump(command)}


def load_command(data: dict[str, Any]) -> c.Command:
    cls = _commands().get(str(data.get("type")))
    if cls is None:
        raise ValueError("a stored request names no known command")
    return typing.cast(c.Command, _build(cls, dict(data.get("fields") or {})))


def dump_caller(caller: c.Caller) -> dict[str, Any]:
    return typing.cast(dict[str, Any], _dump(caller))


def load_caller(data: dict[str, Any]) -> c.Caller:
    return typing.cast(c.Caller, _build(c.Caller, data))


def dump_reply(reply: Reply) -> dict[str, Any]:
    return {
        "message": to_dict(reply.message),
        "form": reply.form,
        "ok": reply.ok,
        "extras": [to_dict(m) for m in reply.extras],
    }


def load_reply(data: dict[str, Any]) -> Reply:
    return Reply(
        message=from_dict(dict(data["message"])),
        form=data.get("form"),
        ok=bool(data.get("ok", True)),
        extras=tuple(from_dict(dict(m)) for m in data.get("extras") or ()),
    )
