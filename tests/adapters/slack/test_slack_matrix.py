"""Roles and commands through the real Bolt app, two workspaces (OAuth), forged buttons from
the other workspace, and the mention-injection corpus through every field of the alert modal.

Workspace T1 is our collective: ana (admin, lead), ben/cam/dee (responders), sam (safety
lead), max (an approved member), pat (asked to join), eve (a stranger). Ana's alert #1 and
ben's alert #2 are active. Workspace T2 is another collective: ben2 installed rallybot and
leads it; its own alert #1 and check-ins exist; cam2 asked to join there.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from bot.adapters.slack.syntax import SLACK
from bot.core.commands import Caller
from bot.store.tables import Base
from tests.adapters.slack.harness import (
    RALLY,
    T1,
    T2,
    X_LINK,
    SlackBot,
    slack_settings,
    start_bot,
    stop_bot,
    text_of,
    users,
)
from tests.adapters.slack.test_slack_injection import outgoing
from tests.adapters.slack.test_slack_modal import checked, choice, form, open_modal
from tests.adapters.slack.test_slack_modal import text as plain_input
from tests.adapters.slack.test_slack_oauth import install
from tests.fakes.slack import FakeSlack, User

# slack_sdk's oauth.v2.access still sends the client credentials with aiohttp.BasicAuth.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")

RALLY2 = "CRALLY2"
REFUSED = "Sorry, that didn't work"
ROLES: dict[str, tuple[str, str, str]] = {  # role → (user, team, channel)
    "stranger": ("UEVE", T1, RALLY),
    "member": ("UMAX", T1, RALLY),
    "other": ("UBEN2", T2, RALLY2),
    "lead": ("UANA", T1, RALLY),  # last: the lead's allowed commands change things
}
# command → the roles allowed (through Slack, the same as on the core)
SLICE = {
    "status": {"member", "lead", "other"},  # other: their own collective's (empty) list
    "status #2": {"member", "lead"},  # other: their collective has no #2
    "standdown #2": {"lead"},
    "approve <@UPAT>": {"lead"},
    "export #2": {"lead"},
    "digest": {"lead", "other"},  # other: their own collective's digest
}


@pytest.fixture
async def two(
    fake: FakeSlack, db_url: str, tmp_path: Path, session: aiohttp.ClientSession
) -> AsyncIterator[SlackBot]:
    fake.add_workspace(T2, "nurses", users("2"), {RALLY2, "CLEADS2"})
    ws = fake.workspaces[T1]
    ws.users["UMAX"] = User("UMAX", "max", "Max")
    ws.users["UPAT"] = User("UPAT", "pat", "Pat")
    settings = slack_settings(
        fake,
        db_url,
        tmp_path,
        slack_bot_token=None,
        slack_client_id=fake.client_id,
        slack_client_secret=SecretStr(fake.client_secret),
    )
    bot = await start_bot(fake, settings, session)
    try:
        assert "installed" in await install(bot, session, T1, "UANA")
        assert "installed" in await install(bot, session, T2, "UBEN2")
        await bot.seed()
        services = bot.runtime.services
        ana = bot.caller("UANA")
        for uid, name in (("UMAX", "Max"), ("UPAT", "Pat")):
            assert (await services.handle_text(Caller("slack", T1, uid, name), "join")).ok
        assert (await services.handle_text(ana, "approve <@UMAX>", SLACK)).ok
        assert (await services.handle_text(ana, f"alert {X_LINK}/0 ana's-note kinds=trolling")).ok
        ben = bot.caller("UBEN")
        assert (await services.handle_text(ben, f"alert {X_LINK} ben's-note kinds=trolling")).ok
        ben2 = Caller("slack", T2, "UBEN2", "Ben2", channel=RALLY2, can_manage=True)
        assert (await services.handle_text(ben2, "setup name Nurses")).ok
        assert (await services.handle_text(ben2, "alert https://x.com/t2/status/2 t2-note")).ok
        cam2 = Caller("slack", T2, "UCAM2", "Cam2", channel=RALLY2)
        assert (await services.handle_text(cam2, "join")).ok
        await bot.deliver()
        fake.calls.clear()
        yield bot
    finally:
        await stop_bot(bot)


async def state(bot: SlackBot) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every rallybot table, as text."""
    out: dict[str, list[tuple[str, ...]]] = {}
    async with bot.runtime.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = await connection.execute(text(f"SELECT * FROM {table.name}"))
            out[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return out


def without_audit(snapshot: dict[str, list[tuple[str, ...]]]) -> dict[str, Any]:
    """The state a refused request must leave unchanged: not the audit, nor the inbox (the
    request itself, received and answered)."""
    return {k: v for k, v in snapshot.items() if k not in ("audit_events", "inbox")}


async def new_audit_actions(bot: SlackBot, before: dict[str, Any]) -> list[str]:
    after = await state(bot)
    old = set(before["audit_events"])
    return [row[4] for row in after["audit_events"] if row not in old]


async def one(bot: SlackBot, sql: str, **params: Any) -> str:
    async with bot.runtime.engine.connect() as connection:
        return str(await connection.scalar(text(sql), params))


async def ids(bot: SlackBot, team: str) -> dict[str, str]:
    """The ids a forger would put in buttons: the team's collective's alert #1, its first
    check-in, a pending member, and a member's own id."""
    cid = await one(
        bot,
        "SELECT collective_id FROM spaces WHERE platform='slack' AND external_id=:t",
        t=team,
    )
    alert = await one(bot, "SELECT id FROM alerts WHERE collective_id=:c AND number=1", c=cid)
    return {
        "collective": cid,
        "alert": alert,
        "checkin": await one(
            bot, "SELECT id FROM checkins WHERE alert_id=:a ORDER BY due_at LIMIT 1", a=alert
        ),
        "pending": await one(
            bot, "SELECT id FROM members WHERE collective_id=:c AND status='pending'", c=cid
        ),
        "member": await one(
            bot,
            "SELECT id FROM members WHERE collective_id=:c AND status='active' "
            "ORDER BY handle LIMIT 1",
            c=cid,
        ),
    }


@pytest.mark.parametrize("command", list(SLICE))
async def test_a_role_slice_through_slack(two: SlackBot, command: str) -> None:
    for role, (user, team, channel) in ROLES.items():
        before = await state(two)
        said = await two.ask(user, command, channel=channel, team=team)
        if role not in SLICE[command]:
            assert REFUSED in said, (role, said)
            assert without_audit(await state(two)) == without_audit(before), role
            assert await new_audit_actions(two, before) == [], role
            continue
        assert REFUSED not in said, (role, said)
        if role == "other":
            # Their own collective: nothing of ours is in what they see.
            assert "'s-note" not in said and X_LINK not in said
            assert not re.search(r"\b(Ana|Ben|Max|Pat)\b", said), said
            assert without_audit(await state(two)) == without_audit(before)
    if command == "export #2":
        await two.deliver()
        (packet,) = two.fake.ok_calls("files.completeUploadExternal")
        assert packet.team_id == T1


FORGED = [
    "rally:alert:{alert}:on_it",
    "rally:alert:{alert}:cant",
    "rally:alert:{alert}:done",
    "rally:alert:{alert}:did:reported",
    "rally:alert:{alert}:standdown",
    "rally:consent:{alert}:yes",
    "rally:safety:{alert}:rally",
    "rally:target:{alert}:hold",
    "rally:checkins:{alert}:stop",
    "rally:checkin:{checkin}:need_help",
    "rally:review:{alert}:release",
    "rally:member:{pending}:approve",
    "rally:forgetme:{member}:confirm",
]


async def test_buttons_with_the_other_workspaces_ids_are_refused_and_audited(
    two: SlackBot,
) -> None:
    ours, theirs = await ids(two, T1), await ids(two, T2)
    for presser, team, channel, target in (
        ("UBEN2", T2, RALLY2, ours),  # their lead, our ids
        ("UANA", T1, RALLY, theirs),  # our lead, their ids
    ):
        for template in FORGED:
            action = template.format(**target)
            before = await state(two)
            said = await two.click(presser, action, team=team, channel=channel)
            assert REFUSED in said, (presser, action, said)
            assert without_audit(await state(two)) == without_audit(before), action
            assert await new_audit_actions(two, before) == ["forged_request_refused"], action
    await two.deliver()
    assert two.fake.ok_calls("chat.update") == []  # no tally moved in either workspace


CORPUS = (
    "<!channel> <!here> <!everyone> <!subteam^S1> <@U123> <@UANA> <#CRALLY> "
    "<https://evil|innocent> @everyone @here <@&1> <@1> <#1> [click](https://evil.example) "
    "*bold* _it_ ~s~ `code` > quote &amp; &<> \u202e"
)
_TOKEN = re.compile(r"<([^<>]*)>")


async def test_the_injection_corpus_through_every_modal_field(two: SlackBot) -> None:
    view = await open_modal(two, "UMAX")
    meta = view["private_metadata"]
    acks: list[str] = []
    # Text fields with markup; select values the form never offered; a user from T2.
    for values in (
        form(links=plain_input(CORPUS)),
        form(links=plain_input(f"{X_LINK}\n<!channel>")),
        form(
            links=plain_input(X_LINK),
            post=plain_input("<https://evil.example/p|label-dropped-3>"),
        ),
        form(links=plain_input(X_LINK), where=choice("<!here>")),
        form(links=plain_input(X_LINK), kinds=checked("pile_on", "<!channel>")),
        form(links=plain_input(X_LINK), severity=choice("<@UANA>")),
        form(links=plain_input(X_LINK), help=checked("<#CRALLY>")),
        form(links=plain_input(X_LINK), visibility=choice("@everyone")),
        form(
            links=plain_input(X_LINK),
            **{"for": {"type": "users_select", "selected_user": "UBEN2"}},
        ),
    ):
        sent = await two.send.submit(T1, "UMAX", values, meta)
        acks.append(sent.body)
    # Accepted ones: a disguised link is unwrapped, the note and post carry the corpus.
    for values in (
        form(
            links=plain_input(f"<{X_LINK}|label-dropped-1> https://x.com/troll/status/2"),
            post=plain_input("<https://x.com/max/status/3|label-dropped-2>"),
            note=plain_input(CORPUS),
            kinds=checked("pile_on"),
        ),
        form(links=plain_input(X_LINK), note=plain_input(CORPUS), anonymous=checked("yes")),
    ):
        sent = await two.send.submit(T1, "UMAX", values, meta)
        assert sent.status == 200 and sent.body == "", sent.body
    await two.fake.wait_for(lambda: len(two.fake.ok_calls("chat.postEphemeral")) >= 4)
    await two.deliver()
    await two.ask("UMAX", "status #2")
    await two.ask("UANA", "status #3")
    await two.deliver()

    rallies = [m for m in two.fake.in_channel(RALLY, T1) if "Rally #" in m.text]
    assert len(rallies) >= 2
    assert all(
        c.args.get("unfurl_links") is False and c.args.get("unfurl_media") is False
        for c in two.fake.ok_calls("chat.postMessage")
    )
    # Refused beside the field: everything but the disguised post (its label is dropped and
    # the link kept) and T2's user (refused by the core afterwards: no member here).
    for i, ack in enumerate(acks):
        if i in (2, len(acks) - 1):
            assert ack == "", ack
        else:
            assert json.loads(ack)["response_action"] == "errors", ack
    privately = [text_of(c.args) for c in two.fake.ok_calls("chat.postEphemeral")]
    assert any("There is no member called UBEN2" in t for t in privately), privately
    seen = list(outgoing(two, acks))
    assert any("&lt;!channel&gt;" in s for s in seen)  # the corpus went out, escaped
    members = {"UANA", "UBEN", "UCAM", "UDEE", "USAM", "UMAX"}
    for s in seen:
        for token in _TOKEN.findall(s):
            assert re.fullmatch(r"@U[A-Z0-9]+", token), (token, s[:200])
            assert token[1:] in members, (token, s[:200])
        assert "<!" not in s and "<http" not in s and "<#" not in s
        assert "label-dropped" not in s  # a typed link's label never reaches anyone
