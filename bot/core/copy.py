"""Every word a person reads, looked up by key so a collective can rewrite it in its config."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass


class _Params(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Copy:
    texts: Mapping[str, str]

    def __call__(self, key: str, **params: object) -> str:
        try:
            template = self.texts[key]
        except KeyError:
            raise KeyError(f"copy key {key!r} is missing from the [copy] config") from None
        # Parameters are user text: format_map never evaluates them, and a missing one
        # stays visible instead of failing the whole message.
        return template.format_map(_Params(params))

    def has(self, key: str) -> bool:
        return key in self.texts

    def keys_used_in(self, key: str) -> set[str]:
        """The {placeholders} a template expects; the config check compares them."""
        return {f for _, f, _, _ in string.Formatter().parse(self.texts[key]) if f}


def flatten(table: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """Turn nested TOML tables ([copy.rally] title = …) into dotted keys (rally.title)."""
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = str(value)
    return out
