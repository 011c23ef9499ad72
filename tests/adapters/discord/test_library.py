"""The message library on Discord: suggestions in the rally, /rally-library, files both ways."""

from __future__ import annotations

from tests.adapters.discord.conftest import World, button, shown
from tests.fakes.discord import Upload

ATTACK = "https://x.com/troll/status/1"


async def library(world: World, who: str, sub: str, **options: object) -> str:
    interaction = await world.fake.command(
        world.people[who], sub, options, channel=world.general, name="rally-library"
    )
    return shown(await interaction.text())


async def test_suggest_a_message_in_a_rally(world: World) -> None:
    await world.founded()  # a new collective starts with the starter library
    await world.say("ana", "alert", link=ATTACK, topics="vaccines")
    await world.deliver()
    rally = world.latest(world.rally_posts(), "Rally #1")
    pressed = await world.press("ben", rally, "suggest")
    header = await pressed.reply()
    assert "Messages you could use for alert #1" in header["content"]
    # Each suggestion follows as its own private message, with its own Use this button.
    replies = await pressed.followed_by(4)
    suggestions = [r for r in replies if "```" in r["content"]]
    assert len(suggestions) == 3, [r["content"][:60] for r in replies]
    assert all("troll" not in r["content"] for r in replies)
    use = await world.fake.click(world.ben, suggestions[0], button_ending(suggestions[0], ":use:"))
    assert "Counted for alert #1" in await use.text()


def button_ending(message: dict[str, object], part: str) -> str:
    for row in message.get("components") or []:  # type: ignore[attr-defined]
        for component in row.get("components", []):
            if part in component.get("custom_id", ""):
                return str(component["custom_id"])
    raise AssertionError(f"no button with {part!r}")


async def test_library_text_with_mention_syntax_pings_nobody(world: World) -> None:
    await world.founded()
    words = (
        f"Thanks @everyone @here <@{world.ana.id}> <@&{world.guild.id}> [x](https://evil.example)"
    )
    said = await library(world, "lee", "add", kind="reply", text=words)
    assert "Added m25" in said
    await library(world, "lee", "approve", messages="m25")
    interaction = await world.fake.command(
        world.lee, "show", {"message": "m25"}, channel=world.general, name="rally-library"
    )
    reply = await interaction.reply()
    body = world.fake.bodies()[-1][1]
    mentions = body.get("allowed_mentions") or {}
    assert (
        mentions.get("parse", []) == [] and not mentions.get("users") and not mentions.get("roles")
    )
    content = reply["content"]
    assert "@everyone" not in content and "@here" not in content  # broken by a zero-width space
    assert f"<@{world.ana.id}>" not in content and f"<@&{world.guild.id}>" not in content
    # The markdown link is inert: it stays inside the one code block, shown as typed.
    assert content.count("```") == 2 and "](https://evil.example)" in content.split("```")[1]
    assert "Thanks" in shown(content)


async def test_only_leads_edit_and_a_member_proposes(world: World) -> None:
    await world.founded()
    assert "Only leads" in await library(world, "ben", "remove", message="m1")
    assert "Only leads" in await library(world, "ben", "export")
    said = await library(world, "ben", "add", kind="support", text="Thinking of you today.")
    assert "went to the leads" in said
    await world.deliver()
    proposal = world.latest(world.fake.channel_messages(world.leads), "Ben proposed a message")
    approved = await world.fake.click(world.lee, proposal, button(proposal, "approve"))
    assert "m25 is approved" in await approved.text()
    bad = await library(world, "lee", "edit", message="m25", topics="not a topic!")
    assert "isn't a topic name" in bad


async def test_import_a_file_and_export_one(world: World) -> None:
    await world.founded()
    file = b'topics = ["long-covid"]\n[[message]]\nkind = "reply"\ntext = "We hear you."\n'
    refused = await library(world, "ben", "import", file=Upload("mine.toml", file))
    assert "Only leads" in refused
    assert world.fake.downloads == []  # a member's file is not even fetched
    said = await library(world, "lee", "import", file=Upload("ours.toml", file))
    assert "1 message added" in said and "long-covid" in said
    assert len(world.fake.downloads) == 1
    broken = await library(world, "lee", "import", file=Upload("bad.toml", b"[[message]]\nkind=1"))
    assert "can't be read" in broken or "Message 1 in the file" in broken
    assert "sent to you privately" in await library(world, "lee", "export")
    await world.deliver()
    export = world.latest(world.dms("lee"), "Message library (25 messages)")
    assert [a["filename"] for a in export["attachments"]] == ["rallybot-library.toml"]
