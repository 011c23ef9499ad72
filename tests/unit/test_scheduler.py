"""The scheduler only ticks; stopping it lets a tick under way finish before the process
closes the database and the platforms' clients under it."""

from __future__ import annotations

import asyncio

from bot.delivery.scheduler import make_scheduler, stop_scheduler


async def test_stopping_waits_for_the_tick_under_way_and_starts_no_other() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    ticks: list[str] = []

    async def tick() -> None:
        ticks.append("began")
        started.set()
        await release.wait()  # a run_due still at work when the process is told to stop
        ticks.append("ended")

    scheduler = make_scheduler(tick, 0.05)
    scheduler.start()
    await asyncio.wait_for(started.wait(), 10)
    stopping = asyncio.create_task(stop_scheduler(scheduler, 10))
    await asyncio.sleep(0.2)
    assert not stopping.done()  # still waiting for the tick
    release.set()
    await asyncio.wait_for(stopping, 10)
    assert ticks == ["began", "ended"]
    await asyncio.sleep(0.2)
    assert ticks == ["began", "ended"]  # no tick after the stop


async def test_a_failing_tick_is_logged_and_the_next_one_runs(caplog) -> None:  # type: ignore[no-untyped-def]
    runs: list[int] = []

    async def tick() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise ConnectionError("the database went away")

    scheduler = make_scheduler(tick, 0.05)
    scheduler.start()
    for _ in range(200):
        if len(runs) >= 2:
            break
        await asyncio.sleep(0.02)
    await stop_scheduler(scheduler, 5)
    assert len(runs) >= 2
    assert "scheduler tick failed" in caplog.text


async def test_a_tick_past_the_grace_is_cut_short_with_one_warning_and_no_traceback(
    caplog,  # type: ignore[no-untyped-def]
) -> None:
    started = asyncio.Event()

    async def tick() -> None:
        started.set()
        await asyncio.sleep(60)  # never ends by itself

    scheduler = make_scheduler(tick, 0.05)
    scheduler.start()
    await asyncio.wait_for(started.wait(), 10)
    await stop_scheduler(scheduler, 0.1)
    await asyncio.sleep(0.1)  # the cancelled tick unwinds
    assert "cut short by the shutdown" in caplog.text
    assert "Traceback" not in caplog.text and "raised an exception" not in caplog.text
