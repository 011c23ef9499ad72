"""The wording the issue found wrong, each as a person met it; and the copy as a whole: counts
meet nouns only through plural forms, and titles and buttons are in sentence case."""

from __future__ import annotations

import re

from bot.core.wording import Copy
from bot.settings import Settings
from tests.unit.conftest import Rally

# A count that is not followed by a noun ("and 3 more", "Escalated: 3"): no plural needed.
COUNT_WITHOUT_NOUN = {
    "rally.tally_more",
    "digest.alerts",
    "digest.unanswered",
    "digest.responders",
    "digest.open_more",
    "slack.home_more",
    "library.list_more",
}


def test_no_template_writes_a_noun_with_an_s_in_brackets(copy: Copy) -> None:
    assert [k for k, v in copy.texts.items() if "(s)" in v or "(es)" in v] == []


def test_every_count_that_meets_a_noun_goes_through_a_plural_form(copy: Copy) -> None:
    single = {
        k
        for k, v in copy.texts.items()
        if "{count}" in v and not k.endswith((".one", ".other", ".zero"))
    }
    assert single == COUNT_WITHOUT_NOUN


def test_titles_and_buttons_are_in_sentence_case(copy: Copy) -> None:
    wrong = []
    for key, text in copy.texts.items():
        last = key.split(".")[-1]
        if not (key.startswith("button.") or "title" in last):
            continue
        first = text.lstrip("#{…")[:1]
        if first.isalpha() and not first.isupper() and not text.startswith(("rallybot", "{")):
            wrong.append(key)
        # Sentence case: no Capitalised Words after the first, but names and "I".
        words = re.findall(r"(?<![#{])\b[A-Z][a-z]+\b", text)[1:]
        if [w for w in words if w not in {"I", "X", "Slack", "Discord", "TOML"}]:
            wrong.append(key)
    assert wrong == []


async def test_a_rally_started_responders_are_counted_in_words(rally: Rally) -> None:
    reply = await rally.say("ana", "alert https://x.com/troll/status/1")
    assert "3 responders called" in reply.message.plain_text()
    await rally.say("lee", "role cam off")
    await rally.say("lee", "role dee off")
    await rally.say("lee", "role cam member")
    await rally.say("lee", "role dee member")
    reply = await rally.say("cam", "alert https://x.com/troll/status/2")
    assert "1 responder called" in reply.message.plain_text()
    assert "(s)" not in reply.message.plain_text()


async def test_an_anonymous_rally_begins_its_sentence_with_a_capital(rally: Rally) -> None:
    await rally.say("ana", "alert https://x.com/troll/status/1 kinds=pile_on anonymous=yes")
    post = rally.posts_in("#rally", prefix="rally:")[0]
    assert "\nA member (anonymous) is facing a pile-on on X." in post.text
    assert "\na member (anonymous) is facing" not in post.text


async def test_alert_zero_is_named_as_typed(rally: Rally) -> None:
    reply = await rally.say("ana", "status #0")
    assert rally.copy("error.no_alert", number=0) in reply.message.plain_text()
    assert "#?" not in reply.message.plain_text()
    forged = await rally.act("ana", "rally:alert:" + "0" * 32 + ":on_it")
    assert rally.copy("error.no_alert_button") in forged.message.plain_text()


async def test_the_target_is_not_told_about_herself_in_the_third_person(rally: Rally) -> None:
    await rally.say("ana", "alert https://x.com/troll/status/1")
    reply = await rally.say("ana", "standdown #1")
    assert "the target" not in reply.message.plain_text().lower()
    assert "they stop" not in reply.message.plain_text()


async def test_someone_raising_for_themselves_is_not_named_twice(rally: Rally) -> None:
    await rally.edit_member("ben", trusted=False)
    await rally.say("ben", "alert https://x.com/troll/status/1")
    review = rally.posts_in("#leads", prefix="held:")[-1]
    assert "Ben raised it for Ben" not in review.text
    assert rally.copy("held.summary_self", name="Ben", kinds="online attacks", venue="X") in (
        review.text
    )


async def test_the_library_counts_and_its_sources_read_right(make_rally) -> None:
    rally = await make_rally(starter_library=Settings().starter_library())
    shown = (await rally.say("lee", "library show m1")).message.plain_text()
    assert "Added by Added" not in shown
    assert rally.copy("library.added_from_file") in shown
    assert rally.copy("library.uses", count=0) in shown
    await rally.say("ana", "alert https://x.com/troll/status/1 topic=vaccines")
    suggested = await rally.act("ben", f"rally:alert:{rally.alert(1).id}:suggest")
    use = next(
        b for m in suggested.extras for b in m.buttons if b.action_id.startswith("rally:lib")
    )
    await rally.act("ben", use.action_id)
    number = use.action_id.split(":")[2]
    entry = rally.data.library[number]
    shown = (await rally.say("lee", f"library show m{entry.number}")).message.plain_text()
    assert "used once" in shown and "used 1 times" not in shown
    topics = (await rally.say("ana", "library topics")).message.plain_text()
    assert not re.search(r"\b1 approved messages\b", topics)


async def test_the_digest_names_kinds_as_labels(rally: Rally) -> None:
    await rally.say("ana", "alert https://x.com/troll/status/1 kinds=pile_on")
    text = (await rally.say("lee", "digest")).message.plain_text()
    assert "By kind: pile-on 1 (+1)" in text
    assert "a pile-on 1" not in text
