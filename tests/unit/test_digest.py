"""The weekly digest: figures checked by hand on a fixed history, weeks, schedule, sending."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.charts import HEIGHT_PX, WIDTH_PX, MatplotlibCharts
from bot.core.errors import BadInput
from bot.core.services import digest
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
    text = digest.render_text(rally.services.copy, data) + data.to_json()
    for target in ("Ana", "Dee", "Sam"):  # #3 is anonymous, #4 leads-only
        assert target not in text


async def test_an_empty_week_reads_as_none(rally: Rally) -> None:
    rally.clock.set(local(2026, 11, 24, 12, 0))
    data = await rally.services.digest_report(None, "2026-W40", send=False)
    assert data.alerts == [0, 0]
    assert data.first_response["median_minutes"] is None
    assert [w["alerts"] for w in data.weeks] == [0] * digest.CHART_WEEKS
    text = digest.render_text(rally.services.copy, data)
    assert rally.copy("digest.open_none") in text


async def test_the_chart_covers_the_eight_weeks_up_to_the_digest(rally: Rally) -> None:
    await seeded_history(rally)
    data = await rally.services.digest_report(None, "2026-W47", send=False)
    assert [w["week"] for w in data.weeks] == [f"2026-W{n}" for n in range(40, 48)]
    assert [w["alerts"] for w in data.weeks][-2:] == [1, 4]
    assert data.weeks[-1]["median_first_response"] == 18.0


def test_a_week_across_the_end_of_daylight_saving_is_169_hours() -> None:
    week = digest.parse_week("2026-W44", "America/Chicago")  # DST ends Sun 1 Nov 2026
    assert week.end - week.start == timedelta(hours=169)
    assert week.start == local(2026, 10, 26, 0, 0)
    assert digest.week_containing(local(2026, 11, 1, 23, 59), "America/Chicago") == week


@pytest.mark.parametrize("label", ["2026-48", "W48", "2026-W54", "2026-W00", "last week"])
def test_bad_week_labels_are_refused(label: str) -> None:
    with pytest.raises(BadInput):
        digest.parse_week(label, "UTC")


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
    first = digest.next_digest_time(collective, local(2026, 10, 26, 9, 0))
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
