"""Slack's own tables on rallybot's database: OAuth installations and states, seen event ids."""

from __future__ import annotations

import copy
import itertools
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import (
    AsyncSQLAlchemyInstallationStore,
    SQLAlchemyInstallationStore,
)
from slack_sdk.oauth.state_store.sqlalchemy import (
    AsyncSQLAlchemyOAuthStateStore,
    SQLAlchemyOAuthStateStore,
)
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.keys import SecretBox, Unreadable, is_sealed
from bot.store.tables import NAMING_CONVENTION

log = logging.getLogger(__name__)

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


# --- tokens at rest ------------------------------------------------------------------------

TOKENS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
Stored = TypeVar("Stored", Installation, Bot)


class SealedInstallations(AsyncInstallationStore):
    """slack_sdk's own SQLAlchemy installation store, with every token encrypted on its way
    in and decrypted on its way out: the database holds no token anyone could use."""

    def __init__(self, inner: AsyncSQLAlchemyInstallationStore, box: SecretBox) -> None:
        self.inner = inner
        self.box = box

    @property
    def logger(self) -> logging.Logger:
        return self.inner.logger

    def _sealed(self, found: Stored) -> Stored:
        sealed = copy.copy(found)
        for name in TOKENS:
            if hasattr(sealed, name):
                setattr(sealed, name, self.box.seal(getattr(sealed, name)))
        return sealed

    def _opened(self, found: Stored | None, what: str) -> Stored | None:
        if found is None:
            return None
        opened = copy.copy(found)
        try:
            for name in TOKENS:
                if hasattr(opened, name):
                    setattr(opened, name, self.box.open(getattr(opened, name)))
        except Unreadable:
            log.error(
                "a Slack %s could not be decrypted: RALLYBOT_SECRET_KEY is not the key it was "
                "saved with (during a rotation, set the old one in RALLYBOT_OLD_SECRET_KEYS); "
                "treated as not installed",
                what,
            )
            return None
        return opened

    async def async_save(self, installation: Installation) -> None:
        await self.inner.async_save(self._sealed(installation))

    async def async_save_bot(self, bot: Bot) -> None:
        await self.inner.async_save_bot(self._sealed(bot))

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        found = await self.inner.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        return self._opened(found, "bot installation")

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        found = await self.inner.async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )
        return self._opened(found, "installation")

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.inner.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        await self.inner.async_delete_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.inner.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)


async def reseal(engine: AsyncEngine, box: SecretBox, plain_only: bool = False) -> int:
    """Encrypt every stored token with the box's primary key, in one transaction: tokens
    sealed with an older key are re-encrypted (`rallybot rotate-key`), tokens stored before
    encryption was turned on are encrypted. plain_only: only the latter (at start). Returns
    how many tokens were written; raises Unreadable (nothing changed) when a token opens with
    none of the keys."""
    written = 0
    async with engine.begin() as connection:
        for table, names in TOKEN_COLUMNS.items():
            columns = [table.c[name] for name in names]
            query = select(table.c.id, *columns).order_by(table.c.id)
            if engine.dialect.name == "postgresql":
                query = query.with_for_update()
            for row in (await connection.execute(query)).mappings():
                changed: dict[str, Any] = {}
                for name in names:
                    value = row[name]
                    if value is None or (plain_only and is_sealed(value)):
                        continue
                    changed[name] = box.rotate(value)
                if changed:
                    await connection.execute(
                        update(table).where(table.c.id == row["id"]).values(**changed)
                    )
                    written += len(changed)
    return written


# --- OAuth states ---------------------------------------------------------------------------

STATE_PURGE_SECONDS = 60.0


class ExpiringStates(AsyncSQLAlchemyOAuthStateStore):
    """slack_sdk's OAuth state store, whose unused states go: anyone may open /slack/install,
    and each visit stores a state. Issuing one deletes the expired ones, at most once a
    minute per process, so the table holds at most the states of their lifetime."""

    def __init__(self, expiration_seconds: int, engine: AsyncEngine) -> None:
        super().__init__(expiration_seconds=expiration_seconds, engine=engine)
        self._purged = float("-inf")

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state: str = await super().async_issue(*args, **kwargs)
        if time.monotonic() - self._purged >= STATE_PURGE_SECONDS:
            self._purged = time.monotonic()
            await self.purge()
        return state

    async def purge(self) -> int:
        """Delete the states past their expiry (naive UTC, as slack_sdk stores them)."""
        now = datetime.now(UTC).replace(tzinfo=None)
        async with self.engine.begin() as connection:
            result = await connection.execute(
                delete(oauth_states).where(oauth_states.c.expire_at < now)
            )
        return int(getattr(result, "rowcount", 0) or 0)
