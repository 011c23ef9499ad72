"""A burst bigger than the database pool: every acknowledged request waits its turn in the
work queue (not on the pool's timeout) and is done; none ends in "something went wrong"."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.store.tables import AlertRow
from tests.adapters.slack.harness import SlackBot, text_of

BURST = 40


async def test_a_burst_of_alerts_while_the_pool_is_taken_waits_in_the_queue_and_all_land(
    bot: SlackBot,
) -> None:
    await bot.seed()
    work = bot.http.work
    assert work.workers == 2  # SQLite: one pooled connection, and at least two workers
    async with bot.runtime.engine.connect() as held:  # the pool's only connection
        await held.execute(select(1))
        sent = await asyncio.gather(
            *(
                bot.cmd("UANA", f"alert https://x.com/troll/status/{n} pile-on number {n}")
                for n in range(BURST)
            )
        )
        # Every request was acknowledged; two workers wait for the connection, the rest
        # wait in the queue, where no timeout can fail them.
        assert all(s.status == 200 for s in sent)
        await bot.fake.wait_for(lambda: work.running == 2 and work.waiting == BURST - 2)
        assert work.most_waiting >= BURST - 2
    answers = [text_of(p) for s in sent for p in await bot.fake.response(s.response_id, 1, 60)]
    assert len(answers) == BURST
    assert not [a for a in answers if "went wrong" in a]
    assert all("raised" in a for a in answers), answers[0]
    async with bot.runtime.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(AlertRow)) == BURST
