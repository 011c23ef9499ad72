"""B8: how many SQL statements raising an alert (with the rally's responder selection) costs
in collectives of 10, 100 and 1,000 members; constant is the goal.

The real Services on the real store (SQLite, and PostgreSQL when configured). Statements are
counted with SQLAlchemy's before_cursor_execute event (an executemany counts once), rows
with the ORM's load event. One alert is raised first to warm caches; the second is counted.
For comparison, the same figures for one "I'm on it" click on that alert (the response and
the tally edit).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import event, select

from bench.common import CHANNEL, TEAM, Config, Result, database, r, seed_collective
from bot.bootstrap import build
from bot.core.commands import Caller
from bot.settings import Settings
from bot.store.tables import AlertRow, Base

SIZES = (10, 100, 1000)


class Counter:
    def __init__(self) -> None:
        self.statements = 0
        self.rows = 0

    def statement(self, *args: Any) -> None:
        self.statements += 1

    def row(self, *args: Any) -> None:
        self.rows += 1


async def one_size(backend: str, url: str, members: int) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="rallybot-b8-") as tmp:
        runtime = build(
            Settings(
                database_url=SecretStr(url),
                data_dir=Path(tmp),
                slack_bot_token=None,
                slack_app_token=None,
                slack_signing_secret=None,
                slack_client_id=None,
                slack_client_secret=None,
            )
        )
        try:
            # Everyone but the raiser (the last member) responds; the rally calls 8.
            seeded = await seed_collective(
                runtime.engine, members, members - 2, name=f"Bench {members}"
            )
            services = runtime.services
            raiser = Caller("slack", TEAM, seeded.users[-1], "Raiser", channel=CHANNEL)
            counter = Counter()
            sync_engine = runtime.engine.sync_engine
            figures: dict[str, dict[str, Any]] = {}

            async def measure(what: str, text: str | None, action: str | None, who: Caller) -> None:
                counter.statements = counter.rows = 0
                started = time.perf_counter()
                if text is not None:
                    reply = await services.handle_text(who, text)
                else:
                    assert action is not None
                    reply = await services.handle_action(who, action)
                assert reply.ok, reply.message.plain_text()
                figures[what] = {
                    "statements": counter.statements,
                    "rows loaded": counter.rows,
                    "ms": r((time.perf_counter() - started) * 1000, 1),
                }

            await services.handle_text(raiser, "alert https://x.com/troll/status/0 warm-up")
            event.listen(sync_engine, "before_cursor_execute", counter.statement)
            event.listen(Base, "load", counter.row, propagate=True)
            try:
                await measure(
                    "raise + rally", "alert https://x.com/troll/status/1 pile-on", None, raiser
                )
                async with runtime.engine.connect() as conn:
                    alert_id = await conn.scalar(
                        select(AlertRow.id).where(
                            AlertRow.collective_id == seeded.collective_id, AlertRow.number == 2
                        )
                    )
                clicker = Caller("slack", TEAM, seeded.users[1], "Clicker", channel=CHANNEL)
                await measure("one click", None, f"rally:alert:{alert_id}:on_it", clicker)
            finally:
                event.remove(Base, "load", counter.row)
                event.remove(sync_engine, "before_cursor_execute", counter.statement)
            return figures
        finally:
            await runtime.close()


async def main(cfg: Config) -> Result:
    result = Result(
        "B8",
        "Query count: raise alert + rally selection by collective size",
        ["database", "members", "what", "statements", "rows loaded", "ms"],
        params={"sizes": list(SIZES), "rally_cap": 8},
    )
    for backend in cfg.backends():
        counts: dict[str, list[int]] = {}
        for members in SIZES:
            async with database(backend, cfg.postgres) as url:
                figures = await one_size(backend, url, members)
                for what, row in figures.items():
                    result.rows.append(
                        {"database": backend, "members": members, "what": what, **row}
                    )
                    counts.setdefault(what, []).append(row["statements"])
        raise_counts = counts["raise + rally"]
        constant = len(set(raise_counts)) == 1
        result.goal(
            f"statements to raise + rally, {backend}",
            " / ".join(map(str, raise_counts)),
            "constant",
            constant,
        )
        result.notes.append(
            f"{backend}: one click costs {' / '.join(map(str, counts['one click']))} statements "
            "at 10 / 100 / 1,000 members"
        )
    return result
