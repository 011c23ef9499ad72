"""The core's one entry point: commands in, replies out, each in one transaction."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.core import commands as c
from bot.core.digest.figures import DigestData
from bot.core.errors import NotAllowed, RallyError
from bot.core.messages import Reply
from bot.core.model import Channel, Collective, Identity, Member, OutboxItem, Space
from bot.core.packet import PacketRenderer
from bot.core.parse import PLAIN, Syntax, parse_action, parse_text
from bot.core.policy import Policy
from bot.core.ports import (
    ChannelUnreadable,
    ChartRenderer,
    Clock,
    Directory,
    Ids,
    Readers,
    UnitOfWorkFactory,
)
from bot.core.services import (
    alerts,
    checkins,
    digest,
    escalation,
    evidence,
    guide,
    hygiene,
    library,
    membership,
    removal,
    review,
    upkeep,
)
from bot.core.services.context import Ctx, Forged
from bot.core.text import clean, clean_fields, clean_name
from bot.core.views import notice
from bot.core.wording import Copy

log = logging.getLogger(__name__)

CHECKIN_BATCH = 100  # due check-ins claimed and sent in one transaction
CHANNEL_CHECKS = 5  # spaces whose channels are checked per tick (each asks the platform)
_ID = re.compile(r"[0-9a-f]{32}")

Handler = Callable[[Ctx, Any], Awaitable[Reply]]

HANDLERS: dict[type, Handler] = {
    c.RaiseAlert: alerts.raise_alert,
    c.OpenAlertForm: guide.alert_form,
    c.ShowStatus: alerts.status,
    c.StandDown: alerts.stand_down,
    c.GiveConsent: alerts.give_consent,
    c.Respond: alerts.respond,
    c.ShowDoneChoices: alerts.done_choices,
    c.SafetyDecision: alerts.safety_decision,
    c.TargetSafetyChoice: alerts.target_safety_choice,
    c.AddEvidence: evidence.add,
    c.ExportEvidence: evidence.export,
    c.Delegate: evidence.delegate,
    c.SetAvailable: membership.set_available,
    c.Pause: membership.pause,
    c.SetQuiet: membership.quiet,
    c.SetTimezone: membership.timezone,
    c.Prefer: membership.prefer,
    c.LinkIdentity: membership.link,
    c.ForgetMe: membership.forget_me,
    c.ShowHelp: guide.show_help,
    c.Join: membership.join,
    c.Setup: membership.setup,
    c.ListMembers: membership.list_members,
    c.ShowMe: membership.me,
    c.ReviewAlert: review.review,
    c.Suspend: review.suspend,
    c.ShowAudit: review.audit_log,
    c.Approve: membership.approve,
    c.Decline: membership.decline,
    c.KeepOpen: upkeep.keep_open,
    c.SetRole: membership.set_role,
    c.Digest: digest.preview,
    c.AnswerCheckIn: checkins.answer,
    c.ControlCheckIns: checkins.control,
    c.ControlCheckInGroup: checkins.control_group,
    c.ActOnEscalation: escalation.act,
    c.SuggestMessages: library.suggest,
    c.UseMessage: library.use,
    c.LibraryList: library.list_entries,
    c.LibraryShow: library.show,
    c.LibraryAdd: library.add,
    c.LibraryEdit: library.edit,
    c.LibraryApprove: library.approve,
    c.LibraryRemove: library.remove,
    c.LibraryTopics: library.topics,
    c.LibraryImport: library.import_file,
    c.LibraryExport: library.export,
}


# Set by whoever works a stored request (bot.inbox): called with the unit of work and the
# reply just before the command's transaction commits, so the request is marked worked in the
# same transaction as its effects (and the work rolls back if another worker took it).
BeforeCommit = Callable[[Any, Reply], Awaitable[None]]
before_commit: ContextVar[BeforeCommit | None] = ContextVar("before_commit", default=None)


class Services:
    """Parses, authorises and runs every command; platform adapters only translate."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: Ids,
        copy: Copy,
        policy: Policy,
        chart: ChartRenderer | None = None,
        pdf: PacketRenderer | None = None,
        command: str = "rally",
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.ids = ids
        self.copy = copy
        self.policy = policy
        self.chart = chart
        self.pdf = pdf
        self.command = command  # the slash command's name, as usage texts show it
        # Called after every commit that may have written outbox rows (wakes the dispatcher).
        self.on_commit: Callable[[], None] = _nothing
        # Who can read a channel, per platform (the running platforms' Chats): set by the
        # process that runs them; none, and channels are not checked.
        self.directories: dict[str, Directory] = {}

    async def handle_text(self, caller: c.Caller, text: str, syntax: Syntax = PLAIN) -> Reply:
        """What a person typed after /rally; `syntax` reads the caller's platform's markup
        (mentions, roles, links) and is the adapter's."""
        try:
            command = parse_text(text, syntax)
        except RallyError as error:
            return self.error_reply(error, caller.platform)
        return await self.handle(caller, command)

    async def handle_action(self, caller: c.Caller, action: str) -> Reply:
        """A button pressed; its id is untrusted input like any text."""
        try:
            command = parse_action(action)
        except RallyError as error:
            return self.error_reply(error, caller.platform)
        return await self.handle(caller, command)

    async def handle(self, caller: c.Caller, command: c.Command) -> Reply:
        handler = HANDLERS[type(command)]
        # Whatever the platform or form, no control character reaches a service or the
        # database; a display name is one line with nothing invisible in it.
        caller = replace(clean_fields(caller), display_name=clean_name(caller.display_name))
        command = clean_fields(command)
        ctx: Ctx | None = None
        try:
            async with self.uow() as uow:
                ctx = self._ctx(uow, caller)
                reply = await handler(ctx, command)
                hook = before_commit.get()
                if hook is not None:
                    await hook(uow, reply)
                await uow.commit()
            self.on_commit()
            return reply
        except Forged as error:
            await self._audit_forged(ctx, type(command).__name__, error)
            return self.error_reply(error, caller.platform)
        except RallyError as error:
            return self.error_reply(error, caller.platform)

    def error_reply(self, error: RallyError, platform: str | None = None) -> Reply:
        """The one place a refusal becomes a kind reply, in the words of the caller's
        platform where they differ (a usage: Discord people fill in options, not words)."""
        params = dict(error.params)
        if error.key == "error.usage":
            params["usage"] = self.usage(str(params.get("usage", "")), platform)
        lines = [self.copy(error.key, **params)]
        if isinstance(error, NotAllowed) and error.key == "error.not_member":
            lines.append(self.copy("error.how_to_join"))
        return Reply(notice(self.copy("error.title"), *lines), ok=False)

    def usage(self, name: str, platform: str | None = None) -> str:
        """How to write command `name`: [copy.usage.<platform>] if the platform words it
        its own way, else [copy.usage]."""
        own = f"usage.{platform}.{name}"
        key = own if platform and self.copy.has(own) else f"usage.{name}"
        return self.copy(key, command=self.command)

    async def _audit_forged(self, ctx: Ctx | None, command: str, error: Forged) -> None:
        member = ctx.known_member if ctx else None
        if member is None:
            return
        async with self.uow() as uow:
            audit_ctx = self._ctx(uow, None)
            await audit_ctx.audit(
                "forged_request_refused",
                actor_id=member.id,
                collective_id=member.collective_id,
                # Only the ids it named: the other parameters are what someone typed.
                detail={
                    "command": command,
                    **{k: str(v) for k, v in error.params.items() if _ID.fullmatch(str(v))},
                },
            )
            await uow.commit()
        log.warning("refused a request naming another collective's data (command %s)", command)

    def _ctx(self, uow: Any, caller: c.Caller | None) -> Ctx:
        return Ctx(
            uow=uow,
            now=self.clock.now(),
            ids=self.ids,
            copy=self.copy,
            policy=self.policy,
            caller=caller,
            pdf=self.pdf,
        )

    async def seed_demo(self) -> Collective:
        async with self.uow() as uow:
            collective = await membership.ensure_demo(self._ctx(uow, None))
            await uow.commit()
            return collective

    async def digest_report(
        self, collective: str | None, week: str | None, send: bool
    ) -> DigestData:
        """The command line's digest; raises RallyError (with a copy key) on bad input."""
        async with self.uow() as uow:
            data = await digest.report(self._ctx(uow, None), collective, week, send, self.chart)
            await uow.commit()
        self.on_commit()
        return data

    async def library_import(self, collective: str | None, content: str) -> tuple[int, int]:
        """The command line's import: (messages added, already there); RallyError if bad."""
        async with self.uow() as uow:
            counts = await library.import_for(self._ctx(uow, None), collective, clean(content))
            await uow.commit()
        return counts

    async def library_export(self, collective: str | None) -> str:
        async with self.uow() as uow:
            text = await library.export_for(self._ctx(uow, None), collective)
            await uow.commit()
        return text

    async def report_undelivered(self, item: OutboxItem) -> None:
        """A message was parked after the attempt limit: the leads hear of it (no body)."""
        async with self.uow() as uow:
            ctx = self._ctx(uow, None)
            await self._in_collective(ctx, item.collective_id)
            where = (
                self.copy("delivery.where_channel", channel=item.address, platform=item.platform)
                if item.address_kind == "channel"
                else self.copy("delivery.where_dm", platform=item.platform)
            )
            await ctx.to_leads(
                f"undelivered:{item.id}",
                notice(
                    self.copy("delivery.failed_title"),
                    self.copy("delivery.failed_body", where=where, count=item.attempts),
                ),
            )
            await ctx.audit("delivery_failed", detail={"item": item.id, "key": item.key})
            await uow.commit()
        self.on_commit()

    async def space_removed(self, platform: str, external_id: str) -> bool:
        """The platform removed rallybot from a workspace or server (its tokens are gone):
        its data is deleted after the grace period unless a lead sets it up again. False
        when rallybot never knew that space."""
        async with self.uow() as uow:
            ctx = self._ctx(uow, None)
            space = await uow.spaces.find(platform, external_id)
            if space is None:
                return False
            await self._in_collective(ctx, space.collective_id)
            await removal.removed(ctx, space)
            await uow.commit()
        self.on_commit()
        return True

    async def run_due(self, limit: int | None = None) -> int:
        """Everything that fell due (escalations, check-ins), each escalation or digest in its
        own transaction and check-ins in batches, so a late start still delivers what fell
        due while no process ran."""
        budget = limit or self.policy.due_batch
        done = 0
        async with self.uow() as uow:
            # Delivered messages keep no body; after the retention period the rows go too.
            cutoff = self.clock.now() - timedelta(days=self.policy.retention_days)
            await uow.outbox.delete_settled_before(cutoff)
            await uow.link_codes.delete_expired(self.clock.now())
            await uow.commit()
        while done < budget:
            try:
                worked = await self._one_due(budget - done)
            except Exception:
                log.exception("a due item failed; it stays due and is retried on the next tick")
                break
            if not worked:
                break
            done += worked
        if done < budget:
            done += await self.check_channels(min(budget - done, CHANNEL_CHECKS))
        return done

    async def check_channels(self, limit: int = 1) -> int:
        """Who can read each space's rally and leads channels: at setup and daily after, for
        the platforms this process runs. The space is claimed (its next check moved a day on)
        in one transaction, the platform is asked outside any, and the leads are told in a
        third. Returns how many spaces were checked."""
        done = 0
        while done < limit and self.directories:
            claimed = await self._claim_check()
            if claimed is None:
                break
            space, identities, members = claimed
            directory = self.directories[space.platform]
            known = sorted({i.user for i in identities})
            results: list[tuple[Channel, Readers | str]] = []
            failed = False
            for kind, channel in hygiene.channels(space):
                try:
                    found = await directory.readers(space.external_id, channel, known)
                except ChannelUnreadable as error:
                    results.append((kind, error.reason))
                    continue
                except Exception as error:
                    log.warning(
                        "could not check who can read a %s channel (%s); trying again in an hour",
                        space.platform,
                        type(error).__name__,
                    )
                    failed = True
                    break
                results.append((kind, found))
            async with self.uow() as uow:
                ctx = self._ctx(uow, None)
                current = await uow.spaces.get(space.id)
                if current is not None and not current.removed:
                    await self._in_collective(ctx, current.collective_id)
                    if failed:
                        current.check_at = ctx.now + hygiene.RETRY_AFTER
                        await uow.spaces.save(current)
                    else:
                        findings = [
                            hygiene.Finding(kind, cannot=found)
                            if isinstance(found, str)
                            else hygiene.finding(ctx, kind, found, identities, members)
                            for kind, found in results
                        ]
                        await hygiene.report(ctx, current, findings)
                    await uow.commit()
            self.on_commit()
            done += 1
        return done

    async def _claim_check(self) -> tuple[Space, list[Identity], dict[str, Member]] | None:
        async with self.uow() as uow:
            now = self.clock.now()
            due = await uow.spaces.due_checks(now, 1, sorted(self.directories))
            if not due:
                return None
            space = due[0]
            space.check_at = now + hygiene.CHECK_EVERY  # claimed: the next check is tomorrow
            await uow.spaces.save(space)
            identities = list(
                await uow.identities.in_workspace(
                    space.collective_id, space.platform, removal.accounts_in(space)
                )
            )
            members = {m.id: m for m in await uow.members.many([i.member_id for i in identities])}
            await uow.commit()
        return space, identities, members

    async def _one_due(self, room: int) -> int:
        """One transaction of due work; returns how many items it did (0: nothing was due)."""
        async with self.uow() as uow:
            ctx = self._ctx(uow, None)
            for alert in await uow.alerts.due_escalations(ctx.now, 1):
                await self._in_collective(ctx, alert.collective_id)
                await escalation.escalate(ctx, alert)
                await uow.commit()
                self.on_commit()
                return 1
            for collective in await uow.collectives.due_digests(ctx.now, 1):
                ctx.set_collective(collective)
                await digest.send_weekly(ctx, collective, self.chart)
                await uow.commit()
                self.on_commit()
                return 1
            due = await uow.checkins.due(ctx.now, min(room, CHECKIN_BATCH))
            if due:
                # Claimed together (SKIP LOCKED on PostgreSQL), with every other due
                # check-in of the same people: each person is asked once about all of them.
                # Their alerts, people and identities are read in one query each; all sent
                # or none, in one commit.
                worked = await checkins.send_due(ctx, due)
                if worked:
                    await uow.commit()
                    self.on_commit()
                    return worked
            quiet_since = ctx.now - timedelta(minutes=self.policy.reminder_minutes)
            for response in await uow.responses.due_reminders(quiet_since, 1):
                about = await uow.alerts.get(response.alert_id)
                if about is None:
                    continue
                await self._in_collective(ctx, about.collective_id)
                await upkeep.remind(ctx, response, about)
                await uow.commit()
                self.on_commit()
                return 1
            for old in await uow.alerts.due_purge(ctx.now - upkeep.retention_cutoff(ctx), 1):
                await self._in_collective(ctx, old.collective_id)
                await upkeep.purge(ctx, old)
                await uow.commit()
                return 1
            kept_until = ctx.now - timedelta(days=self.policy.safety_case_days)
            for case in await uow.alerts.forgotten_cases(kept_until, 1):
                await self._in_collective(ctx, case.collective_id)
                await upkeep.purge(ctx, case)
                await uow.commit()
                return 1
            for idle in await uow.alerts.noticed_before(upkeep.idle_close_cutoff(ctx), 1):
                await self._in_collective(ctx, idle.collective_id)
                await upkeep.close_idle(ctx, idle)
                await uow.commit()
                self.on_commit()
                return 1
            for idle in await uow.alerts.idle(upkeep.idle_notice_cutoff(ctx), 1):
                await self._in_collective(ctx, idle.collective_id)
                await upkeep.notice_idle(ctx, idle)
                await uow.commit()
                self.on_commit()
                return 1
            for space in await uow.spaces.due_deletions(ctx.now, 1):
                await self._in_collective(ctx, space.collective_id)
                await removal.delete(ctx, space)
                await uow.commit()
                self.on_commit()
                return 1
            asked_before = ctx.now - timedelta(days=self.policy.join_request_days)
            for request in await uow.members.expired_requests(asked_before, 1):
                await self._in_collective(ctx, request.collective_id)
                await membership.expire_request(ctx, request)
                await uow.commit()
                self.on_commit()
                return 1
        return 0

    @staticmethod
    async def _in_collective(ctx: Ctx, collective_id: str) -> None:
        collective = await ctx.uow.collectives.get(collective_id)
        if collective is None:
            raise LookupError(f"collective {collective_id} is missing")
        ctx.set_collective(collective)


def _nothing() -> None:
    return None
