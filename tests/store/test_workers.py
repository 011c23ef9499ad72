"""Worker ids: no two live processes share one, so taking back a dead one's rows is safe."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.workers import default_worker_id, hold_worker_id


@pytest.mark.backends("postgres")
async def test_a_worker_id_in_use_is_not_given_twice(engine: AsyncEngine) -> None:
    first = await hold_worker_id(engine, "web.1")
    second = await hold_worker_id(engine, "web.1")
    try:
        assert (first.name, first.stable) == ("web.1", True)
        # A second live process asking for the same id gets its own: it must never take
        # back rows the first one is sending.
        assert second.name.startswith("web.1:") and not second.stable
    finally:
        await first.release()
    third = await hold_worker_id(engine, "web.1")  # the first one is gone: its id is free
    try:
        assert (third.name, third.stable) == ("web.1", True)
    finally:
        await third.release()


@pytest.mark.backends("sqlite")
async def test_sqlite_serves_one_process_so_the_id_is_its_own(engine: AsyncEngine) -> None:
    held = await hold_worker_id(engine, "host:run")
    assert (held.name, held.stable) == ("host:run", True)
    await held.release()


def test_the_default_is_stable_per_deployment_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNO", "worker.2")
    assert default_worker_id("worker") == "worker.2"
    monkeypatch.delenv("DYNO")
    assert default_worker_id("web").endswith(":web")
    assert default_worker_id("web") == default_worker_id("web")
