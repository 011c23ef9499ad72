"""Schema management for the CLI and tests: Alembic upgrade, downgrade and revision checks."""

from __future__ import annotations

import asyncio
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from bot.store.uow import make_engine


def migrations() -> Path:
    """The Alembic folder: migrations/ in the source tree, the package bot.migrations once
    installed (an editable install maps the one onto the other; see pyproject.toml)."""
    found = resources.files("bot.migrations")
    if not isinstance(found, Path) or not (found / "env.py").is_file():
        raise RuntimeError(
            f"rallybot's migrations are missing from its install ({found}): reinstall rallybot"
        )
    return found


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config built in code; env.py falls back to DATABASE_URL without a url."""
    config = Config()
    config.set_main_option("script_location", str(migrations()))
    if url is not None:
        # The config is a ConfigParser: a literal % (as in an escaped password) must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at url up to revision."""
    # env.py runs its own event loop with asyncio.run, so it needs a thread without one.
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database at url down to revision."""
    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations in {migrations()}")
    return head


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(url: str) -> str | None:
    """The revision the database at url is at; None when it was never migrated."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_revision)
    finally:
        await engine.dispose()


async def is_up_to_date(url: str) -> bool:
    return await current_revision(url) == head_revision()
