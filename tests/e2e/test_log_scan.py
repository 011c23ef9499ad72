"""Log scan: the installed `rallybot run` console, a full scenario at DEBUG, stderr read whole.

Every kind of user text goes in (alert notes and links, the target's post, evidence, a case
number, a join note, a typo, a bad link, consent, check-ins moved along with /clock, an
export, forget-me), with platform secrets set in the environment (`run --console` keeps
them unused, and their API URLs point at a closed loopback port). The logs (stderr, in text
and in JSON) must hold none of the typed text and no token or secret.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

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
    "/clock +1d",
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
