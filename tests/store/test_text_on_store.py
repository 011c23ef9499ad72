"""NUL and other control characters in every field, on SQLite and PostgreSQL.

PostgreSQL refuses NUL in text and in JSONB ("invalid byte sequence", "unsupported Unicode
escape sequence"): a NUL typed into a note used to fail the whole command. The core removes
control characters from everything people type and platforms send, and the store's column
types remove them again on the way in, the last line of defence.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, MetaData, select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core import commands as c
from bot.core.model import (
    Alert,
    AuditEvent,
    Collective,
    Evidence,
    EvidenceKind,
    Identity,
    LibraryEntry,
    Member,
    MessageKind,
    OutboxItem,
    Severity,
    Space,
    Visibility,
)
from bot.core.policy import Policy
from bot.core.services import Services
from bot.core.wording import Copy, flatten
from bot.store.types import CleanJson
from bot.store.uow import SqlUnitOfWork
from tests.fakes import FakeClock, SeqIds
from tests.unit.conftest import NOW

CONFIG = Path(__file__).resolve().parents[2] / "config" / "rallybot.toml"
NUL = "\x00"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def services(uow: Callable[[], SqlUnitOfWork]) -> Services:
    copy = Copy(flatten(tomllib.loads(CONFIG.read_text())["copy"]))
    return Services(uow=uow, clock=FakeClock(NOW), ids=SeqIds(), copy=copy, policy=Policy())


def _reflect(connection: Connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(connection)
    return metadata


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings(v)]
    return []


async def controls_stored(engine: AsyncEngine) -> list[str]:
    """Every stored string, in every column of every table, that holds a control character."""
    found = []
    async with engine.connect() as connection:
        metadata = await connection.run_sync(_reflect)
        for table in metadata.sorted_tables:
            for row in (await connection.execute(select(table))).mappings():
                for column, value in row.items():
                    found += [
                        f"{table.name}.{column}: {text[:60]!r}"
                        for text in strings(value)
                        if CONTROL.search(text.replace("\n", "").replace("\t", ""))
                    ]
    return found


async def test_nul_in_every_typed_field_goes_through_the_core_and_the_store(
    uow: Callable[[], SqlUnitOfWork], engine: AsyncEngine
) -> None:
    core = services(uow)
    await core.seed_demo()
    admin = c.Caller("slack", "T1", "U1", f"Dr{NUL} Rae\x01", channel="C1", can_manage=True)
    nul = f"{NUL}\x1b\x7f"
    typed = [
        (admin, f"setup name Peoria{nul} Docs"),
        (c.Caller("console", "local", "zoe", f"Zo{NUL}e"), f"join a nurse{nul} in Peoria"),
        ("lee", f"library topics add vac{NUL}cines"),
        (
            "ana",
            f"alert https://x.com/a/{NUL}1 post=https://x.com/b{NUL} topic=vaccines my{nul} note",
        ),
        ("ana", f"evidence #1 case 12{NUL}34"),
        ("ana", f"evidence #1 https://x.com/c{NUL}/1"),
        ("ana", f"evidence #1 they wrote{nul} my address"),
        ("ana", f"delegate #1 de{NUL}e"),
        ("lee", f"library add support topic=vaccines source=https://x.com/s{NUL} We see you{nul}."),
        ("ben", f"timezone Europe/{NUL}London"),
        ("lee", f"setup name Demo{NUL} collective"),
    ]
    for who, text in typed:
        caller = who if isinstance(who, c.Caller) else c.Caller("console", "local", who)
        reply = await core.handle_text(caller, text)
        assert reply.ok, (text, reply.message.plain_text())
    form = c.RaiseAlert(
        links=(f"https://x.com/f/{NUL}1",), note=f"form{nul} note", venue=None, topics=frozenset()
    )
    assert (await core.handle(c.Caller("console", "local", "ben"), form)).ok
    action = f"rally:alert:{NUL}"  # a garbled button is refused kindly, never a crash
    assert not (await core.handle_action(c.Caller("console", "local", "ben"), action)).ok

    assert await controls_stored(engine) == []
    async with uow() as work:
        collective = await work.collectives.by_name("Demo collective")
        assert collective is not None
        alert = await work.alerts.by_number(collective.id, 1)
        assert alert is not None
        assert (alert.note, alert.links, alert.target_post) == (
            "my note",
            ("https://x.com/a/1",),
            "https://x.com/b",
        )
        assert [e.content for e in await work.evidence.for_alert(alert.id)] == [
            "1234",
            "https://x.com/c/1",
            "they wrote my address",
        ]


async def test_the_store_removes_control_characters_from_every_string_column(
    uow: Callable[[], SqlUnitOfWork],
) -> None:
    """The last line of defence: entities written past the core, NUL everywhere."""
    n = NUL

    def hex_id(i: int) -> str:
        return f"{i:032x}"

    collective = Collective(
        hex_id(1), f"Col{n}lective", "UTC", NOW, 8, 30, 2, 3, (24,), 5, topics=(f"to{n}pic",)
    )
    space = Space(hex_id(2), collective.id, "slack", f"T{n}1", rally_channel=f"C{n}1")
    member = Member(
        hex_id(3), collective.id, f"ha{n}ndle", f"Na{n}me", NOW, skills=frozenset({f"s{n}k"})
    )
    identity = Identity(hex_id(4), member.id, "slack", f"T{n}1", f"U{n}1")
    alert = Alert(
        hex_id(5),
        collective.id,
        1,
        member.id,
        member.id,
        NOW,
        links=(f"https://x.com/{n}a",),
        kinds=frozenset(),
        severity=Severity.MEDIUM,
        help_wanted=frozenset(),
        visibility=Visibility.ALL,
        target_post=f"https://x.com/{n}p",
        note=f"no{n}te",
        held_reason=f"first{n}",
    )
    evidence = Evidence(
        hex_id(6), alert.id, member.id, NOW, EvidenceKind.NOTE, f"con{n}tent", "0" * 64
    )
    entry = LibraryEntry(
        hex_id(7),
        collective.id,
        1,
        MessageKind.SUPPORT,
        f"te{n}xt",
        NOW,
        sources=(f"https://s{n}",),
    )
    event = AuditEvent(hex_id(8), collective.id, NOW, None, f"act{n}ion", detail={f"k{n}": f"v{n}"})
    item = OutboxItem(
        hex_id(9),
        collective.id,
        f"key{n}",
        f"idem{n}",
        "slack",
        f"T{n}1",
        "channel",
        f"C{n}1",
        "post",
        {"title": f"ti{n}tle", "blocks": [{"spans": [{"t": "text", "text": f"x{n}y"}]}]},
        NOW,
        NOW,
        last_error=f"er{n}ror",
        about=(f"a{n}b",),
    )
    async with uow() as work:
        await work.collectives.add(collective)
        await work.spaces.add(space)
        await work.members.add(member)
        await work.identities.add(identity)
        await work.alerts.add(alert)
        await work.evidence.add(evidence)
        await work.library.add(entry)
        await work.audit.add(event)
        await work.outbox.add(item)
        await work.commit()  # PostgreSQL would refuse a single NUL here

    async with uow() as work:
        stored: list[Any] = [
            await work.collectives.get(collective.id),
            await work.spaces.get(space.id),
            await work.members.get(member.id),
            await work.identities.find("slack", "T1", "U1"),
            await work.alerts.get(alert.id),
            *await work.evidence.for_alert(alert.id),
            await work.library.get(entry.id),
            *await work.audit.recent(collective.id, 5),
            *await work.outbox.posted("key"),
        ]
    assert None not in stored and len(stored) == 9
    for row in stored:
        for f in dataclasses.fields(row):
            for text in strings(_plain(getattr(row, f.name))):
                assert NUL not in text, (type(row).__name__, f.name, text)
    assert stored[4].note == "note" and stored[2].display_name == "Name"


def _plain(value: Any) -> Any:
    return sorted(value) if isinstance(value, frozenset) else value


@given(st.recursive(st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_json_columns_hold_no_control_character_whatever_the_value(value: Any) -> None:
    """The JSON type checks its encoding first and walks only values that need it: the
    shortcut must never let a control character through."""
    stored = CleanJson().process_bind_param(value, sqlite_dialect())
    assert not [s for s in strings(stored) if CONTROL.search(s.replace("\n", "").replace("\t", ""))]
    if not [s for s in strings(value) if CONTROL.search(s.replace("\n", "").replace("\t", ""))]:
        assert stored == value  # nothing to clean: the value is stored as it is
