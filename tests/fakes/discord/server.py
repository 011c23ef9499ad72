"""A fake Discord (REST + gateway) on loopback that the real discord.py talks to.

It answers the way Discord does where the bot can tell: Content-Type exactly
application/json, X-RateLimit-* headers on every bot route, a 50 requests/s global limit and
per-route buckets, 429s with a JSON retry_after and a Via header, 10062 "Unknown interaction"
for an initial response later than 3 s, message nonces that return the first message.
Every request is recorded; tests drive it with the methods under "Test controls".
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.discord.gateway import Gateway
from tests.fakes.discord.limits import Fault, Limits, RateLimiter
from tests.fakes.discord.model import (
    ATTACH_FILES,
    EPHEMERAL,
    LOADING,
    MEMBER_DEFAULT,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    USE_APPLICATION_COMMANDS,
    VIEW_CHANNEL,
    Channel,
    Guild,
    Role,
    Upload,
    User,
    iso_now,
    snowflake,
)

API_PREFIX = "/api/v10"
DEADLINE = 3.0  # seconds Discord waits for an interaction's initial response
TOKEN_LIFETIME = 15 * 60.0  # an interaction token (follow-ups) lives 15 minutes
BOT_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | ATTACH_FILES | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS
)
_MENTION_USER = re.compile(r"<@!?(\d+)>")
_MENTION_ROLE = re.compile(r"<@&(\d+)>")
_EVERYONE = re.compile(r"@(everyone|here)")
_COMMAND_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")

Json = dict[str, Any]
Handler = Callable[[re.Match[str], Any, list["UploadedFile"]], Awaitable[tuple[int, Any]]]


class DiscordError(Exception):
    def __init__(self, status: int, code: int, message: str, errors: Json | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> Json:
        body: Json = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


@dataclass
class UploadedFile:
    field: str
    filename: str
    data: bytes


@dataclass
class Recorded:
    """One request as the fake received it (multipart payload_json is unpacked into body)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    files: list[UploadedFile]
    at: float
    status: int = 0


@dataclass(frozen=True)
class Ping:
    """Who Discord would notify for a message, given its content and allowed_mentions."""

    users: frozenset[str]
    roles: frozenset[str]
    everyone: bool


@dataclass(eq=False)
class Interaction:
    id: str
    token: str
    type: int
    payload: Json
    user: User
    created: float = field(default_factory=time.monotonic)
    delivered_at: float | None = None
    answered_at: float | None = None
    response_type: int | None = None
    response: Json | None = None
    failed: str | None = None  # "late": no initial response within the deadline
    original: Json | None = None
    followups: list[Json] = field(default_factory=list)
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    followed: asyncio.Event = field(default_factory=asyncio.Event)
    grew: asyncio.Event = field(default_factory=asyncio.Event)  # set on every follow-up

    @property
    def latency(self) -> float | None:
        """Seconds from delivery on the gateway to the initial response."""
        if self.delivered_at is None or self.answered_at is None:
            return None
        return self.answered_at - self.delivered_at

    async def wait(self, within: float = 10.0) -> Interaction:
        """Until the initial response arrived or the interaction failed."""
        await asyncio.wait_for(self.settled.wait(), within)
        return self

    async def reply(self, within: float = 10.0) -> Json:
        """The message the person sees: the immediate one, or the first follow-up after a
        deferral ("thinking…")."""
        await self.wait(within)
        if self.failed:
            raise AssertionError(f"interaction {self.id} failed: {self.failed}")
        if self.response_type == 4:
            assert self.original is not None
            return self.original
        if self.response_type == 5:
            await asyncio.wait_for(self.followed.wait(), within)
            return self.followups[0]
        raise AssertionError(f"interaction {self.id} was answered with type {self.response_type}")

    async def followed_by(self, count: int, within: float = 10.0) -> list[Json]:
        """Until at least `count` follow-ups arrived (a reply sent as several messages)."""

        async def wait() -> None:
            while len(self.followups) < count:
                self.grew.clear()
                await self.grew.wait()

        await asyncio.wait_for(wait(), within)
        return self.followups

    async def text(self, within: float = 10.0) -> str:
        """Everything the person was shown, as one string."""
        first = await self.reply(within)
        messages = [first] + [m for m in self.followups if m is not first]
        return "\n".join(str(m.get("content") or "") for m in messages)

    @property
    def modal(self) -> Json:
        assert self.response_type == 9 and self.response is not None, self.response_type
        return self.response


