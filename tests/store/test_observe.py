"""/livez, /readyz, /healthz and /metrics: figures from the real database, and who may read them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bootstrap import Runtime
from bot.delivery.outbox import Dispatcher
from bot.inbox.entry import Inbox
from bot.ops.http import start_private
from bot.ops.observe import Observer
from bot.ops.platform import Health
from bot.runtime import serve
from bot.settings import Settings
from bot.store.uow import make_engine, uow_factory
from tests.store.test_delivery_at_scale import T0, Clock, CountingChat, seed_outbox
from tests.store.test_services_on_store import as_, services


def runtime(engine: AsyncEngine, clock: Clock, tmp_path: Path) -> Runtime:
    core = services(uow_factory(engine), clock)  # type: ignore[arg-type]
    return Runtime(Settings(data_dir=tmp_path), engine, core, clock, Inbox(engine, clock))


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


# --- the HTTP endpoints: /livez, /readyz, /healthz, /metrics -----------------------------------

TOKEN = "a-long-random-metrics-token-0123456789"


@asynccontextmanager
async def served(observer: Observer, private: bool) -> AsyncIterator[str]:
    """The observer's routes on a loopback port; yields the base URL."""
    app = web.Application()
    observer.add_routes(app, private=private)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def get(url: str, **headers: str) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as answer:
        return answer.status, await answer.text(), dict(answer.headers)


async def test_livez_answers_without_the_database_and_readyz_names_it(tmp_path: Path) -> None:
    engine = make_engine(f"postgresql://nobody@127.0.0.1:{closed_port()}/none")
    try:
        observer = Observer(runtime(engine, Clock(), tmp_path))
        async with served(observer, private=False) as base:
            alive, said, _ = await get(f"{base}/livez")
            status, body, _ = await get(f"{base}/readyz")
    finally:
        await engine.dispose()
    assert (alive, json.loads(said)) == (200, {"alive": True})
    assert status == 503
    answer = json.loads(body)
    assert answer["ready"] is False and answer["failed"] == ["database"]
    assert answer["checks"]["database"].startswith("unreachable")


async def test_readyz_says_which_check_failed_and_never_a_figure(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = Clock()
    rt = runtime(engine, clock, tmp_path)
    await rt.services.seed_demo()
    await rt.services.handle_text(as_("ana"), "alert https://x.com/t/1 kinds=threat,doxxing")
    observer = Observer(rt)
    async with served(observer, private=False) as base:
        status, body, _ = await get(f"{base}/readyz")
        assert status == 200
        assert json.loads(body) == {
            "ready": True,
            "failed": [],
            "checks": {"database": "ok", "outbox": "ok"},
        }
        await seed_outbox(engine, 3)
        clock.at = T0 + timedelta(minutes=6)  # the outbox lags
        status, body, _ = await get(f"{base}/readyz")
        assert status == 503
        assert json.loads(body)["failed"] == ["outbox"]
        # /healthz is /readyz under its old name, for one release, and says so.
        old_status, old_body, headers = await get(f"{base}/healthz")
    assert (old_status, old_body) == (status, body)
    assert headers["Deprecation"] == "true" and "</readyz>" in headers["Link"]
    assert not re.search(r"\d", body)  # no count, no lag: only ok or what is wrong
    for private in ("threat", "doxxing", "severity", "kind"):
        assert private not in body


async def test_metrics_on_a_public_port_need_the_bearer_token(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = Clock()
    rt = runtime(engine, clock, tmp_path)
    await rt.services.seed_demo()
    await rt.services.handle_text(as_("ana"), "alert https://x.com/t/1 kinds=threat")
    async with served(Observer(rt), private=False) as base:
        status, body, _ = await get(f"{base}/metrics")
        assert status == 404  # no RALLYBOT_METRICS_TOKEN: not served on a public port at all
        assert "rallybot_alerts" not in body
    rt.settings = Settings(data_dir=tmp_path, metrics_token=SecretStr(TOKEN))
    async with served(Observer(rt), private=False) as base:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            status, body, answered = await get(f"{base}/metrics", **headers)
            assert status == 401 and "rallybot_alerts" not in body
            assert answered["WWW-Authenticate"].startswith("Bearer")
        status, body, _ = await get(f"{base}/metrics", Authorization=f"Bearer {TOKEN}")
        assert status == 200 and 'rallybot_alerts_raised_30d{kind="threat"} 1.0' in body
    # The metrics port is private (localhost unless told): no token asked there.
    async with served(Observer(rt), private=True) as base:
        status, body, _ = await get(f"{base}/metrics")
        assert status == 200 and 'rallybot_alerts_total{severity="high"} 1.0' in body


async def test_the_metrics_port_listens_on_localhost_unless_told(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    observer = Observer(runtime(engine, Clock(), tmp_path))
    server = await start_private(observer, 0)
    try:
        assert [host for host, _ in server.addresses] == ["127.0.0.1"]
    finally:
        await server.stop()
    server = await start_private(observer, 0, host="0.0.0.0")
    try:
        assert [host for host, _ in server.addresses] == ["0.0.0.0"]
    finally:
        await server.stop()


class SlowPlatform:
    """A platform whose API does not answer yet: start() waits, /readyz should say why."""

    problem = "the platform's API is unreachable (OSError); retrying"
    inbox_handler = None

    def __init__(self) -> None:
        self.chat = ConsoleCounter(Counter())
        self.stopped = False

    def health(self) -> Health:
        return Health(False, self.problem)

    def http(self) -> None:
        return None

    async def start(self) -> None:
        await asyncio.Event().wait()  # never answers

    async def stop(self) -> None:
        self.stopped = True


async def test_a_process_answers_health_while_its_platform_connects_and_stops_at_once(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    port = free_port()
    rt = runtime(engine, Clock(), tmp_path)
    rt.settings = Settings(data_dir=tmp_path, metrics_port=port, tick_seconds=0.1)
    platform = SlowPlatform()
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(rt, [platform], stop))  # type: ignore[list-item]
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(500):
            with contextlib.suppress(aiohttp.ClientConnectionError):
                if (await get(f"{base}/livez"))[0] == 200:
                    break
            await asyncio.sleep(0.01)
        status, body, _ = await get(f"{base}/readyz")
        assert status == 503
        answer = json.loads(body)
        assert answer["failed"] == ["platform:console"]
        assert answer["checks"]["platform:console"] == f"not connected: {platform.problem}"
        assert (await get(f"{base}/metrics"))[0] == 200  # the metrics port needs no token
    finally:
        stop.set()  # SIGTERM while the platform still connects: no hang
        await asyncio.wait_for(serving, 10)
    assert platform.stopped


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port() -> int:
    return free_port()  # nothing listens there once the probe socket is closed
