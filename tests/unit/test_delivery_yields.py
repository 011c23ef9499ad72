"""Delivery yields to acknowledgements: where a process also acknowledges requests, each batch
of sends waits for what the dispatcher is told to yield to (the inbox's quiet moment)."""

from __future__ import annotations

import asyncio

from bot.delivery.outbox import Dispatcher
from tests.fakes import MemoryChat
from tests.unit.conftest import Rally


async def test_no_message_goes_out_before_the_acknowledgements_are_done(rally: Rally) -> None:
    assert (await rally.say("ana", "alert https://x.com/troll/status/1 pile-on")).ok
    chat = MemoryChat("console")
    dispatcher = Dispatcher(rally.services.uow, {"console": chat}, rally.clock)
    acknowledged = asyncio.Event()
    waited = 0

    async def acknowledgements_first() -> None:
        nonlocal waited
        waited += 1
        await acknowledged.wait()

    dispatcher.yield_to = acknowledgements_first
    draining = asyncio.create_task(dispatcher.drain())
    for _ in range(20):
        await asyncio.sleep(0)
    assert waited == 1 and not chat.delivered  # held back while requests are being acknowledged
    acknowledged.set()
    assert await draining > 0
    assert chat.delivered  # then sent
