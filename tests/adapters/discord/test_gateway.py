"""Gateway faults: the bot reconnects, resumes where Discord allows, and loses no
interaction the gateway delivered after reconnecting."""

from __future__ import annotations

from tests.adapters.discord.conftest import World


async def still_answers(world: World) -> None:
    assert "No open alerts" in await world.say("ben", "status")


async def test_a_dropped_connection_4000_is_resumed_and_nothing_is_lost(world: World) -> None:
    await world.founded()
    gateway = world.fake.gateway
    await gateway.close(4000)
    meanwhile = await world.run("ben", "status")  # sent while the bot is away: replayed
    await gateway.wait_for(lambda: gateway.resumes == 1)
    assert "No open alerts" in await meanwhile.text()
    assert gateway.identifies == 1  # the same session, resumed
    await still_answers(world)


async def test_op7_reconnect_is_followed_by_a_resume(world: World) -> None:
    await world.founded()
    gateway = world.fake.gateway
    await gateway.reconnect()
    meanwhile = await world.run("cam", "status")
    await gateway.wait_for(lambda: gateway.resumes == 1)
    assert "No open alerts" in await meanwhile.text()
    assert gateway.identifies == 1
    await still_answers(world)


async def test_op9_invalid_session_makes_the_bot_identify_again(world: World) -> None:
    await world.founded()
    gateway = world.fake.gateway
    await gateway.invalidate()
    await gateway.wait_for(lambda: gateway.identifies == 2 and gateway.is_connected())
    assert gateway.resumes == 0
    after = await world.run("dee", "status")
    assert "No open alerts" in await after.text()
    await still_answers(world)


async def test_heartbeat_silence_is_noticed_and_the_session_resumed(world: World) -> None:
    await world.founded()
    gateway = world.fake.gateway
    gateway.silence()  # no ACKs, no events: a connection that died without closing
    meanwhile = await world.run("ana", "status")
    await gateway.wait_for(lambda: gateway.resumes == 1, within=15)
    assert "No open alerts" in await meanwhile.text()
    assert gateway.identifies == 1
    await still_answers(world)


async def test_interactions_keep_working_through_repeated_faults(world: World) -> None:
    await world.founded()
    gateway = world.fake.gateway
    await world.say("ana", "alert", link="https://x.com/troll/status/1")
    await world.deliver()
    rally = world.latest(world.rally_posts(), "Rally #1")
    presses = []
    for fault, who in (
        (gateway.reconnect, "ben"),
        (gateway.close, "cam"),
        (gateway.reconnect, "dee"),
    ):
        await fault()
        presses.append(await world.press(who, rally, "on_it"))
        await gateway.wait_for(gateway.is_connected)
    for press in presses:
        assert "you're on it" in await press.text()
    await world.deliver()
    assert "On it: 3" in world.fake.current(rally)["content"]
    assert world.fake.failed_interactions() == []
