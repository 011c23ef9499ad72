"""Store fixtures: SQLite always, PostgreSQL too when RALLYBOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import schema
from bot.store.tables import Base
from bot.store.uow import SqlUnitOfWork, make_engine, uow_factory
from tests.support.postgres import POSTGRES_URL, throwaway_postgres

POSTGRES: list[Any] = [pytest.param("postgres", marks=pytest.mark.postgres)] if POSTGRES_URL else []
BACKENDS: list[Any] = ["sqlite", *POSTGRES]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends(*names): run only on these store backends")


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None:
        wanted = [p for p in BACKENDS if getattr(p, "values", [p])[0] in marker.args]
        # As a parametrize mark, which takes the place of the fixture's own params.
        metafunc.definition.add_marker(pytest.mark.parametrize("migrated", wanted, indirect=True))


@dataclass(frozen=True)
class Backend:
    name: str
    url: str
    template: Path | None = None  # SQLite: a migrated database file to copy per test


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    """A SQLite file migrated to head once per session, copied by each test that uses it."""
    template = tmp_path_factory.mktemp("sqlite") / "template.db"
    url = f"sqlite:///{template}"
    await schema.upgrade(url)
    return Backend("sqlite", url, template)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres_database() -> AsyncIterator[Backend]:
    """A throw-away PostgreSQL database migrated to head once per session (tests truncate it).
    An unreachable server fails the run: RALLYBOT_TEST_POSTGRES_URL asked for it."""
    assert POSTGRES_URL is not None
    async with throwaway_postgres(POSTGRES_URL) as url:
        await schema.upgrade(url)
        yield Backend("postgres", url)


@pytest.fixture(scope="session", params=BACKENDS)
def migrated(request: pytest.FixtureRequest) -> Backend:
    """A database migrated to head once per session and backend."""
    name = "sqlite_template" if request.param == "sqlite" else "postgres_database"
    backend: Backend = request.getfixturevalue(name)
    return backend


@pytest.fixture
async def engine(migrated: Backend, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty, migrated schema: a copy of the template, or truncated tables."""
    if migrated.template is not None:
        copy = tmp_path / "rallybot.db"
        shutil.copyfile(migrated.template, copy)
        engine = make_engine(f"sqlite:///{copy}")
    else:
        engine = make_engine(migrated.url, pool_size=25)
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def uow(engine: AsyncEngine) -> Callable[[], SqlUnitOfWork]:
    return uow_factory(engine)


@pytest.fixture
def dialect(engine: AsyncEngine) -> str:
    return engine.dialect.name


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends from now on (clear it to start counting)."""
    seen: list[str] = []

    def record(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture(params=BACKENDS)
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a database that no migration has touched yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    assert POSTGRES_URL is not None
    async with throwaway_postgres(POSTGRES_URL) as url:
        yield url
