"""A server removes the bot (GUILD_DELETE through the fake gateway): its data goes after the
grace period, and /rally setup after adding the bot back within it keeps everything."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.core.model import Space
from tests.adapters.discord.conftest import World


async def the_space(world: World) -> Space | None:
    assert world.runtime is not None
    async with world.runtime.services.uow() as uow:
        return await uow.spaces.find("discord", world.guild.id)


async def removed(world: World) -> Space:
    for _ in range(250):
        space = await the_space(world)
        if space is not None and space.removed:
            return space
        await asyncio.sleep(0.02)
    raise AssertionError("the server's removal was not recorded")


async def test_a_server_that_removes_the_bot_is_deleted_after_the_grace_period(
    world: World,
) -> None:
    await world.founded()
    await world.fake.remove_bot(world.guild)
    space = await removed(world)
    assert space.delete_at is not None
    assert space.delete_at - space.removed_at == timedelta(days=30)  # type: ignore[operator]
    await world.deliver()
    # The leads channel is in the removed server: the leads hear by DM.
    (told,) = [m for m in world.dms("lee") if "rallybot was removed from" in m["content"]]
    assert "/rally setup" in told["content"]
    assert not [m for m in world.rally_posts() if "removed" in m["content"]]

    world.clock.offset = timedelta(days=31)
    await world.deliver()
    assert await the_space(world) is None
    assert world.runtime is not None
    async with world.runtime.services.uow() as uow:
        assert await uow.collectives.all() == []  # its only space: the collective went too


async def test_adding_the_bot_back_and_setting_up_keeps_everything(world: World) -> None:
    await world.founded()
    await world.fake.remove_bot(world.guild)
    await removed(world)
    world.clock.offset = timedelta(days=5)
    await world.fake.add_bot(world.guild)
    said = await world.say("lee", "setup", world.rally)
    assert "nothing will be deleted" in said
    world.clock.offset = timedelta(days=40)
    await world.deliver()
    space = await the_space(world)
    assert space is not None and not space.removed
    assert "not a member" not in await world.say("ana", "me")  # still a member, as before
