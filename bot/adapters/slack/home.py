"""App Home: open alerts, one's availability and quiet hours, and for leads the members."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    HeaderBlock,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.adapters.slack.render import escape, mrkdwn, render
from bot.core.commands import Caller
from bot.core.messages import Reply
from bot.core.services import Services

HOME = "rally:home:"
RAISE = HOME + "alert"
QUIET = HOME + "quiet"
QUIET_OFF = "off"
QUIET_PRESETS = ("21:00-07:00", "22:00-07:00", "22:00-08:00", "23:00-07:00", "23:00-08:00")
# Home buttons speak the command language: each is the text typed after /rally.
BUTTONS = {
    HOME + "available:on": "available on",
    HOME + "available:off": "available off",
    HOME + "pause:1d": "pause 1d",
    HOME + "pause:off": "pause off",
}
MAX_BLOCKS = 100  # Slack's limit for a Home view
MEMBER_LINES = 40


def home_text(action_id: str, selected: str | None) -> str | None:
    """The command a Home control stands for; None for anything else (refused, never guessed)."""
    if action_id in BUTTONS:
        return BUTTONS[action_id]
    if action_id == QUIET and selected in (QUIET_OFF, *QUIET_PRESETS):
        return f"quiet {selected}"
    return None


def _plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=text[:75], emoji=False)


def _button(label: str, action_id: str, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=_plain(label), action_id=action_id, style=style)


def _heading(text: str) -> SectionBlock:
    return SectionBlock(text=mrkdwn(f"*{escape(text)}*"))


class Home:
    """The Home tab, built from the same replies a person gets by typing the commands."""

    def __init__(self, services: Services, command: str) -> None:
        self.services = services
        self.command = command

    def t(self, key: str, **params: object) -> str:
        return self.services.copy(f"slack.{key}", **params)

    async def view(self, caller: Caller, notice: Reply | None = None) -> View:
        blocks: list[Block] = [HeaderBlock(text=self.t("home_title")[:150])]
        if notice is not None:
            blocks += render(notice.message).blocks
            blocks.append(DividerBlock())
        status = await self.services.handle_text(caller, "status")
        if not status.ok:  # a stranger: how to join, and nothing else
            blocks += render(status.message).blocks
            return View(type="home", blocks=blocks[:MAX_BLOCKS])
        blocks.append(ActionsBlock(elements=[_button(self.t("home_raise"), RAISE, "primary")]))
        blocks.append(_heading(self.t("home_alerts")))
        blocks += render(status.message).blocks
        me = await self.services.handle_text(caller, "me")
        blocks += [DividerBlock(), *self._settings()]
        if me.ok:  # the current state beside the toggles
            blocks[-1:-1] = render(me.message, with_buttons=False).blocks
        members = await self.services.handle_text(caller, "members")
        if members.ok:  # leads: everyone, pending requests first with their Approve buttons
            blocks += [DividerBlock(), _heading(self.t("home_lead"))]
            lines = render(members.message).blocks
            room = min(MEMBER_LINES, MAX_BLOCKS - len(blocks) - 1)
            blocks += lines[:room]
            if len(lines) > room:
                more = self.t("home_more", count=len(lines) - room, command=self.command)
                blocks.append(SectionBlock(text=mrkdwn(escape(more))))
        return View(type="home", blocks=blocks[:MAX_BLOCKS])

    def _settings(self) -> list[Block]:
        quiet = [Option(value=QUIET_OFF, label=self.t("quiet_off")[:75])] + [
            Option(value=p, label=p) for p in QUIET_PRESETS
        ]
        return [
            _heading(self.t("home_settings")),
            SectionBlock(text=mrkdwn(escape(self.t("home_settings_body")))),
            ActionsBlock(
                elements=[
                    _button(self.t("home_available_on"), HOME + "available:on", "primary"),
                    _button(self.t("home_available_off"), HOME + "available:off"),
                    _button(self.t("home_pause_day"), HOME + "pause:1d"),
                    _button(self.t("home_resume"), HOME + "pause:off"),
                    StaticSelectElement(
                        action_id=QUIET,
                        placeholder=_plain(self.t("home_quiet")),
                        options=quiet,
                    ),
                ]
            ),
        ]
