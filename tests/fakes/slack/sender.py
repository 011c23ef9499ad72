"""Slack's side of inbound requests: signed exactly as Slack signs them, POSTed over HTTP."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack.server import FakeSlack


@dataclass
class Sent:
    status: int
    body: str
    seconds: float  # until the HTTP response (the ack) arrived
    response_id: str | None = None
    trigger_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class SlackSender:
    """Sends slash commands, button presses, view submissions and events to the app."""

    def __init__(
        self, fake: FakeSlack, app_url: str, signing_secret: str, session: aiohttp.ClientSession
    ) -> None:
        self.fake = fake
        self.app_url = app_url.rstrip("/") + "/slack/events"
        self.verifier = SignatureVerifier(signing_secret)
        self.session = session

    async def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Sent:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sig = signature or self.verifier.generate_signature(timestamp=ts, body=body)
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig,
            **(headers or {}),
        }
        start = time.perf_counter()
        async with self.session.post(self.app_url, data=body, headers=all_headers) as answer:
            text = await answer.text()
            return Sent(answer.status, text, time.perf_counter() - start)

    async def command(
        self,
        team: str,
        user: str,
        text: str,
        channel: str = "CRALLY",
        *,
        command: str = "/rally",
        user_name: str | None = None,
        **sign: Any,
    ) -> Sent:
        rid, response_url = self.fake.new_response_url()
        trigger = self.fake.new_trigger_id()
        form = {
            "token": "deprecated-verification-token",
            "team_id": team,
            "team_domain": team.lower(),
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else channel.lower(),
            "user_id": user,
            "user_name": user_name or user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0RALLY",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger,
        }
        sent = await self.post(
            urlencode(form).encode(), "application/x-www-form-urlencoded", **sign
        )
        sent.response_id, sent.trigger_id = rid, trigger
        return sent

    def command_payload(
        self, team: str, user: str, text: str, channel: str
    ) -> tuple[str, dict[str, Any]]:
        """A slash command as Socket Mode delivers it (a dict, not a form)."""
        rid, response_url = self.fake.new_response_url()
        return rid, {
            "team_id": team,
            "channel_id": channel,
            "user_id": user,
            "user_name": user.lower(),
            "command": "/rally",
            "text": text,
            "api_app_id": "A0RALLY",
            "response_url": response_url,
            "trigger_id": self.fake.new_trigger_id(),
        }

    async def interactive(self, payload: dict[str, Any], **sign: Any) -> Sent:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, "application/x-www-form-urlencoded", **sign)

    async def press(
        self,
        team: str,
        user: str,
        action_id: str,
        *,
        channel: str | None = "CRALLY",
        in_home: bool = False,
        selected: str | None = None,
        ephemeral: bool = False,
        **sign: Any,
    ) -> Sent:
        rid, response_url = self.fake.new_response_url()
        trigger = self.fake.new_trigger_id()
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": "b1",
            "type": "static_select" if selected is not None else "button",
            "action_ts": str(time.time()),
        }
        if selected is not None:
            action["selected_option"] = {
                "value": selected,
                "text": {"type": "plain_text", "text": selected},
            }
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": team, "domain": team.lower()},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
            "api_app_id": "A0RALLY",
            "token": "deprecated-verification-token",
            "trigger_id": trigger,
            "actions": [action],
        }
        if in_home:
            payload["container"] = {"type": "view", "view_id": "VHOME"}
            payload["view"] = {"id": "VHOME", "type": "home", "team_id": team}
        else:
            payload["container"] = {
                "type": "message",
                "message_ts": "1700000000.000100",
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            }
            payload["channel"] = {"id": channel, "name": "rally"}
            payload["response_url"] = response_url
        sent = await self.interactive(payload, **sign)
        sent.response_id, sent.trigger_id = rid, trigger
        return sent

    async def submit(
        self,
        team: str,
        user: str,
        values: dict[str, dict[str, dict[str, Any]]],
        private_metadata: str,
        callback_id: str = "rally:alert_form",
        **sign: Any,
    ) -> Sent:
        payload = {
            "type": "view_submission",
            "team": {"id": team, "domain": team.lower()},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
            "api_app_id": "A0RALLY",
            "token": "deprecated-verification-token",
            "trigger_id": self.fake.new_trigger_id(),
            "view": {
                "id": "VMODAL",
                "team_id": team,
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": values},
                "hash": "h1",
            },
        }
        return await self.interactive(payload, **sign)

    async def event(
        self,
        team: str,
        event: dict[str, Any],
        event_id: str,
        retry_num: int | None = None,
        **sign: Any,
    ) -> Sent:
        body = json.dumps(
            {
                "token": "deprecated-verification-token",
                "team_id": team,
                "api_app_id": "A0RALLY",
                "event": event,
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "authorizations": [{"team_id": team, "is_bot": True}],
            }
        ).encode()
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(body, "application/json", headers=headers, **sign)
