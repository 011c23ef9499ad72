"""Slack's own tables on rallybot's database: OAuth installations and states, seen event ids."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Text, delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.tables import NAMING_CONVENTION

# slack_sdk defines its tables; Alembic (migrations/env.py) compares this metadata with the
# database, so `alembic check` notices when a slack_sdk upgrade changes them.
metadata = MetaData(naming_convention=NAMING_CONVENTION)
installations = SQLAlchemyInstallationStore.build_installations_table(
    metadata, SQLAlchemyInstallationStore.default_installations_table_name
)
bots = SQLAlchemyInstallationStore.build_bots_table(
    metadata, SQLAlchemyInstallationStore.default_bots_table_name
)
oauth_states = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    metadata, SQLAlchemyOAuthStateStore.default_table_name
)
# Tokens are stored encrypted (bot.adapters.slack.secrets), longer than Slack's own 200
# characters: migration 0008 widened these columns.
TOKEN_COLUMNS = {
    installations: ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    bots: ("bot_token", "bot_refresh_token"),
}
for _table, _names in TOKEN_COLUMNS.items():
    for _name in _names:
        _table.c[_name].type = Text()
# Unused states expire: the purge finds them by this index.
Index("ix_slack_oauth_states_expire_at", oauth_states.c.expire_at)
events = Table(
    "slack_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("team_id", String(32), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
)

EVENT_RETENTION = timedelta(days=1)  # Slack retries an event within minutes


class EventLog:
    """Events API deliveries seen, keyed by event id, so a retried event is handled once."""

    def __init__(self, engine: AsyncEngine, purge_every: int = 500) -> None:
        self.engine = engine
        self._counter = itertools.count(1)
        self._purge_every = purge_every

    async def first_time(self, event_id: str, team_id: str) -> bool:
        """True for an event id not seen before: a unique key decides, never a retry header."""
        now = datetime.now(UTC)
        try:
            async with self.engine.begin() as connection:
                await connection.execute(
                    insert(events).values(event_id=event_id, team_id=team_id, received_at=now)
                )
        except IntegrityError:
            return False
        if next(self._counter) % self._purge_every == 0:
            async with self.engine.begin() as connection:
                await connection.execute(
                    delete(events).where(events.c.received_at < now - EVENT_RETENTION)
                )
        return True
