"""Channel hygiene in the core: who is in the rally and leads channels without being a vetted
member (or a lead), told privately to the leads, once a week for the same findings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from bot.core.commands import Caller
from bot.core.ports import ChannelUnreadable, Readers
from tests.unit.conftest import Rally

T1 = "T1"


class Channels:
    """A fake of the Directory port: readers per channel, or a reason it can't look."""

    platform = "slack"

    def __init__(self) -> None:
        self.readers_of: dict[str, Readers | str] = {}
        self.asked: list[tuple[str, str, tuple[str, ...]]] = []

    async def readers(self, workspace: str, channel: str, known: Sequence[str]) -> Readers:
        self.asked.append((workspace, channel, tuple(known)))
        found = self.readers_of.get(channel, Readers(frozenset()))
        if isinstance(found, str):
            raise ChannelUnreadable(found)
        return found


def slack(user: str, name: str, channel: str = "CR", **more: object) -> Caller:
    return Caller("slack", T1, user, name, channel=channel, **more)  # type: ignore[arg-type]


@pytest.fixture
async def slack_collective(rally: Rally) -> Channels:
    """A collective on Slack: Uma sets up (#CR rally, #CL leads), Vic is a member, Wes waits."""
    uma = slack("UUMA", "Uma", can_manage=True)
    assert (await rally.say(uma, "setup")).ok
    assert (await rally.say(slack("UUMA", "Uma", channel="CL"), "setup leads")).ok
    assert (await rally.say(slack("UVIC", "Vic"), "join")).ok
    assert (await rally.say(uma, "approve vic")).ok
    assert (await rally.say(slack("UWES", "Wes"), "join")).ok
    channels = Channels()
    rally.services.directories = {"slack": channels}
    return channels


def told(rally: Rally) -> list[str]:
    return [s.text for s in rally.outbox(prefix="channels:")]


async def test_strangers_pending_members_and_non_leads_are_told_to_the_leads_privately(
    rally: Rally, slack_collective: Channels
) -> None:
    channels = slack_collective
    channels.readers_of = {
        "CR": Readers(frozenset({"UUMA", "UVIC", "UWES", "UX1", "UX2"}), everyone=True),
        "CL": Readers(frozenset({"UUMA", "UVIC"})),
    }
    assert await rally.services.check_channels(5) == 1
    # It asked about the accounts it knows in that workspace, for both channels.
    assert [(c, set(k)) for _, c, k in channels.asked] == [
        ("CR", {"UUMA", "UVIC", "UWES"}),
        ("CL", {"UUMA", "UVIC"} | {"UWES"}),
    ]
    (message,) = rally.outbox(prefix="channels:")
    assert message.to == ("dm", "UUMA") and message.item.address_kind == "dm"  # never a channel
    text = message.text
    assert "Everyone in the workspace or server can read the rally channel" in text
    assert "In the rally channel without being a vetted member: Wes (waiting for approval)." in text
    assert "2 accounts rallybot doesn't know can read the rally channel." in text
    assert "In the leads channel without being a lead: Vic." in text
    assert "UX1" not in text and "UVIC" not in text  # strangers counted, never listed
    assert "Change to a private channel" in text
    assert rally.audit("channels_checked")[0].detail["findings"] == "leads,rally"

    # The next day, the same findings: not told again until a week has passed.
    rally.clock.advance(timedelta(days=1))
    await rally.services.check_channels(5)
    assert len(told(rally)) == 1
    rally.clock.advance(timedelta(days=6))
    await rally.services.check_channels(5)
    assert len(told(rally)) == 2
    # Fixed: told once that it is clear, then nothing.
    channels.readers_of = {
        "CR": Readers(frozenset({"UUMA", "UVIC"})),
        "CL": Readers(frozenset({"UUMA"})),
    }
    rally.clock.advance(timedelta(days=1))
    await rally.services.check_channels(5)
    assert "Only vetted members can read the rally channel there now" in told(rally)[-1]
    rally.clock.advance(timedelta(days=1))
    await rally.services.check_channels(5)
    assert len(told(rally)) == 3


async def test_a_check_it_cannot_make_says_what_the_collective_must_do(
    rally: Rally, slack_collective: Channels
) -> None:
    slack_collective.readers_of = {"CR": "missing_scope", "CL": "not_found"}
    await rally.services.check_channels(5)
    (text,) = told(rally)
    assert "could not check who can read the rally channel: it needs the channels:read" in text
    assert "the leads channel: the channel is gone" in text


async def test_a_platform_failure_is_tried_again_in_an_hour(
    rally: Rally, slack_collective: Channels
) -> None:
    class Broken(Channels):
        async def readers(self, workspace: str, channel: str, known: Sequence[str]) -> Readers:
            raise ConnectionError("down")

    rally.services.directories = {"slack": Broken()}
    assert await rally.services.check_channels(5) == 1
    space = next(s for s in rally.data.spaces.values() if s.platform == "slack")
    assert space.check_at == rally.clock.now() + timedelta(hours=1)
    assert not told(rally)


async def test_setting_a_channel_checks_it_at_once_and_then_daily(
    rally: Rally, slack_collective: Channels
) -> None:
    await rally.services.check_channels(5)
    space = next(s for s in rally.data.spaces.values() if s.platform == "slack")
    assert space.check_at == rally.clock.now() + timedelta(days=1)
    reply = await rally.say(slack("UUMA", "Uma", channel="CR2"), "setup rally")
    assert "checks now, and every day, who can read this channel" in reply.message.plain_text()
    assert await rally.services.run_due() >= 1
    assert slack_collective.asked[-2][1] == "CR2"
    # The console has no directory: its spaces are never claimed for a check.
    assert all(s.check_at is None for s in rally.data.spaces.values() if s.platform == "console")
