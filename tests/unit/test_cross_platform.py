"""One collective on two platforms: one rally in both, one tally, each member pinged once."""

from __future__ import annotations

import re

from bot.core.commands import Caller
from bot.core.messages import Mention
from tests.unit.conftest import Rally


def on_slack(user: str, channel: str | None = "C1", admin: bool = False) -> Caller:
    return Caller("slack", "T1", user, display_name=user, channel=channel, can_manage=admin)


async def link_to_slack(rally: Rally, handle: str, slack_user: str) -> None:
    reply = await rally.say(handle, "link")
    code = re.search(r"link ([A-Z0-9]{8})", reply.message.plain_text())
    assert code, reply.message.plain_text()
    linked = await rally.say(on_slack(slack_user), f"link {code.group(1)}")
    assert linked.ok, linked.message.plain_text()


async def two_platforms(rally: Rally) -> None:
    await link_to_slack(rally, "lee", "ULEE")
    assert (await rally.say(on_slack("ULEE", "C-RALLY", admin=True), "setup rally")).ok
    for handle in ("ben", "cam"):
        await link_to_slack(rally, handle, f"U{handle.upper()}")
    assert (await rally.say(on_slack("UBEN"), "prefer slack")).ok


async def test_an_alert_in_one_place_rallies_both_and_pings_each_responder_once(
    rally: Rally,
) -> None:
    await two_platforms(rally)
    await rally.raise_alert("ana")
    posts = [s for s in rally.outbox(key=f"rally:{rally.alert(1).id}") if s.item.op == "post"]
    where = {(s.item.platform, s.item.address) for s in posts}
    assert {("console", "#rally"), ("slack", "C-RALLY")} <= where
    pinged: dict[str, set[str]] = {}
    for s in posts:
        for span in s.message.mentions:
            if span.user is not None:
                pinged.setdefault(span.member_id, set()).add(s.item.platform)
    by_handle = {m.handle: m.id for m in rally.data.members.values()}
    assert pinged[by_handle["ben"]] == {"slack"}  # preferred
    assert pinged[by_handle["cam"]] == {"console"}  # no preference: first by name
    assert pinged[by_handle["dee"]] == {"console"}  # only on the console
    assert all(len(platforms) == 1 for platforms in pinged.values())


async def test_responses_from_either_platform_count_in_one_tally_shown_on_both(
    rally: Rally,
) -> None:
    await two_platforms(rally)
    alert = await rally.raise_alert("ana")
    assert (await rally.act(on_slack("UBEN"), f"rally:alert:{alert.id}:on_it")).ok
    assert (await rally.act("cam", f"rally:alert:{alert.id}:did:reported")).ok
    edits = [s for s in rally.outbox(key=f"rally:{alert.id}") if s.item.op == "update"]
    latest = {}
    for s in edits:
        latest[(s.item.platform, s.item.address)] = s
    assert {k[0] for k in latest} >= {"console", "slack"}
    for s in latest.values():
        assert "On it: 1 · Done: 1" in s.message.plain_text()


async def test_a_mention_never_pings_someone_with_no_account_on_that_platform(
    rally: Rally,
) -> None:
    await two_platforms(rally)
    await rally.raise_alert("ana")
    slack_post = next(
        s
        for s in rally.outbox()
        if s.item.platform == "slack" and s.item.op == "post" and s.key.startswith("rally:")
    )
    dee = next(m.id for m in rally.data.members.values() if m.handle == "dee")
    spans = [sp for b in slack_post.message.blocks for sp in b.spans if isinstance(sp, Mention)]
    assert [sp.user for sp in spans if sp.member_id == dee] == [None]
