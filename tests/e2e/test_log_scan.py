"""Log scan: the installed `rallybot run`, a full scenario at DEBUG, stderr read whole: on the
console, and with Slack (Socket Mode) and Discord both connected to the fake platforms.

Every kind of user text goes in (alert notes and links, the target's post, evidence, a case
number, a join note, a typo, a bad link, consent, check-ins moved along with /clock, an
export, forget-me), with platform secrets set in the environment (`run --console` keeps
them unused, and their API URLs point at a closed loopback port). The logs (stderr, in text
and in JSON) must hold none of the typed text and no token or secret.

On the platforms (a join with a note, an alert with a note and links, a response, evidence,
forget-me, on each) the SDKs log request and response bodies at DEBUG: the log must hold none
of the notes, links or names the scenario used.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.slack.harness import buttons
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack, SlackSender, User

pytestmark = pytest.mark.e2e

RALLYBOT = Path(sys.executable).with_name("rallybot")
CLOSED_PORT = "http://127.0.0.1:9"

SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-1111111111-2222222222-LogScanBotTokenZq7",
    "SLACK_APP_TOKEN": "xapp-1-A0LOGSCAN-3333-logscanappsecretzq",
    "SLACK_SIGNING_SECRET": "logscan-signing-secret-5c1d9e",
    "SLACK_CLIENT_SECRET": "logscan-client-secret-77ab21",
    "DISCORD_TOKEN": "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GlgScn.LogScanDiscordTokenSecret0123456789",
}
TYPED = [
    "https://x.com/logscan-troll/status/90210",
    "https://x.com/logscan-ana/status/1",
    "logscan-note-alpha",
    "logscan-evidence-bravo",
    "https://x.com/logscan-evidence/status/5",
    "LOGSCAN-CASE-31337",
    "https://x.com/logscan-troll/status/90211",
    "logscan-note-charlie",
    "https://x.com/logscan-doxxer/status/7",
    "logscan-note-delta",
    "logscan-join-note-echo",
    "logscan-typo-foxtrot",
    "logscan-bad-link",
    "logscan-anon-note-hotel",
]
SCRIPT = [
    "/rally alert https://x.com/logscan-troll/status/90210 "
    "post=https://x.com/logscan-ana/status/1 kinds=trolling logscan-note-alpha",
    "/as ben",
    "/press I'm on it",
    "/as cam",
    "/press Done",
    "/press Reported",
    "/as ana",
    "/rally evidence #1 logscan-evidence-bravo",
    "/rally evidence #1 https://x.com/logscan-evidence/status/5",
    "/rally evidence #1 case LOGSCAN-CASE-31337",
    "/rally export #1",
    "/rally alert https://x.com/logscan-troll/status/90211 for=ben logscan-note-charlie",
    "/as ben",
    "/press Yes, rally the group",
    "/as dee",
    "/rally alert https://x.com/logscan-doxxer/status/7 kinds=doxxing logscan-note-delta",
    "/as sam",
    "/press Rally the crowd",
    "/as dee",
    "/press Yes, I want the crowd",
    "/as ben",
    "/rally alert https://x.com/logscan-troll/status/90212 anonymous=yes "
    "visibility=responders logscan-anon-note-hotel",
    "/as zed",
    "/rally join logscan-join-note-echo",
    "/as lee",
    "/rally members",
    "/press Approve",
    "/rally audit",
    "/rally digest",
    "/rally status #1",
    "/rally frobnicate logscan-typo-foxtrot",
    "/rally alert ftp://logscan-bad-link/golf",
    "/as ana",
    # Two days: the first check-ins are due at 09:00 local on the day after the alert, so a
    # single day reaches them only when the script runs after 09:00 in Chicago.
    "/clock +2d",
    "/press I need help",  # the latest such button is ben's check-in: refused for ana
    "/as ben",
    "/press I need help",
    "/as ana",
    "/rally checkins #1 pause",
    "/rally standdown #1",
    "/as cam",
    "/rally forgetme",
    "/press Yes, forget me",
    "/clock +8d",
    "/quit",
]
TOKEN_LIKE = [
    re.compile(r"xox[abeoprs]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"[MNO][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,40}"),
    re.compile(r"(?i)\b(bearer|bot)\s+[A-Za-z0-9._-]{20,}"),
    re.compile(r"(?i)(secret|token|password)\s*[=:]\s*\S{6,}"),
]


def run_scenario(data_dir: Path, log_format: str) -> tuple[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "RALLYBOT_", "DATABASE_URL"))
    }
    env.update(SECRETS)
    env.update(
        RALLYBOT_DATA_DIR=str(data_dir),
        RALLYBOT_LOG_LEVEL="DEBUG",
        RALLYBOT_LOG_FORMAT=log_format,
        SLACK_API_URL=CLOSED_PORT + "/api/",
        DISCORD_API_URL=CLOSED_PORT + "/api/v10",
        DISCORD_GATEWAY_URL="ws://127.0.0.1:9",
    )
    done = subprocess.run(
        [str(RALLYBOT), "run", "--console"],
        input="\n".join(SCRIPT) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=data_dir,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, done.stderr


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_full_scenario_logs_no_typed_text_and_no_secret(tmp_path: Path, log_format: str) -> None:
    out, err = run_scenario(tmp_path, log_format)

    # The scenario really ran: what people typed reached the people meant to see it.
    assert "Rally #1: Ana is under attack" in out and "logscan-note-alpha" in out
    assert "[file alert-1-evidence.md" in out and "LOGSCAN-CASE-31337" in out
    assert "Alert #2" in out and "Safety review: alert #3" in out
    assert "Zed" in out and "A lead has been told" in out
    assert "That check-in is no longer available" in out  # a forged press, logged and audited
    assert "Your personal data has been removed" in out
    assert "DEBUG" in err or '"level": "DEBUG"' in err  # DEBUG logging was on

    for typed in TYPED:
        assert typed.lower() not in err.lower(), typed
    for name, secret in SECRETS.items():
        assert secret not in err, name
        assert secret[-12:] not in err, name
    for pattern in TOKEN_LIKE:
        assert not pattern.search(err), pattern.search(err)
    assert "Traceback" not in err


# --- Slack and Discord ----------------------------------------------------------------------

TEAM, RALLY, LEADS = "T0000001", "CRALLY", "CLEADS"
SLACK_TYPED = [
    "logscan-slack-join-note",
    "https://x.com/logscan-slack-troll/status/31",
    "https://x.com/logscan-slack-post/status/32",
    "logscan-slack-alert-note",
    "logscan-slack-evidence",
]
DISCORD_TYPED = [
    "logscan-discord-join-note",
    "https://x.com/logscan-discord-troll/status/41",
    "logscan-discord-alert-note",
    "logscan-discord-evidence",
]
# Names people go by on each platform: a message names them; the log must not.
NAMES = ["Ollivanda", "Quentarius", "Xanthippa", "Zebulonia", "Wendeline"]


async def until(check: Any, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError("the scenario did not get there in time")
        await asyncio.sleep(0.05)


class SlackScene:
    """Slack over Socket Mode: commands and presses as envelopes, replies on response URLs."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.sender = SlackSender(fake, "http://unused", "unused", None)  # type: ignore[arg-type]

    async def ask(self, user: str, text: str, channel: str = RALLY) -> list[dict[str, Any]]:
        rid, payload = self.sender.command_payload(TEAM, user, text, channel)
        await self.fake.send_envelope("slash_commands", payload)
        return await self.fake.response(rid, seconds=30)

    async def press(self, user: str, action_id: str, channel: str = RALLY) -> list[dict[str, Any]]:
        rid, url = self.fake.new_response_url()
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "t"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
            "api_app_id": "A0RALLY",
            "trigger_id": self.fake.new_trigger_id(),
            "container": {"type": "message", "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel, "name": "rally"},
            "response_url": url,
            "actions": [{"action_id": action_id, "block_id": "b1", "type": "button"}],
        }
        await self.fake.send_envelope("interactive", payload)
        return await self.fake.response(rid, seconds=30)


