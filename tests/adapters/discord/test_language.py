"""Discord offers the whole command language of the README, within Discord's limits."""

from __future__ import annotations

import re
from pathlib import Path

from bot.adapters.discord.cog import FOLDED, SUBCOMMANDS
from bot.adapters.discord.library import LIBRARY_SUBCOMMANDS

README = Path(__file__).resolve().parents[3] / "README.md"


def language() -> list[str]:
    """The subcommands in the README's table under "The command language"."""
    text = README.read_text()
    section = text.split("## The command language", 1)[1].split("\n## ", 1)[0]
    verbs: list[str] = []
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            verbs.extend(re.findall(r"`([a-z]+)", first_cell))
    return verbs


def test_every_command_of_the_language_is_a_discord_subcommand() -> None:
    verbs = language()
    assert "alert" in verbs and "digest" in verbs and "library" in verbs
    # The library is a group of its own on Discord, /rally-library, with every library verb.
    offered = {FOLDED.get(v, v) for v in verbs if v != "library"}
    assert offered == set(SUBCOMMANDS), (
        "the README's command language and the Discord /rally group differ: "
        f"missing on Discord {offered - set(SUBCOMMANDS)}, extra {set(SUBCOMMANDS) - offered}"
    )


def test_discord_allows_at_most_25_subcommands_in_a_group() -> None:
    assert len(SUBCOMMANDS) <= 25
    assert set(FOLDED.values()) <= set(SUBCOMMANDS)


def test_every_library_verb_of_the_readme_is_a_rally_library_subcommand() -> None:
    text = README.read_text()
    section = text.split("## The command language", 1)[1].split("\n## ", 1)[0]
    verbs = set(re.findall(r"`library (?:\[)?([a-z]+)", section))
    assert verbs == set(LIBRARY_SUBCOMMANDS), verbs ^ set(LIBRARY_SUBCOMMANDS)
    assert len(LIBRARY_SUBCOMMANDS) <= 25
