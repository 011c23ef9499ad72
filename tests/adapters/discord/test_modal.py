"""/rally alert without a link opens the alert form; its answers raise the alert."""

from __future__ import annotations

from tests.adapters.discord.conftest import World, shown

ATTACK = "https://x.com/troll/status/1"


def fields(modal: dict[str, object]) -> dict[str, dict[str, object]]:
    return {c["component"]["custom_id"]: c for c in modal["components"]}  # type: ignore[index,union-attr]


async def test_alert_without_a_link_opens_the_form_with_five_fields(world: World) -> None:
    await world.founded()
    opened = await (await world.run("ana", "alert")).wait()
    assert opened.response_type == 9
    modal = opened.modal
    assert modal["title"] == "Raise an alert"
    found = fields(modal)
    assert list(found) == ["links", "post", "where", "kinds", "note"]
    assert [c["label"] for c in found.values()] == [
        "Attack links",
        "Your own post to amplify",
        "Where",
        "What kind of attack",
        "What happened",
    ]
    assert found["links"]["component"]["required"] is True
    assert found["kinds"]["component"]["max_values"] == 8


async def test_a_valid_form_raises_the_alert(world: World) -> None:
    await world.founded()
    opened = await (await world.run("ana", "alert")).wait()
    values = {
        "links": f"{ATTACK}\nhttps://x.com/troll/status/2",
        "post": "https://x.com/ana/status/9",
        "where": "x",
        "kinds": ["pile_on", "misinformation"],
        "note": "pile-on after my vaccine video",
    }
    text = await (await world.fake.submit(world.ana, opened, values)).text()
    assert "Alert #1 raised" in shown(text)
    await world.deliver()
    rally = shown(world.latest(world.rally_posts(), "Rally #1")["content"])
    assert "Ana is facing misinformation, a pile-on on X." in rally
    assert "pile-on after my vaccine video" in rally
    assert "<https://x.com/troll/status/2>" in rally and "<https://x.com/ana/status/9>" in rally


async def test_what_the_command_said_is_kept_in_the_form(world: World) -> None:
    await world.founded()
    opened = await (
        await world.run(
            "ana",
            "alert",
            note="from the command",
            where="tiktok",
            kinds="threat",
            visibility="leads",
            anonymous=True,
        )
    ).wait()
    found = fields(opened.modal)
    assert found["note"]["component"]["value"] == "from the command"
    assert [o["value"] for o in found["where"]["component"]["options"] if o["default"]] == [
        "tiktok"
    ]
    assert [o["value"] for o in found["kinds"]["component"]["options"] if o["default"]] == [
        "threat"
    ]
    text = await (
        await world.fake.submit(world.ana, opened, {"links": ATTACK, "kinds": ["threat"]})
    ).text()
    assert "safety matters first" in shown(text)
    assert "leads" in shown(await world.say("lee", "status", alert=1))


async def test_a_bad_field_is_named_and_nothing_is_raised(world: World) -> None:
    await world.founded()
    opened = await (await world.run("ana", "alert")).wait()
    text = shown(await (await world.fake.submit(world.ana, opened, {"links": "not a link"})).text())
    assert "Sorry, that didn't work" in text
    assert "Attack links:" in text and "isn't a web link I can use" in text
    opened = await (await world.run("ana", "alert")).wait()
    bad_post = {"links": ATTACK, "post": "javascript:alert(1)"}
    assert "Your own post to amplify:" in shown(
        await (await world.fake.submit(world.ana, opened, bad_post)).text()
    )
    opened = await (await world.run("ana", "alert")).wait()
    forged = {"links": ATTACK, "where": "myspace"}  # a select value the form never offered
    assert "Where:" in shown(await (await world.fake.submit(world.ana, opened, forged)).text())
    assert "No open alerts" in await world.say("ana", "status")


async def test_strangers_get_no_form(world: World) -> None:
    await world.founded()
    world.add_person("zed")
    interaction = await world.run("zed", "alert")
    text = await interaction.text()
    assert interaction.response_type == 4
    assert "/rally join" in text