async def slack_scenario(fake: FakeSlack) -> None:
    s = SlackScene(fake)
    assert "is set up" in str(await s.ask("UANA", "setup"))
    await s.ask("UANA", "setup leads", LEADS)
    await s.ask("UBEN", f"join {SLACK_TYPED[0]}")
    await until(lambda: [m for m in fake.in_channel(LEADS) if SLACK_TYPED[0] in str(m.blocks)])
    await s.ask("UANA", "approve <@UBEN>")
    await s.ask("UANA", "role <@UBEN> responder")
    said = await s.ask(
        "UANA", f"alert {SLACK_TYPED[1]} post={SLACK_TYPED[2]} kinds=trolling {SLACK_TYPED[3]}"
    )
    assert "Alert #1 raised" in str(said)
    rally = await until(lambda: [m for m in fake.in_channel(RALLY) if "Rally #1" in m.text])
    assert "Ollivanda" in str(rally[-1].blocks)  # the rally names her; the log must not
    await s.press("UBEN", buttons(rally[-1])["I'm on it"])
    await s.ask("UANA", f"evidence #1 {SLACK_TYPED[4]}")
    asked = await s.ask("UBEN", "forgetme")
    confirm = buttons(asked[-1])["Yes, forget me"]
    done = await s.press("UBEN", confirm)
    assert "Your personal data has been removed" in str(done)


