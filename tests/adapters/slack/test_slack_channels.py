"""Channel hygiene on Slack: the real SlackChat asks the fake Slack (conversations.info and
every page of conversations.members) and the leads hear privately who shouldn't be there."""

from __future__ import annotations

from tests.adapters.slack.harness import LEADS, RALLY, T1, SlackBot, text_of
from tests.fakes.slack import User

STRANGERS = [f"UX{i:04d}" for i in range(250)]  # more than a page of members


async def checked(bot: SlackBot) -> list[str]:
    services = bot.runtime.services
    services.directories = {"slack": bot.http.chat}  # as `rallybot web` sets it
    while await services.check_channels(5):
        pass
    await bot.deliver()
    return [text_of(m.args) for m in bot.fake.dms_to("UANA") + bot.fake.dms_to("USAM")]


async def test_who_reads_the_rally_and_leads_channels_is_told_to_the_leads(bot: SlackBot) -> None:
    await bot.seed()
    ws = bot.fake.workspaces[T1]
    ws.users["UZED"] = User("UZED", "zed", "Zed")
    await bot.ask("UZED", "join")  # waits for approval
    ws.members[RALLY] = ["UANA", "UBEN", "UCAM", "UZED", ws.bot_user_id, *STRANGERS]
    ws.members[LEADS] = ["UANA", "USAM", "UBEN", ws.bot_user_id]
    ws.private = {LEADS}

    said = await checked(bot)
    assert len(said) == 2  # Ana and Sam, the leads, each by DM; nothing in a channel
    text = said[0]
    assert "Everyone in the workspace or server can read the rally channel" in text
    assert "In the rally channel without being a vetted member: Zed (waiting for approval)." in text
    assert "250 accounts rallybot doesn't know can read the rally channel." in text
    assert "In the leads channel without being a lead: Ben." in text
    assert "Change to a private channel" in text
    pages = [c for c in bot.fake.ok_calls("conversations.members") if c.args["channel"] == RALLY]
    assert len(pages) == 2  # 255 members, 200 a page
    assert not [
        m
        for m in bot.fake.in_channel(LEADS) + bot.fake.in_channel(RALLY)
        if "rallybot doesn't know" in m.text
    ]


async def test_without_the_read_scopes_the_leads_are_told_to_reinstall(bot: SlackBot) -> None:
    await bot.seed()
    bot.fake.workspaces[T1].scopes -= {"channels:read", "groups:read"}
    said = await checked(bot)
    assert said and "it needs the channels:read and groups:read permissions" in said[0]


async def test_a_private_channel_of_vetted_members_only_is_not_reported(bot: SlackBot) -> None:
    await bot.seed()
    ws = bot.fake.workspaces[T1]
    ws.private = {RALLY, LEADS}
    ws.members[RALLY] = ["UANA", "UBEN", "UCAM", "UDEE", "USAM", ws.bot_user_id]
    ws.members[LEADS] = ["UANA", "USAM", ws.bot_user_id]
    assert await checked(bot) == []
