"""The core on in-memory fakes: the demo collective, the real copy, a clock that stands still."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.discord.syntax import DISCORD
from bot.adapters.slack.syntax import SLACK
from bot.core.commands import Caller
from bot.core.messages import Button, Message, Reply, from_dict
from bot.core.model import Alert, AuditEvent, CheckIn, Collective, Member, OutboxItem
from bot.core.parse import PLAIN, Syntax
from bot.core.policy import Policy
from bot.core.services import Services
from bot.core.wording import Copy, flatten
from bot.documents.chart import MatplotlibCharts
from bot.documents.pdf import FpdfPackets
from tests.fakes import FakeClock, MemoryStore, SeqIds, Tables

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "rallybot.toml"
# A Wednesday, 09:00 in the demo collective's America/Chicago.
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
X_LINK = "https://x.com/troll/status/1"
# Each platform's syntax, as its adapter passes it to the core.
SYNTAX: dict[str, Syntax] = {"slack": SLACK, "discord": DISCORD}


def load_copy() -> Copy:
    with CONFIG.open("rb") as f:
        data = tomllib.load(f)
    return Copy(flatten(data["copy"]))


def as_(handle: str, **overrides: Any) -> Caller:
    """A demo member typing in the console's rally channel (the console user id is the handle)."""
    fields: dict[str, Any] = {
        "platform": "console",
        "workspace": "local",
        "user": handle,
        "channel": "#rally",
    }
    fields.update(overrides)
    return Caller(**fields)


@dataclass(frozen=True)
class Sent:
    """One committed outbox row with its payload decoded back into a Message."""

    item: OutboxItem
    message: Message

    @property
    def key(self) -> str:
        return self.item.key

    @property
    def op(self) -> str:
        return self.item.op

    @property
    def to(self) -> tuple[str, str]:
        """("dm", user) or ("channel", channel id)."""
        return self.item.address_kind, self.item.address

    @property
    def text(self) -> str:
        return self.message.plain_text()


Source = Reply | Message | Sent


def buttons_of(source: Source) -> tuple[Button, ...]:
    if isinstance(source, Reply):
        return source.message.buttons
    if isinstance(source, Sent):
        return source.message.buttons
    return source.buttons


def text_of(source: Source) -> str:
    if isinstance(source, Reply):
        return source.message.plain_text()
    if isinstance(source, Sent):
        return source.text
    return source.plain_text()


