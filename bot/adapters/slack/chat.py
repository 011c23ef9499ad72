"""Slack's Chat port: outbox rows become chat.postMessage / chat.update calls, files by upload."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.auth import NotInstalled, Workspaces
from bot.adapters.slack.render import render
from bot.core.messages import Message
from bot.core.model import OutboxItem
from bot.core.ports import ChannelUnreadable, Limit, RateLimited, Readers, Undeliverable

T = TypeVar("T")

# Slack's published limits: chat.postMessage about 1 per second per channel with a short
# burst; chat.update is Tier 3: 50+ per minute per workspace, "sporadic bursts are welcome"
# (a minute's worth, as Slack's own buckets hold).
POST_PER_SECOND, POST_BURST = 1.0, 3
TIER3_PER_SECOND, TIER3_BURST = 50 / 60, 50
# Errors that no retry can fix: the row is parked at once (and the leads told).
PERMANENT = frozenset(
    {
        "account_inactive",
        "cannot_dm_bot",
        "channel_not_found",
        "invalid_auth",
        "invalid_blocks",
        "is_archived",
        "msg_too_long",
        "no_text",
        "not_authed",
        "not_in_channel",
        "restricted_action",
        "token_revoked",
        "too_many_attachments",
        "user_disabled",
        "user_not_found",
    }
)


def make_ref(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def split_ref(ref: str) -> tuple[str, str]:
    channel, _, ts = ref.partition(":")
    return channel, ts


async def _call(send: Callable[[], Awaitable[T]]) -> T:
    """One Web API call, its failure translated into what the dispatcher understands."""
    try:
        return await send()
    except SlackApiError as error:
        response: Any = error.response
        if response.status_code == 429:
            retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
            raise RateLimited(float(retry_after or 1)) from None
        code = str(response.get("error") or "")
        if code in PERMANENT:
            raise Undeliverable(code) from None
        raise
    except NotInstalled as error:
        raise Undeliverable(str(error)) from None


class SlackChat:
    """Posts to a channel, or to a member's DM, per workspace.

    The outbox's client lets 429s through: the dispatcher paces sends by `limits` and honours
    Retry-After itself. Connection errors and 500/503 are retried by the SDK.
    """

    platform = "slack"

    def __init__(self, workspaces: Workspaces) -> None:
        self.workspaces = workspaces

    def limits(self, item: OutboxItem) -> Sequence[Limit]:
        team = item.workspace
        if item.op == "update":  # and a tally is edited at most once a second
            return [
                Limit(f"slack:{team}:chat.update", TIER3_PER_SECOND, TIER3_BURST),
                Limit(f"slack:{team}:edit:{item.address}:{item.key}", 1.0, 1),
            ]
        # A DM's address is the member's user id: one DM channel each, so one bucket each.
        return [Limit(f"slack:{team}:post:{item.address}", POST_PER_SECOND, POST_BURST)]

    async def _client(self, item: OutboxItem) -> AsyncWebClient:
        token = await _call(lambda: self.workspaces.token(item.workspace))
        return self.workspaces.client(token, rate_limits=False)

    async def post(self, item: OutboxItem, message: Message) -> str:
        client = await self._client(item)
        rendered = render(message)
        # Never unfurl: attack links must not be previewed into the group (nor anything else).
        # A DM goes to the user id: Slack posts it in the app's DM with them (opening it if
        # need be), so no conversations.open (Tier 3) is spent per member; the answer names
        # the DM channel, which the message's reference keeps for later edits.
        sent = await _call(
            lambda: client.chat_postMessage(
                channel=item.address,
                text=rendered.text,
                blocks=rendered.block_dicts(),
                unfurl_links=False,
                unfurl_media=False,
            )
        )
        posted_in = str(sent["channel"])
        if message.attachments:
            # files_upload_v2: files.getUploadURLExternal, the upload, files.completeUploadExternal.
            await _call(
                lambda: client.files_upload_v2(
                    channel=posted_in,
                    file_uploads=[
                        # Text goes as content; bytes (the digest's PNG chart) as a file.
                        {"content": a.content, "filename": a.filename, "title": a.filename}
                        if a.data is None
                        else {"file": a.data, "filename": a.filename, "title": a.filename}
                        for a in message.attachments
                    ],
                )
            )
        return make_ref(posted_in, str(sent["ts"]))

    async def readers(self, workspace: str, channel: str, known: Sequence[str]) -> Readers:
        """The channel's members (conversations.members, every page), rallybot left out;
        everyone in the workspace when it is public (anyone there may open it)."""
        found = await self.workspaces.authorization(workspace)
        if found is None or not found.bot_token:
            raise ChannelUnreadable("no_access")
        client = self.workspaces.client(str(found.bot_token))
        try:
            info = await client.conversations_info(channel=channel)
            members: set[str] = set()
            cursor: str | None = None
            while True:
                page = await client.conversations_members(channel=channel, limit=200, cursor=cursor)
                members.update(str(m) for m in page.get("members") or [])
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if cursor is None:
                    break
        except SlackApiError as error:
            code = str(error.response.get("error") or "")
            if code == "missing_scope":
                raise ChannelUnreadable("missing_scope") from None
            if code in ("channel_not_found", "not_in_channel", "is_archived"):
                raise ChannelUnreadable("not_found") from None
            raise
        members.discard(str(found.bot_user_id))
        public = not (info.get("channel") or {}).get("is_private", False)
        return Readers(frozenset(members), everyone=public)

    async def update(self, item: OutboxItem, ref: str, message: Message) -> None:
        client = await self._client(item)
        channel, ts = split_ref(ref)
        rendered = render(message)
        await _call(
            lambda: client.chat_update(
                channel=channel, ts=ts, text=rendered.text, blocks=rendered.block_dicts()
            )
        )
