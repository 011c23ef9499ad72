"""Named leases: one holder at a time for something only one process may do (a gateway
connection), handed over when the holder lets go or stops renewing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Column, MetaData, Select, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.ports import Clock
from bot.store.tables import ID, KEY, NAMING_CONVENTION
from bot.store.types import UTCDateTime

# Process coordination, not a domain entity: a table of its own beside the domain's
# (Alembic's env.py lists this metadata too).
metadata = MetaData(naming_convention=NAMING_CONVENTION)

leases = Table(
    "leases",
    metadata,
    Column("name", KEY, primary_key=True),
    Column("holder", ID, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

TTL_SECONDS = 30.0  # a holder that stops renewing for this long is taken over


class Lease:
    """The lease `name` for `holder`: `acquire()` takes it when free or lapsed and renews it
    when held (one statement: an insert that updates only a lapsed or own row, so two
    processes asking at once get one answer each); `release()` lets it go at once.

    The holder renews well within `ttl` (`renew_every`); one that can't (a stalled process, a
    lost database) loses the lease when it lapses, and must stop what the lease guards."""

    def __init__(
        self, engine: AsyncEngine, name: str, holder: str, clock: Clock, ttl: float = TTL_SECONDS
    ) -> None:
        self.engine = engine
        self.name = name
        self.holder = holder
        self.clock = clock
        self.ttl = timedelta(seconds=ttl)

    @property
    def renew_every(self) -> float:
        return self.ttl.total_seconds() / 3

    async def acquire(self) -> bool:
        """True when this holder holds the lease now (taken or renewed)."""
        now = self.clock.now()
        until = now + self.ttl
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(leases)
            .values(name=self.name, holder=self.holder, expires_at=until)
            .on_conflict_do_update(
                index_elements=[leases.c.name],
                set_={"holder": self.holder, "expires_at": until},
                where=(leases.c.expires_at <= now) | (leases.c.holder == self.holder),
            )
        )
        async with self.engine.begin() as connection:
            await connection.execute(statement)
            holder = await connection.scalar(self._holder())
        return holder == self.holder

    def _holder(self) -> Select[str]:
        return select(leases.c.holder).where(leases.c.name == self.name)

    async def holder_now(self) -> str | None:
        """Who holds the lease (even lapsed), for logs and tests."""
        async with self.engine.connect() as connection:
            found = await connection.scalar(self._holder())
        return str(found) if found is not None else None

    async def release(self) -> None:
        """Let go, if held: the next process asking takes it at once."""
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(leases).where(leases.c.name == self.name, leases.c.holder == self.holder)
            )
