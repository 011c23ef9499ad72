"""The repository contract's stores: one parametrized `uow` on SQLite, PostgreSQL (when
RALLYBOT_TEST_POSTGRES_URL is set; an unreachable server fails the run) and the in-memory fakes
of tests/fakes/memory.py, so the fakes the unit tests run on cannot drift from the SQL store."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.model import Collective, Member
from bot.store.uow import uow_factory
from tests.fakes import IntegrityError as FakeIntegrityError
from tests.fakes import MemoryStore
from tests.support.builders import Uow, a_collective, a_member, seed
from tests.support.postgres import POSTGRES_URL

MEMORY = "memory"
STORES: list[Any] = [
    "sqlite",
    *([pytest.param("postgres", marks=pytest.mark.postgres)] if POSTGRES_URL else []),
    MEMORY,
]


@pytest.fixture(scope="session", params=STORES)
def migrated(request: pytest.FixtureRequest) -> Any:
    """Overrides tests/store's: the SQL backends' migrated database, or None for the fakes."""
    match request.param:
        case "sqlite":
            return request.getfixturevalue("sqlite_template")
        case "postgres":
            return request.getfixturevalue("postgres_database")
        case _:
            return None


@pytest.fixture
def store(migrated: Any) -> str:
    """Which store this test runs on: "sqlite", "postgres" or "memory"."""
    return MEMORY if migrated is None else str(migrated.name)


@pytest.fixture
def uow(store: str, request: pytest.FixtureRequest) -> Uow:
    """A UnitOfWorkFactory over an empty store (a fresh SQL database or MemoryStore)."""
    if store == MEMORY:
        return MemoryStore().uow
    engine: AsyncEngine = request.getfixturevalue("engine")
    return uow_factory(engine)


@pytest.fixture
def refused(store: str) -> type[Exception]:
    """What each store raises for a write that breaks a key or a unique constraint."""
    return FakeIntegrityError if store == MEMORY else sqlalchemy.exc.IntegrityError


@pytest.fixture
async def world(uow: Uow) -> tuple[Collective, Member, Member]:
    """A collective with a target and a responder."""
    c = a_collective()
    target = a_member(c, "ana")
    helper = a_member(c, "ben")
    await seed(uow, c, target, helper)
    return c, target, helper
