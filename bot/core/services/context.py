"""The request context every service runs in: one transaction, the caller, and the outbox."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache

from bot.core.commands import AlertRef, Caller, MemberRef
from bot.core.errors import NotAllowed, NotFound
from bot.core.messages import Attachment, Block, Button, Mention, Message, Span, Text, to_dict
from bot.core.model import (
    Alert,
    AuditEvent,
    Channel,
    Collective,
    Identity,
    Member,
    MemberStatus,
    OutboxItem,
    Role,
    Space,
)
from bot.core.packet import PacketRenderer
from bot.core.policy import Policy
from bot.core.ports import Ids, UnitOfWork
from bot.core.wording import Copy


@dataclass
class Ctx:
    uow: UnitOfWork
    now: datetime
    ids: Ids
    copy: Copy
    policy: Policy
    caller: Caller | None = None
    pdf: PacketRenderer | None = None  # the evidence packet's PDF (None: Markdown and JSON)
    _member: Member | None = None
    _collective: Collective | None = None
    _known_identities: dict[str, list[Identity]] | None = None
    _spaces: list[Space] | None = None
    _names: _NameIndex = field(default_factory=lambda: _NameIndex({}))

    # --- who is asking -------------------------------------------------------------

    async def caller_member(self) -> Member | None:
        """The caller's member record, in any state, or None for a stranger."""
        if self._member is None and self.caller is not None:
            ident = await self.uow.identities.find(
                self.caller.platform, self.caller.workspace, self.caller.user
            )
            if ident is not None:
                self._member = await self.uow.members.get(ident.member_id)
        return self._member

    async def actor(self) -> Member:
        """The caller as an active, vetted member; everyone else is told how to join."""
        member = await self.caller_member()
        if member is None or member.status is MemberStatus.FORGOTTEN:
            raise NotAllowed("error.not_member")
        if member.status is MemberStatus.PENDING:
            raise NotAllowed("error.pending_member")
        if member.status is MemberStatus.SUSPENDED:
            raise NotAllowed("error.suspended")
        await self._sync_lead_role(member)
        return member

    async def person(self) -> Member:
        """The caller as anyone the bot knows, vetted or not: pending, suspended or active.
        Only for what every person may do about their own data (forget-me)."""
        member = await self.caller_member()
        if member is None or member.status is MemberStatus.FORGOTTEN:
            raise NotAllowed("error.not_member")
        if self._collective is None:
            self._collective = await self.uow.collectives.get(member.collective_id)
            if self._collective is None:
                raise NotFound("error.no_collective")
        return member

    async def _sync_lead_role(self, member: Member) -> None:
        """Holders of a space's lead role (Discord) are leads; losing the role revokes it."""
        caller = self.caller
        if caller is None or caller.space is None:
            return  # a DM carries no roles: nothing to compare
        if not caller.roles and not member.lead_via_role:
            return
        space = await self.uow.spaces.find(caller.platform, caller.space_id)
        if space is None or space.collective_id != member.collective_id:
            return  # another collective's guild says nothing about roles here
        holds = space.lead_role is not None and space.lead_role in caller.roles
        if holds and not member.is_lead:
            member.roles, member.lead_via_role = member.roles | {Role.LEAD}, True
        elif member.lead_via_role and not holds:
            member.roles, member.lead_via_role = member.roles - {Role.LEAD}, False
        else:
            return
        await self.uow.members.save(member)
        await self.audit(
            "role_changed",
            subject=member.id,
            actor_id=member.id,
            collective_id=member.collective_id,
            via="platform_role",
            roles=",".join(sorted(member.roles)) or "member",
        )

    async def lead(self) -> Member:
        member = await self.actor()
        if not member.is_lead:
            raise NotAllowed("error.leads_only")
        return member

    async def collective(self) -> Collective:
        if self._collective is None:
            member = await self.actor()
            self._collective = await self.uow.collectives.get(member.collective_id)
            if self._collective is None:
                raise NotFound("error.no_collective")
        return self._collective

    def set_member(self, member: Member, collective: Collective) -> None:
        self._member, self._collective = member, collective

    def set_collective(self, collective: Collective) -> None:
        """Work in this collective (due work, the command line): no caller to find it from."""
        self._collective = collective

    @property
    def known_member(self) -> Member | None:
        """The caller's member record if this context has already looked it up (no query)."""
        return self._member

    # --- finding things, always inside the caller's collective ----------------------

    async def alert(self, ref: AlertRef) -> Alert:
        """The alert, only if it belongs to the caller's collective; forged ids are audited."""
        collective = await self.collective()
        alert: Alert | None = None
        if ref.id is not None:
            alert = await self.uow.alerts.get(ref.id)
            if alert is not None and alert.collective_id != collective.id:
                raise Forged("error.no_alert_button", alert_id=ref.id)
        elif ref.number is not None:
            alert = await self.uow.alerts.by_number(collective.id, ref.number)
        if alert is None:
            if ref.number is None:
                raise NotFound("error.no_alert_button")
            raise NotFound("error.no_alert", number=ref.number)
        return alert

    async def member(self, ref: MemberRef) -> Member:
        """The member a command names, only if they belong to the caller's collective."""
        collective = await self.collective()
        found: Member | None = None
        if ref.member_id is not None:
            found = await self.uow.members.get(ref.member_id)
        elif ref.user is not None:
            # A platform user id means a user on the caller's own platform and workspace.
            if self.caller is not None:
                ident = await self.uow.identities.find(
                    self.caller.platform, self.caller.workspace, ref.user
                )
                found = await self.uow.members.get(ident.member_id) if ident else None
        elif ref.handle is not None:
            handle = ref.handle.strip().lstrip("@").lower()
            found = await self.uow.members.by_handle(collective.id, handle)
        name = ref.named.strip()[:40]
        if found is None or found.status is MemberStatus.FORGOTTEN:
            raise NotFound("error.no_member", name=name)
        if found.collective_id != collective.id:
            raise Forged("error.no_member", name=name)
        return found

    async def members(self) -> Sequence[Member]:
        return await self.uow.members.for_collective((await self.collective()).id)

    async def leads(self, safety_only: bool = False) -> list[Member]:
        role = Role.SAFETY_LEAD if safety_only else Role.LEAD
        return [m for m in await self.members() if m.is_active and m.has(role)]

    # --- the record ------------------------------------------------------------------

    async def audit(
        self,
        action: str,
        alert: Alert | None = None,
        subject: str | None = None,
        actor_id: str | None = None,
        collective_id: str | None = None,
        detail: Mapping[str, str] | None = None,
        **more: str,
    ) -> None:
        if actor_id is None and self._member is not None:
            actor_id = self._member.id
        cid = collective_id or (
            self._collective.id
            if self._collective
            else self._member.collective_id
            if self._member
            else None
        )
        if cid is None:
            raise LookupError(f"audit event {action!r} has no collective")
        await self.uow.audit.add(
            AuditEvent(
                id=self.ids.new(),
                collective_id=cid,
                at=self.now,
                actor_id=actor_id,
                action=action,
                alert_id=alert.id if alert else None,
                subject_id=subject,
                detail={**(detail or {}), **more},
            )
        )

    # --- where the collective is ------------------------------------------------------

    async def spaces(self) -> list[Space]:
        """Every space of the collective, removed ones too (read once per transaction)."""
        if self._spaces is None:
            collective = await self.collective()
            self._spaces = list(await self.uow.spaces.for_collective(collective.id))
        return self._spaces

    def forget_spaces(self) -> None:
        """A space changed in this transaction: read them again when next needed."""
        self._spaces = None
        self._known_identities = None

    async def _reachable(self, idents: list[Identity]) -> list[Identity]:
        """The identities rallybot can still message: not in a workspace the platform removed
        it from. (A Discord account is not tied to one server: a DM to someone rallybot no
        longer shares a server with fails, and is parked, as any undeliverable message.)"""
        if not idents:
            return idents
        if self._collective is not None:
            spaces: Sequence[Space] = await self.spaces()
        else:  # a batch across collectives (check-ins)
            spaces = await self.uow.spaces.removed()
        removed = {(s.platform, s.external_id) for s in spaces if s.removed}
        return [i for i in idents if (i.platform, i.workspace) not in removed]

    # --- what leaves the process: outbox rows in this same transaction ----------------

    async def to_channel(self, channel: Channel, key: str, message: Message) -> Posted:
        """Post to this channel in every space of the collective that has it set (and that
        the platform has not removed rallybot from)."""
        spaces = await self.spaces()
        targets = [
            (s.platform, s.external_id, cid)
            for s in spaces
            if not s.removed
            and (cid := s.rally_channel if channel is Channel.RALLY else s.leads_channel)
        ]
        if not targets:
            return Posted(0, frozenset())
        idents = await self._identities(m.member_id for m in message.mentions)
        await self._one_platform_each(idents, {(p, w) for p, w, _ in targets})
        about = self.about(key, message)
        pinged: set[str] = set()
        for platform, workspace, address in targets:
            addressed = _addressed(message, platform, workspace, idents)
            pinged |= {m.member_id for m in addressed.mentions if m.user is not None}
            await self._enqueue(
                key, "post", platform, workspace, "channel", address, addressed, about
            )
        return Posted(len(targets), frozenset(pinged))

    async def _one_platform_each(
        self, idents: dict[str, list[Identity]], spaces: set[tuple[str, str]]
    ) -> None:
        """A member reachable in several of these spaces is pinged once: on their preferred
        platform, else the first in name order. Drops their other identities from `idents`."""
        reachable = {
            mid: sorted(
                {
                    i.platform
                    for i in ids
                    if any(i.platform == p and i.workspace in (w, "") for p, w in spaces)
                }
            )
            for mid, ids in idents.items()
        }
        several = [mid for mid, platforms in reachable.items() if len(platforms) > 1]
        if not several:
            return
        for member in await self.uow.members.many(several):
            platforms = reachable[member.id]
            keep = (
                member.preferred_platform
                if member.preferred_platform in platforms
                else (platforms[0])
            )
            idents[member.id] = [i for i in idents[member.id] if i.platform == keep]

    async def to_members(
        self,
        members: Iterable[Member],
        key: str,
        message: Message,
        due_at: datetime | None = None,
        first: bool = False,
    ) -> int:
        """Send privately to each member, on their preferred platform (at `due_at`, when
        it must wait: for the end of someone's quiet hours; `first`: before anything else
        this transaction sends)."""
        people = list({m.id: m for m in members}.values())
        idents = await self._identities(
            [m.id for m in people] + [x.member_id for x in message.mentions]
        )
        about = self.about(key, message)
        sent = 0
        for m in people:
            ident = _preferred(m, idents.get(m.id, []))
            if ident is None:
                continue
            await self._enqueue(
                key,
                "post",
                ident.platform,
                ident.workspace,
                "dm",
                ident.user,
                _addressed(message, ident.platform, ident.workspace, idents),
                about,
                due_at=due_at,
                first=first,
            )
            sent += 1
        return sent

    async def to_leads(
        self, key: str, message: Message, safety_only: bool = False, first: bool = False
    ) -> int:
        """Reach the leads: the leads channel where one is set, else a DM to each lead.

        Safety matters go to the safety leads by DM (every lead where there is none), so a
        lead message is never dropped. Returns how many messages were written (0: no lead
        can be reached anywhere).
        """
        if safety_only:
            safety = await self.leads(safety_only=True)
            return await self.to_members(safety or await self.leads(), key, message, first=first)
        posted = (await self.to_channel(Channel.LEADS, key, message)).count
        return posted or await self.to_members(await self.leads(), key, message)

    async def update(self, key: str, message: Message, address_kind: str | None = None) -> int:
        """Replace the copies of a posted message (a rally's tally) in place: every copy, or
        those at one kind of address ("channel" or "dm"). Returns how many were edited."""
        removed = {(s.platform, s.external_id) for s in await self.spaces() if s.removed}
        posts = [
            p
            for p in await self.uow.outbox.destinations(key, address_kind)
            if (p.platform, p.workspace) not in removed
        ]
        if not posts:
            return 0
        idents = await self._identities(m.member_id for m in message.mentions)
        # The newest edit replaces any edit of these copies still waiting to be sent.
        await self.uow.outbox.supersede_edits(key, address_kind)
        about = self.about(key, message)
        addressed: dict[tuple[str, str], Message] = {}
        for post in posts:
            where = (post.platform, post.workspace)
            if where not in addressed:
                addressed[where] = _addressed(message, post.platform, post.workspace, idents)
            await self._enqueue(
                key,
                "update",
                post.platform,
                post.workspace,
                post.address_kind,
                post.address,
                addressed[where],
                about,
                unique=True,
            )
        return len(posts)

    async def prefetch_identities(self, member_ids: Iterable[str]) -> None:
        """Read these members' identities in one query, for a batch that messages each."""
        wanted = sorted(set(member_ids))
        found = await self._fetch_identities(wanted)
        self._known_identities = {mid: found.get(mid, []) for mid in wanted}

    async def _identities(self, member_ids: Iterable[str]) -> dict[str, list[Identity]]:
        wanted = sorted(set(member_ids))
        known = self._known_identities or {}
        out = {mid: known[mid] for mid in wanted if known.get(mid)}
        out.update(await self._fetch_identities([mid for mid in wanted if mid not in known]))
        return out

    async def _fetch_identities(self, wanted: list[str]) -> dict[str, list[Identity]]:
        out: dict[str, list[Identity]] = {}
        if wanted:
            found = list(await self.uow.identities.for_members(wanted))
            for ident in await self._reachable(found):
                out.setdefault(ident.member_id, []).append(ident)
        return out

    def about(self, key: str, message: Message) -> tuple[str, ...]:
        """Whom and what an outbox row is about, recorded with it: the members the message
        mentions or names (by the display names this transaction read, the only names it
        can hold) and the ids its key names (an alert, a member, a check-in)."""
        ids = set(KEY_IDS.findall(key))
        ids.update(m.member_id for m in message.mentions)
        ids.update(self._names.update(self.uow.members.seen()).named(message_words(message)))
        return tuple(sorted(ids))

    async def _enqueue(
        self,
        key: str,
        op: str,
        platform: str,
        workspace: str,
        address_kind: str,
        address: str,
        message: Message,
        about: tuple[str, ...],
        unique: bool = False,
        due_at: datetime | None = None,
        first: bool = False,
    ) -> None:
        item_id = self.ids.new()
        idem = f"{key}|{op}|{platform}|{workspace}|{address}"
        # Rows go out oldest first; a message marked `first` (the safety leads' case) is a
        # microsecond older than the rest of its transaction, so it goes before them.
        created = self.now - timedelta(microseconds=1) if first else self.now
        await self.uow.outbox.add(
            OutboxItem(
                id=item_id,
                collective_id=(await self.collective()).id,
                key=key,
                idempotency_key=f"{idem}|{item_id}" if unique else idem,
                platform=platform,
                workspace=workspace,
                address_kind=address_kind,
                address=address,
                op=op,
                payload=to_dict(message),
                created_at=created,
                due_at=max(due_at or self.now, self.now),
                about=about,
            )
        )


