"""A note that names a threat, doxxing or sexual harassment on an alert raised without that
kind: the note would go into the rally, so the alert takes the kind and the safety path."""

from __future__ import annotations

import pytest

from bot.core.model import AlertStatus, Kind
from bot.core.severe_words import kinds_named
from tests.unit.conftest import Rally

LINK = "https://x.com/troll/status/1"


@pytest.mark.parametrize(
    ("note", "kinds"),
    [
        ("threats after my talk", {Kind.THREAT}),
        ("he said he would kill me", {Kind.THREAT}),
        ("Someone DOXXED me", {Kind.DOXXING}),
        ("they posted her home address", {Kind.DOXXING}),
        ("shared my phone number", {Kind.DOXXING}),
        ("sexual comments and nudes", {Kind.SEXUAL_HARASSMENT}),
        (
            "threatened to rape me, posted my address",
            {Kind.THREAT, Kind.SEXUAL_HARASSMENT, Kind.DOXXING},
        ),
        ("this pile-on is killing me", set()),
        ("hurt my feelings, shoot me an email", set()),
        ("the address of the clinic is wrong", set()),
        ("good rapport with my therapist", set()),
        ("", set()),
    ],
)
def test_the_severe_kinds_a_note_names(note: str, kinds: set[Kind]) -> None:
    assert kinds_named(note) == kinds


async def test_a_threat_in_the_note_goes_to_the_safety_leads_not_the_crowd(rally: Rally) -> None:
    reply = await rally.say("ana", f"alert {LINK} threats after my talk")

    assert reply.ok
    said = reply.message.plain_text()
    assert rally.copy("raised.kinds_from_note", kinds=rally.copy("kind.threat")) in said
    assert rally.copy("raised.safety_review") in said
    alert = rally.alert(1)
    assert Kind.THREAT in alert.kinds and alert.status is AlertStatus.SAFETY_REVIEW
    assert rally.outbox(prefix="rally:") == []  # nobody in the group was told
    assert "threats after my talk" in rally.last_dm("sam", prefix="safety:").text
    assert rally.last_dm("ana", prefix="safety-target:")  # her choice, with resources
    assert [e.detail for e in rally.audit("alert_kinds_from_note")] == [{"kinds": "threat"}]


async def test_a_note_for_a_colleague_naming_her_address_waits_for_her_and_the_safety_leads(
    rally: Rally,
) -> None:
    reply = await rally.say("ben", f"alert {LINK} for=ana kinds=trolling they posted her address")

    said = reply.message.plain_text()
    assert rally.copy("raised.kinds_from_note", kinds=rally.copy("kind.doxxing")) in said
    alert = rally.alert(1)
    assert alert.kinds == {Kind.TROLLING, Kind.DOXXING}
    assert alert.status is AlertStatus.PENDING_CONSENT
    assert rally.last_dm("sam", prefix="safety:")
    assert rally.outbox(prefix="rally:") == []


async def test_a_note_naming_no_severe_kind_rallies_as_before(rally: Rally) -> None:
    reply = await rally.say("ana", f"alert {LINK} pile-on after my talk")

    said = reply.message.plain_text()
    assert rally.copy("raised.kinds_from_note", kinds=rally.copy("kind.threat")) not in said
    assert rally.alert(1).kinds == frozenset()
    assert rally.posts_in("#rally", prefix="rally:")
    assert rally.audit("alert_kinds_from_note") == []


async def test_a_kind_she_chose_herself_is_not_explained_back_to_her(rally: Rally) -> None:
    reply = await rally.say("ana", f"alert {LINK} kinds=threat threats after my talk")

    said = reply.message.plain_text()
    assert rally.copy("raised.kinds_from_note", kinds=rally.copy("kind.threat")) not in said
    assert rally.alert(1).status is AlertStatus.SAFETY_REVIEW
    assert rally.audit("alert_kinds_from_note") == []
