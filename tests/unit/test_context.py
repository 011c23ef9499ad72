"""Each outbox row records whom it is about, where the core builds it; forget-me reads that."""

from __future__ import annotations

from bot.core.messages import Attachment, Block, Button, Link, Mention, Message, Text
from bot.core.services.context import unname
from tests.unit.conftest import Rally


async def test_a_row_records_the_members_it_mentions_or_names_and_the_ids_of_its_key(
    rally: Rally,
) -> None:
    ana, ben, cam = (rally.member(h) for h in ("ana", "ben", "cam"))
    alert_id = "ab" * 16
    async with rally.store.uow() as uow:
        ctx = rally.services._ctx(uow, None)
        await uow.members.many([ana.id, ben.id, cam.id])  # what this transaction read
        message = Message(
            title="Ana needs help",
            blocks=(
                Block((Mention(ben.id, "Ben"), Text(" is called; Banana and Camille are not"))),
            ),
        )
        about = ctx.about(f"needhelp:{alert_id}:x", message)
        assert set(about) == {ana.id, ben.id, alert_id}  # not cam: "Camille", "Banana"
        # A name in a button label or a file counts too; a name nobody read here can't be.
        labelled = Message("t", buttons=(Button("rally:x", "Approve Cam"),))
        assert ctx.about("k", labelled) == (cam.id,)
        filed = Message("t", attachments=(Attachment("f.md", "added by Cam"),))
        assert ctx.about("k", filed) == (cam.id,)
        assert ctx.about("k", Message("Dee is here")) == ()


def test_unname_takes_a_member_out_of_a_message_and_leaves_the_rest() -> None:
    message = Message(
        title="Ana is on it",
        blocks=(
            Block((Text("Called: "), Mention("m-ana", "Ana"), Text(" "), Mention("m-ben", "Ben"))),
            Block((Text("Ana said Banana; ask Anabel"), Link("https://x.com/Ana")), heading="Ana"),
        ),
        buttons=(Button("rally:a", "Thank Ana"),),
        attachments=(Attachment("notes.md", "- added by Ana"),),
    )

    out = unname(message, "m-ana", {"Ana"}, "Former member")

    assert out.title == "Former member is on it"
    first, second = out.blocks
    assert first.spans == (
        Text("Called: "),
        Text("Former member"),
        Text(" "),
        Mention("m-ben", "Ben"),
    )
    assert second.spans == (
        Text("Former member said Banana; ask Anabel"),
        Link("https://x.com/Ana"),  # a link is the attacker's or the target's post: as it was
    )
    assert second.heading == "Former member"
    assert out.buttons[0].label == "Thank Former member"
    assert out.attachments[0].content == "- added by Former member"
