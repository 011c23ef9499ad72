"""Every word a person reads, looked up by key so a collective can rewrite it in its config."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

# The forms a plural key may have, chosen by its `count` parameter: `.zero` (optional, for
# "nobody yet" sentences), `.one` and `.other` (required).
PLURAL_FORMS = ("zero", "one", "other")


class _Params(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Copy:
    texts: Mapping[str, str]

    def __call__(self, key: str, **params: object) -> str:
        # Parameters are user text: format_map never evaluates them, and a missing one
        # stays visible instead of failing the whole message.
        return self.template(key, params.get("count")).format_map(_Params(params))

    def template(self, key: str, count: object = None) -> str:
        """The text of a key; a plural key ([copy.x.key] one = …, other = …) gives the
        form that fits `count`."""
        text = self.texts.get(key)
        if text is not None:
            return text
        if f"{key}.other" not in self.texts:
            raise KeyError(f"copy key {key!r} is missing from the [copy] config")
        form = "other"
        if count == 0 and f"{key}.zero" in self.texts:
            form = "zero"
        elif count == 1 and f"{key}.one" in self.texts:
            form = "one"
        return self.texts[f"{key}.{form}"]

    def duration(self, minutes: int) -> str:
        """A wait in the unit a person reads at a glance: minutes up to two hours, hours up
        to two days, then days (rounded down: "25 hours", never "1471 minutes")."""
        if minutes < 120:
            return self("duration.minutes", count=minutes)
        if minutes < 48 * 60:
            return self("duration.hours", count=minutes // 60)
        return self("duration.days", count=minutes // (24 * 60))

    def has(self, key: str) -> bool:
        return key in self.texts or f"{key}.other" in self.texts

    def is_plural(self, key: str) -> bool:
        return key not in self.texts and f"{key}.other" in self.texts

    def keys_used_in(self, key: str) -> set[str]:
        """The {placeholders} a template expects (of every form of a plural key); the
        config check compares them."""
        forms = (
            [self.texts[f"{key}.{f}"] for f in PLURAL_FORMS if f"{key}.{f}" in self.texts]
            if self.is_plural(key)
            else [self.texts[key]]
        )
        return {f for text in forms for _, f, _, _ in string.Formatter().parse(text) if f}


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
