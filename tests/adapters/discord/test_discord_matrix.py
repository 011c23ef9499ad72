"""Roles and commands through the real discord.py bot, two guilds (two collectives), forged
buttons carrying the other guild's ids, and the mention-injection corpus through the form.

Guild 1 ("Clinic advocates") is our collective: lee (owner, lead), ben/cam/dee (responders),
sam (safety lead), ana (member), pat (asked to join), zed (on the server, never joined).
Ana's alert #1 and ben's alert #2 are active. Guild 2 ("Nurses") is another collective:
olga owns and leads it, oscar is a member, pia asked to join, olga's alert #1 is active.
"""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from sqlalchemy import text

from bot.store.tables import Base
from tests.adapters.discord.conftest import World, shown
from tests.fakes.discord import Channel, FakeDiscord, Guild
from tests.fakes.discord.model import SUPPRESS_EMBEDS

ATTACK = "https://x.com/troll/status/1"
REFUSED = "Sorry, that didn't work"
Json = dict[str, Any]


class TwoGuilds(World):
    """The World's guild, plus a second guild with its own collective."""

    def __init__(self, fake: FakeDiscord, db_url: str) -> None:
        super().__init__(fake, db_url)
        self.olga = fake.add_user("olga", "Olga")
        self.guild2: Guild = fake.add_guild("Nurses", self.olga)
        self.rally2: Channel = fake.add_channel(self.guild2, "rally")
        self.general2: Channel = fake.add_channel(self.guild2, "general")
        self.people["olga"] = self.olga
        for name in ("oscar", "pia"):
            user = fake.add_user(name, name.title())
            self.guild2.add_member(user)
            self.people[name] = user
        for name in ("pat", "zed"):
            self.add_person(name)

    async def in_guild2(self, who: str, sub: str, **options: Any) -> str:
        return await self.say(who, sub, self.general2, **options)

    async def scene(self) -> None:
        await self.founded()
        await self.say("pat", "join")
        assert "Alert #1 raised" in await self.say("ana", "alert", link=ATTACK + "0", note="ana-n")
        assert "Alert #2 raised" in await self.say("ben", "alert", link=ATTACK, note="ben-note")
        assert "is set up" in await self.say(
            "olga", "setup", self.rally2, what="name", value="Nurses"
        )
        await self.in_guild2("oscar", "join")
        await self.in_guild2("olga", "approve", member=self.people["oscar"])
        await self.in_guild2("pia", "join")
        assert "Alert #1 raised" in await self.in_guild2(
            "olga", "alert", link="https://x.com/t2/status/2", note="t2-note"
        )
        await self.deliver()

    async def state(self) -> dict[str, list[tuple[str, ...]]]:
        assert self.runtime is not None
        out: dict[str, list[tuple[str, ...]]] = {}
        async with self.runtime.engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                rows = await connection.execute(text(f"SELECT * FROM {table.name}"))
                out[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
        return out

    async def one(self, sql: str, **params: Any) -> str:
        assert self.runtime is not None
        async with self.runtime.engine.connect() as connection:
            return str(await connection.scalar(text(sql), params))

    async def ids(self, guild: Guild) -> dict[str, str]:
        cid = await self.one(
            "SELECT collective_id FROM spaces WHERE platform='discord' AND external_id=:g",
            g=guild.id,
        )
        alert = await self.one("SELECT id FROM alerts WHERE collective_id=:c AND number=1", c=cid)
        return {
            "alert": alert,
            "checkin": await self.one(
                "SELECT id FROM checkins WHERE alert_id=:a ORDER BY due_at LIMIT 1", a=alert
            ),
            "pending": await self.one(
                "SELECT id FROM members WHERE collective_id=:c AND status='pending'", c=cid
            ),
            "member": await self.one(
                "SELECT id FROM members WHERE collective_id=:c AND status='active' "
                "ORDER BY handle LIMIT 1",
                c=cid,
            ),
        }


@pytest_asyncio.fixture
async def two(fake: FakeDiscord, db_url: str) -> AsyncIterator[TwoGuilds]:
    w = TwoGuilds(fake, db_url)
    await w.start()
    try:
        await w.scene()
        yield w
    finally:
        await w.stop()


def without_audit(state: dict[str, Any]) -> dict[str, Any]:
    """What a refused request must leave unchanged: not the audit, nor the inbox."""
    return {k: v for k, v in state.items() if k not in ("audit_events", "inbox")}


def new_audit(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old = set(before["audit_events"])
    return [row[4] for row in after["audit_events"] if row not in old]


# role → (who, in guild 2?); the lead last: the lead's allowed commands change things.
ROLES = {
    "stranger": ("zed", False),
    "member": ("ana", False),
    "other": ("olga", True),
    "lead": ("lee", False),
}
# (subcommand, options, roles allowed, roles refused as a forgery and audited)
SLICE: list[tuple[str, dict[str, Any], set[str], set[str]]] = [
    ("status", {}, {"member", "lead", "other"}, set()),  # other: their own collective's list
    ("status", {"alert": 2}, {"member", "lead"}, set()),  # other: their collective has no #2
    ("standdown", {"alert": 2}, {"lead"}, set()),
    # Discord user ids are global: naming our pending member from the other guild is found,
    # and refused as a forgery.
    ("approve", {"member": "pat"}, {"lead"}, {"other"}),
    ("export", {"alert": 2}, {"lead"}, set()),
    ("digest", {}, {"lead", "other"}, set()),  # other: their own collective's digest
]


async def test_a_role_slice_through_discord(two: TwoGuilds) -> None:
    for sub, options, allowed, forged in SLICE:
        opts = {k: two.people[v] if k == "member" else v for k, v in options.items()}
        for role, (who, guild2) in ROLES.items():
            before = await two.state()
            said = await two.say(who, sub, two.general2 if guild2 else None, **opts)
            after = await two.state()
            if role not in allowed:
                assert REFUSED in said, (sub, role, said)
                assert without_audit(after) == without_audit(before), (sub, role)
                audited = ["forged_request_refused"] if role in forged else []
                assert new_audit(before, after) == audited, (sub, role)
                continue
            assert REFUSED not in said, (sub, role, said)
            if role == "other":
                assert "ben-note" not in said and ATTACK not in said, said
                assert not re.search(r"\b(Ana|Ben|Lee|Pat)\b", said), said
                assert without_audit(after) == without_audit(before)
    await two.deliver()
    packets = [m for m in two.dms("lee") if m.get("attachments")]
    assert packets and all(
        "alert-2-evidence" in a["filename"] for m in packets for a in m["attachments"]
    )


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


def forged_copy(message: Json, custom_id: str) -> Json:
    """The message as a forger's client would present it: a button's id swapped."""
    forged = copy.deepcopy(message)
    forged["components"][0]["components"][0]["custom_id"] = custom_id
    return forged


async def test_buttons_with_the_other_guilds_ids_are_refused_and_audited(two: TwoGuilds) -> None:
    ours, theirs = await two.ids(two.guild), await two.ids(two.guild2)
    # Each lead's join request has an Approve button (olga's by DM, lee's in #leads): the
    # forger swaps its id.
    olga_dm = two.latest(two.dms("olga"), "Pia asks to join")
    lee_post = two.latest(two.fake.channel_messages(two.leads), "Pat asks to join")
    for presser, message, target in (("olga", olga_dm, ours), ("lee", lee_post, theirs)):
        for template in FORGED:
            action = template.format(**target)
            before = await two.state()
            clicked = await two.fake.click(
                two.people[presser], forged_copy(message, action), action
            )
            said = shown(await clicked.text())
            after = await two.state()
            assert REFUSED in said, (presser, action, said)
            assert without_audit(after) == without_audit(before), action
            assert new_audit(before, after) == ["forged_request_refused"], action
    await two.deliver()
    rallies = [two.fake.current(m) for m in two.rally_posts() if "Rally #" in m["content"]]
    assert len(rallies) == 2  # ours; no tally moved
    assert all("On it: 0 · Done: 0" in shown(m["content"]) for m in rallies)


CORPUS = (
    "@everyone @here <@&123> <@456> <#789> <@!456> </rally alert:1> <:e:1> <t:1:R> "
    "<!channel> <!here> <@U123> <https://evil|innocent> [click](https://evil.example) "
    "**b** __u__ ~~s~~ ||spoiler|| `c` # heading\n> quote\n-# small \u202e\u200b"
)
LIVE = re.compile(r"@(everyone|here)\b|<@&|<#|</|<@!|<a?:\w|<t:", re.IGNORECASE)
USER_MENTION = re.compile(r"<@(\d+)>")


async def test_the_injection_corpus_through_the_alert_form(two: TwoGuilds) -> None:
    forms: list[dict[str, Any]] = [
        {"links": CORPUS},
        {"links": f"{ATTACK}\n{CORPUS}"},
        {"links": ATTACK, "post": CORPUS},
        {"links": ATTACK, "where": "@everyone"},
        {"links": ATTACK, "kinds": ["<@&123>"]},
        {
            # Discord's own <url> (no preview) is read; Slack's <url|label> is not Discord's
            # syntax and is refused like any bad link (tests/adapters/discord/test_syntax.py).
            "links": f"<{ATTACK}> {ATTACK}/2",
            "note": CORPUS,
            "post": "https://x.com/@everyone/status/9",
            "kinds": ["pile_on"],
        },
        {"links": ATTACK + "/3", "note": CORPUS[:900], "where": "x"},
    ]
    answers = []
    for values in forms:
        opened = await (await two.run("cam", "alert")).wait()
        answers.append(shown(await (await two.fake.submit(two.cam, opened, values)).text()))
    await two.deliver()
    rally = two.latest(two.rally_posts(), "Rally #3")
    await (await two.press("ben", rally, "on_it")).reply()
    await two.say("cam", "status", alert=3)
    await two.say("lee", "status", alert=4)
    await two.deliver()

    assert [REFUSED in a for a in answers] == [True] * 5 + [False] * 2, answers
    responders = {two.people[n].id for n in ("lee", "ben", "cam", "dee", "sam", "ana")}
    bodies = two.fake.bodies()
    for request, body in bodies:
        where = f"{request.method} {request.path}"
        allowed = body.get("allowed_mentions")
        assert isinstance(allowed, dict), f"{where}: Discord would parse every mention"
        assert allowed.get("parse") == [], where
        assert not allowed.get("roles") and not allowed.get("replied_user"), where
        assert {str(u) for u in allowed.get("users", [])} <= responders, where
        content = str(body.get("content") or "")
        assert not LIVE.search(content), f"{where}: {content[:300]}"
        assert set(USER_MENTION.findall(content)) <= responders, where
        assert "label-dropped" not in content
        assert "[click](" not in content
    for message_id, ping in two.fake.pings.items():
        assert not ping.everyone and not ping.roles, message_id
        assert ping.users <= responders, message_id
    assert all(m["flags"] & SUPPRESS_EMBEDS for m in two.fake.posted if m["content"])
    assert all(m["embeds"] == [] for m in two.fake.posted)
    assert "<\u200b@&123>" in rally["content"]  # shown, but inert