async def discord_scenario(fake: FakeDiscord) -> None:
    lee = fake.add_user("wendeline", "Wendeline")
    guild = fake.add_guild("Logscan clinic", lee)
    rally, leads = fake.add_channel(guild, "rally"), fake.add_channel(guild, "leads")
    ana, ben = fake.add_user("xanthippa", "Xanthippa"), fake.add_user("zebulonia", "Zebulonia")
    guild.add_member(ana)
    guild.add_member(ben)
    await fake.gateway.dispatch("GUILD_CREATE", guild.payload(fake.bot_user))

    async def say(user: Any, sub: str, channel: Any = rally, **options: Any) -> str:
        return await (await fake.command(user, sub, options, channel=channel)).text(30)

    assert "is set up" in await say(lee, "setup")
    await say(lee, "setup", leads, what="leads")
    await say(ana, "join", note=DISCORD_TYPED[0])
    await say(ben, "join")
    await say(lee, "approve", member=ana)
    await say(lee, "approve", member=ben)
    await say(lee, "role", role="responder", member=ben)
    assert "Alert #1 raised" in await say(
        ana, "alert", link=DISCORD_TYPED[1], note=DISCORD_TYPED[2]
    )
    posted = await until(
        lambda: [m for m in fake.channel_messages(rally) if "Rally #1" in m["content"]]
    )
    on_it = next(
        c["custom_id"]
        for row in posted[-1]["components"]
        for c in row["components"]
        if c.get("custom_id", "").endswith(":on_it")
    )
    await (await fake.click(ben, posted[-1], on_it)).text(30)
    await say(ana, "evidence", alert=1, item=DISCORD_TYPED[3])
    asked = await (await fake.command(ana, "forgetme", {}, channel=rally)).reply(30)
    confirm = next(
        c["custom_id"]
        for row in asked["components"]
        for c in row["components"]
        if "forgetme" in c.get("custom_id", "")
    )
    done = await (await fake.click(ana, asked, confirm)).text(30)
    assert "Your personal data has been removed" in done


async def test_slack_and_discord_at_debug_log_no_note_link_or_name(tmp_path: Path) -> None:
    users = [
        User("UANA", "ollivanda", "Ollivanda", is_admin=True),
        User("UBEN", "quentarius", "Quentarius"),
    ]
    async with FakeSlack() as slack, FakeDiscord(heartbeat_interval=1.0) as discord:
        slack.add_workspace(TEAM, "clinicians", users, {RALLY, LEADS})
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "DISCORD_", "RALLYBOT_", "DATABASE_URL"))
        }
        env.update(
            RALLYBOT_DATA_DIR=str(tmp_path),
            RALLYBOT_LOG_LEVEL="DEBUG",
            RALLYBOT_REVIEW_FIRST_ALERTS="false",
            RALLYBOT_TICK_SECONDS="0.5",
            SLACK_BOT_TOKEN=slack.workspaces[TEAM].bot_token,
            SLACK_APP_TOKEN=slack.app_token,
            SLACK_API_URL=slack.api_url,
            DISCORD_TOKEN=discord.token,
            DISCORD_API_URL=discord.api_url,
            DISCORD_GATEWAY_URL=discord.gateway_url,
        )
        log = tmp_path / "stderr.log"
        with log.open("wb") as err:
            process = await asyncio.create_subprocess_exec(
                str(RALLYBOT),
                "run",
                env=env,
                cwd=tmp_path,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=err,
                stderr=err,
            )
        try:
            await until(lambda: slack.socket_connections and discord.gateway.is_connected(), 60)
            await until(lambda: "rallybot is running" in log.read_text(errors="replace"), 60)
            await slack_scenario(slack)
            await discord_scenario(discord)
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 60)
    logged = log.read_text(errors="replace")

    # DEBUG logging was on (rallybot's own DEBUG lines are there), both platforms delivered.
    assert " DEBUG bot.delivery.outbox: sent outbox item" in logged
    assert "(slack post" in logged and "(discord post" in logged
    for typed in SLACK_TYPED + DISCORD_TYPED + NAMES:
        assert typed.lower() not in logged.lower(), typed
    for secret in (slack.workspaces[TEAM].bot_token, slack.app_token, discord.token):
        assert secret not in logged
    assert not re.search(r"xox[abeoprs]-[A-Za-z0-9-]+", logged)
    assert "Traceback" not in logged
