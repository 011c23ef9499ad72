"""A platform removed rallybot from a space: the leads are told where they can still be
reached, its data goes after the grace period (the collective's, if it was the last space),
and /rally setup there within the period restores everything."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.core.commands import Caller
from bot.core.model import MemberStatus
from tests.unit.conftest import Rally

T1, RALLY_C = "T1", "C1"


def on_slack(user: str, **more: object) -> Caller:
    return Caller("slack", T1, user, user.title(), channel=RALLY_C, **more)  # type: ignore[arg-type]


async def with_slack(rally: Rally) -> None:
    """The demo collective also on Slack: Lee links and sets up #C1 there; Zoe is only there."""
    made = await rally.say("lee", "link")
    code = re.search(r"link ([A-Z0-9]{8})", made.message.plain_text())
    assert code is not None
    assert (await rally.say(on_slack("ULEE"), f"link {code.group(1)}")).ok
    assert (await rally.say(on_slack("ULEE", can_manage=True), "setup")).ok
    assert (await rally.say(Caller("slack", T1, "UZOE", "Zoe", channel=RALLY_C), "join")).ok
    assert (await rally.say("lee", "approve zoe")).ok
    assert (await rally.say("lee", "role zoe responder")).ok


def slack_rows(rally: Rally) -> list[str]:
    return [o.key for o in rally.data.outbox.values() if (o.platform, o.workspace) == ("slack", T1)]


async def test_the_space_goes_after_the_grace_period_and_the_collective_stays(
    rally: Rally,
) -> None:
    await with_slack(rally)
    await rally.raise_alert("ana", "help=amplify")
    assert slack_rows(rally)  # the rally waits to be posted in Slack too
    before = rally.clock.now()

    assert await rally.services.space_removed("slack", T1)
    space = next(s for s in rally.data.spaces.values() if s.platform == "slack")
    assert space.removed_at == before and space.delete_at == before + timedelta(days=30)
    # Its messages can't go without the token: gone at once. Nothing new is written for it.
    assert not [
        o for o in rally.data.outbox.values() if o.workspace == T1 and o.status == "pending"
    ]
    (told,) = rally.posts_in("#leads", prefix="removed:")
    assert f"the Slack workspace {T1}" in told.text and "/rally setup" in told.text
    assert "keeps working in its other spaces" in told.text
    assert rally.audit("space_removed")[0].detail["delete_on"] == space.delete_at.date().isoformat()
    await rally.raise_alert("ana", "help=amplify", link="https://x.com/troll/status/2")
    assert not slack_rows(rally)

    rally.clock.advance(timedelta(days=29))
    await rally.services.run_due()
    assert any(s.platform == "slack" for s in rally.data.spaces.values())  # not yet
    rally.clock.advance(timedelta(days=1))
    await rally.services.run_due()

    assert not [s for s in rally.data.spaces.values() if s.platform == "slack"]
    assert not [i for i in rally.data.identities.values() if i.platform == "slack"]
    assert not slack_rows(rally)
    forgotten = [m for m in rally.data.members.values() if m.status is MemberStatus.FORGOTTEN]
    assert [m.display_name for m in forgotten] == ["Former member"]
    assert not [m for m in rally.data.members.values() if m.handle == "zoe"]
    lee = rally.member("lee")  # still here, on the console
    assert lee.status is MemberStatus.ACTIVE and lee.is_lead
    (deleted,) = rally.posts_in("#leads", prefix="deleted:")
    assert "the one member who was only there is forgotten" in deleted.text
    assert rally.audit("space_deleted")[0].detail == {"platform": "slack", "forgotten": "1"}
    assert rally.collective().name == "Demo collective"
    assert len(rally.data.alerts) == 2


async def test_setup_within_the_grace_period_restores_everything(rally: Rally) -> None:
    await with_slack(rally)
    await rally.services.space_removed("slack", T1)
    rally.clock.advance(timedelta(days=20))
    reply = await rally.say(on_slack("ULEE"), "setup")
    assert reply.ok and "nothing will be deleted" in reply.message.plain_text()
    space = next(s for s in rally.data.spaces.values() if s.platform == "slack")
    assert space.removed_at is None and space.delete_at is None
    (told,) = rally.posts_in("#leads", prefix="restored:")
    assert "rallybot is back in the Slack workspace T1" in told.text

    rally.clock.advance(timedelta(days=20))
    await rally.services.run_due()
    assert any(s.platform == "slack" for s in rally.data.spaces.values())
    assert rally.member("zoe").status is MemberStatus.ACTIVE
    assert rally.audit("space_restored") and not rally.audit("space_deleted")


async def test_a_removal_told_twice_changes_nothing(rally: Rally) -> None:
    await with_slack(rally)
    await rally.services.space_removed("slack", T1)
    first = rally.snapshot()
    rally.clock.advance(timedelta(minutes=1))
    await rally.services.space_removed("slack", T1)  # Slack retried the event
    assert rally.data.spaces == first.spaces and len(rally.audit("space_removed")) == 1
    assert not await rally.services.space_removed("slack", "T9")  # a workspace never set up


async def test_the_last_space_removed_takes_the_whole_collective(rally: Rally) -> None:
    lead, _ = await rally.other_collective()
    other = rally.collective("Other collective")
    demo = rally.snapshot()

    await rally.services.space_removed("slack", "T2")
    # Olga is only reachable in that workspace: nothing can tell her (the docs say so).
    assert not rally.outbox(prefix="removed:")
    assert rally.audit("space_removed")

    rally.clock.advance(timedelta(days=30))
    await rally.services.run_due()
    data = rally.data
    assert other.id not in data.collectives
    for table in (data.spaces, data.members, data.alerts, data.audit, data.outbox, data.library):
        assert not [row for row in table.values() if row.collective_id == other.id]
    assert not [i for i in data.identities.values() if i.workspace == "T2"]
    # The demo collective did not lose a row.
    assert data.members == {k: m for k, m in demo.members.items() if m.collective_id != other.id}
    assert data.alerts == {k: a for k, a in demo.alerts.items() if a.collective_id != other.id}
    assert (await rally.say(lead, "status")).ok is False  # a stranger now
