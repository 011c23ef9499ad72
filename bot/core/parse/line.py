"""One command line, word by word: what the platform sent, read through its Syntax."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import commands as c
from bot.core.parse.syntax import Syntax
from bot.core.parse.values import member_ref, usage


def drop_words(text: str, n: int) -> str:
    """The text after its first n words, its own spacing and line breaks kept."""
    rest = text.strip()
    for _ in range(n):
        parts = rest.split(maxsplit=1)
        rest = parts[1] if len(parts) > 1 else ""
    return rest


@dataclass(frozen=True)
class Line:
    """A verb and the words after it, as the platform sent them; the syntax reads them."""

    verb: str
    raw: tuple[str, ...]  # the words after the verb, markup and escapes as sent
    tail: str  # the text after the verb, as sent
    syntax: Syntax

    @classmethod
    def read(cls, text: str, syntax: Syntax) -> Line:
        words = text.split()
        verb = syntax.text(words[0]).lower().lstrip("/") if words else ""
        return cls(verb, tuple(words[1:]), drop_words(text, 1), syntax)

    def sub(self) -> Line:
        """The same line one word on: its first word is the verb (`library add …`)."""
        return Line.read(self.tail, self.syntax)

    def __len__(self) -> int:
        return len(self.raw)

    def word(self, i: int) -> str:
        """Word i as the person typed it."""
        return self.syntax.text(self.raw[i])

    @property
    def words(self) -> list[str]:
        return [self.syntax.text(w) for w in self.raw]

    def rest(self, n: int) -> str:
        """The text after the first n words, as sent."""
        return drop_words(self.tail, n)

    def after(self, n: int) -> str:
        """The text after the first n words, as the person typed it."""
        return self.syntax.text(self.rest(n))

    def member(self, i: int) -> c.MemberRef:
        return member_ref(self.raw[i], self.syntax)

    def expect(self, count: int, name: str) -> None:
        """Exactly `count` words, or the usage of [copy.usage] `name`."""
        if len(self.raw) != count:
            raise usage(name)
