"""Running the Slack adapter against the fake Slack: settings, the app over HTTP, helpers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot.adapters.slack.syntax import SLACK
from bot.adapters.slack.web import SlackHttp
from bot.bootstrap import Runtime, build
from bot.core.commands import Caller
from bot.core.messages import Message
from bot.core.model import OutboxItem
from bot.delivery.outbox import Dispatcher
from bot.inbox.worker import InboxWorker
from bot.ops.http import HttpServer, start_public
from bot.ops.observe import Observer
from bot.settings import Settings
from tests.fakes.slack import FakeSlack, Sent, SlackSender, User
from tests.support.clock import MovableClock

SECRET = "fake-signing-secret-0123456789"
T1, T2 = "T0000001", "T0000002"
RALLY, LEADS, OTHER = "CRALLY", "CLEADS", "COTHER"
PEOPLE = {
    "UANA": ("ana", "Ana", True),  # a workspace admin: may set rallybot up
    "UBEN": ("ben", "Ben", False),
    "UCAM": ("cam", "Cam", False),
    "UDEE": ("dee", "Dee", False),
    "USAM": ("sam", "Sam", False),
    "UEVE": ("eve", "Eve", False),  # never joins
}
X_LINK = "https://x.com/troll/status/1"


def users(suffix: str = "") -> list[User]:
    return [
        User(uid + suffix, name, display, is_admin=admin)
        for uid, (name, display, admin) in PEOPLE.items()
    ]


def buttons(payload: Any) -> dict[str, str]:
    """The buttons of a posted message or reply: label -> action id."""
    blocks = payload.blocks if hasattr(payload, "blocks") else payload.get("blocks") or []
    found: dict[str, str] = {}
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("type") == "button":
                found[element["text"]["text"]] = element["action_id"]
    return found


def slack_settings(fake: FakeSlack, db_url: str, tmp_path: Path, **more: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": SecretStr(db_url),
        "data_dir": tmp_path,
        "slack_api_url": fake.api_url,
        "slack_signing_secret": SecretStr(SECRET),
        "slack_bot_token": SecretStr(fake.workspaces[T1].bot_token)
        if T1 in fake.workspaces
        else None,
        "slack_app_token": SecretStr(fake.app_token),
        "slack_client_id": None,
        "slack_client_secret": None,
        "alerts_per_day": 50,
        # The scene's members are approved in seed(); first-alert review has its own tests.
        "review_first_alerts": False,
    }
    values.update(more)
    return Settings(**values)


@dataclass
class SlackBot:
    """rallybot's Slack adapter, running over HTTP against the fake, and how to talk to it."""

    fake: FakeSlack
    runtime: Runtime
    http: SlackHttp
    server: HttpServer
    send: SlackSender
    clock: MovableClock
    dispatcher: Dispatcher
    inbox: InboxWorker

    @property
    def port(self) -> int:
        return self.server.port

    async def cmd(self, user: str, text: str, channel: str = RALLY, team: str = T1) -> Sent:
        sent = await self.send.command(team, user, text, channel)
        assert sent.status == 200, sent.body
        return sent

    async def said(self, sent: Sent, count: int = 1) -> str:
        """What the person saw privately in answer (the response_url posts), as text."""
        assert sent.response_id is not None
        posts = await self.fake.response(sent.response_id, count)
        return "\n".join(text_of(p) for p in posts)

    async def ask(self, user: str, text: str, channel: str = RALLY, team: str = T1) -> str:
        return await self.said(await self.cmd(user, text, channel, team))

    async def press(self, user: str, action_id: str, team: str = T1, **options: Any) -> Sent:
        sent = await self.send.press(team, user, action_id, **options)
        assert sent.status == 200, sent.body
        return sent

    async def click(self, user: str, action_id: str, team: str = T1, **options: Any) -> str:
        return await self.said(await self.press(user, action_id, team, **options))

    async def deliver(self) -> int:
        return await self.dispatcher.drain()

    def caller(self, user: str, team: str = T1, channel: str = RALLY, **more: Any) -> Caller:
        display = PEOPLE[user][1] if user in PEOPLE else user
        return Caller("slack", team, user, display, channel=channel, **more)

    async def seed(self) -> None:
        """Ana sets up (rally: CRALLY, leads: CLEADS); Ben, Cam, Dee respond; Sam is the
        safety lead; Eve is a stranger. Through the services, with Slack callers."""
        services = self.runtime.services
        ana = self.caller("UANA", can_manage=True)
        assert (await services.handle_text(ana, "setup")).ok
        assert (await services.handle_text(self.caller("UANA", channel=LEADS), "setup leads")).ok
        for uid in ("UBEN", "UCAM", "UDEE", "USAM"):
            assert (await services.handle_text(self.caller(uid), "join")).ok
            assert (await services.handle_text(ana, f"approve <@{uid}>", SLACK)).ok
            role = "safety_lead" if uid == "USAM" else "responder"
            assert (await services.handle_text(ana, f"role <@{uid}> {role}", SLACK)).ok
        # The join requests and welcomes are settled unsent: the tests start from a quiet Slack.
        await Dispatcher(services.uow, {"slack": Unsent()}, self.clock).drain()


class Unsent:
    """A Chat that sends nothing (for setting the scene)."""

    platform = "slack"

    async def post(self, item: OutboxItem, message: Message) -> str:
        return "CSEED:0"

    async def update(self, item: OutboxItem, ref: str, message: Message) -> None:
        return None


def text_of(payload: Any) -> str:
    """The words of a message payload: its blocks' texts (or its fallback text)."""
    blocks = payload.get("blocks") if isinstance(payload, dict) else None
    found = list(_texts(blocks)) if blocks else []
    return "\n".join(found) if found else str(payload.get("text") or "")


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


_MARKUP = re.compile(r"<([^<>]*)>")


def live_markup(text: str) -> list[str]:
    """Slack control sequences in text: <!channel>, <@U…>, <#C…>, <https://…|label>."""
    return _MARKUP.findall(text)


async def start_bot(
    fake: FakeSlack, settings: Settings, session: aiohttp.ClientSession
) -> SlackBot:
    clock = MovableClock()
    runtime = build(settings, clock)
    http = SlackHttp(runtime)
    # The process's one public server, with Slack's routes, as `rallybot web` serves them.
    server = await start_public(Observer(runtime, platforms=[http]), [http], 0, "127.0.0.1")
    await http.start()
    sender = SlackSender(fake, f"http://127.0.0.1:{server.port}", SECRET, session)
    dispatcher = Dispatcher(runtime.services.uow, {"slack": http.chat}, clock)
    inbox = start_inbox(runtime, {"slack": http.inbox_handler}, {"slack": http.chat})
    return SlackBot(fake, runtime, http, server, sender, clock, dispatcher, inbox)


def start_inbox(
    runtime: Runtime, handlers: dict[str, Any], chats: dict[str, Any], lanes: int = 4
) -> InboxWorker:
    """An inbox worker in the test's loop, as `bot.runtime.serve` runs one."""
    worker = InboxWorker(
        runtime.engine, handlers, chats, runtime.clock, "test-worker", lanes, poll=0.05
    )
    runtime.inbox.on_write = worker.kick.set
    worker.start()
    return worker


async def stop_bot(bot: SlackBot) -> None:
    await bot.inbox.stop(5.0)
    await bot.server.stop()
    await bot.http.stop()
    await bot.runtime.close()
