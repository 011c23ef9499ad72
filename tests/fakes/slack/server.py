"""A fake Slack on loopback: the Web API methods rallybot uses, Socket Mode, response URLs.

It checks tokens, records every call, enforces the published rate limits (HTTP 429 with
Retry-After) and can inject faults: forced 429s, 500/503s, slow answers, dropped connections.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.slack.limits import Limits, RateLimiter

TRIGGER_SECONDS = 3.0  # a trigger_id is valid this long
SCOPE_ORDER = [
    "commands",
    "chat:write",
    "im:write",
    "users:read",
    "files:write",
    "channels:read",
    "groups:read",
]


@dataclass
class User:
    id: str
    name: str
    display_name: str = ""
    is_admin: bool = False
    is_owner: bool = False
    is_bot: bool = False

    def to_api(self, team_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.display_name or self.name,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": self.is_owner,
            "is_bot": self.is_bot,
            "profile": {"display_name": self.display_name, "real_name": self.display_name},
        }


@dataclass
class Workspace:
    team_id: str
    name: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    users: dict[str, User] = field(default_factory=dict)
    channels: set[str] = field(default_factory=set)
    # Who is in each channel (conversations.members), which channels are private, and the
    # bot scopes the app was granted (conversations.* need channels:read / groups:read).
    members: dict[str, list[str]] = field(default_factory=dict)
    private: set[str] = field(default_factory=set)
    scopes: set[str] = field(default_factory=lambda: set(SCOPE_ORDER))


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    team_id: str | None
    status: int = 200
    error: str | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


@dataclass
class Posted:
    team_id: str
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    args: dict[str, Any]
    edits: int = 0


@dataclass
class Fault:
    kind: str  # "status", "slow", "drop"; "hang" (response_url posts: until the sender dies)
    status: int = 429
    retry_after: int = 1
    seconds: float = 0.0


class _SlackError(Exception):
    def __init__(self, error: str, status: int = 200) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class FakeSlack:
    def __init__(
        self,
        app_token: str = "xapp-1-A0RALLY-fake",
        client_id: str = "1111.2222",
        client_secret: str = "fake-client-secret",
        limits: Limits | None = None,
    ) -> None:
        self.app_token = app_token
        self.client_id = client_id
        self.client_secret = client_secret
        self.limiter = RateLimiter(limits or Limits())
        self.workspaces: dict[str, Workspace] = {}
        self.calls: list[Call] = []
        self.messages: list[Posted] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.hanging = 0  # response_url posts held by a "hang" fault
        self.on_response: Callable[[str], object] | None = None  # told of each answer (benches)
        self.homes: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.views: list[dict[str, Any]] = []
        self.uploads: dict[str, bytes] = {}
        self.shared_files: list[dict[str, Any]] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.socket_connections = 0
        self._faults: dict[str, deque[Fault]] = {}
        self._codes: dict[str, tuple[str, str]] = {}
        self._triggers: dict[str, float] = {}
        self._seq = itertools.count(1)
        self._ws: web.WebSocketResponse | None = None
        self._ws_ready = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        site_app = web.Application()
        site_app.router.add_route("*", "/api/{method}", self._api)
        site_app.router.add_post("/upload/{file_id}", self._upload)
        site_app.router.add_post("/response/{rid}", self._response)
        site_app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(site_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    # --- the world ----------------------------------------------------------------------

    def add_workspace(
        self, team_id: str, name: str, users: list[User], channels: set[str]
    ) -> Workspace:
        suffix = team_id.lower()
        ws = Workspace(
            team_id=team_id,
            name=name,
            bot_token=f"xoxb-{suffix}-fake-bot-token",
            bot_user_id=f"UBOT{team_id[1:]}",
            bot_id=f"B{team_id[1:]}",
            users={u.id: u for u in users},
            channels=set(channels),
        )
        self.workspaces[team_id] = ws
        return ws

    def oauth_code(self, team_id: str, installer: str) -> str:
        code = f"code-{next(self._seq)}"
        self._codes[code] = (team_id, installer)
        return code

    def new_trigger_id(self) -> str:
        trigger = f"{next(self._seq)}.trigger"
        self._triggers[trigger] = time.monotonic()
        return trigger

    def new_response_url(self) -> tuple[str, str]:
        rid = f"r{next(self._seq)}"
        self.responses[rid] = []
        return rid, f"{self.url}/response/{rid}"

    def inject(self, method: str, *faults: Fault) -> None:
        self._faults.setdefault(method, deque()).extend(faults)

    def fail(self, method: str, status: int = 429, count: int = 1, retry_after: int = 1) -> None:
        self.inject(method, *[Fault("status", status, retry_after)] * count)

    # --- looking at what happened --------------------------------------------------------

    def ok_calls(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.ok]

    def in_channel(self, channel: str, team_id: str | None = None) -> list[Posted]:
        return [
            m
            for m in self.messages
            if m.channel == channel and (team_id is None or m.team_id == team_id)
        ]

    def dms_to(self, user: str) -> list[Posted]:
        return self.in_channel(f"D{user}")

    async def wait_for(self, check: Callable[[], Any], seconds: float = 5.0) -> Any:
        deadline = time.monotonic() + seconds
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError("the fake Slack did not see what the test waited for")
            await asyncio.sleep(0.005)

    async def response(
        self, rid: str, count: int = 1, seconds: float = 5.0
    ) -> list[dict[str, Any]]:
        """The posts to one response_url, once there are at least `count`."""
        await self.wait_for(lambda: len(self.responses[rid]) >= count, seconds)
        return self.responses[rid]

    # --- Socket Mode --------------------------------------------------------------------

    async def send_envelope(
        self, kind: str, payload: dict[str, Any], retry_attempt: int = 0, reason: str = ""
    ) -> str:
        await asyncio.wait_for(self._ws_ready.wait(), timeout=5)
        assert self._ws is not None
        envelope_id = f"env-{next(self._seq)}"
        await self._ws.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": reason,
            }
        )
        return envelope_id

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._ws = ws
        self.socket_connections += 1
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake-slack"},
                "connection_info": {"app_id": "A0RALLY"},
            }
        )
        self._ws_ready.set()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                data = json.loads(message.data)
                if "envelope_id" in data:
                    self.acks[data["envelope_id"]] = data
        self._ws_ready.clear()
        return ws

    # --- HTTP endpoints ----------------------------------------------------------------

    async def _response(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        if rid not in self.responses:
            return web.Response(status=404, text="no_response_url")
        body = await request.json()
        faults = self._faults.get("response")
        if faults and faults[0].kind == "hang":
            # An answer that never reaches Slack: held until the sender goes away (killed).
            fault = faults.popleft()
            self.hanging += 1
            deadline = time.monotonic() + fault.seconds
            while time.monotonic() < deadline:
                if request.transport is None or request.transport.is_closing():
                    return web.Response(status=499)
                await asyncio.sleep(0.05)
        if len(self.responses[rid]) >= 5:  # 5 posts per response_url
            return web.Response(status=429, text="used_url")
        self.responses[rid].append(body)
        if self.on_response is not None:
            self.on_response(rid)
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text=f"OK - {len(self.uploads[request.match_info['file_id']])}")

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update({k: v for k, v in (await request.post()).items()})
        return {k: _decode(v) for k, v in args.items()}

    def _token(self, request: web.Request, args: dict[str, Any]) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[len("Bearer ") :]
        if header.startswith("Basic "):  # oauth.v2.access: client id and secret
            args["_basic"] = header[len("Basic ") :]
            return None
        token = args.pop("token", None)
        return str(token) if token else None

    def _team_of(self, token: str | None) -> str | None:
        for ws in self.workspaces.values():
            if ws.bot_token == token:
                return ws.team_id
        return None

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args = await self._args(request)
        token = self._token(request, args)
        team = self._team_of(token)
        call = Call(method, args, token, team)
        self.calls.append(call)
        faults = self._faults.get(method)
        if faults:
            fault = faults.popleft()
            if fault.kind == "slow":
                deadline = time.monotonic() + fault.seconds
                while time.monotonic() < deadline:
                    if request.transport is None or request.transport.is_closing():
                        return web.Response(status=499)  # the caller went away (killed)
                    await asyncio.sleep(min(0.05, fault.seconds))
            elif fault.kind == "drop":
                call.status, call.error = 0, "dropped"
                if request.transport is not None:
                    request.transport.abort()
                return web.Response()
            else:
                return self._failure(call, fault.status, fault.retry_after)
        scope = team or ("app" if token == self.app_token else "anonymous")
        channel = str(args.get("channel") or "")
        if team is not None and channel in self.workspaces[team].users:
            channel = "D" + channel  # a post to a user id counts against their DM channel
        wait = self.limiter.check(scope, method, channel)
        if wait:
            return self._failure(call, 429, wait)
        try:
            handler = getattr(self, "m_" + method.replace(".", "_"), None)
            if handler is None:
                raise _SlackError("unknown_method", 404)
            if method not in ("oauth.v2.access", "apps.connections.open"):
                if token is None:
                    raise _SlackError("not_authed")
                if team is None:
                    raise _SlackError("invalid_auth")
            answer: dict[str, Any] = handler(call)
        except _SlackError as error:
            call.status = error.status
            call.error = error.error
            return web.json_response({"ok": False, "error": error.error}, status=error.status)
        return web.json_response({"ok": True, **answer})

    def _failure(self, call: Call, status: int, retry_after: int) -> web.Response:
        call.status = status
        call.error = "ratelimited" if status == 429 else "fatal_error"
        headers = {"Retry-After": str(retry_after)} if status == 429 else {}
        return web.json_response({"ok": False, "error": call.error}, status=status, headers=headers)

    # --- Web API methods ----------------------------------------------------------------

    def _workspace(self, call: Call) -> Workspace:
        assert call.team_id is not None
        return self.workspaces[call.team_id]

    def _channel(self, ws: Workspace, channel: Any) -> str:
        if not isinstance(channel, str) or not channel:
            raise _SlackError("channel_not_found")
        if channel[0] in "UW" and channel in ws.users:
            return "D" + channel  # posting to a user id lands in the app's DM with them
        if channel in ws.channels or (channel.startswith("D") and channel[1:] in ws.users):
            return channel
        raise _SlackError("channel_not_found")

    def m_auth_test(self, call: Call) -> dict[str, Any]:
        ws = self._workspace(call)
        return {
            "url": f"https://{ws.name}.slack.test/",
            "team": ws.name,
            "user": "rallybot",
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "is_enterprise_install": False,
        }

    def m_chat_postMessage(self, call: Call) -> dict[str, Any]:
        ws = self._workspace(call)
        channel = self._channel(ws, call.args.get("channel"))
        text, blocks = call.args.get("text"), call.args.get("blocks")
        if not text and not blocks:
            raise _SlackError("no_text")
        ts = f"{int(time.time())}.{next(self._seq):06d}"
        self.messages.append(
            Posted(ws.team_id, channel, ts, str(text or ""), list(blocks or []), call.args)
        )
        return {"channel": channel, "ts": ts, "message": {"text": text, "ts": ts}}

    def m_chat_update(self, call: Call) -> dict[str, Any]:
        ws = self._workspace(call)
        channel = self._channel(ws, call.args.get("channel"))
        for posted in self.messages:
            if (posted.team_id, posted.channel, posted.ts) == (
                ws.team_id,
                channel,
                call.args.get("ts"),
            ):
                posted.text = str(call.args.get("text") or "")
                posted.blocks = list(call.args.get("blocks") or [])
                posted.edits += 1
                return {"channel": channel, "ts": posted.ts, "text": posted.text}
        raise _SlackError("message_not_found")

    def m_chat_postEphemeral(self, call: Call) -> dict[str, Any]:
        ws = self._workspace(call)
        channel = self._channel(ws, call.args.get("channel"))
        user = call.args.get("user")
        if user not in ws.users:
            raise _SlackError("user_not_in_channel")
        self.ephemerals.append({"team_id": ws.team_id, "channel": channel, **call.args})
        return {"message_ts": f"{int(time.time())}.{next(self._seq):06d}"}

    def m_conversations_open(self, call: Call) -> dict[str, Any]:
        ws = self._workspace(call)
        user = str(call.args.get("users") or "")
        if user not in ws.users:
            raise _SlackError("user_not_found")
        return {"channel": {"id": "D" + user}}

    def _conversation(self, call: Call) -> tuple[Workspace, str]:
        ws = self._workspace(call)
        channel = str(call.args.get("channel") or "")
        if channel not in ws.channels:
            raise _SlackError("channel_not_found")
        needed = "groups:read" if channel in ws.private else "channels:read"
        if needed not in ws.scopes:
            raise _SlackError("missing_scope")
        if channel in ws.private and ws.bot_user_id not in ws.members.get(channel, []):
            raise _SlackError("channel_not_found")  # a private channel the bot isn't in
        return ws, channel

    def m_conversations_info(self, call: Call) -> dict[str, Any]:
        ws, channel = self._conversation(call)
        private = channel in ws.private
        return {
            "channel": {
                "id": channel,
                "name": channel.lower(),
                "is_channel": not private,
                "is_group": private,
                "is_private": private,
                "is_archived": False,
                "num_members": len(ws.members.get(channel, [])),
            }
        }

    def m_conversations_members(self, call: Call) -> dict[str, Any]:
        """Paginated as Slack does: `limit` (at most 1000), `cursor`, next_cursor."""
        ws, channel = self._conversation(call)
        everyone = ws.members.get(channel, [])
        limit = min(int(call.args.get("limit") or 100), 1000)
        start = (
            int(base64.b64decode(call.args["cursor"]).decode()) if call.args.get("cursor") else 0
        )
        page = everyone[start : start + limit]
        following = start + limit
        cursor = (
            base64.b64encode(str(following).encode()).decode() if following < len(everyone) else ""
        )
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    def m_users_info(self, call: Call) -> dict[str, Any]:
        ws = self._workspace(call)
        user = ws.users.get(str(call.args.get("user")))
        if user is None:
            raise _SlackError("user_not_found")
        return {"user": user.to_api(ws.team_id)}

    def m_views_open(self, call: Call) -> dict[str, Any]:
        trigger = str(call.args.get("trigger_id") or "")
        issued = self._triggers.pop(trigger, None)
        if issued is None:
            raise _SlackError("invalid_trigger_id")
        if time.monotonic() - issued > TRIGGER_SECONDS:
            raise _SlackError("expired_trigger_id")
        view = dict(call.args.get("view") or {})
        view["id"] = f"V{next(self._seq)}"
        self.views.append({"team_id": call.team_id, **view})
        return {"view": view}

    def m_views_publish(self, call: Call) -> dict[str, Any]:
        ws = self._workspace(call)
        user = str(call.args.get("user_id") or "")
        if user not in ws.users:
            raise _SlackError("user_not_found")
        view = dict(call.args.get("view") or {})
        self.homes.setdefault((ws.team_id, user), []).append(view)
        return {"view": {"id": f"V{next(self._seq)}", **view}}

    def m_apps_connections_open(self, call: Call) -> dict[str, Any]:
        if call.token != self.app_token:
            raise _SlackError("invalid_auth")
        return {"url": f"ws://127.0.0.1:{self.port}/socket?ticket={next(self._seq)}"}

    def m_oauth_v2_access(self, call: Call) -> dict[str, Any]:
        client_id, secret = call.args.get("client_id"), call.args.get("client_secret")
        header = call.args.pop("_basic", None)
        if header:
            client_id, _, secret = base64.b64decode(header).decode().partition(":")
        if (client_id, secret) != (self.client_id, self.client_secret):
            raise _SlackError("invalid_client_id")
        found = self._codes.pop(str(call.args.get("code")), None)
        if found is None:
            raise _SlackError("invalid_code")
        ws = self.workspaces[found[0]]
        return {
            "app_id": "A0RALLY",
            "authed_user": {"id": found[1]},
            "scope": ",".join(sorted(ws.scopes, key=SCOPE_ORDER.index)),
            "token_type": "bot",
            "access_token": ws.bot_token,
            "bot_user_id": ws.bot_user_id,
            "team": {"id": ws.team_id, "name": ws.name},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def m_files_getUploadURLExternal(self, call: Call) -> dict[str, Any]:
        if not call.args.get("filename") or not call.args.get("length"):
            raise _SlackError("invalid_arguments")
        file_id = f"F{next(self._seq)}"
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def m_files_completeUploadExternal(self, call: Call) -> dict[str, Any]:
        ws = self._workspace(call)
        files = call.args.get("files")
        if not isinstance(files, list) or any(f.get("id") not in self.uploads for f in files):
            raise _SlackError("file_not_found")
        channel = call.args.get("channel_id")
        if channel:
            channel = self._channel(ws, channel)
        for f in files:
            self.shared_files.append(
                {
                    "team_id": ws.team_id,
                    "channel": channel,
                    "title": f.get("title"),
                    "content": self.uploads[f["id"]],
                }
            )
        return {"files": [{"id": f["id"], "title": f.get("title")} for f in files]}
