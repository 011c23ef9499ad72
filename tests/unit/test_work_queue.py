"""The work after an ack: a fixed number of workers, jobs in order, nothing dropped silently."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.delivery.work import WorkQueue


class Gate:
    """Jobs that wait until the test opens the gate, and record what ran when."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.started: list[int] = []
        self.finished: list[int] = []
        self.running = 0
        self.most_running = 0

    async def job(self, n: int) -> int:
        self.started.append(n)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await self.open.wait()
        finally:
            self.running -= 1
        self.finished.append(n)
        return n * 10


async def until(check: object, rounds: int = 1000) -> None:
    for _ in range(rounds):
        if callable(check) and check():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def test_a_burst_waits_in_the_queue_and_at_most_the_workers_run_at_once() -> None:
    gate, queue = Gate(), WorkQueue(3, "test")
    for n in range(50):
        queue.later(gate.job(n))
    await until(lambda: len(gate.started) == 3)
    assert (queue.running, queue.waiting, queue.most_waiting) == (3, 47, 50)
    gate.open.set()
    await until(lambda: len(gate.finished) == 50)
    assert gate.most_running == 3
    assert gate.started == list(range(50))  # in the order they were acknowledged
    assert (queue.running, queue.waiting, queue.done) == (0, 0, 50)
    await queue.drain(1.0)


async def test_submit_gives_the_result_or_the_error() -> None:
    queue = WorkQueue(2)

    async def fails() -> None:
        raise LookupError("no such alert")

    async def answer() -> str:
        return "ok"

    assert await queue.submit(answer()) == "ok"
    with pytest.raises(LookupError):
        await queue.submit(fails())
    await queue.drain(1.0)


async def test_a_failure_nobody_waits_for_is_logged_and_the_worker_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = WorkQueue(1, "slack")
    done = asyncio.Event()

    async def fails() -> None:
        raise RuntimeError("boom")

    async def next_one() -> None:
        done.set()

    with caplog.at_level(logging.ERROR, logger="bot.delivery.work"):
        queue.later(fails())
        queue.later(next_one())
        await done.wait()
    assert "slack: work after an ack failed" in caplog.text
    await queue.drain(1.0)


async def test_work_whose_asker_gave_up_before_it_started_is_not_done() -> None:
    gate, queue = Gate(), WorkQueue(1)
    first = queue.submit(gate.job(1))
    second = queue.submit(gate.job(2))
    await until(lambda: gate.started == [1])
    second.cancel()
    gate.open.set()
    assert await first == 10
    await queue.drain(1.0)
    assert gate.started == [1]  # the cancelled job's coroutine was closed, never run


async def test_drain_finishes_what_was_acknowledged() -> None:
    gate, queue = Gate(), WorkQueue(2)
    for n in range(10):
        queue.later(gate.job(n))
    gate.open.set()
    await queue.drain(5.0)
    assert sorted(gate.finished) == list(range(10))


async def test_drain_cuts_off_work_past_the_grace_and_says_how_much(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate, queue = Gate(), WorkQueue(2, "discord")
    asked = [queue.submit(gate.job(n)) for n in range(5)]
    await until(lambda: len(gate.started) == 2)
    with caplog.at_level(logging.WARNING, logger="bot.delivery.work"):
        await queue.drain(0.0)
    assert "discord: 5 acknowledged requests were cut off at shutdown" in caplog.text
    assert all(f.cancelled() for f in asked)
    assert gate.started == [0, 1] and gate.finished == []  # the rest were never started
    # A queue drained at shutdown starts its workers again if work still comes.
    gate.open.set()
    assert await queue.submit(gate.job(9)) == 90
    await queue.drain(1.0)


def test_a_queue_needs_a_worker() -> None:
    with pytest.raises(ValueError):
        WorkQueue(0)
