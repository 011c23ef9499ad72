"""Due upkeep: consent requests that expire, one reminder to quiet responders, retention."""

from __future__ import annotations

from datetime import timedelta

from bot.core.model import AlertStatus, CloseReason, OutboxStatus
from bot.delivery.outbox import Dispatcher
from tests.fakes import MemoryChat
from tests.unit.conftest import Rally


async def test_an_unanswered_consent_request_closes_the_alert_and_tells_the_raiser(
    rally: Rally,
) -> None:
    await rally.raise_alert("ben", "for=ana")
    rally.clock.advance(timedelta(hours=47))
    await rally.services.run_due()
    assert rally.alert(1).status is AlertStatus.PENDING_CONSENT
    rally.clock.advance(timedelta(hours=1))
    await rally.services.run_due()
    alert = rally.alert(1)
    assert (alert.status, alert.close_reason) == (AlertStatus.CLOSED, CloseReason.EXPIRED)
    assert [s.to for s in rally.outbox(prefix="expired:")] == [("dm", "ben")]
    assert not rally.posts_in("#rally")  # nobody was rallied
    # The target hears of it too, and a late yes still starts it (see test_standing.py).
    assert [s.to for s in rally.outbox(prefix="standing:")] == [("dm", "ana")]


async def test_an_answered_consent_request_never_expires(rally: Rally) -> None:
    await rally.raise_alert("ben", "for=ana")
    assert (await rally.say("ana", "consent #1 yes")).ok
    rally.clock.advance(timedelta(hours=49))
    await rally.services.run_due()
    assert rally.alert(1).status is AlertStatus.ACTIVE


async def test_a_quiet_responder_is_asked_once_if_they_are_still_on_it(rally: Rally) -> None:
    alert = await rally.raise_alert("ana")
    await rally.act("ben", f"rally:alert:{alert.id}:on_it")
    await rally.act("cam", f"rally:alert:{alert.id}:did:reported")  # done: never reminded
    rally.clock.advance(timedelta(minutes=59))
    await rally.services.run_due()
    assert rally.outbox(prefix="reminder:") == []
    rally.clock.advance(timedelta(minutes=2))
    await rally.services.run_due()
    rally.clock.advance(timedelta(days=2))
    await rally.services.run_due()
    reminders = rally.outbox(prefix="reminder:")
    assert [s.to for s in reminders] == [("dm", "ben")]
    labels = [b.label for b in reminders[0].message.buttons]
    assert labels == [rally.copy("button.done"), rally.copy("button.cant")]


async def test_retention_purges_closed_alerts_personal_data_and_old_messages(
    rally: Rally,
) -> None:
    alert = await rally.raise_alert("ana", "they wrote my home town")
    await rally.say("ana", "evidence #1 case 4711")
    await Dispatcher(rally.services.uow, {"console": MemoryChat("console")}, rally.clock).drain()
    await rally.say("ana", "standdown #1")
    open_one = await rally.raise_alert("lee", "still going on")
    rally.clock.advance(timedelta(days=364))
    await rally.services.run_due()
    assert rally.alert(1).purged_at is None
    rally.clock.advance(timedelta(days=2))
    while await rally.services.run_due():
        pass
    purged = rally.alert(1)
    assert purged.purged_at is not None
    assert (purged.links, purged.note) == ((), "")
    assert not [e for e in rally.data.evidence.values() if e.alert_id == alert.id]
    assert rally.alert(2).links == open_one.links  # open alerts are never purged
    sent = [o for o in rally.data.outbox.values() if o.status is OutboxStatus.SENT]
    assert sent == []  # delivered rows older than a year are gone
    assert any(e.action == "alert_purged" for e in rally.data.audit.values())


async def test_expired_link_codes_are_removed(rally: Rally) -> None:
    await rally.say("ben", "link")
    assert len(rally.data.link_codes) == 1
    rally.clock.advance(timedelta(minutes=16))
    await rally.services.run_due()
    assert rally.data.link_codes == {}
