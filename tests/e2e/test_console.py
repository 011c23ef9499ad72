"""The installed `rallybot` process, driven by piped scripts, read as dialogues."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

RALLYBOT = Path(sys.executable).with_name("rallybot")


def run_console(data_dir: Path, *lines: str) -> str:
    """Run `rallybot run` with these lines on stdin; return stdout (stderr must be clean)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "RALLYBOT_", "DATABASE_URL"))
    }
    env["RALLYBOT_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [str(RALLYBOT), "run"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=data_dir,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def section(out: str, header: str, title: str) -> str:
    """The last message under this destination header whose title contains `title`."""
    found = ""
    for part in out.split("── ")[1:]:
        head, _, body = part.partition("\n")
        if head.startswith(header) and title in body.split("\n", 1)[0]:
            found = body
    assert found, f"no message {title!r} under {header!r} in:\n{out}"
    return found


def test_the_installed_command_exists() -> None:
    assert RALLYBOT.exists(), "install the project (pip install -e .) before the e2e tests"


def test_raise_rally_respond_stand_down_and_check_in_until_a_lead_hears(tmp_path: Path) -> None:
    out = run_console(
        tmp_path,
        "/rally alert https://x.com/troll/status/1 pile-on after my vaccine video "
        "post=https://x.com/ana/status/9",
        "/as ben",
        "/press I'm on it",
        "/as cam",
        "/press Done",
        "/press Reported",
        "/as dee",
        "/press Can't right now",
        "/as ana",
        "/rally status #1",
        "/rally standdown #1",
        "/clock +1d",
        "/press I need help",
    )
    rally = section(out, "#rally", "Rally #1: Ana is under attack")
    assert "@ben" in rally and "@cam" in rally and "@dee" in rally
    assert "https://x.com/troll/status/1" in rally  # the attack link, as plain text
    assert "don't reply, quote or share" in rally.lower()
    assert "[1] I'm on it" in out and "Done" in out and "Can't right now" in out
    # The tally is edited in place after each response, and finally shows everyone.
    updates = re.findall(r"#rally \(message m\d+ updated\)", out)
    assert len(updates) >= 4
    final = section(out, "#rally (message", "Rally #1")
    assert "On it: 1 · Done: 1 · Can't right now: 1" in final
    assert "Ben (on it)" in final and "Cam (done: reported)" in final
    assert "This alert is closed (stood down)" in final
    # The target heard that help is here, and the helpers were thanked.
    assert "Ben is on it" in section(out, "DM to ana", "Alert #1: help is here")
    section(out, "DM to ben", "Alert #1 is closed")
    # A day later ana is checked in with privately; "I need help" reaches the leads channel.
    checkin = section(out, "DM to ana", "Checking in after alert #1")
    assert "I need help" in checkin
    assert "Ana answered a check-in after alert #1" in section(
        out, "#leads", "Ana needs help (alert #1)"
    )


def test_an_alert_for_a_colleague_waits_for_their_consent(tmp_path: Path) -> None:
    out = run_console(
        tmp_path,
        "/as ben",
        "/rally alert https://www.instagram.com/p/abc for=ana they are piling on",
        "/press Yes, rally the group",  # ben may not answer for ana
        "/as ana",
        "/press Yes, rally the group",
    )
    waiting = out.split("/press Yes, rally the group")[0]
    assert "Rally #1" not in waiting  # nobody rallied before ana said yes
    assert "Only the person the alert is about can give consent" in out
    section(out, "DM to ana", "Alert #1: do you want the group's help?")
    rally = section(out, "#rally", "Rally #1: Ana is under attack")
    assert "Instagram" in rally
    section(out, "DM to ben", "Alert #1: consent given")


def test_a_threat_goes_to_the_safety_lead_first(tmp_path: Path) -> None:
    out = run_console(
        tmp_path,
        "/rally alert https://x.com/t/3 kinds=threat they posted my clinic address",
        "/as sam",
        "/press Rally the crowd",
        "/as ana",
        "/press Yes, I want the crowd",
    )
    before = out.split("sam> /press Rally the crowd")[0]
    assert "#rally" not in before  # no crowd yet
    review = section(out, "DM to sam", "Safety review: alert #1")
    assert "law enforcement" in review
    section(out, "DM to ana", "Alert #1: a safety lead is on it")
    assert "Waiting for the target's choice." in out
    section(out, "#rally", "Rally #1")


def test_bad_input_gets_a_kind_answer_and_the_console_keeps_going(tmp_path: Path) -> None:
    out = run_console(
        tmp_path,
        "/rally frobnicate",
        "/rally alert javascript:alert(1)",
        "/rally standdown #99",
        "/rally approve ben",
        "/press 4242",
        "/clock tomorrow",
        "/rally status",
    )
    assert 'I don\'t know the command "frobnicate"' in out
    assert "isn't a web link I can use" in out or "needs at least one link" in out
    assert "There is no alert #99 that you can see" in out
    assert "Only leads can do that." in out
    assert "Usage: /press N" in out
    assert "Usage: /clock" in out
    assert "No open alerts you can see" in out


def test_state_survives_a_restart(tmp_path: Path) -> None:
    run_console(tmp_path, "/rally alert https://x.com/t/1 first")
    out = run_console(tmp_path, "/rally status", "/rally alert https://x.com/t/2 second")
    assert "#1 Ana: active" in out
    assert "Alert #2 raised" in out
