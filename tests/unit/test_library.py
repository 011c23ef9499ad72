"""The message library: suggestions in the rally, the leads' upkeep, import/export, the digest."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.core.commands import LibraryImport
from bot.core.errors import BadInput
from bot.core.library import (
    DEFAULT_LIMITS,
    Draft,
    LibraryFile,
    echoes,
    export_file,
    has_placeholder,
    limit_for,
    parse_file,
    suggestions,
)
from bot.core.messages import Reply
from bot.core.model import (
    Alert,
    EntryStatus,
    Help,
    Kind,
    LibraryEntry,
    MessageKind,
    Severity,
    Venue,
    Visibility,
)
from bot.core.policy import Policy
from bot.core.views import action_id
from tests.unit.conftest import NOW, Rally, as_, build_rally

STARTER = Path(__file__).resolve().parents[2] / "config" / "library.toml"


def starter() -> LibraryFile:
    return parse_file(STARTER.read_text(encoding="utf-8"))


@pytest.fixture
async def lib() -> Rally:
    """The demo collective with the starter library, as a new collective gets it."""
    return await build_rally(Policy(starter_library=starter()))


def entries(rally: Rally) -> list[LibraryEntry]:
    return sorted(rally.data.library.values(), key=lambda e: e.number)


def entry(rally: Rally, number: int) -> LibraryEntry:
    return next(e for e in entries(rally) if e.number == number)


def shown(reply: Reply) -> list[str]:
    """The suggested texts in a suggestion reply, in order."""
    return [
        span.text
        for message in reply.extras
        for block in message.blocks
        for span in block.spans
        if getattr(span, "style", None) == "pre"
    ]


def texts(rally: Rally, reply: Reply) -> set[str]:
    return set(shown(reply))


async def suggest(rally: Rally, who: str, alert: Alert, page: int = 0) -> Reply:
    extra = () if page == 0 else (str(page),)
    return await rally.act(who, action_id("alert", alert.id, "suggest", *extra))


# --- the starter library -----------------------------------------------------------------------


def test_the_starter_library_loads_and_validates() -> None:
    parsed = starter()
    assert len(parsed.drafts) == 24
    assert parsed.topics == (
        "vaccines",
        "masks",
        "gun-violence",
        "racism",
        "reproductive-health",
        "climate-health",
        "lgbtq-health",
        "harm-reduction",
    )
    kinds = {k: sum(1 for d in parsed.drafts if d.kind is k) for k in MessageKind}
    assert kinds == {
        MessageKind.SUPPORT: 5,
        MessageKind.REPLY: 5,
        MessageKind.COUNTER: 9,
        MessageKind.REPORT: 5,
    }
    # Every topic has a counter-message template, waiting for the collective's own source.
    for topic in parsed.topics:
        on_topic = [d for d in parsed.drafts if topic in d.topics]
        assert on_topic and all(has_placeholder(d.text) for d in on_topic), topic
    # Public messages offered on X fit its 280 characters; all fit their kind's own limit.
    for d in parsed.drafts:
        if not d.venues or Venue.X in d.venues:
            assert len(d.text) <= limit_for(d.kind, Venue.X, {}), d.text[:40]
        assert "@" not in d.text and "http" not in d.text  # no handles, no links of ours


async def test_a_new_collective_starts_with_the_starter_library(lib: Rally) -> None:
    rows = entries(lib)
    assert len(rows) == 24
    assert lib.collective().topics == starter().topics
    approved = [e for e in rows if e.status is EntryStatus.APPROVED]
    assert len(approved) == 15
    assert all(not has_placeholder(e.text) for e in approved)
    assert all(has_placeholder(e.text) for e in rows if e.status is EntryStatus.PENDING)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("schema = 'other/1'", "schema must be rallybot.library/1"),
        ("[[message]]\nkind = 'poem'\ntext = 'hi'", "kind"),
        ("[[message]]\nkind = 'reply'\ntext = ''", "library.empty_text"),
        ("[[message]]\nkind = 'reply'\ntext = 'x'\nplatforms = ['myspace']", "platforms"),
        ("[[message]]\nkind = 'reply'\ntext = 'x'\nsources = ['javascript:alert(1)']", "bad_link"),
        ("topics = ['Not A Topic!']", "library.bad_topic"),
        ("this is = = not toml", "library.bad_file"),
    ],
)
def test_a_bad_library_file_is_refused_with_the_reason(content: str, fragment: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_file(content)
    assert fragment in f"{caught.value.key} {caught.value.params}"


# --- choosing suggestions (pure) -------------------------------------------------------------


def make_alert(**changes: object) -> Alert:
    base = Alert(
        id="a" * 32,
        collective_id="c",
        number=1,
        target_id="t",
        raised_by_id="t",
        raised_at=NOW,
        links=("https://x.com/troll99/status/1",),
        kinds=frozenset({Kind.PILE_ON}),
        severity=Severity.MEDIUM,
        help_wanted=frozenset({Help.AMPLIFY, Help.COUNTER, Help.REPORT}),
        visibility=Visibility.ALL,
        venue=Venue.X,
        note="they say my vaccine video is a lie",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def make_entry(n: int, kind: MessageKind, text: str, **changes: object) -> LibraryEntry:
    e = LibraryEntry(
        id=f"{n:032x}",
        collective_id="c",
        number=n,
        kind=kind,
        text=text,
        added_at=NOW,
        status=EntryStatus.APPROVED,
    )
    return dataclasses.replace(e, **changes)  # type: ignore[arg-type]


def pick(pool: list[LibraryEntry], alert: Alert, count: int = 10) -> set[int]:
    return {e.number for e in suggestions(pool, alert, "m", {}, 0, count)}


def test_suggestions_follow_the_kinds_of_help_the_alert_asks_for() -> None:
    pool = [
        make_entry(1, MessageKind.SUPPORT, "You are not alone."),
        make_entry(2, MessageKind.REPLY, "Thank you for this post."),
        make_entry(3, MessageKind.COUNTER, "Here is a good source."),
        make_entry(4, MessageKind.REPORT, "This is coordinated harassment."),
    ]
    assert pick(pool, make_alert()) == {2, 3, 4}
    assert pick(pool, make_alert(help_wanted=frozenset({Help.SUPPORT}))) == {1}
    assert pick(pool, make_alert(help_wanted=frozenset({Help.AMPLIFY}))) == {2}
    # Quiet support: nothing public at all.
    quiet = make_alert(help_wanted=frozenset({Help.QUIET, Help.AMPLIFY, Help.COUNTER}))
    assert pick(pool, quiet) == {1}
    # Anonymous: responders don't know the target, so nothing addressed to them.
    anon = make_alert(anonymous=True, help_wanted=frozenset(Help) - {Help.QUIET})
    assert pick(pool, anon) == {3, 4}


def test_suggestions_follow_topic_platform_and_kind_of_attack() -> None:
    pool = [
        make_entry(1, MessageKind.COUNTER, "General counter."),
        make_entry(2, MessageKind.COUNTER, "On vaccines.", topics=frozenset({"vaccines"})),
        make_entry(3, MessageKind.COUNTER, "On masks.", topics=frozenset({"masks"})),
        make_entry(4, MessageKind.REPLY, "LinkedIn only.", venues=frozenset({Venue.LINKEDIN})),
        make_entry(5, MessageKind.REPORT, "A threat.", alert_kinds=frozenset({Kind.THREAT})),
    ]
    plain = make_alert()
    assert pick(pool, plain) == {1}
    on_vaccines = make_alert(topics=frozenset({"vaccines"}))
    assert pick(pool, on_vaccines) == {1, 2}
    # On-topic messages come first, whatever the responder's own order.
    for member in ("m1", "m2", "m3", "m4"):
        first = suggestions(pool, on_vaccines, member, {}, 0, 1)
        assert [e.number for e in first] == [2]
    assert pick(pool, make_alert(venue=Venue.LINKEDIN)) == {1, 4}
    assert pick(pool, make_alert(kinds=frozenset({Kind.THREAT}))) == {1, 5}


def test_suggestions_fit_the_platforms_length_limit() -> None:
    long_reply = "Thank you. " * 30  # 330 characters
    pool = [make_entry(1, MessageKind.REPLY, long_reply.strip())]
    assert pick(pool, make_alert(venue=Venue.X)) == set()  # X: 280
    assert pick(pool, make_alert(venue=Venue.FACEBOOK)) == {1}
    assert pick(pool, make_alert(venue=Venue.TIKTOK)) == set()  # 150
    # A collective can set its own limits.
    assert {e.number for e in suggestions(pool, make_alert(), "m", {"x": 400})} == {1}
    assert DEFAULT_LIMITS[Venue.X] == 280


def test_unapproved_and_placeholder_messages_are_never_suggested() -> None:
    pool = [
        make_entry(1, MessageKind.REPLY, "Pending words.", status=EntryStatus.PENDING),
        make_entry(2, MessageKind.REPLY, "See {{your source}} for more."),
        make_entry(3, MessageKind.REPLY, "Approved words."),
    ]
    assert pick(pool, make_alert()) == {3}


def test_a_message_that_would_echo_the_attack_is_never_suggested() -> None:
    alert = make_alert()
    pool = [
        make_entry(1, MessageKind.REPLY, "Don't listen to @troll99, thank you doctor."),
        make_entry(2, MessageKind.REPLY, "See https://x.com/troll99/status/1 for the abuse."),
        make_entry(3, MessageKind.REPLY, "They say my vaccine video is a lie, but it isn't."),
        make_entry(4, MessageKind.REPLY, "Thank you for your patience with the trolls."),
    ]
    assert pick(pool, alert) == {4}
    assert echoes("reply to troll99 now", alert)
    assert not echoes("a troll990 is someone else", alert)


def test_another_moves_through_every_fitting_message() -> None:
    pool = [make_entry(n, MessageKind.REPLY, f"Message number {n}.") for n in range(1, 8)]
    alert = make_alert()
    seen: set[int] = set()
    for page in range(3):
        batch = suggestions(pool, alert, "m", {}, page, 3)
        assert len(batch) == 3 and len({e.number for e in batch}) == 3
        seen |= {e.number for e in batch}
    assert seen == set(range(1, 8))
    # Responders get their own order, so a rally doesn't post seven identical replies.
    firsts = {suggestions(pool, alert, f"member{i}", {}, 0, 1)[0].number for i in range(20)}
    assert len(firsts) > 1


# --- in the rally --------------------------------------------------------------------------


async def test_the_rally_offers_suggestions_privately_and_counts_a_use(lib: Rally) -> None:
    alert = await lib.raise_alert("ana", "pile-on topic=vaccines after my vaccine video")
    rally_post = lib.posts_in("#rally", prefix="rally:")[0]
    labels = [b.label for b in rally_post.message.buttons]
    assert lib.copy("button.suggest") in labels
    reply = await lib.press("ben", rally_post, lib.copy("button.suggest"))
    assert reply.ok
    suggested = shown(reply)
    assert 1 <= len(suggested) <= 3
    approved = {e.text for e in entries(lib) if e.status is EntryStatus.APPROVED}
    assert set(suggested) <= approved
    # Nothing from the alert itself: not its note, not its links, not the attacker's handle.
    everything = "\n".join(m.plain_text() for m in (reply.message, *reply.extras))
    assert "after my vaccine video" not in everything
    assert "troll" not in everything
    use = await lib.press("ben", reply.extras[0], lib.copy("button.use_message"))
    assert use.ok and lib.copy("library.used", number=alert.number) in use.message.plain_text()
    used = next(e for e in entries(lib) if e.text == suggested[0])
    assert used.uses == 1
    again = await lib.press("ben", reply.extras[0], lib.copy("button.use_message"))
    assert lib.literal("library.used_already") in again.message.plain_text()
    assert next(e for e in entries(lib) if e.id == used.id).uses == 1
    assert len(lib.data.library_uses) == 1


async def test_another_gives_other_suggestions(lib: Rally) -> None:
    alert = await lib.raise_alert("ana", "pile-on")
    first = await suggest(lib, "ben", alert)
    another = next(
        b for b in first.extras[-1].buttons if b.label == lib.copy("button.another_message")
    )
    second = await lib.act("ben", another.action_id)
    assert second.ok and shown(second) and shown(second) != shown(first)


async def test_suggestions_only_for_those_who_can_see_an_active_alert(lib: Rally) -> None:
    alert = await lib.raise_alert("ana", "pile-on visibility=leads")
    # Leads-only alerts aren't rallied: a responder can't see it, so it doesn't exist for them.
    refused = await suggest(lib, "ben", alert)
    assert not refused.ok
    assert lib.copy("error.no_alert", number=alert.number) in refused.message.plain_text()
    other = await lib.raise_alert("cam", "pile-on")
    await lib.say("cam", f"standdown #{other.number}")
    closed = await suggest(lib, "ben", other)
    assert not closed.ok


async def test_a_forged_use_naming_another_collectives_message_is_refused(lib: Rally) -> None:
    lead, _ = await lib.other_collective()
    await lib.say(lead, "library add reply Thanks from elsewhere.")
    theirs = next(e for e in entries(lib) if e.text == "Thanks from elsewhere.")
    alert = await lib.raise_alert("ana", "pile-on")
    before = lib.snapshot().library_uses
    reply = await lib.act("ben", action_id("lib", theirs.id, "use", alert.id))
    assert not reply.ok
    assert lib.data.library_uses == before
    assert lib.audit("forged_request_refused")


# --- the leads' library --------------------------------------------------------------------------


async def test_only_leads_edit_the_library(lib: Rally) -> None:
    for text in (
        "library list",
        "library show m1",
        "library edit m1 Thanks.",
        "library approve m11",
        "library remove m1",
        "library topics add new-topic",
        "library topics remove masks",
        "library import starter",
        "library export",
    ):
        before = lib.snapshot()
        reply = await lib.say("ben", text)
        assert not reply.ok, text
        assert lib.copy("error.leads_only") in reply.message.plain_text(), text
        assert lib.data.library == before.library and lib.data.collectives == before.collectives
    pending = entry(lib, 11)
    forged = await lib.act("ben", action_id("lib", pending.id, "approve"))
    assert not forged.ok and entry(lib, 11).status is EntryStatus.PENDING


async def test_a_member_proposes_and_a_lead_approves(lib: Rally) -> None:
    reply = await lib.say("ben", "library add reply topic=masks Thank you for explaining this.")
    assert reply.ok
    proposal = entries(lib)[-1]
    assert proposal.status is EntryStatus.PENDING and proposal.topics == {"masks"}
    assert proposal.added_by_id == lib.member("ben").id
    told = lib.outbox(prefix="library:proposed:")
    assert told and "Thank you for explaining this." in told[0].text
    # Not suggested while pending.
    alert = await lib.raise_alert("ana", "pile-on topic=masks")
    for page in range(4):
        assert proposal.text not in shown(await suggest(lib, "cam", alert, page))
    approved = await lib.press(
        "lee", told[0], lib.copy("button.approve_message", number=f"m{proposal.number}")
    )
    assert approved.ok
    assert entry(lib, proposal.number).status is EntryStatus.APPROVED
    seen: set[str] = set()
    for page in range(6):
        seen |= texts(lib, await suggest(lib, "cam", alert, page))
    assert proposal.text in seen


async def test_editing_the_words_asks_for_approval_again(lib: Rally) -> None:
    first = entry(lib, 6)
    assert first.status is EntryStatus.APPROVED
    reply = await lib.say("lee", "library edit m6 where=facebook")
    assert reply.ok and entry(lib, 6).status is EntryStatus.APPROVED
    assert entry(lib, 6).venues == {Venue.FACEBOOK}
    reply = await lib.say("lee", "library edit m6 Thank you, clearly explained.")
    assert reply.ok
    assert entry(lib, 6).text == "Thank you, clearly explained."
    assert entry(lib, 6).status is EntryStatus.PENDING
    assert (await lib.say("lee", "library approve m6")).ok
    assert entry(lib, 6).status is EntryStatus.APPROVED
    assert [e.action for e in lib.audit() if e.action.startswith("library_")] == [
        "library_edited",
        "library_edited",
        "library_approved",
    ]


async def test_a_placeholder_must_be_filled_before_approval(lib: Rally) -> None:
    template = entry(lib, 12)
    assert has_placeholder(template.text)
    reply = await lib.say("lee", "library approve m12")
    assert lib.copy("library.has_placeholder", number="m12") in reply.message.plain_text()
    assert entry(lib, 12).status is EntryStatus.PENDING
    filled = template.text.split("{{")[0] + "https://www.cdc.gov/vaccine-safety/"
    assert (await lib.say("lee", f"library edit m12 {filled}")).ok
    assert (await lib.say("lee", "library approve m12")).ok
    assert entry(lib, 12).status is EntryStatus.APPROVED


@pytest.mark.parametrize(
    "text",
    [
        "library add poem Hello",
        "library add reply",
        "library add reply topic=unknown-topic Hello there.",
        "library add reply where=myspace Hello there.",
        "library add reply source=ftp://x Hello there.",
        "library edit m999 Hello",
        "library edit m1",
        "library show x1",
        "library approve",
        "library remove",
        "library topics add Bad Topic!",
        "library topics remove vaccines",  # in use
        "library topics remove nothing-here",
        "library frobnicate",
        "alert https://x.com/a/status/1 topic=unknown-topic",
    ],
)
async def test_bad_library_input_gets_a_kind_message_and_changes_nothing(
    lib: Rally, text: str
) -> None:
    before = lib.snapshot()
    reply = await lib.say("lee", text)
    assert not reply.ok, text
    assert reply.message.title == lib.copy("error.title")
    after = lib.data
    assert (after.library, after.collectives, after.alerts, after.audit) == (
        before.library,
        before.collectives,
        before.alerts,
        before.audit,
    )


async def test_a_duplicate_message_is_refused(lib: Rally) -> None:
    words = entry(lib, 6).text
    reply = await lib.say("lee", f"library add reply {words.upper()}")
    assert not reply.ok and "m6" in reply.message.plain_text()


async def test_topics_are_listed_for_members_and_kept_by_leads(lib: Rally) -> None:
    listing = await lib.say("ben", "library topics")
    assert listing.ok
    assert lib.copy("library.topic_line", topic="vaccines", count=0) in listing.message.plain_text()
    assert (await lib.say("lee", "library topics add long-covid")).ok
    assert "long-covid" in lib.collective().topics
    assert (await lib.say("lee", "library topics remove long-covid")).ok
    assert "long-covid" not in lib.collective().topics


async def test_list_filters_and_remove(lib: Rally) -> None:
    pending = await lib.say("lee", "library list pending")
    assert lib.copy("library.list_title", count=9) == pending.message.title
    reports = await lib.say("lee", "library list report")
    assert reports.message.title == lib.copy("library.list_title", count=5)
    masks = await lib.say("lee", "library list masks")
    assert masks.message.title == lib.copy("library.list_title", count=1)
    assert (await lib.say("lee", "library remove m1")).ok
    assert 1 not in {e.number for e in entries(lib)}
    assert lib.audit("library_removed")


# --- import and export ------------------------------------------------------------------------


async def test_export_then_import_round_trips(lib: Rally) -> None:
    await lib.say(
        "lee",
        "library add counter topic=masks where=x,facebook for=misinformation "
        "source=https://example.org/a source=https://example.org/b "
        'Quote "this" and a \\ backslash\nsecond line.',
    )
    reply = await lib.say("lee", "library export")
    assert reply.ok
    sent = lib.last_dm("lee", prefix="library-export:")
    [attachment] = sent.message.attachments
    parsed = parse_file(attachment.content)
    ours = [
        Draft(e.kind, e.text, e.topics, e.venues, e.alert_kinds, e.sources) for e in entries(lib)
    ]
    assert list(parsed.drafts) == ours
    assert parsed.topics == lib.collective().topics
    # Into a fresh collective: the same messages, each waiting for a lead.
    fresh = await build_rally()
    assert not fresh.data.library
    await fresh.services.handle(as_("lee"), LibraryImport(attachment.content, "lib.toml"))
    imported = entries(fresh)
    assert [
        Draft(e.kind, e.text, e.topics, e.venues, e.alert_kinds, e.sources) for e in imported
    ] == ours
    assert all(e.status is EntryStatus.PENDING for e in imported)
    assert fresh.collective().topics == lib.collective().topics
    # Importing the same file again adds nothing.
    again = await fresh.services.handle(as_("lee"), LibraryImport(attachment.content, "lib.toml"))
    assert again.ok and len(entries(fresh)) == len(imported)
    assert export_file("x", (), []).startswith("# rallybot message library of x")


async def test_import_without_a_file_asks_for_one_and_starter_loads(lib: Rally) -> None:
    ask = await lib.say("lee", "library import")
    assert ask.ok and ask.form == "library_import"
    fresh = await build_rally(Policy(starter_library=starter()))
    for e in list(fresh.data.library):
        del fresh.store.committed.library[e]
    reply = await fresh.say("lee", "library import starter")
    assert reply.ok and len(entries(fresh)) == 24


async def test_a_bad_file_names_the_message_and_the_reason(lib: Rally) -> None:
    before = lib.snapshot()
    bad = (
        "[[message]]\nkind = 'reply'\ntext = 'fine'\n\n"
        "[[message]]\nkind = 'reply'\ntext = 'x'\nplatforms = ['myspace']\n"
    )
    reply = await lib.services.handle(as_("lee"), LibraryImport(bad, "bad.toml"))
    assert not reply.ok
    text = reply.message.plain_text()
    assert "Message 2 in the file" in text and "myspace" in text
    assert lib.data.library == before.library


# --- the digest and forget-me ------------------------------------------------------------------


async def test_the_digest_names_the_most_used_messages_and_the_gaps(lib: Rally) -> None:
    alert = await lib.raise_alert("ana", "pile-on")
    reply = await suggest(lib, "ben", alert)
    await lib.press("ben", reply.extras[0], lib.copy("button.use_message"))
    await lib.press("cam", reply.extras[0], lib.copy("button.use_message"))
    digest = await lib.say("lee", "digest")
    text = digest.message.plain_text()
    used = next(e for e in entries(lib) if e.uses)
    assert lib.copy("digest.h_library") in text
    assert f"m{used.number}, used 2 times" in text
    gaps = lib.copy("digest.library_gaps", topics=", ".join(starter().topics))
    assert gaps in text


async def test_forget_me_drops_the_member_from_the_library(lib: Rally) -> None:
    await lib.say("ben", "library add reply Thank you for all you do.")
    alert = await lib.raise_alert("ana", "pile-on")
    reply = await suggest(lib, "ben", alert)
    await lib.press("ben", reply.extras[0], lib.copy("button.use_message"))
    ben = lib.member("ben").id
    confirm = await lib.say("ben", "forgetme")
    await lib.press("ben", confirm, lib.copy("button.forget_confirm"))
    assert all(ben not in (e.added_by_id, e.approved_by_id) for e in entries(lib))
    assert all(u.member_id != ben for u in lib.data.library_uses.values())
    assert sum(e.uses for e in entries(lib)) == 1  # the count stays, the person goes
