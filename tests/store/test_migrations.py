"""Alembic owns the schema: up, down and up again, and the models match the migrations."""

from __future__ import annotations

import io
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from bot.adapters.slack.storage import metadata as slack_metadata
from bot.store import schema
from bot.store.lease import metadata as lease_metadata
from bot.store.tables import Base
from bot.store.uow import make_engine

# What migrations/env.py compares: rallybot's tables and the Slack adapter's.
METADATA = [Base.metadata, lease_metadata, slack_metadata]
TABLES = set(Base.metadata.tables) | set(lease_metadata.tables) | set(slack_metadata.tables)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, METADATA))


async def tables_in(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_tables)
    finally:
        await engine.dispose()


def test_one_head_the_latest_migration() -> None:
    files = sorted((Path(schema.__file__).parents[2] / "migrations" / "versions").glob("0*.py"))
    assert schema.head_revision() == files[-1].name[:4]


async def test_upgrade_downgrade_upgrade(empty_url: str) -> None:
    assert await schema.current_revision(empty_url) is None
    assert not await schema.is_up_to_date(empty_url)

    await schema.upgrade(empty_url)
    assert await tables_in(empty_url) == TABLES | {"alembic_version"}
    assert await schema.current_revision(empty_url) == schema.head_revision()
    assert await schema.is_up_to_date(empty_url)

    await schema.downgrade(empty_url)
    assert await tables_in(empty_url) == {"alembic_version"}
    assert await schema.current_revision(empty_url) is None

    await schema.upgrade(empty_url)
    assert await schema.is_up_to_date(empty_url)


async def test_upgrading_twice_changes_nothing(empty_url: str) -> None:
    await schema.upgrade(empty_url)
    await schema.upgrade(empty_url)
    assert await schema.is_up_to_date(empty_url)


async def test_the_models_match_the_migrations(empty_url: str) -> None:
    """What `alembic check` does in CI, on each backend."""
    await schema.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


def test_a_percent_in_the_url_survives_the_config_file_syntax() -> None:
    url = "postgresql://rally:p%40ss%25@db/app"
    assert schema.alembic_config(url).get_main_option("sqlalchemy.url") == url


def test_offline_sql_for_postgresql() -> None:
    config = schema.alembic_config("postgresql://nobody@127.0.0.1:1/none")
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    sql = config.output_buffer.getvalue()
    assert "CREATE TABLE alerts" in sql
    assert "ON DELETE CASCADE" in sql and "JSONB" in sql