@dataclass(frozen=True)
class Posted:
    count: int  # channel posts written (one per space that has the channel)
    pinged: frozenset[str]  # members whose mention resolves to a user in some post


KEY_IDS = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
MIN_NAME = 2  # shorter display names are not looked for in text (every "A" would match)


class _NameIndex:
    """Finds which of some members a text names, by their display names as whole words."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = dict(names)
        self.by_name: dict[str, list[str]] = {}
        for member_id, name in self.names.items():
            if len(name.strip()) >= MIN_NAME:
                self.by_name.setdefault(name.strip(), []).append(member_id)

    def update(self, names: Mapping[str, str]) -> _NameIndex:
        return self if names == self.names else _NameIndex(names)

    def named(self, text: str) -> set[str]:
        # A substring test first (fast, in C), the whole-word test only for those it finds.
        return {
            member_id
            for name, ids in self.by_name.items()
            if name in text and _whole_word(name).search(text)
            for member_id in ids
        }


@lru_cache(maxsize=4096)
def _whole_word(name: str) -> re.Pattern[str]:
    return re.compile(f"(?<!\\w){re.escape(name)}(?!\\w)")


def message_words(message: Message) -> str:
    """Every word of a message a person can read: title, headings, text, labels, files."""
    parts = [message.plain_text(), *(b.label for b in message.buttons)]
    for a in message.attachments:
        parts.extend((a.filename, a.content))
    return "\n".join(parts)


def name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """Any of these names as a whole word."""
    wanted = sorted(
        {n.strip() for n in names if len(n.strip()) >= MIN_NAME}, key=lambda n: (-len(n), n)
    )
    if not wanted:
        return None
    return re.compile("|".join(f"(?<!\\w){re.escape(n)}(?!\\w)" for n in wanted))


def unname(message: Message, member_id: str, names: Iterable[str], label: str) -> Message:
    """The message with a member taken out: their mentions and every whole-word use of their
    names become `label` (a forgotten member, in a message still to be sent)."""
    pattern = name_pattern(names)

    def words(text: str) -> str:
        return text if pattern is None else pattern.sub(lambda _: label, text)

    blocks = []
    for block in message.blocks:
        spans: list[Span] = []
        for span in block.spans:
            if isinstance(span, Mention) and span.member_id == member_id:
                spans.append(Text(label))
            elif isinstance(span, Mention):
                spans.append(replace(span, label=words(span.label)))
            elif isinstance(span, Text):
                spans.append(replace(span, text=words(span.text)))
            else:
                spans.append(span)
        heading = None if block.heading is None else words(block.heading)
        blocks.append(Block(tuple(spans), heading))
    return replace(
        message,
        title=words(message.title),
        blocks=tuple(blocks),
        buttons=tuple(Button(b.action_id, words(b.label), b.style) for b in message.buttons),
        attachments=tuple(
            Attachment(a.filename, words(a.content), a.mime, a.data) for a in message.attachments
        ),
    )


class Forged(NotAllowed):
    """An id from outside the caller's collective: refused like a missing one, and audited."""


def _preferred(member: Member, idents: list[Identity]) -> Identity | None:
    for ident in idents:
        if ident.platform == member.preferred_platform:
            return ident
    return idents[0] if idents else None


def _addressed(
    message: Message, platform: str, workspace: str, idents: dict[str, list[Identity]]
) -> Message:
    """Fill in each mention's platform user id for this destination; others stay unpinged."""
    if not message.mentions:
        return message
    blocks = []
    for block in message.blocks:
        spans = []
        for span in block.spans:
            if isinstance(span, Mention):
                # An identity scoped to "" is platform-wide (Discord user ids are global).
                user = next(
                    (
                        i.user
                        for i in idents.get(span.member_id, [])
                        if i.platform == platform and i.workspace in (workspace, "")
                    ),
                    None,
                )
                span = replace(span, user=user)
            spans.append(span)
        blocks.append(Block(tuple(spans), block.heading))
    return replace(message, blocks=tuple(blocks))