class Rally:
    """The demo collective through the core's one entry point, read like a conversation."""

    def __init__(
        self, services: Services, store: MemoryStore, clock: FakeClock, copy: Copy
    ) -> None:
        self.services = services
        self.store = store
        self.clock = clock
        self.copy = copy
        self.replies: list[tuple[Caller, Reply]] = []  # every reply, in order

    # --- talking to the bot -------------------------------------------------------------

    @staticmethod
    def caller(who: str | Caller) -> Caller:
        return as_(who) if isinstance(who, str) else who

    async def say(self, who: str | Caller, text: str, syntax: Syntax | None = None) -> Reply:
        """What `who` typed after /rally, read as their platform's adapter reads it (a Slack
        caller's <@U…> is a mention, a Discord caller's <@123>; the console's words are plain)."""
        caller = self.caller(who)
        syntax = syntax or SYNTAX.get(caller.platform, PLAIN)
        reply = await self.services.handle_text(caller, text, syntax)
        self.replies.append((caller, reply))
        return reply

    async def act(self, who: str | Caller, action_id: str) -> Reply:
        """A button press with this action id, genuine or forged."""
        caller = self.caller(who)
        reply = await self.services.handle_action(caller, action_id)
        self.replies.append((caller, reply))
        return reply

    async def press(self, who: str | Caller, source: Source, label: str) -> Reply:
        """Press the button labelled `label` in a reply or a delivered message."""
        found = [b for b in buttons_of(source) if b.label == label]
        labels = [b.label for b in buttons_of(source)]
        assert len(found) == 1, f"no single button {label!r} in {labels}"
        return await self.act(who, found[0].action_id)

    async def press_dm(
        self, who: str | Caller, prefix: str, button: str, owner: str | None = None
    ) -> Reply:
        """Press the button whose copy key is `button` in the last DM with this key prefix
        sent to `owner` (by default to `who` themself)."""
        to = owner or (who if isinstance(who, str) else who.user)
        return await self.press(who, self.last_dm(to, prefix), self.copy(button))

    async def raise_alert(self, who: str | Caller, options: str = "", link: str = X_LINK) -> Alert:
        """Raise an alert that must succeed; returns the stored alert."""
        reply = await self.say(who, f"alert {link} {options}".strip())
        assert reply.ok, reply.message.plain_text()
        return self.latest_alert()

    # --- reading the committed state ----------------------------------------------------

    @property
    def data(self) -> Tables:
        return self.store.committed

    def snapshot(self) -> Tables:
        return self.store.snapshot()

    def collective(self, name: str = "Demo collective") -> Collective:
        return next(c for c in self.data.collectives.values() if c.name == name)

    def member(self, handle: str, collective: str = "Demo collective") -> Member:
        cid = self.collective(collective).id
        return next(
            m for m in self.data.members.values() if m.handle == handle and m.collective_id == cid
        )

    def alert(self, number: int, collective: str = "Demo collective") -> Alert:
        cid = self.collective(collective).id
        return next(
            a for a in self.data.alerts.values() if a.number == number and a.collective_id == cid
        )

    def latest_alert(self) -> Alert:
        return max(self.data.alerts.values(), key=lambda a: (a.raised_at, a.id))

    def checkins(self, alert: Alert) -> list[CheckIn]:
        rows = [c for c in self.data.checkins.values() if c.alert_id == alert.id]
        return sorted(rows, key=lambda c: (c.due_at, c.id))

    def rallied(self, alert: Alert) -> list[str]:
        """Handles of everyone called to this alert, wave by wave."""
        rows = sorted(
            (r for r in self.data.rallied.values() if r.alert_id == alert.id),
            key=lambda r: (r.wave, r.at, r.member_id),
        )
        return [self.data.members[r.member_id].handle for r in rows]

    def audit(self, action: str | None = None) -> list[AuditEvent]:
        rows = sorted(self.data.audit.values(), key=lambda e: (e.at, e.id))
        return [e for e in rows if action is None or e.action == action]

    def outbox(self, key: str | None = None, prefix: str | None = None) -> list[Sent]:
        """Every committed outbox row, oldest first, optionally of one key or key prefix."""
        rows = sorted(self.data.outbox.values(), key=lambda o: (o.created_at, o.id))
        return [
            Sent(o, from_dict(o.payload))
            for o in rows
            if (key is None or o.key == key) and (prefix is None or o.key.startswith(prefix))
        ]

    def dms(self, user: str, prefix: str | None = None) -> list[Sent]:
        """What was sent privately to this console user (a demo member's handle)."""
        return [s for s in self.outbox(prefix=prefix) if s.to == ("dm", user)]

    def posts_in(self, channel: str, prefix: str | None = None) -> list[Sent]:
        return [s for s in self.outbox(prefix=prefix) if s.to == ("channel", channel)]

    def last_dm(self, user: str, prefix: str | None = None) -> Sent:
        found = self.dms(user, prefix)
        assert found, f"nothing was sent to {user} (prefix {prefix!r})"
        return found[-1]

    async def other_collective(self) -> tuple[Caller, Alert]:
        """A second collective on its own Slack workspace, with one alert (its #1)."""
        lead = Caller("slack", "T2", "U9", display_name="Olga", channel="C1", can_manage=True)
        reply = await self.say(lead, "setup name Other collective")
        assert reply.ok, reply.message.plain_text()
        return lead, await self.raise_alert(lead, "olga's own trouble")

    def literal(self, key: str, count: int | None = None) -> str:
        """The longest fixed part of a copy template (the form for `count`, of a plural
        key), to find it in a formatted message."""
        return max(re.split(r"\{[^}]*\}", self.copy.template(key, count)), key=len)

    async def edit_member(self, handle: str, **changes: Any) -> None:
        """Change a member the way an admin tool would: through a committed transaction."""
        member_id = self.member(handle).id
        async with self.store.uow() as uow:
            member = await uow.members.get(member_id)
            assert member is not None
            for name, value in changes.items():
                setattr(member, name, value)
            await uow.members.save(member)
            await uow.commit()


async def build_rally(policy: Policy | None = None, copy: Copy | None = None) -> Rally:
    """A fresh store, clock and ids, with the demo collective seeded."""
    store = MemoryStore()
    clock = FakeClock(NOW)
    text = copy or load_copy()
    services = Services(
        uow=store.uow,
        clock=clock,
        ids=SeqIds(),
        copy=text,
        policy=policy or Policy(),
        chart=MatplotlibCharts(),
        pdf=FpdfPackets(),
    )
    await services.seed_demo()
    return Rally(services, store, clock, text)


@pytest.fixture(scope="session")
def copy() -> Copy:
    return load_copy()


@pytest.fixture
def policy() -> Policy:
    return Policy()


@pytest.fixture
async def rally(policy: Policy, copy: Copy) -> Rally:
    return await build_rally(policy, copy)


@pytest.fixture(scope="session")
def make_rally(copy: Copy) -> Callable[..., Awaitable[Rally]]:
    """A fresh demo per call, for a test that needs its own policy or many fresh starts."""

    async def make(**policy: Any) -> Rally:
        return await build_rally(Policy(**policy), copy)

    return make


@pytest.fixture(name="as_")
def as_fixture() -> Callable[..., Caller]:
    return as_
