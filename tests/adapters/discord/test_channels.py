"""Channel hygiene on Discord: the real DiscordChat reads the channel's overwrites and the
server's roles, looks each known person up over REST (no members intent), and the leads hear
privately who can read the rally and leads channels without belonging there."""

from __future__ import annotations

from tests.adapters.discord.conftest import World, shown


async def checked(world: World) -> list[str]:
    assert world.runtime is not None and world.platform is not None
    services = world.runtime.services
    services.directories = {"discord": world.platform.chat}  # as `rallybot run` sets it
    while await services.check_channels(5):
        pass
    await world.deliver()
    return [shown(m["content"]) for who in ("lee", "sam") for m in world.dms(who)]


async def test_who_can_view_the_channels_is_told_to_the_leads(world: World) -> None:
    await world.founded()
    zed = world.add_person("zed")
    await world.say("zed", "join", note="let me in")  # waits for approval
    guild = world.guild
    members = guild.add_role("Members")
    for name in ("ana", "ben", "cam", "dee", "sam", "zed"):
        guild.members[world.people[name].id].roles.append(members.id)
    stranger = world.fake.add_user("lurker", "Lurker")
    guild.add_member(stranger)
    world.rally.restrict(members.id)  # the rally channel: the Members role only
    # The leads channel is left as it was made: every member of the server sees it.

    said = [text for text in await checked(world) if "Who can read your channels" in text]
    assert len(said) == 2  # Lee and Sam, each by DM
    text = said[0]
    assert "In the rally channel without being a vetted member: Zed (waiting for approval)." in text
    assert "Everyone in the workspace or server can read the leads channel" in text
    assert "In the leads channel without being a lead: Ana, Ben, Cam, Dee, Zed (waiting for" in text
    assert "1 account rallybot doesn't know can read the leads channel." in text
    assert "turn View Channel off for @everyone" in text
    assert stranger.id not in text and zed.id not in text
    # Only the people rallybot knows were looked up: the stranger never was.
    looked_up = {r.path.rsplit("/", 1)[1] for r in world.fake.requests if "/members/" in r.path}
    assert stranger.id not in looked_up and zed.id in looked_up
    assert not [
        m for m in world.fake.channel_messages(world.leads) if "Who can read" in m["content"]
    ]


async def test_a_channel_the_bot_cannot_see_is_reported(world: World) -> None:
    await world.founded()
    world.fake.inject("GET", r"^/channels/\d+$", status=403, times=10)
    said = [text for text in await checked(world) if "could not check" in text]
    assert said and "Give rallybot's role View Channel there" in said[0]
