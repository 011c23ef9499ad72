"""The console's Chat port: messages the bot sends are printed where they would go."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from bot.adapters.console.render import render
from bot.core.messages import Message
from bot.core.model import OutboxItem


class Buttons:
    """Numbers every button shown, so `/press N` (or its label) finds its stable action id."""

    def __init__(self) -> None:
        self._actions: dict[int, tuple[str, str]] = {}

    def number(self, action_id: str, label: str = "") -> int:
        n = len(self._actions) + 1
        self._actions[n] = (action_id, label)
        return n

    def action(self, n: int) -> str | None:
        found = self._actions.get(n)
        return found[0] if found else None

    def latest(self, label: str) -> str | None:
        """The most recent button whose label starts with this text (any case)."""
        wanted = _fold(label)
        for n in sorted(self._actions, reverse=True):
            action_id, shown = self._actions[n]
            if wanted and _fold(shown).startswith(wanted):
                return action_id
        return None


def _fold(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch == " ").strip()


class ConsoleChat:
    platform = "console"

    def __init__(self, out: TextIO, buttons: Buttons, files: Path | None = None) -> None:
        self.out = out
        self.buttons = buttons
        self.files = files  # where binary attachments (the digest chart) are written
        self._sent = 0

    def _save(self, message: Message) -> dict[str, Path]:
        saved: dict[str, Path] = {}
        if self.files is None:
            return saved
        for attachment in message.attachments:
            if attachment.data is not None:
                self.files.mkdir(parents=True, exist_ok=True)
                # Only the base name: a filename can't climb out of the files folder.
                path = self.files / Path(attachment.filename).name
                path.write_bytes(attachment.data)
                saved[attachment.filename] = path
        return saved

    def _header(self, item: OutboxItem) -> str:
        if item.address_kind == "dm":
            return f"DM to {item.address}"
        return item.address

    async def post(self, item: OutboxItem, message: Message) -> str:
        self._sent += 1
        ref = f"m{self._sent}"
        saved = self._save(message)
        print(render(message, self.buttons.number, self._header(item), saved), file=self.out)
        return ref

    async def update(self, item: OutboxItem, ref: str, message: Message) -> None:
        header = f"{self._header(item)} (message {ref} updated)"
        print(render(message, self.buttons.number, header), file=self.out)
