"""Throw-away PostgreSQL databases for tests, on the server RALLYBOT_TEST_POSTGRES_URL names."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import make_url
from sqlalchemy.pool import NullPool

from bot.store.uow import make_engine

POSTGRES_URL = os.environ.get("RALLYBOT_TEST_POSTGRES_URL")


@asynccontextmanager
async def throwaway_postgres(server_url: str, prefix: str = "rallybot_test") -> AsyncIterator[str]:
    """A new, uniquely named database on the server of server_url, dropped on exit."""
    name = f"{prefix}_{uuid.uuid4().hex}"
    # CREATE and DROP DATABASE cannot run inside a transaction.
    server = make_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        # No try/except: a configured but unreachable server must fail the run, not skip.
        async with server.connect() as connection:
            await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            async with server.connect() as connection:
                await connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await server.dispose()
