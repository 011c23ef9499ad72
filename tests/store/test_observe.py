"""/healthz and /metrics figures from the real database."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bootstrap import Runtime
from bot.delivery.outbox import Dispatcher
from bot.ops.observe import Observer
from bot.settings import Settings
from bot.store.uow import uow_factory
from tests.store.test_delivery_at_scale import T0, Clock, CountingChat, seed_outbox
from tests.store.test_services_on_store import as_, services


def runtime(engine: AsyncEngine, clock: Clock, tmp_path: Path) -> Runtime:
    core = services(uow_factory(engine), clock)  # type: ignore[arg-type]
    return Runtime(Settings(data_dir=tmp_path), engine, core, clock)


async def test_healthy_until_the_outbox_lags(engine: AsyncEngine, tmp_path: Path) -> None:
    clock = Clock()
    observer = Observer(runtime(engine, clock, tmp_path))
    healthy, checks = await observer.health()
    assert healthy and checks["database"] == "ok" and checks["outbox_pending"] == 0
    await seed_outbox(engine, 3)
    clock.at = T0 + timedelta(minutes=6)  # nothing delivered for six minutes
    healthy, checks = await observer.health()
    assert not healthy and checks["outbox"] == "lagging"
    assert checks["outbox_lag_seconds"] == 360.0


async def test_metrics_count_alerts_and_deliveries_and_name_nobody(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = Clock()
    rt = runtime(engine, clock, tmp_path)
    await rt.services.seed_demo()
    reply = await rt.services.handle_text(as_("ana"), "alert https://x.com/t/1 kinds=threat")
    assert reply.ok
    dispatcher = Dispatcher(rt.services.uow, {"console": ConsoleCounter(Counter())}, clock)
    await dispatcher.drain()
    text = (await Observer(rt, dispatcher).metrics()).decode()
    assert 'rallybot_alerts_total{severity="high"} 1.0' in text
    assert 'rallybot_alerts_raised_30d{kind="threat"} 1.0' in text
    assert 'rallybot_alerts_by_status{status="safety_review"} 1.0' in text
    assert f'rallybot_deliveries_total{{outcome="sent"}} {float(dispatcher.sent)}' in text
    assert "rallybot_outbox_pending 0.0" in text
    for private in ("Ana", "Sam", "x.com"):
        assert private not in text


class ConsoleCounter(CountingChat):
    platform = "console"
