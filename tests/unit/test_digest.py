"""The weekly digest: figures checked by hand on a fixed history, weeks, schedule, sending."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.digest import figures, render, weeks
from bot.core.errors import BadInput
from bot.core.model import (
    Action,
    Alert,
    AlertStatus,
    CheckIn,
    CheckInAnswer,
    CheckInStatus,
    CloseReason,
    Collective,
    Help,
    Kind,
    Response,
    ResponseState,
    Severity,
    Venue,
    Visibility,
)
from bot.documents.chart import HEIGHT_PX, WIDTH_PX, MatplotlibCharts
from tests.unit.conftest import Rally

CHICAGO = ZoneInfo("America/Chicago")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO).astimezone(UTC)


async def seeded_history(rally: Rally) -> None:
    """Week 2026-W46 (one unanswered alert) and 2026-W47 (four alerts), Chicago time."""
    rally.clock.set(local(2026, 11, 10, 9, 0))  # W46: nobody answers
    await rally.raise_alert("ana", "kinds=pile_on")
    rally.clock.set(local(2026, 11, 16, 10, 0))  # W47, Monday
    await rally.raise_alert("ana", "kinds=pile_on")  # #2
    rally.clock.advance(timedelta(minutes=6))
    await rally.act("ben", f"rally:alert:{rally.alert(2).id}:on_it")
    rally.clock.advance(timedelta(minutes=14))
    await rally.act("cam", f"rally:alert:{rally.alert(2).id}:did:reported")
    rally.clock.set(local(2026, 11, 18, 12, 0))
    await rally.raise_alert("dee", "kinds=trolling where=instagram anonymous=yes")  # #3
    rally.clock.advance(timedelta(minutes=30))
    await rally.act("ben", f"rally:alert:{rally.alert(3).id}:on_it")
    rally.clock.set(local(2026, 11, 19, 12, 0))
    await rally.raise_alert("sam", "kinds=review_bombing where=review_site visibility=leads")
    # Sunday 23:30 in Chicago is Monday 05:30 UTC: it still belongs to W47 there.
    rally.clock.set(local(2026, 11, 22, 23, 30))
    await rally.raise_alert("ana", "kinds=threat")  # #5, safety review
    rally.clock.set(local(2026, 11, 23, 0, 30))  # W48
    await rally.raise_alert("ana", "kinds=doxxing")  # #6


async def test_the_figures_match_a_hand_count(rally: Rally) -> None:
    await seeded_history(rally)
    rally.clock.set(local(2026, 11, 24, 12, 0))
    data = await rally.services.digest_report(None, "2026-W47", send=False)

    assert (data.week, data.start, data.end) == (
        "2026-W47",
        "2026-11-16T06:00:00+00:00",
        "2026-11-23T06:00:00+00:00",
    )
    assert data.alerts == [4, 3]  # #2 #3 #4 #5 against #1
    assert data.by_kind == {
        "pile_on": [1, 0],
        "review_bombing": [1, 1],
        "threat": [1, 1],
        "trolling": [1, 1],
    }
    assert data.by_platform == {"instagram": [1, 1], "review_site": [1, 1], "x": [2, 1]}
    assert data.by_severity == {"high": [1, 1], "medium": [3, 2]}
    # 6 and 30 minutes: median 18, nearest-rank 90th percentile 30.
    assert data.first_response == {"answered": 2, "median_minutes": 18.0, "p90_minutes": 30.0}
    # The leads-only #4 was never meant to be answered; #1 last week was not.
    assert data.unanswered == [0, -1]
    assert data.responders_engaged == 2
    assert data.actions == {"reported": 1}
    assert [o["alert"] for o in data.open_alerts] == [1, 2, 3, 4, 5]
    assert data.load == [{"member": "Ben", "responses": 2}, {"member": "Cam", "responses": 1}]


async def test_the_digest_never_names_a_target(rally: Rally) -> None:
    await seeded_history(rally)
    rally.clock.set(local(2026, 11, 24, 12, 0))
    data = await rally.services.digest_report(None, "2026-W47", send=False)
    text = render.render_text(rally.services.copy, data) + data.to_json()
    for target in ("Ana", "Dee", "Sam"):  # #3 is anonymous, #4 leads-only
        assert target not in text


async def test_an_empty_week_reads_as_none(rally: Rally) -> None:
    rally.clock.set(local(2026, 11, 24, 12, 0))
    data = await rally.services.digest_report(None, "2026-W40", send=False)
    assert data.alerts == [0, 0]
    assert data.first_response["median_minutes"] is None
    assert [w["alerts"] for w in data.weeks] == [0] * figures.CHART_WEEKS
    text = render.render_text(rally.services.copy, data)
    assert rally.copy("digest.open_none") in text
    assert "Minutes to first responder: no alert was answered this week." in text
    assert "Escalated: none" in text
    assert "median none" not in text and "step 0" not in text


async def test_the_chart_covers_the_eight_weeks_up_to_the_digest(rally: Rally) -> None:
    await seeded_history(rally)
    data = await rally.services.digest_report(None, "2026-W47", send=False)
    assert [w["week"] for w in data.weeks] == [f"2026-W{n}" for n in range(40, 48)]
    assert [w["alerts"] for w in data.weeks][-2:] == [1, 4]
    assert data.weeks[-1]["median_first_response"] == 18.0


def test_a_week_across_the_end_of_daylight_saving_is_169_hours() -> None:
    week = weeks.parse_week("2026-W44", "America/Chicago")  # DST ends Sun 1 Nov 2026
    assert week.end - week.start == timedelta(hours=169)
    assert week.start == local(2026, 10, 26, 0, 0)
    assert weeks.week_containing(local(2026, 11, 1, 23, 59), "America/Chicago") == week


@pytest.mark.parametrize("label", ["2026-48", "W48", "2026-W54", "2026-W00", "last week"])
def test_bad_week_labels_are_refused(label: str) -> None:
    with pytest.raises(BadInput):
        weeks.parse_week(label, "UTC")


async def test_the_digest_falls_due_at_nine_on_monday_local_time_and_reaches_each_lead(
    rally: Rally,
) -> None:
    collective = rally.data.collectives[next(iter(rally.data.collectives))]
    # Seeded on Wed 25 Nov: the first digest is Monday 30 Nov, 09:00 in Chicago.
    assert collective.next_digest_at == local(2026, 11, 30, 9, 0)
    rally.clock.set(local(2026, 11, 30, 8, 59))
    assert await rally.services.run_due() == 0
    rally.clock.set(local(2026, 11, 30, 9, 0))
    assert await rally.services.run_due() == 1
    sent = rally.outbox(prefix="digest:")
    assert {s.to for s in sent} == {("dm", "lee"), ("dm", "sam")}
    assert sent[0].message.title == rally.copy(
        "digest.title", name="Demo collective", week="2026-W48"
    )
    png = sent[0].message.attachments[0]
    assert png.mime == "image/png" and png.data is not None and png.data.startswith(b"\x89PNG")
    later = rally.data.collectives[collective.id].next_digest_at
    assert later == local(2026, 12, 7, 9, 0)
    assert await rally.services.run_due() == 0  # never twice


def test_the_next_digest_time_keeps_local_time_across_daylight_saving(rally: Rally) -> None:
    collective = rally.data.collectives[next(iter(rally.data.collectives))]
    # Monday 26 Oct is CDT (UTC-5); Monday 2 Nov is CST (UTC-6): both 09:00 local.
    first = weeks.next_digest_time(collective, local(2026, 10, 26, 9, 0))
    assert first == local(2026, 11, 2, 9, 0)
    assert first.hour == 15


def test_the_chart_is_a_png_of_the_promised_size() -> None:
    weeks = [
        {"week": f"2026-W{40 + i}", "alerts": i, "median_first_response": 2.5 * i or None}
        for i in range(8)
    ]
    png = MatplotlibCharts().weekly(weeks, "Alerts", "Median")
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (WIDTH_PX, HEIGHT_PX)


async def test_only_leads_see_the_digest(rally: Rally) -> None:
    for who in ("ana", "ben"):
        reply = await rally.say(who, "digest")
        assert not reply.ok
        assert rally.copy("error.leads_only") in reply.message.plain_text()
    assert (await rally.say("lee", "digest")).ok


async def test_the_json_form_follows_its_schema(rally: Rally) -> None:
    await seeded_history(rally)
    data = json.loads((await rally.services.digest_report(None, "2026-W47", False)).to_json())
    assert data["schema"] == "rallybot.digest/1"
    assert set(data) == {
        "schema",
        "collective",
        "timezone",
        "week",
        "start",
        "end",
        "alerts",
        "by_kind",
        "by_platform",
        "by_severity",
        "first_response",
        "unanswered",
        "escalated",
        "responders_engaged",
        "actions",
        "open_alerts",
        "checkins",
        "follow_up",
        "load",
        "load_total",
        "tiring",
        "new_members",
        "pending_members",
        "weeks",
        "library_used",
        "topics_without_messages",
    }


async def test_an_unknown_collective_or_week_is_refused_kindly(rally: Rally) -> None:
    with pytest.raises(BadInput) as error:
        await rally.services.digest_report("Nobody", None, False)
    assert error.value.key == "error.which_collective"
    with pytest.raises(BadInput):
        await rally.services.digest_report(None, "2026-W99", False)


# --- the care figures, computed by hand ------------------------------------------------------

WEEK = weeks.parse_week("2026-W48", "America/Chicago")  # Mon 23 Nov 06:00 UTC to 30 Nov
AT = WEEK.start + timedelta(days=2)  # Wednesday 25 Nov, 06:00 UTC


def _alert(n: int, raised: datetime, **more: object) -> Alert:
    fields: dict[str, object] = {
        "id": f"{n:032x}",
        "collective_id": "c" * 32,
        "number": n,
        "target_id": "t" * 32,
        "raised_by_id": "t" * 32,
        "raised_at": raised,
        "links": ("https://x.com/a",),
        "kinds": frozenset({Kind.TROLLING}),
        "severity": Severity.MEDIUM,
        "help_wanted": frozenset({Help.REPORT}),
        "visibility": Visibility.ALL,
        "venue": Venue.X,
        "status": AlertStatus.ACTIVE,
        "activated_at": raised,
    }
    fields.update(more)
    return Alert(**fields)  # type: ignore[arg-type]


def _response(member: str, n: int, at: datetime, state: ResponseState, *acts: Action) -> Response:
    return Response(f"{n:032x}", member, state, frozenset(acts), at, at)


def _checkin(n: int, status: CheckInStatus, answer: CheckInAnswer | None = None) -> CheckIn:
    return CheckIn(
        f"{n:032x}", "1".zfill(32), "t" * 32, AT + timedelta(hours=n), status, None, answer
    )


def hand_counted_rows(now: datetime) -> figures.DigestRows:
    """A week made to catch each old mistake, with every figure counted by hand below."""
    alerts = [
        # This week: answered after 6 minutes.
        _alert(1, AT, kinds=frozenset({Kind.PILE_ON}), first_response_at=AT + timedelta(minutes=6)),
        # Nobody answered in two hours: never answered.
        _alert(2, AT, kinds=frozenset({Kind.TROLLING, Kind.MISINFORMATION}), venue=Venue.INSTAGRAM),
        # Rallied ten minutes before the digest: not "never answered" yet (30-minute window).
        _alert(
            3, now - timedelta(minutes=10), kinds=frozenset({Kind.THREAT}), severity=Severity.HIGH
        ),
        # Leads-only: never meant to be answered.
        _alert(4, AT, kinds=frozenset({Kind.DOXXING}), visibility=Visibility.LEADS),
        # Stood down five minutes after the rally, before anyone could answer: not unanswered.
        _alert(
            5,
            AT,
            status=AlertStatus.CLOSED,
            closed_at=AT + timedelta(minutes=5),
            close_reason=CloseReason.STOOD_DOWN,
        ),
        # Last week: never answered.
        _alert(6, AT - timedelta(days=7)),
    ]
    week = [_response("ben", 1, AT, ResponseState.DONE, Action.REPORTED, Action.AMPLIFIED)]
    week += [_response("eve", 100 + i, AT, ResponseState.ON_IT) for i in range(11)]
    week += [_response("cam", 1, AT, ResponseState.CANT)]
    checkins = [
        _checkin(1, CheckInStatus.ANSWERED, CheckInAnswer.OK),
        _checkin(2, CheckInStatus.ANSWERED, CheckInAnswer.OK),
        _checkin(3, CheckInStatus.ANSWERED, CheckInAnswer.STRUGGLING),
        _checkin(4, CheckInStatus.ANSWERED, CheckInAnswer.NEED_HELP),
        _checkin(5, CheckInStatus.SENT),
        _checkin(6, CheckInStatus.SENT),
        _checkin(7, CheckInStatus.SENT),
        _checkin(8, CheckInStatus.SKIPPED),
        _checkin(9, CheckInStatus.CANCELLED),
        _checkin(10, CheckInStatus.CANCELLED),
        _checkin(11, CheckInStatus.SCHEDULED),
    ]
    return figures.DigestRows(
        alerts=alerts,
        chart=[],
        open_alerts=[a for a in alerts if a.status is not AlertStatus.CLOSED],
        week_responses=week,
        # 30 days: Ben 14, Eve 11 (all this week), Cam 2, Dee 1: 28 responses.
        load={"ben": 14, "eve": 11, "cam": 2, "dee": 1},
        checkins=checkins,
        numbers={"1".zfill(32): 1},
        names={"ben": "Ben", "eve": "Eve", "cam": "Cam", "dee": "Dee", "t" * 32: "Ana"},
        new_members=[],
        pending_members=[],
    )


def demo_collective() -> Collective:
    return Collective(
        id="c" * 32,
        name="Demo collective",
        timezone="America/Chicago",
        created_at=AT - timedelta(days=100),
        rally_cap=8,
        escalation_wait_minutes=30,
        escalation_min_responders=2,
        escalation_max_steps=3,
        checkin_offsets_hours=(24, 72, 168),
        alerts_per_day=5,
    )


def test_a_hand_computed_week_figure_by_figure(copy) -> None:
    now = AT + timedelta(hours=2)
    data = figures.compute(demo_collective(), WEEK, now, hand_counted_rows(now), figures.Care())

    assert data.alerts == [5, 4]  # #1-#5 this week, #6 the week before
    assert data.by_kind == {
        "doxxing": [1, 1],
        "misinformation": [1, 1],
        "pile_on": [1, 1],
        "threat": [1, 1],
        "trolling": [2, 1],  # #2 and #5 this week, #6 last week
    }
    assert data.by_platform == {"instagram": [1, 1], "x": [4, 3]}
    assert sum(n for n, _ in data.by_platform.values()) == data.alerts[0]
    assert data.by_severity == {"high": [1, 1], "medium": [4, 3]}
    assert sum(n for n, _ in data.by_severity.values()) == data.alerts[0]
    assert data.first_response == {"answered": 1, "median_minutes": 6.0, "p90_minutes": 6.0}
    # Only #2 (two hours, nobody) this week; #6 the week before; #3, #4 and #5 are not.
    assert data.unanswered == [1, 0]
    assert data.responders_engaged == 2  # Ben and Eve; Cam said "can't"
    assert data.actions == {"amplified": 1, "reported": 1}
    # 11 due = 2 + 1 + 1 + 3 + 1 + 2 + 1.
    assert data.checkins == {
        "due": 11,
        "ok": 2,
        "struggling": 1,
        "need_help": 1,
        "unanswered": 3,
        "skipped": 1,
        "stopped": 2,
        "waiting": 1,
    }
    assert sum(v for k, v in data.checkins.items() if k != "due") == data.checkins["due"]
    # Ben gave 14 of the 28 responses (50% ≥ 40%, and at least 3); Eve 11 this week (> 10);
    # Cam (2) and Dee (1) are well under both.
    assert data.load_total == 28
    assert data.tiring == ["Ben", "Eve"]
    text = render.render_text(copy, data)
    assert "By kind: doxxing 1 (+1), misinformation 1 (+1), pile-on 1 (+1)" in text
    assert "threats 1 (+1), trolling 2 (+1)" in text
    assert (
        "11 check-ins due: doing OK 2, still dealing with it 1, need help 1, not answered 3, "
        "paused 1, stopped 2, not asked yet 1"
    ) in text
    assert "May be carrying too much (please check in with them): Ben, Eve" in text


def test_one_responder_carrying_every_response_is_flagged(copy) -> None:
    now = AT + timedelta(hours=2)
    rows = hand_counted_rows(now)
    rows = figures.DigestRows(**{**rows.__dict__, "load": {"ben": 14}, "week_responses": []})
    data = figures.compute(demo_collective(), WEEK, now, rows, figures.Care())
    assert data.tiring == ["Ben"]
    assert copy("digest.not_tiring", count=14) not in render.render_text(copy, data)


def test_the_load_thresholds_come_from_the_settings(copy) -> None:
    now = AT + timedelta(hours=2)
    lenient = figures.Care(share=0.9, least=3, week_max=20)
    data = figures.compute(demo_collective(), WEEK, now, hand_counted_rows(now), lenient)
    assert data.tiring == []
    assert copy("digest.not_tiring", count=28) in render.render_text(copy, data)
