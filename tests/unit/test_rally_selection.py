"""Whom a rally calls: opted-in, available responders, quiet hours, load spread, the cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.commands import Caller
from bot.core.model import (
    Alert,
    Member,
    MemberStatus,
    Role,
    Severity,
    Visibility,
)
from bot.core.services.rally import in_quiet_hours, is_available, select_responders

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 09:00 in America/Chicago
CHICAGO = "America/Chicago"


def member(handle: str, **fields: object) -> Member:
    values: dict[str, object] = {
        "id": handle,
        "collective_id": "c",
        "handle": handle,
        "display_name": handle.title(),
        "joined_at": NOW - timedelta(days=30),
        "roles": frozenset({Role.RESPONDER}),
    }
    values.update(fields)
    return Member(**values)  # type: ignore[arg-type]


def alert(**fields: object) -> Alert:
    values: dict[str, object] = {
        "id": "a",
        "collective_id": "c",
        "number": 1,
        "target_id": "target",
        "raised_by_id": "target",
        "raised_at": NOW,
        "links": ("https://x.com/a",),
        "kinds": frozenset(),
        "severity": Severity.MEDIUM,
        "help_wanted": frozenset(),
        "visibility": Visibility.ALL,
    }
    values.update(fields)
    return Alert(**values)  # type: ignore[arg-type]


def chosen(members: list[Member], a: Alert | None = None, cap: int = 8, **kw: object) -> list[str]:
    already = kw.pop("already", set())
    assert isinstance(already, set)
    picked = select_responders(members, a or alert(), already, NOW, CHICAGO, cap)
    return [m.handle for m in picked]


# --- the pure rules -------------------------------------------------------------------------


def test_only_active_available_unpaused_responders_who_are_not_the_target() -> None:
    members = [
        member("ok"),
        member("target"),
        member("plain", roles=frozenset()),
        member("lead", roles=frozenset({Role.LEAD})),
        member("pending", status=MemberStatus.PENDING),
        member("suspended", status=MemberStatus.SUSPENDED),
        member("forgotten", status=MemberStatus.FORGOTTEN),
        member("off", available=False),
        member("paused", paused_until=NOW + timedelta(minutes=1)),
        member("unpaused", paused_until=NOW),
        member("called", roles=frozenset({Role.RESPONDER, Role.LEAD})),
    ]
    assert sorted(chosen(members, already={"called"})) == ["ok", "unpaused"]


def test_availability_ends_exactly_when_a_pause_ends() -> None:
    m = member("m", paused_until=NOW)
    assert is_available(m, NOW)
    assert not is_available(m, NOW - timedelta(seconds=1))


@pytest.mark.parametrize(
    ("start", "end", "tz", "quiet"),
    [
        (8 * 60, 10 * 60, None, True),  # 09:00 Chicago is inside 08:00-10:00
        (9 * 60, 10 * 60, None, True),  # the start minute is quiet
        (7 * 60, 9 * 60, None, False),  # the end minute is not
        (22 * 60, 10 * 60, None, True),  # spans midnight, morning side
        (22 * 60, 7 * 60, None, False),  # spans midnight, after it ended
        (14 * 60, 16 * 60, "Europe/London", True),  # 15:00 in London
        (8 * 60, 10 * 60, "Europe/London", False),  # London's 15:00 is not Chicago's 09:00
        (0, 60, "Asia/Kolkata", False),  # 20:30 in Kolkata
        (20 * 60 + 30, 20 * 60 + 31, "Asia/Kolkata", True),
        (None, None, None, False),
    ],
)
def test_quiet_hours_in_the_members_zone_else_the_collectives(start, end, tz, quiet) -> None:
    m = member("m", quiet_start=start, quiet_end=end, timezone=tz)
    assert in_quiet_hours(m, NOW, CHICAGO) is quiet


def test_quiet_hours_are_honoured_except_for_severe_alerts() -> None:
    sleeper = member("sleeper", quiet_start=22 * 60, quiet_end=10 * 60)
    awake = member("awake")
    assert chosen([sleeper, awake]) == ["awake"]
    assert sorted(chosen([sleeper, awake], alert(severity=Severity.CRITICAL))) == [
        "awake",
        "sleeper",
    ]


def test_least_recently_rallied_first_then_longest_standing() -> None:
    members = [
        member("recent", last_rallied_at=NOW - timedelta(hours=1)),
        member("old", last_rallied_at=NOW - timedelta(days=3)),
        member("never_new", joined_at=NOW - timedelta(days=1)),
        member("never_senior", joined_at=NOW - timedelta(days=400)),
    ]
    assert chosen(members) == ["never_senior", "never_new", "old", "recent"]


@pytest.mark.parametrize(("cap", "count"), [(0, 0), (1, 1), (2, 2), (5, 3), (-1, 0)])
def test_the_cap_is_respected(cap: int, count: int) -> None:
    assert len(chosen([member("a"), member("b"), member("c")], cap=cap)) == count


# --- through the services -----------------------------------------------------------------


async def test_the_rally_calls_the_responders_but_not_the_target(rally) -> None:
    alert_ = await rally.raise_alert("ben")
    assert rally.rallied(alert_) == ["cam", "dee"]
    (post,) = rally.posts_in("#rally", prefix="rally:")
    assert [m.label for m in post.message.mentions] == ["Cam", "Dee"]
    assert [m.user for m in post.message.mentions] == ["cam", "dee"]


async def test_members_who_are_off_or_paused_are_not_called_until_they_are_back(rally) -> None:
    assert (await rally.say("cam", "available off")).ok
    assert (await rally.say("dee", "pause 2h")).ok
    assert rally.member("dee").paused_until == rally.clock.now() + timedelta(hours=2)

    assert rally.rallied(await rally.raise_alert("ana")) == ["ben"]

    rally.clock.advance(timedelta(hours=2))
    assert rally.rallied(await rally.raise_alert("ana")) == ["ben", "dee"]
    assert (await rally.say("cam", "available on")).ok
    assert "cam" in rally.rallied(await rally.raise_alert("ana"))


async def test_pause_off_ends_a_pause_at_once(rally) -> None:
    await rally.say("dee", "pause 3d")
    assert (await rally.say("dee", "pause off")).ok
    assert rally.member("dee").paused_until is None
    assert "dee" in rally.rallied(await rally.raise_alert("ana"))


@pytest.mark.parametrize(
    ("commands", "called"),
    [
        (["quiet 08:00-10:00"], False),
        (["quiet 22:00-10:00"], False),
        (["quiet 10:00-08:00"], True),
        (["timezone Europe/London", "quiet 14:00-16:00"], False),
        (["timezone Europe/London", "quiet 08:00-10:00"], True),
        (["quiet 08:00-10:00", "quiet off"], True),
    ],
)
async def test_quiet_hours_keep_a_responder_out_of_ordinary_rallies(
    rally, commands, called
) -> None:
    for command in commands:
        assert (await rally.say("ben", command)).ok
    assert ("ben" in rally.rallied(await rally.raise_alert("ana"))) is called


async def test_quiet_hours_do_not_hold_back_a_severe_alert(rally) -> None:
    await rally.say("ben", "quiet 22:00-10:00")
    await rally.raise_alert("ana", "kinds=threat")
    await rally.press_dm("ana", "safety-target:", "button.crowd_named")
    await rally.press_dm("sam", "safety:", "button.safety_rally")
    assert rally.rallied(rally.alert(1)) == ["ben", "cam", "dee"]


async def test_the_collectives_time_zone_is_the_default_for_quiet_hours(rally) -> None:
    await rally.say("ben", "quiet 14:00-16:00")
    assert "ben" in rally.rallied(await rally.raise_alert("ana"))
    assert (await rally.say("lee", "setup timezone Europe/London")).ok
    assert "ben" not in rally.rallied(await rally.raise_alert("ana"))


async def test_load_is_spread_over_several_alerts(make_rally) -> None:
    rally = await make_rally(rally_cap=1)
    calls = []
    for _ in range(4):
        calls.append(rally.rallied(await rally.raise_alert("ana")))
        rally.clock.advance(timedelta(minutes=1))
    assert calls == [["ben"], ["cam"], ["dee"], ["ben"]]
    assert rally.member("dee").last_rallied_at == rally.clock.now() - timedelta(minutes=2)


async def test_the_rally_cap_is_respected(make_rally) -> None:
    rally = await make_rally(rally_cap=1)
    alert_ = await rally.raise_alert("ana")
    assert rally.rallied(alert_) == ["ben"]
    assert len(rally.posts_in("#rally")[0].message.mentions) == 1


@pytest.mark.parametrize("options", ["visibility=responders", "help=quiet", "help=quiet,report"])
async def test_a_private_rally_is_sent_by_dm_only(rally, options) -> None:
    alert_ = await rally.raise_alert("ana", options)
    key = f"rally:{alert_.id}"
    assert sorted(s.to for s in rally.outbox(key=key)) == [
        ("dm", "ben"),
        ("dm", "cam"),
        ("dm", "dee"),
    ]
    assert rally.posts_in("#rally") == []


async def test_a_public_rally_posts_once_and_dms_only_who_prefers_it(rally) -> None:
    await rally.edit_member("cam", prefers_dm=True)
    alert_ = await rally.raise_alert("ana")
    assert sorted(s.to for s in rally.outbox(key=f"rally:{alert_.id}")) == [
        ("channel", "#rally"),
        ("dm", "cam"),
    ]


async def test_a_rally_is_sent_by_dm_when_no_rally_channel_is_set(make_rally) -> None:
    rally = await make_rally()
    async with rally.store.uow() as uow:
        (space,) = await uow.spaces.for_collective(rally.collective().id)
        space.rally_channel = None
        await uow.spaces.save(space)
        await uow.commit()
    alert_ = await rally.raise_alert("ana")
    assert sorted(s.to for s in rally.outbox(key=f"rally:{alert_.id}")) == [
        ("dm", "ben"),
        ("dm", "cam"),
        ("dm", "dee"),
    ]


async def test_a_dm_reaches_a_member_on_their_preferred_platform(rally) -> None:
    assert (await rally.say("ben", "link")).ok
    (code,) = rally.data.link_codes
    assert (await rally.say(Caller("slack", "T1", "UBEN"), f"link {code}")).ok
    await rally.edit_member("ben", preferred_platform="slack")

    alert_ = await rally.raise_alert("ana", "visibility=responders")

    to_ben = [s for s in rally.outbox(key=f"rally:{alert_.id}") if s.to == ("dm", "UBEN")]
    assert len(to_ben) == 1 and to_ben[0].item.platform == "slack"
    assert rally.dms("ben", prefix="rally:") == []


async def test_nobody_to_rally_reaches_the_leads_at_once(rally) -> None:
    for handle in ("ben", "cam", "dee"):
        await rally.say(handle, "available off")
    alert_ = await rally.raise_alert("ana")
    assert rally.rallied(alert_) == []
    (told,) = rally.posts_in("#leads", prefix="nobody:")
    assert rally.copy("leads.nobody_body") in told.text
    assert told.message.mentions == ()
