"""Alembic environment: async engine from bot.store, URL from the config or DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON, URL, Connection, pool
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from bot.adapters.slack.storage import metadata as slack_metadata
from bot.store.lease import metadata as lease_metadata
from bot.store.tables import Base
from bot.store.uow import database_url, make_engine

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# rallybot's tables, the named leases and the Slack adapter's (OAuth installations, states,
# seen events).
target_metadata = [Base.metadata, lease_metadata, slack_metadata]
POSTGRESQL = URL.create("postgresql").get_dialect()()


def _url() -> str:
    return (
        config.get_main_option("sqlalchemy.url")
        or os.environ.get("DATABASE_URL")
        or "sqlite:///rallybot.db"
    )


def _render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    if type_ != "type":
        return False
    # Migrations spell out the stored type, so they keep working when our Python types change.
    if isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    if isinstance(obj, JSON) and isinstance(obj.dialect_impl(POSTGRESQL), JSONB):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


def _configure(**options: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
        **options,
    )


def run_migrations_offline() -> None:
    _configure(url=database_url(_url()), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table and drops the old one; with foreign keys on, that
        # DROP deletes every child row through ON DELETE CASCADE. The pragma is ignored
        # inside a transaction, hence the commit before the migration starts.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows with broken foreign keys: {broken}")
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


async def run_async_migrations() -> None:
    engine = make_engine(_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
