"""The digest on the real store: the same figures on SQLite and PostgreSQL, and a fixed
number of SQL statements however much history there is."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.commands import Caller
from bot.core.services import Services
from bot.store.uow import SqlUnitOfWork
from tests.store.test_services_on_store import Clock, services

CHICAGO = ZoneInfo("America/Chicago")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO).astimezone(UTC)


def as_(handle: str) -> Caller:
    return Caller("console", "local", handle, channel="#rally")


async def alert(
    core: Services, who: str, options: str, answer_after: list[tuple[str, int]], clock: Clock
) -> None:
    reply = await core.handle_text(
        as_(who), f"alert https://x.com/t/{clock.at.timestamp()} {options}"
    )
    assert reply.ok, reply.message.plain_text()
    number = int(reply.message.title.split("#")[1].split()[0])
    async with core.uow() as uow:
        collective = await uow.collectives.by_name("Demo collective")
        assert collective is not None
        found = await uow.alerts.by_number(collective.id, number)
        assert found is not None
    start = clock.at
    for responder, minutes in answer_after:
        clock.at = start + timedelta(minutes=minutes)
        assert (await core.handle_action(as_(responder), f"rally:alert:{found.id}:on_it")).ok
    clock.at = start


async def test_the_same_digest_on_every_backend(uow: Callable[[], SqlUnitOfWork]) -> None:
    clock = Clock(local(2026, 11, 9, 8, 0))
    core = services(uow, clock)
    await core.seed_demo()
    clock.at = local(2026, 11, 10, 9, 0)
    await alert(core, "ana", "kinds=pile_on", [], clock)
    clock.at = local(2026, 11, 16, 10, 0)
    await alert(core, "ana", "kinds=pile_on", [("ben", 6), ("cam", 20)], clock)
    clock.at = local(2026, 11, 22, 23, 30)  # Sunday night in Chicago: still W47
    await alert(core, "dee", "kinds=trolling where=instagram anonymous=yes", [("ben", 30)], clock)
    clock.at = local(2026, 11, 23, 0, 30)  # W48
    await alert(core, "ana", "kinds=trolling", [], clock)
    clock.at = local(2026, 11, 24, 12, 0)

    data = json.loads((await core.digest_report(None, "2026-W47", send=False)).to_json())
    assert data["alerts"] == [2, 1]
    assert data["by_kind"] == {"pile_on": [1, 0], "trolling": [1, 1]}
    assert data["first_response"] == {"answered": 2, "median_minutes": 18.0, "p90_minutes": 30.0}
    assert data["unanswered"] == [0, -1]
    assert data["responders_engaged"] == 2
    assert [w["alerts"] for w in data["weeks"]][-2:] == [1, 2]


async def test_a_digest_costs_the_same_statements_with_eight_times_the_alerts(
    uow: Callable[[], SqlUnitOfWork], statements: list[str]
) -> None:
    clock = Clock(local(2026, 11, 1, 8, 0))
    core = services(uow, clock)
    await core.seed_demo()
    raisers = ["ana", "lee", "sam", "ana", "lee"]

    async def history(weeks: int) -> int:
        for n in range(weeks):
            clock.at = local(2026, 11, 2, 9, 0) + timedelta(days=7 * n)
            await alert(core, raisers[n % len(raisers)], "kinds=pile_on", [("ben", 5)], clock)
        clock.at = local(2026, 11, 30, 12, 0)
        statements.clear()
        await core.digest_report(None, "2026-W48", send=False)
        return len(statements)

    few = await history(1)
    many = await history(8)
    assert few == many
