"""The alert modal: opened with the trigger_id, validated in the ack, submitted into a rally."""

from __future__ import annotations

import json
from typing import Any

from tests.adapters.slack.harness import RALLY, X_LINK, SlackBot, text_of


def form(**fields: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Submitted state values, keyed as the modal's blocks are (block id → "value")."""
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block, value in fields.items():
        values[block] = {"value": value}
    return values


def text(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def choice(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def checked(*values: str) -> dict[str, Any]:
    return {"type": "checkboxes", "selected_options": [{"value": v} for v in values]}


async def open_modal(bot: SlackBot, user: str = "UBEN") -> dict[str, Any]:
    sent = await bot.cmd(user, "alert")
    assert sent.body == ""  # the ack is empty: the modal is the answer
    await bot.fake.wait_for(lambda: bot.fake.ok_calls("views.open"))
    (call,) = bot.fake.ok_calls("views.open")
    assert call.args["trigger_id"] == sent.trigger_id
    return dict(call.args["view"])


async def test_alert_without_arguments_opens_the_modal_with_every_field(bot: SlackBot) -> None:
    await bot.seed()
    view = await open_modal(bot)
    assert view["type"] == "modal" and view["callback_id"] == "rally:alert_form"
    blocks = [b["block_id"] for b in view["blocks"]]
    assert blocks == [
        "links", "post", "where", "kinds", "severity", "help", "visibility", "anonymous",
        "for", "note", "topics",
    ]  # fmt: skip
    by_id = {b["block_id"]: b for b in view["blocks"]}
    assert by_id["links"]["element"]["multiline"] is True
    assert by_id["where"]["element"]["type"] == "static_select"
    assert by_id["kinds"]["element"]["type"] == "checkboxes"
    assert by_id["for"]["element"]["type"] == "users_select"
    assert json.loads(view["private_metadata"]) == {"channel": RALLY}


async def test_a_bad_link_is_shown_beside_the_field_and_nothing_is_raised(bot: SlackBot) -> None:
    await bot.seed()
    view = await open_modal(bot)
    sent = await bot.send.submit(
        "T0000001", "UBEN", form(links=text("not-a-link")), view["private_metadata"]
    )
    assert sent.status == 200
    answer = sent.json()
    assert answer["response_action"] == "errors"
    assert "isn't a web link" in answer["errors"]["links"]
    sent = await bot.send.submit(
        "T0000001",
        "UBEN",
        form(links=text(X_LINK), post=text("ftp://nope"), severity=choice("apocalyptic")),
        view["private_metadata"],
    )
    assert list(sent.json()["errors"]) == ["post"]
    assert "not a member" not in await bot.ask("UBEN", "status")
    assert "No open alerts" in await bot.ask("UBEN", "status")


async def test_submitting_the_modal_raises_the_alert_and_rallies(bot: SlackBot) -> None:
    await bot.seed()
    view = await open_modal(bot, "UBEN")
    values = form(
        links=text(f"{X_LINK}\nhttps://x.com/troll/status/2"),
        post=text("https://x.com/ben/status/9"),
        where=choice("x"),
        kinds=checked("pile_on", "misinformation"),
        severity=choice("medium"),
        help=checked("amplify", "report"),
        visibility={"type": "radio_buttons", "selected_option": {"value": "all"}},
        note=text("after my measles thread"),
    )
    sent = await bot.send.submit("T0000001", "UBEN", values, view["private_metadata"])
    assert sent.status == 200 and sent.body == ""  # a plain ack closes the modal
    await bot.fake.wait_for(lambda: bot.fake.ok_calls("chat.postEphemeral"))
    (private,) = bot.fake.ok_calls("chat.postEphemeral")
    assert private.args["channel"] == RALLY and private.args["user"] == "UBEN"
    assert "Alert #1 raised" in text_of(private.args)
    await bot.deliver()
    rally = bot.fake.in_channel(RALLY)[-1]
    assert "Rally #1: Ben is under attack" in rally.text
    words = text_of({"blocks": rally.blocks})
    assert "misinformation, a pile-on on X" in words and "after my measles thread" in words
    assert "https://x.com/ben/status/9" in words
    assert rally.args["unfurl_links"] is False and rally.args["unfurl_media"] is False


async def test_a_modal_raised_for_a_colleague_waits_for_their_consent(bot: SlackBot) -> None:
    await bot.seed()
    view = await open_modal(bot, "UBEN")
    values = form(links=text(X_LINK), **{"for": {"type": "users_select", "selected_user": "UCAM"}})
    await bot.send.submit("T0000001", "UBEN", values, view["private_metadata"])
    await bot.fake.wait_for(lambda: bot.fake.ok_calls("chat.postEphemeral"))
    assert "asked Cam privately" in text_of(bot.fake.ok_calls("chat.postEphemeral")[0].args)
    await bot.deliver()
    assert "do you want the group's help?" in bot.fake.dms_to("UCAM")[-1].text
    assert not bot.fake.in_channel(RALLY)