class FakeDiscord:
    def __init__(
        self,
        *,
        heartbeat_interval: float = 0.25,
        deadline: float = DEADLINE,
        limits: Limits | None = None,
        token: str = "fake.discord.bot-token",
    ) -> None:
        self.token = token
        self.deadline = deadline
        self.limiter = RateLimiter(limits or Limits())
        self.application_id = snowflake()
        self.bot_user = User(self.application_id, "rallybot", None, bot=True)
        self.owner = User(snowflake(), "app-owner")
        self.users: dict[str, User] = {}
        self.guilds: dict[str, Guild] = {}
        self.channels: dict[str, Channel] = {}
        self.dm_channels: dict[str, Channel] = {}  # user id → DM channel with the bot
        self.messages: dict[str, Json] = {}
        self.posted: list[Json] = []  # every message created, in order
        self.uploads: dict[str, Upload] = {}  # attachments people gave commands, by id
        self.downloads: list[str] = []  # attachment ids the bot fetched
        self.pings: dict[str, Ping] = {}
        self.edits: dict[str, list[Json]] = {}
        self.nonces: dict[tuple[str, str], str] = {}
        self.interactions: dict[str, Interaction] = {}
        self.by_token: dict[str, Interaction] = {}
        self.commands: dict[str, list[Json]] = {}  # "global" or a guild id → registered
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.rate_limited: list[Recorded] = []
        self.open_sockets: set[web.WebSocketResponse] = set()
        self.gateway = Gateway(self, heartbeat_interval)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"^/users/@me$"), self._me),
            ("GET", re.compile(r"^/(?:oauth2/)?applications/@me$"), self._application),
            ("GET", re.compile(r"^/gateway(?:/bot)?$"), self._gateway_info),
            ("PUT", re.compile(r"^/applications/(\d+)/commands$"), self._put_commands),
            ("GET", re.compile(r"^/applications/(\d+)/commands$"), self._get_commands),
            ("PUT", re.compile(r"^/applications/(\d+)/guilds/(\d+)/commands$"), self._put_commands),
            ("GET", re.compile(r"^/applications/(\d+)/guilds/(\d+)/commands$"), self._get_commands),
            ("POST", re.compile(r"^/interactions/(\d+)/([^/]+)/callback$"), self._callback),
            ("POST", re.compile(r"^/webhooks/(\d+)/([^/]+)$"), self._followup),
            (
                "GET",
                re.compile(r"^/webhooks/(\d+)/([^/]+)/messages/(@original|\d+)$"),
                self._get_webhook_message,
            ),
            (
                "PATCH",
                re.compile(r"^/webhooks/(\d+)/([^/]+)/messages/(@original|\d+)$"),
                self._edit_webhook_message,
            ),
            ("POST", re.compile(r"^/channels/(\d+)/messages$"), self._create_message),
            ("GET", re.compile(r"^/channels/(\d+)/messages/(\d+)$"), self._get_message),
            ("PATCH", re.compile(r"^/channels/(\d+)/messages/(\d+)$"), self._edit_message),
            ("GET", re.compile(r"^/channels/(\d+)$"), self._get_channel),
            ("GET", re.compile(r"^/guilds/(\d+)$"), self._get_guild),
            ("GET", re.compile(r"^/guilds/(\d+)/members/(\d+)$"), self._get_member),
            ("POST", re.compile(r"^/users/@me/channels$"), self._open_dm),
        ]

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/attachments/{channel}/{id}/{filename}", self._attachment)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def _attachment(self, request: web.Request) -> web.Response:
        """The CDN: an attachment's bytes, as discord.py's Attachment.read() fetches them."""
        upload = self.uploads.get(request.match_info["id"])
        if upload is None or upload.filename != request.match_info["filename"]:
            return web.Response(status=404)
        self.downloads.append(request.match_info["id"])
        return web.Response(body=upload.data, content_type=upload.content_type)

    async def stop(self) -> None:
        for ws in list(self.open_sockets):
            await ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # --- the world ------------------------------------------------------------------------

    def add_user(self, username: str, display: str | None = None) -> User:
        user = User(snowflake(), username, display)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, owner: User) -> Guild:
        gid = snowflake()
        guild = Guild(gid, name, owner.id)
        guild.roles[gid] = Role(gid, "@everyone", MEMBER_DEFAULT, position=0)
        guild.add_member(owner)
        self.guilds[gid] = guild
        return guild

    def add_channel(self, guild: Guild, name: str) -> Channel:
        channel = guild.add_channel(name)
        self.channels[channel.id] = channel
        return channel

    async def remove_bot(self, guild: Guild) -> None:
        """The bot is kicked from a server: GUILD_DELETE, and the server refuses it since."""
        guild.bot_present = False
        await self.gateway.dispatch("GUILD_DELETE", {"id": guild.id})

    async def add_bot(self, guild: Guild) -> None:
        """The bot is added back: GUILD_CREATE."""
        guild.bot_present = True
        await self.gateway.dispatch("GUILD_CREATE", guild.payload(self.bot_user))

    def dm_channel(self, user: User) -> Channel:
        channel = self.dm_channels.get(user.id)
        if channel is None:
            channel = Channel(snowflake(), "", recipient=user)
            self.dm_channels[user.id] = channel
            self.channels[channel.id] = channel
        return channel

    def inject(self, method: str, path: str, **options: Any) -> Fault:
        """Script the next answers for requests matching method and path (a regex)."""
        fault = Fault(method, path, **options)
        self.faults.append(fault)
        return fault

    # --- test controls: what people do in Discord ------------------------------------------

    async def command(
        self,
        user: User,
        sub: str,
        options: dict[str, Any] | None = None,
        *,
        channel: Channel,
        name: str = "rally",
    ) -> Interaction:
        """A person runs /name sub option:value… in a channel (or in the bot's DM)."""
        data = self._command_data(name, sub, options or {}, channel)
        return await self._interact(2, user, channel, data)

    async def autocomplete(
        self,
        user: User,
        sub: str,
        options: dict[str, Any],
        focused: str,
        *,
        channel: Channel,
        name: str = "rally",
    ) -> Interaction:
        """Discord asks for suggestions while the person types option `focused`."""
        data = self._command_data(name, sub, options, channel)
        for option in data["options"][0]["options"]:
            if option["name"] == focused:
                option["focused"] = True
        return await self._interact(4, user, channel, data)

    async def click(self, user: User, message: Json, custom_id: str) -> Interaction:
        """A person presses a button of a message they can see."""
        ids = [
            c.get("custom_id")
            for row in message.get("components") or []
            for c in row.get("components", [])
        ]
        if custom_id not in ids:
            raise AssertionError(f"no button {custom_id!r} on that message (has {ids})")
        visible_to = message.get("_visible_to")
        if visible_to is not None and visible_to != user.id:
            raise AssertionError("that ephemeral message belongs to someone else")
        channel = self.channels[message["channel_id"]]
        public = {k: v for k, v in message.items() if not k.startswith("_")}
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interact(3, user, channel, data, message=public)

    async def submit(self, user: User, opened: Interaction, values: dict[str, Any]) -> Interaction:
        """A person fills in the modal that `opened` answered with, and submits it."""
        modal = opened.modal
        components = []
        for top in modal["components"]:
            inner = top["component"] if top["type"] == 18 else top["components"][0]
            submitted: Json = {"type": inner["type"], "custom_id": inner["custom_id"]}
            if "id" in inner:
                submitted["id"] = inner["id"]
            value = values.get(inner["custom_id"])
            if inner["type"] == 4:
                submitted["value"] = "" if value is None else str(value)
            else:
                submitted["values"] = (
                    [] if value is None else ([value] if isinstance(value, str) else list(value))
                )
            if top["type"] == 18:
                components.append({"type": 18, "id": top.get("id", 0), "component": submitted})
            else:
                components.append({"type": 1, "components": [submitted]})
        channel = self.channels[opened.payload["channel_id"]]
        data = {"custom_id": modal["custom_id"], "components": components}
        return await self._interact(5, user, channel, data)

    def channel_messages(self, channel: Channel) -> list[Json]:
        return [m for m in self.posted if m["channel_id"] == channel.id and "_visible_to" not in m]

    def dms(self, user: User) -> list[Json]:
        channel = self.dm_channels.get(user.id)
        return [] if channel is None else [m for m in self.posted if m["channel_id"] == channel.id]

    def current(self, message: Json) -> Json:
        """The latest state of a message (edits included)."""
        return self.messages[message["id"]]

    def failed_interactions(self) -> list[Interaction]:
        return [i for i in self.interactions.values() if i.failed]

    def bodies(self) -> list[tuple[Recorded, Json]]:
        """Every JSON body the bot sent that creates or edits a visible message."""
        out = []
        for r in self.requests:
            body = r.body
            if (
                isinstance(body, dict)
                and body.get("type") in (4, 7)
                and isinstance(body.get("data"), dict)
            ):
                body = body["data"]  # an interaction callback carrying a message
            if isinstance(body, dict) and ("content" in body or "components" in body):
                out.append((r, body))
        return out

    # --- interactions ---------------------------------------------------------------------

    def _command_data(self, name: str, sub: str, options: dict[str, Any], channel: Channel) -> Json:
        resolved: dict[str, dict[str, Any]] = {}
        guild = self.guilds.get(channel.guild_id or "")
        opts = []
        for key, value in options.items():
            if value is None:
                continue
            if isinstance(value, bool):
                opts.append({"name": key, "type": 5, "value": value})
            elif isinstance(value, int):
                opts.append({"name": key, "type": 4, "value": value})
            elif isinstance(value, User):
                opts.append({"name": key, "type": 6, "value": value.id})
                resolved.setdefault("users", {})[value.id] = value.payload()
                if guild is not None and value.id in guild.members:
                    member = guild.members[value.id].payload(
                        guild.permissions(value.id), with_user=False
                    )
                    resolved.setdefault("members", {})[value.id] = member
            elif isinstance(value, Upload):
                aid = snowflake()
                self.uploads[aid] = value
                opts.append({"name": key, "type": 11, "value": aid})
                url = f"{self.base_url}/attachments/{channel.id}/{aid}/{value.filename}"
                resolved.setdefault("attachments", {})[aid] = {
                    "id": aid,
                    "filename": value.filename,
                    "size": len(value.data),
                    "url": url,
                    "proxy_url": url,
                    "content_type": value.content_type,
                }
            elif isinstance(value, Role):
                opts.append({"name": key, "type": 8, "value": value.id})
                resolved.setdefault("roles", {})[value.id] = value.payload()
            else:
                opts.append({"name": key, "type": 3, "value": str(value)})
        registered = self.commands.get(guild.id if guild else "", []) + self.commands.get(
            "global", []
        )
        command_id = next((c["id"] for c in registered if c["name"] == name), snowflake())
        data: Json = {
            "id": command_id,
            "name": name,
            "type": 1,
            "options": [{"name": sub, "type": 1, "options": opts}],
        }
        if resolved:
            data["resolved"] = resolved
        return data

    async def _interact(
        self, kind: int, user: User, channel: Channel, data: Json, message: Json | None = None
    ) -> Interaction:
        iid, token = snowflake(), "aW50ZXJhY3Rpb24." + uuid.uuid4().hex
        payload: Json = {
            "id": iid,
            "application_id": self.application_id,
            "type": kind,
            "token": token,
            "version": 1,
            "data": data,
            "channel_id": channel.id,
            "channel": channel.payload(),
            "locale": "en-US",
            "app_permissions": str(BOT_PERMISSIONS),
            "entitlements": [],
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        guild = self.guilds.get(channel.guild_id or "")
        if guild is not None:
            member = guild.members.get(user.id)
            if member is None:
                raise AssertionError(f"{user.username} is not on the server {guild.name}")
            payload.update(
                guild_id=guild.id,
                guild={"id": guild.id, "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=member.payload(guild.permissions(user.id)),
                context=0,
                authorizing_integration_owners={"0": guild.id},
            )
        else:
            payload.update(
                user=user.payload(), context=1, authorizing_integration_owners={"1": user.id}
            )
        if message is not None:
            payload["message"] = message
        interaction = Interaction(iid, token, kind, payload, user)
        self.interactions[iid] = interaction
        self.by_token[token] = interaction
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return interaction

    def delivered(self, event: Json) -> None:
        """Called by the gateway when an event is written to the bot's socket."""
        if event.get("t") == "INTERACTION_CREATE":
            interaction = self.interactions.get(event["d"]["id"])
            if interaction is not None and interaction.delivered_at is None:
                interaction.delivered_at = time.monotonic()

    # --- REST: the common path ------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        method = request.method
        body, files = await self._read(request)
        record = Recorded(method, path, dict(request.query), body, files, time.monotonic())
        self.requests.append(record)
        try:
            return await self._answer(request, record)
        except DiscordError as error:
            record.status = error.status
            return _json(error.status, error.body())

    async def _answer(self, request: web.Request, record: Recorded) -> web.Response:
        method, path = record.method, record.path
        handler, match = self._route(method, path)
        interaction_route = path.startswith("/interactions/") or path.startswith(
            f"/webhooks/{self.application_id}/"
        )
        if not interaction_route and request.headers.get("Authorization") != f"Bot {self.token}":
            raise DiscordError(401, 0, "401: Unauthorized")
        fault = next((f for f in self.faults if f.matches(method, path)), None)
        if fault is not None:
            fault.used += 1
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status and not fault.after:
                return self._fault_answer(fault, record, method, path)
        headers: dict[str, str] = {}
        if not interaction_route:
            now = time.monotonic()
            wait = self.limiter.take_global(now)
            if wait:
                return self._rate_limited(record, wait, is_global=True)
            bucket = self.limiter.bucket(method, path)
            if not bucket.take(now):
                return self._rate_limited(
                    record, bucket.resets_at - now, headers=bucket.headers(now)
                )
            headers = bucket.headers(now)
        status, payload = await handler(match, record.body, record.files)
        if fault is not None and fault.status and fault.after:
            return self._fault_answer(fault, record, method, path)
        record.status = status
        return _json(status, payload, headers)

    def _route(self, method: str, path: str) -> tuple[Handler, re.Match[str]]:
        for m, pattern, handler in self._routes:
            match = pattern.match(path)
            if match and m == method:
                return handler, match
        raise DiscordError(404, 0, "404: Not Found")

    def _fault_answer(self, fault: Fault, record: Recorded, method: str, path: str) -> web.Response:
        if fault.status == 429:
            now = time.monotonic()
            bucket = self.limiter.bucket(method, path)
            headers = {} if fault.is_global else bucket.headers(now)
            headers["X-RateLimit-Remaining"] = "0"
            return self._rate_limited(
                record, fault.retry_after, is_global=fault.is_global, headers=headers
            )
        record.status = fault.status
        return _json(fault.status, {"message": f"{fault.status}: Server Error", "code": 0})

    def _rate_limited(
        self,
        record: Recorded,
        retry_after: float,
        *,
        is_global: bool = False,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        record.status = 429
        self.rate_limited.append(record)
        out = dict(headers or {})
        out.update(
            {
                "Retry-After": str(max(1, math.ceil(retry_after))),
                "X-RateLimit-Scope": "global" if is_global else "user",
                "Via": "1.1 google",
            }
        )
        if is_global:
            out["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
        }
        if is_global:
            body["code"] = 0
        return _json(429, body, out)

    async def _read(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        if not request.can_read_body:
            return None, []
        if request.content_type.startswith("multipart/"):
            body: Any = None
            files: list[UploadedFile] = []
            reader = await request.multipart()
            async for part in reader:
                if not hasattr(part, "read"):
                    continue
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":
                    body = json.loads(data)
                else:
                    files.append(UploadedFile(part.name or "", part.filename or "", bytes(data)))
            return body, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), []

    # --- REST: handlers -------------------------------------------------------------------

    async def _me(self, m: re.Match[str], body: Any, files: list[UploadedFile]) -> tuple[int, Any]:
        return 200, {**self.bot_user.payload(), "verified": True, "mfa_enabled": False, "flags": 0}

    async def _application(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        return 200, {
            "id": self.application_id,
            "name": "rallybot",
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self.owner.payload(),
            "team": None,
            "flags": 0,
            "rpc_origins": [],
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
            "bot": self.bot_user.payload(),
        }

    async def _gateway_info(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    async def _put_commands(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        if m.group(1) != self.application_id:
            raise DiscordError(403, 50001, "Missing Access")
        scope = m.group(2) if (m.lastindex or 0) >= 2 else "global"
        errors = validate_commands(body)
        if errors:
            raise DiscordError(400, 50035, "Invalid Form Body", errors)
        registered = []
        for command in body:
            registered.append(
                {
                    **command,
                    "id": snowflake(),
                    "application_id": self.application_id,
                    "version": snowflake(),
                    "type": command.get("type", 1),
                    **({"guild_id": scope} if scope != "global" else {}),
                }
            )
        self.commands[scope] = registered
        return 200, registered

    async def _get_commands(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        scope = m.group(2) if (m.lastindex or 0) >= 2 else "global"
        return 200, self.commands.get(scope, [])

    async def _callback(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        interaction = self.interactions.get(m.group(1))
        if interaction is None or interaction.token != m.group(2):
            raise DiscordError(404, 10062, "Unknown interaction")
        if interaction.answered_at is not None:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        now = time.monotonic()
        if interaction.delivered_at is None or now - interaction.delivered_at > self.deadline:
            # As Discord does: the person already saw "The application did not respond".
            interaction.failed = "late"
            interaction.settled.set()
            raise DiscordError(404, 10062, "Unknown interaction")
        kind, data = int(body["type"]), body.get("data") or {}
        interaction.answered_at, interaction.response_type, interaction.response = now, kind, data
        resource: Json = {"type": kind}
        channel = self.channels.get(interaction.payload["channel_id"])
        if kind in (4, 5):
            flags = int(data.get("flags") or 0)
            if kind == 5:
                data = {"content": "", "flags": (flags & EPHEMERAL) | LOADING}
            message = self._make_message(channel, data, files, interaction=interaction)
            interaction.original = message
            resource["message"] = _public(message)
        elif kind == 7:
            target = interaction.payload.get("message")
            if target is not None:
                self._apply_edit(self.messages[target["id"]], data)
        interaction.settled.set()
        return 200, {
            "interaction": {
                "id": interaction.id,
                "type": interaction.type,
                "response_message_id": interaction.original["id"] if interaction.original else None,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(int(data.get("flags") or 0) & EPHEMERAL),
            },
            "resource": resource,
        }

    def _token(self, m: re.Match[str]) -> Interaction:
        interaction = self.by_token.get(m.group(2))
        if m.group(1) != self.application_id or interaction is None:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if time.monotonic() - interaction.created > TOKEN_LIFETIME:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        if interaction.answered_at is None:
            raise DiscordError(404, 10015, "Unknown Webhook")
        return interaction

    async def _followup(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        interaction = self._token(m)
        data = body or {}
        original = interaction.original
        if (
            interaction.response_type == 5
            and original is not None
            and original["flags"] & LOADING
            and not interaction.followups
        ):
            # The first follow-up after a deferral replaces the "thinking…" message: it stays
            # as ephemeral as the deferral said, and takes the follow-up's SUPPRESS_EMBEDS.
            self._apply_edit(original, {**data, "flags": int(data.get("flags") or 0) & 4})
            message = original
        else:
            message = self._make_message(
                self.channels.get(interaction.payload["channel_id"]),
                data,
                files,
                interaction=interaction,
            )
        interaction.followups.append(message)
        interaction.followed.set()
        interaction.grew.set()
        return 200, _public(message)

    async def _get_webhook_message(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        return 200, _public(self._webhook_message(m))

    async def _edit_webhook_message(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        message = self._webhook_message(m)
        self._apply_edit(message, body or {})
        return 200, _public(message)

    def _webhook_message(self, m: re.Match[str]) -> Json:
        interaction = self._token(m)
        if m.group(3) == "@original":
            if interaction.original is None:
                raise DiscordError(404, 10008, "Unknown Message")
            return interaction.original
        message = self.messages.get(m.group(3))
        if message is None or message.get("_interaction") != interaction.id:
            raise DiscordError(404, 10008, "Unknown Message")
        return message

    async def _create_message(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        channel = self.channels.get(m.group(1))
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        if channel.guild_id is not None:
            self._guild_for_bot(channel.guild_id)
        data = body or {}
        nonce = data.get("nonce")
        if nonce is not None and data.get("enforce_nonce"):
            earlier = self.nonces.get((channel.id, str(nonce)))
            if earlier is not None:
                return 200, _public(self.messages[earlier])
        message = self._make_message(channel, data, files)
        if nonce is not None:
            self.nonces[(channel.id, str(nonce))] = message["id"]
        return 200, _public(message)

    async def _get_message(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        message = self.messages.get(m.group(2))
        if message is None or message["channel_id"] != m.group(1):
            raise DiscordError(404, 10008, "Unknown Message")
        return 200, _public(message)

    async def _edit_message(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        message = self.messages.get(m.group(2))
        if message is None or message["channel_id"] != m.group(1):
            raise DiscordError(404, 10008, "Unknown Message")
        if message["author"]["id"] != self.bot_user.id:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(message, body or {})
        return 200, _public(message)

    async def _get_channel(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        channel = self.channels.get(m.group(1))
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        if channel.guild_id is not None:
            self._guild_for_bot(channel.guild_id)
        return 200, channel.payload()

    def _guild_for_bot(self, guild_id: str) -> Guild:
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        if not guild.bot_present:
            raise DiscordError(403, 50001, "Missing Access")
        return guild

    async def _get_guild(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        guild = self._guild_for_bot(m.group(1))
        return 200, guild.rest_payload(with_counts=True)  # as with ?with_counts=true

    async def _get_member(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        guild = self._guild_for_bot(m.group(1))
        member = guild.members.get(m.group(2))
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return 200, member.payload()

    async def _open_dm(
        self, m: re.Match[str], body: Any, files: list[UploadedFile]
    ) -> tuple[int, Any]:
        user = self.users.get(str((body or {}).get("recipient_id")))
        if user is None:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {"recipient_id": {"_errors": [{"code": "UNKNOWN_USER"}]}},
            )
        return 200, self.dm_channel(user).payload()

    # --- messages -------------------------------------------------------------------------

    def _make_message(
        self,
        channel: Channel | None,
        data: Json,
        files: list[UploadedFile],
        interaction: Interaction | None = None,
    ) -> Json:
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        content = data.get("content") or ""
        _check_content(content, data, files, allow_empty=interaction is not None)
        flags = int(data.get("flags") or 0)
        message: Json = {
            "id": snowflake(),
            "channel_id": channel.id,
            "author": self.bot_user.payload(),
            "content": content,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(data.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [
                {
                    "id": snowflake(),
                    "filename": f.filename,
                    "size": len(f.data),
                    "url": f"{self.base_url}/attachments/{f.filename}",
                    "proxy_url": f"{self.base_url}/attachments/{f.filename}",
                    "content_type": "text/plain",
                }
                for f in files
            ],
            "embeds": [],
            "pinned": False,
            "type": 0 if interaction is None else 20,
            "flags": flags,
            "components": data.get("components") or [],
            "_files": {f.filename: f.data for f in files},
        }
        if channel.guild_id:
            message["guild_id"] = channel.guild_id
        if data.get("nonce") is not None:
            message["nonce"] = data["nonce"]
        if interaction is not None:
            message["_interaction"] = interaction.id
            message["webhook_id"] = self.application_id
            message["application_id"] = self.application_id
            if flags & EPHEMERAL:
                message["_visible_to"] = interaction.user.id
        self._set_pings(message, data.get("allowed_mentions"))
        self.messages[message["id"]] = message
        self.posted.append(message)
        return message

    def _apply_edit(self, message: Json, data: Json) -> None:
        self.edits.setdefault(message["id"], []).append(data)
        if "content" in data:
            content = data["content"] or ""
            _check_content(content, data, [], allow_empty=True)
            message["content"] = content
        if "components" in data:
            message["components"] = data["components"] or []
        if "flags" in data and data["flags"] is not None:
            # Only SUPPRESS_EMBEDS can be changed on an existing message (and LOADING cleared).
            keep = message["flags"] & ~(4 | LOADING)
            message["flags"] = keep | (int(data["flags"]) & (4 | (message["flags"] & LOADING)))
            if not int(data["flags"]) & LOADING:
                message["flags"] &= ~LOADING
        message["edited_timestamp"] = iso_now()
        self._set_pings(message, data.get("allowed_mentions", message.get("_allowed")))

    def _set_pings(self, message: Json, allowed: Json | None) -> None:
        """Whom Discord would notify: mentions in the content, filtered by allowed_mentions
        (absent allowed_mentions means "parse everything", Discord's default)."""
        content = message["content"]
        message["_allowed"] = allowed
        users = set(_MENTION_USER.findall(content))
        roles = set(_MENTION_ROLE.findall(content))
        everyone = bool(_EVERYONE.search(content))
        if allowed is not None:
            parse = set(allowed.get("parse") or [])
            users = (
                users if "users" in parse else users & {str(u) for u in allowed.get("users") or []}
            )
            roles = (
                roles if "roles" in parse else roles & {str(r) for r in allowed.get("roles") or []}
            )
            everyone = everyone and "everyone" in parse
        self.pings[message["id"]] = Ping(frozenset(users), frozenset(roles), everyone)
        message["mention_everyone"] = everyone
        message["mentions"] = [self.users[u].payload() for u in sorted(users) if u in self.users]
        message["mention_roles"] = sorted(roles)


def _check_content(content: str, data: Json, files: list[UploadedFile], allow_empty: bool) -> None:
    if len(content) > 2000:
        raise DiscordError(
            400,
            50035,
            "Invalid Form Body",
            {
                "content": {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_MAX_LENGTH",
                            "message": "Must be 2000 or fewer in length.",
                        }
                    ]
                }
            },
        )
    allowed = data.get("allowed_mentions")
    if isinstance(allowed, dict):
        parse = allowed.get("parse") or []
        if ("users" in parse and allowed.get("users")) or (
            "roles" in parse and allowed.get("roles")
        ):
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {"allowed_mentions": {"_errors": [{"code": "MUTUALLY_EXCLUSIVE"}]}},
            )
        if len(allowed.get("users") or []) > 100:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {"allowed_mentions": {"_errors": [{"code": "TOO_MANY"}]}},
            )
    if not allow_empty and not content and not data.get("components") and not files:
        raise DiscordError(400, 50006, "Cannot send an empty message")


def _public(message: Json) -> Json:
    return {k: v for k, v in message.items() if not k.startswith("_")}


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json": discord.py compares the whole header, charset and all.
    out = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=json.dumps(payload).encode(), headers=out)


def validate_commands(body: Any) -> Json:
    """The checks Discord makes on a bulk overwrite (names, lengths, counts, ordering)."""
    if not isinstance(body, list) or len(body) > 100:
        return {"_errors": "a list of at most 100 commands"}
    errors: Json = {}
    for index, command in enumerate(body):
        _check_command(command, str(index), 0, errors)
    return errors


def _check_command(node: Json, where: str, depth: int, errors: Json) -> None:
    name, description = node.get("name", ""), node.get("description", "")
    if not _COMMAND_NAME.match(name):
        errors[f"{where}.name"] = name
    if not 1 <= len(description) <= 100:
        errors[f"{where}.description"] = description
    options = node.get("options") or []
    if len(options) > 25:
        errors[f"{where}.options"] = "more than 25"
    seen_optional = False
    for i, option in enumerate(options):
        here = f"{where}.options.{i}"
        if option.get("type") in (1, 2):
            if depth >= 2:
                errors[here] = "nested too deep"
            _check_command(option, here, depth + 1, errors)
            continue
        _check_command(option, here, depth + 1, errors)
        if option.get("required"):
            if seen_optional:
                errors[f"{here}.required"] = "required after optional"
        else:
            seen_optional = True
        _check_choices(option, here, errors)


def _check_choices(option: Json, where: str, errors: Json) -> None:
    choices = option.get("choices") or []
    if len(choices) > 25:
        errors[f"{where}.choices"] = "more than 25"
    for j, choice in enumerate(choices):
        if not 1 <= len(str(choice.get("name", ""))) <= 100:
            errors[f"{where}.choices.{j}"] = choice
    if choices and option.get("autocomplete"):
        errors[f"{where}.autocomplete"] = "choices and autocomplete"
