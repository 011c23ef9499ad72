"""The message library: suggestions inside a rally, and the leads' upkeep of the library."""

from __future__ import annotations

from collections.abc import Mapping

from bot.core import commands as c
from bot.core.errors import BadInput, Conflict, NotFound
from bot.core.library import (
    Draft,
    LibraryFile,
    check_known_topics,
    choose,
    clean_text,
    export_file,
    fitting,
    has_placeholder,
    limit_for,
    parse_file,
    topic_list,
)
from bot.core.messages import Attachment, Block, Button, Message, Reply, Text, para
from bot.core.model import (
    Alert,
    AlertStatus,
    Collective,
    EntryStatus,
    LibraryEntry,
    LibraryUse,
    Member,
    MessageKind,
)
from bot.core.services.alerts import visible_alert
from bot.core.services.context import Ctx, Forged
from bot.core.services.digest import pick_collective
from bot.core.views import action_id, link_lines, notice
from bot.core.wording import Copy

LIST_SHOWN = 40
APPROVE_BUTTONS = 10
PREVIEW_CHARS = 90


# --- in the rally -----------------------------------------------------------------------------


async def suggest(ctx: Ctx, cmd: c.SuggestMessages) -> Reply:
    """Two or three messages that fit the alert, privately, each easy to copy."""
    actor, alert = await visible_alert(ctx, cmd.alert)
    if alert.status is not AlertStatus.ACTIVE:
        raise Conflict("error.not_active", number=alert.number)
    copy = ctx.copy
    entries = await ctx.uow.library.for_collective(alert.collective_id)
    limits = ctx.policy.message_limits
    fit = fitting(entries, alert, limits)
    chosen = choose(fit, alert, actor.id, cmd.page, ctx.policy.suggestions)
    title = copy("library.suggest_title", number=alert.number)
    if not chosen:
        lines = [copy("library.none_fit")]
        if actor.is_lead:
            lines.append(copy("library.none_fit_lead"))
        return Reply(notice(title, *lines))
    pages = -(-len(fit) // ctx.policy.suggestions)
    # "Another" on the last suggestion, when there is more to see; it wraps round.
    following = (cmd.page + 1) % pages if pages > 1 else None
    extras = tuple(
        suggestion_message(copy, e, alert, i, limits, following if i == len(chosen) else None)
        for i, e in enumerate(chosen, 1)
    )
    return Reply(notice(title, copy("library.suggest_intro")), extras=extras)


def suggestion_message(
    copy: Copy,
    entry: LibraryEntry,
    alert: Alert,
    n: int,
    limits: Mapping[str, int],
    next_page: int | None,
) -> Message:
    """One suggestion: its text as a plain block to copy, its sources, Use this (Another)."""
    limit = limit_for(entry.kind, alert.venue, limits)
    where = (
        copy(f"venue.{alert.venue}")
        if entry.kind in (MessageKind.REPLY, MessageKind.COUNTER)
        else copy(f"library.where_{entry.kind}")
    )
    blocks = [
        Block((Text(entry.text, "pre"),)),
        para(copy("library.fits", where=where, length=len(entry.text), limit=limit)),
    ]
    if entry.sources:
        blocks.append(Block(link_lines(entry.sources), copy("library.sources_heading")))
    buttons = [
        Button(action_id("lib", entry.id, "use", alert.id), copy("button.use_message"), "primary")
    ]
    if next_page is not None:
        buttons.append(
            Button(
                action_id("alert", alert.id, "suggest", str(next_page)),
                copy("button.another_message"),
            )
        )
    return Message(
        title=copy("library.suggestion_title", n=n, kind=copy(f"message_kind.{entry.kind}")),
        blocks=tuple(blocks),
        buttons=tuple(buttons),
        has_attack_links=bool(entry.sources),  # no previews of the sources either
    )


async def use(ctx: Ctx, cmd: c.UseMessage) -> Reply:
    """Count that a responder used a suggestion (once per message, alert and person)."""
    actor, alert = await visible_alert(ctx, cmd.alert)
    entry = await ctx.uow.library.get(cmd.entry_id)
    if entry is None:
        raise NotFound("library.gone")
    if entry.collective_id != alert.collective_id:
        raise Forged("error.bad_button", entry=cmd.entry_id)
    if entry.status is not EntryStatus.APPROVED:
        raise Conflict("library.gone")
    counted = await ctx.uow.library.add_use(
        LibraryUse(ctx.ids.new(), alert.collective_id, entry.id, alert.id, actor.id, ctx.now)
    )
    key = "library.used" if counted else "library.used_already"
    return Reply(notice(ctx.copy(key, number=alert.number)))


# --- the leads' library ---------------------------------------------------------------------


def _label(entry: LibraryEntry) -> str:
    return f"m{entry.number}"


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def _tags(copy: Copy, entry: LibraryEntry) -> str:
    parts = [copy(f"message_kind.{entry.kind}"), copy(f"library.status_{entry.status}")]
    parts.append(", ".join(sorted(entry.topics)) or copy("library.any_topic"))
    if entry.venues:
        parts.append(", ".join(copy(f"venue.{v}") for v in sorted(entry.venues)))
    if entry.alert_kinds:
        parts.append(", ".join(copy(f"kind.{k}") for k in sorted(entry.alert_kinds)))
    parts.append(copy("library.uses", count=entry.uses))
    return " · ".join(parts)


def _approve_button(copy: Copy, entry: LibraryEntry) -> Button:
    return Button(
        action_id("lib", entry.id, "approve"),
        copy("button.approve_message", number=_label(entry)),
        "primary",
    )


async def list_entries(ctx: Ctx, cmd: c.LibraryList) -> Reply:
    await ctx.lead()
    collective = await ctx.collective()
    copy = ctx.copy
    entries = list(await ctx.uow.library.for_collective(collective.id))
    wanted = cmd.filter
    if wanted == "pending":
        entries = [e for e in entries if e.status is EntryStatus.PENDING]
    elif wanted in {k.value for k in MessageKind}:
        entries = [e for e in entries if e.kind.value == wanted]
    elif wanted is not None:
        check_known_topics(collective.topics, [wanted[:40]])
        entries = [e for e in entries if wanted in e.topics]
    title = copy("library.list_title", count=len(entries))
    if not entries:
        return Reply(notice(title, copy("library.list_empty")))
    lines = [f"{_label(e)} · {_tags(copy, e)}\n{_preview(e.text)}" for e in entries[:LIST_SHOWN]]
    if len(entries) > LIST_SHOWN:
        lines.append(copy("library.list_more", count=len(entries) - LIST_SHOWN))
    pending = [e for e in entries if e.status is EntryStatus.PENDING]
    if pending:
        lines.append(copy("library.list_pending_hint", count=len(pending)))
    buttons = tuple(
        _approve_button(copy, e) for e in pending[:APPROVE_BUTTONS] if not has_placeholder(e.text)
    )
    return Reply(notice(title, *lines, buttons=buttons))


async def _entry(ctx: Ctx, number: int) -> LibraryEntry:
    collective = await ctx.collective()
    entry = await ctx.uow.library.by_number(collective.id, number)
    if entry is None:
        raise NotFound("library.no_entry", number=f"m{number}")
    return entry


def entry_message(copy: Copy, entry: LibraryEntry, added_by: str) -> Message:
    blocks = [
        para(_tags(copy, entry)),
        Block((Text(entry.text, "pre"),)),
    ]
    if entry.sources:
        blocks.append(Block(link_lines(entry.sources), copy("library.sources_heading")))
    blocks.append(para(added_by))
    if has_placeholder(entry.text):
        blocks.append(para(copy("library.has_placeholder", number=_label(entry))))
    buttons: tuple[Button, ...] = ()
    if entry.status is EntryStatus.PENDING and not has_placeholder(entry.text):
        buttons = (_approve_button(copy, entry),)
    return Message(
        title=copy("library.entry_title", number=_label(entry)),
        blocks=tuple(blocks),
        buttons=buttons,
        has_attack_links=bool(entry.sources),
    )


async def _added_by(ctx: Ctx, entry: LibraryEntry) -> str:
    """The line saying where a message came from: a person, or a library file."""
    if entry.added_by_id is None:
        return ctx.copy("library.added_from_file")
    member = await ctx.uow.members.get(entry.added_by_id)
    name = member.display_name if member else ctx.copy("alert.anonymous_member")
    return ctx.copy("library.added_by", name=name)


async def show(ctx: Ctx, cmd: c.LibraryShow) -> Reply:
    await ctx.lead()
    entry = await _entry(ctx, cmd.number)
    return Reply(entry_message(ctx.copy, entry, await _added_by(ctx, entry)))


def _words(text: str) -> str:
    """What counts as the same message: the same words, whatever the case and spacing."""
    return " ".join(text.lower().split())


async def add(ctx: Ctx, cmd: c.LibraryAdd) -> Reply:
    """Leads add; members propose. Either way the entry waits for a lead's approval."""
    actor = await ctx.actor()
    collective = await ctx.collective()
    check_known_topics(collective.topics, cmd.draft.topics)
    existing = await ctx.uow.library.for_collective(collective.id)
    for e in existing:
        if _words(e.text) == _words(cmd.draft.text):
            raise Conflict("library.duplicate", number=_label(e))
    entry = await _store(ctx, collective, cmd.draft, actor, approved=False)
    await ctx.audit("library_added", subject=entry.id, number=_label(entry))
    copy = ctx.copy
    message = entry_message(copy, entry, copy("library.added_by", name=actor.display_name))
    if not actor.is_lead:
        await ctx.to_leads(
            f"library:proposed:{entry.id}",
            Message(
                title=copy("library.proposed_title", name=actor.display_name),
                blocks=message.blocks,
                buttons=message.buttons,
                has_attack_links=message.has_attack_links,
            ),
        )
        return Reply(notice(copy("library.proposed", number=_label(entry))))
    return Reply(notice(copy("library.added", number=_label(entry))), extras=(message,))


async def _store(
    ctx: Ctx, collective: Collective, draft: Draft, by: Member | None, approved: bool
) -> LibraryEntry:
    entry = LibraryEntry(
        id=ctx.ids.new(),
        collective_id=collective.id,
        number=await ctx.uow.library.next_number(collective.id),
        kind=draft.kind,
        text=draft.text,
        added_at=ctx.now,
        added_by_id=by.id if by else None,
        topics=draft.topics,
        venues=draft.venues,
        alert_kinds=draft.alert_kinds,
        sources=draft.sources,
    )
    if approved and not has_placeholder(draft.text):
        entry.status, entry.approved_at = EntryStatus.APPROVED, ctx.now
    await ctx.uow.library.add(entry)
    return entry


async def edit(ctx: Ctx, cmd: c.LibraryEdit) -> Reply:
    await ctx.lead()
    collective = await ctx.collective()
    entry = await _entry(ctx, cmd.number)
    check_known_topics(collective.topics, cmd.topics)
    reword = (cmd.text is not None and cmd.text != entry.text) or (
        cmd.kind is not None and cmd.kind is not entry.kind
    )
    if cmd.text is not None:
        for e in await ctx.uow.library.for_collective(collective.id):
            if e.id != entry.id and _words(e.text) == _words(cmd.text):
                raise Conflict("library.duplicate", number=_label(e))
        entry.text = clean_text(cmd.text)
    entry.kind = cmd.kind or entry.kind
    entry.topics = entry.topics if cmd.topics is None else cmd.topics
    entry.venues = entry.venues if cmd.venues is None else cmd.venues
    entry.alert_kinds = entry.alert_kinds if cmd.alert_kinds is None else cmd.alert_kinds
    entry.sources = entry.sources if cmd.sources is None else cmd.sources
    unapproved = reword and entry.status is EntryStatus.APPROVED
    if unapproved:
        # New words are a new message: a lead looks at them before anyone is offered them.
        entry.status, entry.approved_by_id, entry.approved_at = EntryStatus.PENDING, None, None
    await ctx.uow.library.save(entry)
    await ctx.audit("library_edited", subject=entry.id, number=_label(entry))
    copy = ctx.copy
    key = "library.edited_pending" if unapproved else "library.edited"
    message = entry_message(copy, entry, await _added_by(ctx, entry))
    return Reply(notice(copy(key, number=_label(entry))), extras=(message,))


async def approve(ctx: Ctx, cmd: c.LibraryApprove) -> Reply:
    lead = await ctx.lead()
    collective = await ctx.collective()
    if cmd.entry_id is not None:
        entry = await ctx.uow.library.get(cmd.entry_id)
        if entry is None:
            raise NotFound("library.gone")
        if entry.collective_id != collective.id:
            raise Forged("error.bad_button", entry=cmd.entry_id)
        entries = [entry]
    else:
        entries = [await _entry(ctx, n) for n in cmd.numbers]
    copy = ctx.copy
    lines = []
    for entry in entries:
        if has_placeholder(entry.text):
            lines.append(copy("library.has_placeholder", number=_label(entry)))
            continue
        if entry.status is EntryStatus.APPROVED:
            lines.append(copy("library.already_approved", number=_label(entry)))
            continue
        entry.status, entry.approved_by_id, entry.approved_at = (
            EntryStatus.APPROVED,
            lead.id,
            ctx.now,
        )
        await ctx.uow.library.save(entry)
        await ctx.audit("library_approved", subject=entry.id, number=_label(entry))
        lines.append(copy("library.approved", number=_label(entry)))
    return Reply(notice(copy("library.approve_title"), *lines))


async def remove(ctx: Ctx, cmd: c.LibraryRemove) -> Reply:
    await ctx.lead()
    entry = await _entry(ctx, cmd.number)
    await ctx.uow.library.delete(entry.id)
    await ctx.audit("library_removed", subject=entry.id, number=_label(entry))
    return Reply(notice(ctx.copy("library.removed", number=_label(entry))))


async def topics(ctx: Ctx, cmd: c.LibraryTopics) -> Reply:
    """Every member may see the topics (alerts name them); leads add and remove them."""
    copy = ctx.copy
    if cmd.action is None:
        await ctx.actor()
        collective = await ctx.collective()
        entries = await ctx.uow.library.for_collective(collective.id)
        lines = [
            copy(
                "library.topic_line",
                topic=t,
                count=sum(1 for e in entries if t in e.topics and e.status is EntryStatus.APPROVED),
            )
            for t in collective.topics
        ] or [copy("library.no_topics")]
        return Reply(notice(copy("library.topics_title"), *lines, copy("library.topics_hint")))
    await ctx.lead()
    collective = await ctx.collective()
    if cmd.action == "add":
        added = [t for t in cmd.names if t not in collective.topics]
        collective.topics = (*collective.topics, *added)
        line = copy("library.topics_added", topics=", ".join(added) or copy("word.none"))
    else:
        check_known_topics(collective.topics, cmd.names)
        entries = await ctx.uow.library.for_collective(collective.id)
        for t in cmd.names:
            using = [_label(e) for e in entries if t in e.topics]
            if using:
                raise Conflict("library.topic_in_use", topic=t, numbers=", ".join(using[:10]))
        collective.topics = tuple(t for t in collective.topics if t not in cmd.names)
        line = copy("library.topics_removed", topics=", ".join(cmd.names))
    await ctx.uow.collectives.save(collective)
    await ctx.audit(f"library_topics_{cmd.action}", topics=",".join(cmd.names))
    return Reply(notice(copy("library.topics_title"), line))


async def import_file(ctx: Ctx, cmd: c.LibraryImport) -> Reply:
    """Add a file's messages (pending a lead's approval) and topics; the starter library is
    the one file rallybot vouches for: its entries without placeholders come approved."""
    lead = await ctx.lead()
    copy = ctx.copy
    starter = cmd.content is None and cmd.name.strip().lower() == "starter"
    if cmd.content is None and not starter:
        return Reply(
            notice(copy("library.import_title"), copy("library.import_how")), form="library_import"
        )
    collective = await ctx.collective()
    parsed = ctx.policy.starter_library if starter else read_file(ctx, cmd.content or "")
    if parsed is None:
        raise NotFound("library.no_starter")
    added, same = await merge(ctx, collective, parsed, starter, None if starter else lead)
    await ctx.audit("library_imported", added=str(added), skipped=str(same))
    return Reply(
        notice(
            copy("library.import_title"),
            copy(
                "library.imported",
                count=added,
                same=copy("library.already_there", count=same),
                topics=topic_list(collective.topics),
            ),
            copy("library.imported_starter") if starter else copy("library.imported_pending"),
        )
    )


def read_file(ctx: Ctx, content: str) -> LibraryFile:
    try:
        return parse_file(content)
    except BadInput as error:
        if error.key != "library.bad_entry":
            raise
        params = error.params["params"]
        inner = ctx.copy(str(error.params["inner"]), **(params if isinstance(params, dict) else {}))
        raise BadInput("library.bad_entry", n=error.params["n"], reason=inner) from None


async def merge(
    ctx: Ctx,
    collective: Collective,
    parsed: LibraryFile,
    approved: bool,
    by: Member | None = None,
) -> tuple[int, int]:
    """Add the file's topics and the messages not already there (same words); counts."""
    new_topics = [t for t in parsed.topics if t not in collective.topics]
    if new_topics:
        collective.topics = (*collective.topics, *new_topics)
        await ctx.uow.collectives.save(collective)
    known = {_words(e.text) for e in await ctx.uow.library.for_collective(collective.id)}
    added = same = 0
    for draft in parsed.drafts:
        if _words(draft.text) in known:
            same += 1
            continue
        await _store(ctx, collective, draft, by, approved)
        known.add(_words(draft.text))
        added += 1
    return added, same


async def seed(ctx: Ctx, collective: Collective) -> None:
    """A new collective starts with the starter library and its topics."""
    if ctx.policy.starter_library is not None:
        await merge(ctx, collective, ctx.policy.starter_library, approved=True)


async def export(ctx: Ctx, _: c.LibraryExport) -> Reply:
    """The library as a file, sent privately (the same format import reads)."""
    lead = await ctx.lead()
    collective = await ctx.collective()
    entries = await ctx.uow.library.for_collective(collective.id)
    content = export_file(collective.name, collective.topics, entries)
    message = Message(
        title=ctx.copy("library.export_title", count=len(entries)),
        attachments=(Attachment("rallybot-library.toml", content, "application/toml"),),
    )
    await ctx.to_members([lead], f"library-export:{ctx.ids.new()}", message)
    await ctx.audit("library_exported", entries=str(len(entries)))
    return Reply(notice(ctx.copy("library.exported", count=len(entries))))


# --- the command line ------------------------------------------------------------------------


async def import_for(ctx: Ctx, name: str | None, content: str) -> tuple[int, int]:
    """`rallybot library import FILE`: like a lead's import (messages wait for approval)."""
    collective = await pick_collective(ctx, name)
    added, same = await merge(ctx, collective, read_file(ctx, content), approved=False)
    await ctx.audit("library_imported", added=str(added), skipped=str(same), by="command line")
    return added, same


async def export_for(ctx: Ctx, name: str | None) -> str:
    collective = await pick_collective(ctx, name)
    entries = await ctx.uow.library.for_collective(collective.id)
    await ctx.audit("library_exported", entries=str(len(entries)), by="command line")
    return export_file(collective.name, collective.topics, entries)
