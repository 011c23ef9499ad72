"""Severe kinds a member names in her own words.

An alert's note goes into the rally message, so a note that says "threats" or "posted my home
address" on an alert raised without that kind would repeat it to the whole group. When the
note names a severe kind the raiser did not choose, the alert takes that kind too: the safety
leads see it first and the crowd is only called when the target wants it (docs/safety.md).
A word that was not meant that way costs a safety lead's look; a missed one costs her the
privacy the safety path exists for, so the words lean towards catching.
"""

from __future__ import annotations

import re

from bot.core.model import Kind

_OBJECT = r"(?:me|her|him|them|you|us)"  # "killing me" and "shoot me an email" are not threats
_WORDS: dict[Kind, re.Pattern[str]] = {
    Kind.THREAT: re.compile(
        rf"\bthreat\w*|\b(?:kill|stab|murder)(?:s|ed)?\s+{_OBJECT}\b"
        r"|\bwants?\s+(?:me|her|him|them)\s+dead\b",
        re.IGNORECASE,
    ),
    Kind.DOXXING: re.compile(
        r"\bdox\w*"
        r"|\b(?:my|her|his|their|our)\s+(?:home\s+|work\s+|personal\s+)?"
        r"(?:address|phone\s+number)\b"
        r"|\bhome\s+address\b",
        re.IGNORECASE,
    ),
    Kind.SEXUAL_HARASSMENT: re.compile(
        r"\bsexual\w*|\brap(?:e|ed|es|ing|ist|ists)\b|\bnudes?\b|\bdick\s+pics?\b"
        r"|\bexplicit\s+(?:photo|image|picture|video)s?\b",
        re.IGNORECASE,
    ),
}


def kinds_named(text: str) -> frozenset[Kind]:
    """The severe kinds `text` names (threat, doxxing, sexual harassment), if any."""
    return frozenset(kind for kind, words in _WORDS.items() if words.search(text))
