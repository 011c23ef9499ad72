"""The fake gateway: HELLO, IDENTIFY/READY, heartbeats, RESUME with replay, and faults."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.fakes.discord.server import FakeDiscord

GUILDS_INTENT = 1 << 0


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    number: int
    session: Session | None = None
    silent: bool = False  # no heartbeat ACKs and no events: a gateway that went quiet
    received: list[dict[str, Any]] = field(default_factory=list)


@dataclass(eq=False)
class Session:
    id: str
    intents: int
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    connection: Connection | None = None
    resumable: bool = True
    delivered: int = 0  # highest seq written to a connection


class Gateway:
    def __init__(self, fake: FakeDiscord, heartbeat_interval: float) -> None:
        self.fake = fake
        self.heartbeat_interval = heartbeat_interval
        self.sessions: dict[str, Session] = {}
        self.current: Session | None = None
        self.connections: list[Connection] = []
        self.identifies = 0
        self.resumes = 0
        self.heartbeats = 0
        self.invalid_resumes = 0
        self.changed = asyncio.Condition()

    # --- the WebSocket endpoint -----------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        connection = Connection(ws, len(self.connections) + 1)
        self.connections.append(connection)
        self.fake.open_sockets.add(ws)
        try:
            await self._send(
                connection,
                {
                    "op": 10,
                    "s": None,
                    "t": None,
                    "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)},
                },
            )
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    frame = json.loads(msg.data)
                    connection.received.append(frame)
                    await self._on_frame(connection, frame)
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.fake.open_sockets.discard(ws)
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
            await self._notify()
        return ws

    async def _on_frame(self, connection: Connection, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == 1:
            self.heartbeats += 1
            if not connection.silent:
                await self._send(connection, {"op": 11, "s": None, "t": None, "d": None})
        elif op == 2:
            await self._identify(connection, data or {})
        elif op == 6:
            await self._resume(connection, data or {})
        await self._notify()

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self.fake.token:
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identifies += 1
        session = Session(uuid.uuid4().hex, int(data.get("intents") or 0))
        self.sessions[session.id] = session
        self.current = session
        session.connection = connection
        connection.session = session
        guilds = list(self.fake.guilds.values())
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": self.fake.bot_user.payload(),
                "guilds": [{"id": g.id, "unavailable": True} for g in guilds],
                "session_id": session.id,
                "resume_gateway_url": self.fake.gateway_url,
                "session_type": "normal",
                "shard": [0, 1],
                "application": {"id": self.fake.application_id, "flags": 0},
                "private_channels": [],
                "relationships": [],
                "geo_ordered_rtc_regions": [],
            },
            session,
        )
        if session.intents & GUILDS_INTENT:
            for guild in guilds:
                await self.dispatch("GUILD_CREATE", guild.payload(self.fake.bot_user), session)

    async def _resume(self, connection: Connection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if data.get("token") != self.fake.token or session is None or not session.resumable:
            self.invalid_resumes += 1
            await self._send(connection, {"op": 9, "s": None, "t": None, "d": False})
            return
        self.resumes += 1
        old = session.connection
        session.connection, connection.session = connection, session
        if old is not None and old is not connection:
            await old.ws.close(code=4000)
        seen = int(data.get("seq") or 0)
        for event in session.events:
            if event["s"] > seen:
                await self._deliver(session, event)
        await self.dispatch("RESUMED", {}, session)

    # --- sending --------------------------------------------------------------------------

    async def _send(self, connection: Connection, frame: dict[str, Any]) -> bool:
        if connection.ws.closed:
            return False
        try:
            await connection.ws.send_str(json.dumps(frame))
        except ConnectionError:
            return False
        return True

    async def _deliver(self, session: Session, event: dict[str, Any]) -> None:
        connection = session.connection
        if connection is None or connection.silent:
            return  # kept in the session: a RESUME replays it
        if await self._send(connection, event):
            session.delivered = max(session.delivered, event["s"])
            self.fake.delivered(event)

    async def dispatch(
        self, name: str, data: dict[str, Any], session: Session | None = None
    ) -> None:
        """Send an event on the current session (or keep it for the replay after a RESUME)."""
        session = session or self.current
        if session is None:
            raise RuntimeError("nobody is connected to the fake gateway")
        session.seq += 1
        event = {"op": 0, "t": name, "s": session.seq, "d": data}
        session.events.append(event)
        await self._deliver(session, event)
        await self._notify()

    # --- faults and waiting ---------------------------------------------------------------

    @property
    def live(self) -> Connection | None:
        session = self.current
        return session.connection if session is not None else None

    async def close(self, code: int = 4000) -> None:
        """Drop the connection; 4000 ("unknown error") is one a client must RESUME after."""
        connection = self.live
        if connection is not None:
            await connection.ws.close(code=code)

    async def reconnect(self) -> None:
        """op 7 RECONNECT: the client must reconnect and RESUME."""
        connection = self.live
        if connection is not None:
            await self._send(connection, {"op": 7, "s": None, "t": None, "d": None})

    async def invalidate(self) -> None:
        """op 9 INVALID_SESSION (not resumable): the client must IDENTIFY afresh."""
        connection, session = self.live, self.current
        if session is not None:
            session.resumable = False
        if connection is not None:
            await self._send(connection, {"op": 9, "s": None, "t": None, "d": False})

    def silence(self) -> None:
        """Stop answering heartbeats and sending events on the live connection."""
        connection = self.live
        if connection is not None:
            connection.silent = True

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        async def wait() -> None:
            async with self.changed:
                await self.changed.wait_for(predicate)

        await asyncio.wait_for(wait(), within)

    def is_connected(self) -> bool:
        connection = self.live
        return connection is not None and not connection.ws.closed and not connection.silent
