"""One member's whole life in a collective, then forget-me: the scenario both stores walk.

Zenobia asks to join with a note, is approved, links a Slack and a Discord account, is
attacked three times (one of them doxxing, a safety case), adds evidence and delegates, helps
on someone else's alert, raises one for a colleague, proposes a library message, answers
check-ins (one "I need help"), and leaves messages delivered, parked and still waiting. Then
she asks to be forgotten. The scenario runs through the core's entry points only, so it runs
the same on the in-memory fakes and on the SQL store (SQLite and PostgreSQL).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.core.commands import Caller
from bot.core.messages import Message, from_dict
from bot.core.model import OutboxItem
from bot.core.ports import Undeliverable
from bot.core.services import Services
from bot.delivery.outbox import Dispatcher
from tests.fakes import FakeClock, MemoryChat

NAME = "Zenobia Quartermaine"
HANDLE = "zenobia-quartermaine"
CONSOLE_ID = "zqx-console-7731"
SLACK_ID = "UZQX7731"
DISCORD_ID = "990011223344"
ZEN = Caller("console", "local", CONSOLE_ID, display_name=NAME, channel="#rally")
ZEN_SLACK = Caller("slack", "T1", SLACK_ID, display_name=NAME, channel="C1")
ZEN_DISCORD = Caller("discord", "", DISCORD_ID, display_name=NAME, space="G1", channel="CH1")
JOIN_NOTE = "zq-join-note: ER physician at Saint Quill"
PERSONAL = (
    NAME,
    HANDLE,
    "Zenobia",
    "Quartermaine",
    CONSOLE_ID,
    SLACK_ID,
    DISCORD_ID,
    "zq-join-note",
    "Saint Quill",
)

# Alerts about her: #1 closed, #2 open and active, #3 open and severe (a safety case).
CLOSED = ("https://x.com/zq-troll/status/1111", "zq-note-closed-alert", "zq-evidence-closed")
CLOSED_POST = "https://x.com/zq-own/status/2222"
ACTIVE = ("https://x.com/zq-troll/status/3333", "zq-note-active-alert", "zq-evidence-active")
SAFETY = ("https://x.com/zq-doxxer/status/4444", "zq-note-safety-case", "zq-evidence-safety")
SCRUBBED = (*CLOSED, CLOSED_POST, *ACTIVE)
PROPOSAL = "You are not alone in this; we see the work you do."


def console(handle: str) -> Caller:
    return Caller("console", "local", handle, display_name=handle.title(), channel="#rally")


@dataclass
class World:
    """The core on one store: its services, its clock, and a way to read the outbox."""

    services: Services
    clock: FakeClock
    read_outbox: Callable[[], Awaitable[list[OutboxItem]]]

    async def ok(self, who: str | Caller, text: str) -> str:
        caller = console(who) if isinstance(who, str) else who
        reply = await self.services.handle_text(caller, text)
        assert reply.ok, (text, reply.message.plain_text())
        return reply.message.plain_text()

    async def act(self, who: str | Caller, action: str) -> str:
        caller = console(who) if isinstance(who, str) else who
        reply = await self.services.handle_action(caller, action)
        assert reply.ok, (action, reply.message.plain_text())
        return reply.message.plain_text()

    async def alert_id(self, number: int) -> str:
        async with self.services.uow() as uow:
            collective = await uow.collectives.by_name("Demo collective")
            assert collective is not None
            alert = await uow.alerts.by_number(collective.id, number)
            assert alert is not None
            return alert.id

    async def messages(self, prefix: str, to: str | None = None) -> list[Message]:
        """The messages of the outbox rows with this key prefix (to one address), in order."""
        return [
            from_dict(o.payload)
            for o in await self.read_outbox()
            if o.key.startswith(prefix) and (to is None or o.address == to) and o.payload
        ]

    async def press(self, who: str | Caller, prefix: str, to: str, label: str) -> str:
        """Press the button labelled so in the last message with this key prefix to `to`."""
        (message, *_) = reversed(await self.messages(prefix, to))
        (button,) = [b for b in message.buttons if b.label == label]
        return await self.act(who, button.action_id)

    async def deliver(self, park: str | None = None) -> None:
        """Send everything waiting; rows whose key starts with `park` are undeliverable."""
        chats: dict[str, Any] = {p: ParkingChat(p, park) for p in ("console", "slack", "discord")}
        await Dispatcher(
            self.services.uow,
            chats,
            self.clock,
            on_failed=self.services.report_undelivered,
        ).drain()


class ParkingChat(MemoryChat):
    """Accepts every message except those whose key starts with a prefix: never deliverable."""

    def __init__(self, platform: str, park: str | None) -> None:
        super().__init__(platform)
        self.park = park

    async def post(self, item: OutboxItem, message: Message) -> str:
        if self.park and item.key.startswith(self.park):
            raise Undeliverable("channel_not_found")
        return await super().post(item, message)


async def link(world: World, caller: Caller) -> None:
    said = await world.ok(ZEN, "link")
    found = re.search(r"/rally link ([A-Z0-9]{8})", said)
    assert found, said
    await world.ok(caller, f"link {found.group(1)}")


async def her_life(world: World) -> None:
    """Everything above, up to the moment she asks to be forgotten."""
    cp = world.services.copy
    await world.ok(ZEN, f"join {JOIN_NOTE}")
    await world.deliver(park="join:")  # the leads' copy of her request is parked
    await world.ok("lee", f"approve {HANDLE}")
    await world.ok("lee", f"role {HANDLE} responder")
    await link(world, ZEN_SLACK)
    await link(world, ZEN_DISCORD)
    await world.ok(ZEN, "prefer dm")
    await world.ok(ZEN, "quiet 23:00-06:00")
    await world.ok(ZEN, "link")  # a code she never used
    link_1, note_1, evidence_1 = CLOSED
    await world.ok(ZEN, f"alert {link_1} post={CLOSED_POST} kinds=trolling {note_1}")
    await world.ok("lee", "review #1 release")  # a newcomer's first alert waits for a lead
    await world.ok(ZEN, f"evidence #1 {evidence_1}")
    await world.ok(ZEN, "delegate #1 dee")
    await world.ok("dee", "evidence #1 case 55512")
    await world.act("ben", f"rally:alert:{await world.alert_id(1)}:on_it")
    link_2, note_2, evidence_2 = ACTIVE
    await world.ok(ZEN, f"alert {link_2} kinds=pile_on {note_2}")
    await world.ok(ZEN, f"evidence #2 {evidence_2}")
    link_3, note_3, evidence_3 = SAFETY
    await world.ok(ZEN, f"alert {link_3} kinds=doxxing {note_3}")
    await world.ok(ZEN, f"evidence #3 {evidence_3}")
    await world.ok("lee", f"audit {HANDLE}")
    world.clock.advance(timedelta(days=1))
    while await world.services.run_due():  # check-ins to her, escalations, reminders
        pass
    await world.press(ZEN, "checkin:", CONSOLE_ID, cp("button.checkin_struggling"))
    await world.ok(ZEN, "standdown #1")
    await world.deliver()  # delivered rows keep no body
    # What is still waiting when she asks: the +3 day check-ins to her; "she needs help" to
    # the leads; a rally that calls her, with "she is on it" to its target and a tally that
    # names her; a consent request she raised for ben; her library proposal.
    world.clock.advance(timedelta(days=2))
    while await world.services.run_due():
        pass
    await world.press(ZEN, "checkin:", CONSOLE_ID, cp("button.checkin_need_help"))
    await world.ok("ana", "alert https://x.com/other/status/5 kinds=trolling ana-note")
    four = await world.alert_id(4)
    await world.act(ZEN, f"rally:alert:{four}:on_it")
    await world.act("cam", f"rally:alert:{four}:on_it")
    await world.ok(ZEN, "alert https://x.com/other/status/6 for=ben")
    await world.ok(ZEN, f"library add support {PROPOSAL}")
    waiting = [o for o in await world.read_outbox() if o.payload]
    assert any(NAME in from_dict(o.payload).plain_text() for o in waiting)
    assert any(o.address == CONSOLE_ID for o in waiting)


async def forget(world: World) -> str:
    """She confirms forget-me; returns what she was told."""
    asked = await world.services.handle_text(ZEN, "forgetme")
    (button,) = asked.message.buttons
    return await world.act(ZEN, button.action_id)


def strings(value: Any) -> Iterator[str]:
    """Every string inside a value: dicts (keys too), lists, tuples, sets."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from strings(v)


def found_in(rows: Iterable[tuple[str, str, str, Any]], *needles: str) -> list[str]:
    """(table, row key, column, value) rows whose strings hold a needle (any case)."""
    wanted = [n.lower() for n in needles]
    return [
        f"{table}[{key}].{column} = {text[:120]!r}"
        for table, key, column, value in rows
        for text in strings(value)
        if any(n in text.lower() for n in wanted)
    ]


AUDIT_VALUE = re.compile(r"[A-Za-z0-9_,.:-]*")  # ids, counts, platform names, command names
