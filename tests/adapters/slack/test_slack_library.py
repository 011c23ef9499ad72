"""The message library in Slack: suggestions in the rally, library text escaped, the import form."""

from __future__ import annotations

import json

from bot.core.model import LibraryEntry
from tests.adapters.slack.harness import RALLY, X_LINK, SlackBot, buttons, live_markup, text_of
from tests.adapters.slack.test_slack_modal import form, text


async def suggestions(bot: SlackBot, user: str = "UBEN") -> list[dict[str, object]]:
    """Raise an alert, press Suggest a message: the private answers (header + suggestions)."""
    assert "raised" in await bot.ask("UCAM", f"alert {X_LINK} topic=vaccines they piled on")
    await bot.deliver()
    rally = buttons(bot.fake.in_channel(RALLY)[-1])
    sent = await bot.press(user, rally["Suggest a message"])
    assert sent.response_id is not None
    return await bot.fake.response(sent.response_id, 2)


async def test_suggest_a_message_answers_privately_with_text_to_copy(bot: SlackBot) -> None:
    await bot.seed()  # a new collective starts with the starter library
    posts = await suggestions(bot)
    header, first = posts[0], posts[1]
    assert header["response_type"] == "ephemeral" and first["response_type"] == "ephemeral"
    assert "Messages you could use for alert #1" in text_of(header)
    blocks = json.dumps(first["blocks"])
    assert "```" in blocks  # a preformatted block: easy to copy
    assert "they piled on" not in json.dumps(posts) and "troll" not in json.dumps(posts)
    said = await bot.click("UBEN", buttons(first)["Use this"])
    assert "Counted for alert #1" in said
    assert "counted once" in await bot.click("UBEN", buttons(first)["Use this"])


async def test_library_text_with_mention_syntax_pings_nobody(bot: SlackBot) -> None:
    await bot.seed()
    words = "Thanks <!channel> <!here> <@UANA> @everyone <https://evil.example|cdc.gov> &amp;"
    assert "Added m" in await bot.ask("UANA", f"library add reply {words}")
    number = len(bot.runtime.services.policy.starter_library.drafts) + 1  # type: ignore[union-attr]
    assert "is approved" in await bot.ask("UANA", f"library approve m{number}")
    shown = await bot.ask("UANA", f"library show m{number}")
    assert "Thanks" in shown
    assert live_markup(shown) == []  # no <!channel>, <@U…> or <url|label> survives
    sent = await bot.cmd("UANA", f"library show m{number}")
    (posted,) = await bot.fake.response(str(sent.response_id))
    assert live_markup(json.dumps(posted["blocks"])) == []


async def test_import_opens_a_form_and_a_lead_pastes_a_file(bot: SlackBot) -> None:
    await bot.seed()
    sent = await bot.cmd("UANA", "library import")
    await bot.fake.wait_for(lambda: bot.fake.ok_calls("views.open"))
    (call,) = bot.fake.ok_calls("views.open")
    assert call.args["trigger_id"] == sent.trigger_id
    view = call.args["view"]
    assert view["callback_id"] == "rally:library_import"
    file = 'topics = ["long-covid"]\n[[message]]\nkind = "reply"\ntext = "We hear you."\n'
    await bot.send.submit(
        "T0000001", "UANA", form(file=text(file)), view["private_metadata"],
        callback_id="rally:library_import",
    )  # fmt: skip
    await bot.fake.wait_for(lambda: bot.fake.ok_calls("chat.postEphemeral"))
    said = text_of(bot.fake.ok_calls("chat.postEphemeral")[-1].args)
    assert "1 message added" in said and "long-covid" in said
    # A member's submission (the form forged without the command) changes nothing.
    await bot.send.submit(
        "T0000001", "UBEN", form(file=text(file.replace("We hear", "I hear"))),
        view["private_metadata"], callback_id="rally:library_import",
    )  # fmt: skip
    await bot.fake.wait_for(lambda: len(bot.fake.ok_calls("chat.postEphemeral")) >= 2)
    assert "Only leads" in text_of(bot.fake.ok_calls("chat.postEphemeral")[-1].args)
    assert "I hear you" not in await bot.ask("UANA", "library list")


async def test_typed_ampersands_and_brackets_are_kept_once(bot: SlackBot) -> None:
    await bot.seed()
    # Slack sends "Q&A <3 thanks" as entities; the message keeps what was typed.
    assert "Added m" in await bot.ask("UANA", "library add reply Q&amp;A &lt;3 thanks")
    entry = [e for e in await library_entries(bot) if e.text.startswith("Q")]
    assert [e.text for e in entry] == ["Q&A <3 thanks"]
    sent = await bot.cmd("UANA", f"library show m{entry[0].number}")
    (posted,) = await bot.fake.response(str(sent.response_id))
    blocks = json.dumps(posted["blocks"])
    assert "Q&amp;A &lt;3 thanks" in blocks and "&amp;amp;" not in blocks


async def library_entries(bot: SlackBot) -> list[LibraryEntry]:
    async with bot.runtime.services.uow() as uow:
        collective = (await uow.collectives.all())[0]
        return list(await uow.library.for_collective(collective.id))
