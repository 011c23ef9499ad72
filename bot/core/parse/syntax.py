"""How a platform writes mentions, roles and links in typed text: each adapter's Syntax."""

from __future__ import annotations

from typing import Protocol

from bot.core.commands import MemberRef


class Syntax(Protocol):
    """Reads one platform's markup in a word someone typed. Each adapter has its own (in its
    package); the core asks it and knows no platform's markup itself."""

    def member(self, word: str) -> MemberRef | None:
        """The person a word mentions in this platform's syntax, or None if it mentions none."""
        ...

    def role(self, word: str) -> str | None:
        """The platform role id a word mentions, or None."""
        ...

    def link(self, word: str) -> str | None:
        """The address inside this platform's link markup (any label dropped), or None when
        the word is not link markup."""
        ...

    def text(self, typed: str) -> str:
        """Text as the person typed it: this platform's escapes undone, markup left as is."""
        ...


class PlainSyntax:
    """Words with no markup at all: the console's, and what the core reads by default."""

    def member(self, word: str) -> MemberRef | None:
        return None

    def role(self, word: str) -> str | None:
        return None

    def link(self, word: str) -> str | None:
        return None

    def text(self, typed: str) -> str:
        return typed


PLAIN: Syntax = PlainSyntax()
