"""The installed `rallybot` process, driven by piped scripts, read as dialogues."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

RALLYBOT = Path(sys.executable).with_name("rallybot")


def cli(data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed `rallybot` with these arguments, on the data directory's SQLite and no
    platform credentials from the environment."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "RALLYBOT_", "DATABASE_URL"))
    }
    env["RALLYBOT_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [str(RALLYBOT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=data_dir,
        timeout=120,
        check=False,
    )


def run_console(data_dir: Path, *lines: str) -> str:
    """Run `rallybot run` with these lines on stdin; return stdout (stderr must be clean)."""
    done = cli(data_dir, "run", stdin="\n".join(lines) + "\n")
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
        "/clock +2d",  # check-ins go at 09:00 the person's time: a day on, or two
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
    # The script ends with a one-line summary: the 13 lines, and every message printed above.
    summary = re.search(
        r"\(End of input\. Lines run: (\d+)\. Messages delivered: (\d+)\.\)\n$", out
    )
    assert summary is not None, out[-300:]
    posted = len(re.findall(r"^── (?!only )", out, flags=re.MULTILINE))
    assert (int(summary[1]), int(summary[2])) == (13, posted)


def test_an_alert_for_a_colleague_waits_for_their_consent(tmp_path: Path) -> None:
    out = run_console(
        tmp_path,
        "/as ben",
        "/rally alert https://www.instagram.com/p/abc for=ana they are piling on",
        "/press Yes, and you may name me",  # ben may not answer for ana
        "/as ana",
        "/press Yes, and you may name me",
    )
    waiting = out.split("/press Yes, and you may name me")[0]
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
        "/press Yes, and you may name me",
    )
    before = out.split("sam> /press Rally the crowd")[0]
    assert "#rally" not in before  # no crowd yet
    review = section(out, "DM to sam", "Safety review: alert #1")
    assert "law enforcement" in review
    section(out, "DM to ana", "Alert #1: a safety lead is on it")
    assert "waiting for Ana's choice" in out
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


def test_the_library_suggests_in_the_rally_and_files_go_in_and_out(tmp_path: Path) -> None:
    """The README's library transcript, plus import and export through files."""
    shared = tmp_path / "ours.toml"
    shared.write_text(
        'topics = ["long-covid"]\n[[message]]\nkind = "reply"\ntext = "We believe you."\n',
        encoding="utf-8",
    )
    out = run_console(
        tmp_path,
        "/as lee",
        "/rally library add reply topic=vaccines where=x Vaccines are among the most studied "
        "medicines we have. Thank you for explaining how their safety is checked.",
        "/rally library approve m25",
        "/rally library import ours.toml",
        "/rally library import missing.toml",
        "/as ana",
        "/rally alert https://x.com/someone/status/123 topic=vaccines pile-on after my video",
        "/as ben",
        "/press Suggest a message",
        "/press Use this",
        "/as lee",
        "/rally library export",
    )
    assert "m25 is approved: it can be suggested now." in out
    assert "1 message added, none already in the library. Topics:" in out and "long-covid" in out
    assert "missing.toml is not a file" in out
    suggestions = section(out, "only ben sees this", "1. Public reply")
    assert "  │ " in suggestions  # the block to copy
    assert "Thank you. Counted for alert #1." in out
    export = section(out, "DM to lee", "Message library (26 messages)")
    assert "[file rallybot-library.toml" in export and 'text = "We believe you."' in export


def test_the_library_command_line_imports_and_exports(tmp_path: Path) -> None:
    run_console(tmp_path, "/rally help")  # the demo collective, seeded by the console
    source = tmp_path / "in.toml"
    source.write_text('[[message]]\nkind = "support"\ntext = "Thinking of you."\n', "utf-8")
    done = cli(tmp_path, "library", "import", str(source))
    assert done.returncode == 0, done.stderr
    assert "1 message added (0 already there); it waits" in done.stderr
    again = cli(tmp_path, "library", "import", str(source))
    assert "No messages added (1 already there)" in again.stderr
    exported = cli(tmp_path, "library", "export", "--out", "lib.toml")
    assert exported.returncode == 0, exported.stderr
    text = (tmp_path / "lib.toml").read_text(encoding="utf-8")
    assert 'text = "Thinking of you."' in text and "# m25: pending" in text
    missing = cli(tmp_path, "library", "import", "nope.toml")
    assert missing.returncode == 2 and "nope.toml is not a file" in missing.stderr
    nobody = cli(tmp_path, "library", "export", "--collective", "Nobody")
    assert nobody.returncode == 2 and "Demo collective" in nobody.stderr


def test_the_digest_command_line_prints_any_week(tmp_path: Path) -> None:
    run_console(tmp_path, "/rally alert https://x.com/troll/status/1 pile-on", "/as ben")
    done = cli(tmp_path, "digest", "--format", "json", "--chart", "chart.png")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["schema"] == "rallybot.digest/1" and data["collective"] == "Demo collective"
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = cli(tmp_path, "digest", "--week", "2026-W48")
    assert text.returncode == 0 and "weekly digest for 2026-W48" in text.stdout
    bad = cli(tmp_path, "digest", "--week", "last tuesday")
    assert bad.returncode == 2 and "isn't a week I understand" in bad.stderr


def test_a_doxxing_alert_never_reaches_the_rally_channel_with_its_details(tmp_path: Path) -> None:
    out = run_console(
        tmp_path,
        "/rally alert https://x.com/doxxer/status/1 link=https://pastebin.com/raw/ana-home "
        "kinds=doxxing post=https://x.com/ana/status/9 they posted my home address",
        "/as sam",
        "/press Keep it with the safety team",
        "/as ana",
        "/press Yes, but don't name me",
        "/as sam",
        "/press Rally the crowd",
        "/as ben",
        "/press I'm on it",
        "/as ana",
        "/rally export #1",
    )
    before = out.split("sam> /press Keep it with the safety team")[0]
    assert "#rally" not in before
    # Ana asked for the crowd after the safety lead kept it: told the truth, and Sam heard.
    assert "decided to keep this with the safety team for now" in out
    assert "Ana would now like the crowd" in section(out, "DM to sam", "Alert #1: Ana's choice")
    rally_posts = [p for p in out.split("── ")[1:] if p.startswith("#rally")]
    assert rally_posts
    for post in rally_posts:
        for secret in ("pastebin", "doxxer", "ana/status/9", "home address", "Ana"):
            assert secret not in post
    details = section(out, "only ben sees this", "Alert #1: the details, for you only")
    assert "https://pastebin.com/raw/ana-home" in details and "home address" in details
    packet = section(out, "DM to ana", "Evidence packet: alert #1")
    assert "[file alert-1-evidence.pdf" in packet and "[file alert-1-evidence.md" in packet


def test_a_shortened_link_is_held_and_a_tracker_refused(tmp_path: Path) -> None:
    out = run_console(
        tmp_path,
        "/rally alert https://grabify.link/ABC pile-on",
        "/rally alert https://x.com/troll/1 post=https://bit.ly/my-post pile-on",
        "/rally alert https://x.com@evil.example/ pile-on",
    )
    assert "records who opens it" in out
    review = section(out, "#leads", "Review before rallying: alert #1")
    assert "https://bit.ly/my-post" in review and "link shortener" in review
    assert "a name before its address" in out


def test_a_target_who_forgets_herself_leaves_a_closed_rally_that_names_nobody(
    tmp_path: Path,
) -> None:
    note = "they piled on after my vaccine video"
    attack, post = "https://x.com/troll/status/1", "https://x.com/ana/status/9"
    out = run_console(
        tmp_path,
        f"/rally alert {attack} post={post} {note}",
        "/as ben",
        "/press I'm on it",
        "/as ana",
        "/rally forgetme",
        "/press Yes, forget me",
        "/as lee",
        "/rally status",
        "/rally status #1",
    )
    before, _, after = out.partition("ana> /press Yes, forget me\n")
    assert after, out
    rallied = section(before, "#rally (message", "Rally #1: Ana is under attack")
    assert all(secret in rallied for secret in ("Ben (on it)", note, attack, post))
    assert "Your personal data has been removed" in after
    # What the console printed after the confirmation: every message, echoed lines left out.
    printed = [line for line in after.splitlines() if not re.match(r"^\w+> ", line)]
    for secret in ("Ana", "@ana", note, attack, post):
        assert not [line for line in printed if secret in line], secret
    edits = [p for p in after.split("── ")[1:] if p.startswith("#rally (message m1 updated)")]
    assert edits, after
    closed = edits[-1]
    assert "Rally #1: a member (anonymous) is under attack" in closed
    assert "This alert is closed (the member it is about asked to be forgotten)" in closed
    assert "Ben (on it)" in closed
    assert "] I'm on it" not in closed  # no buttons left
    assert "Attack links" not in closed  # no heading left over nothing
    listed, _, one = after.partition("lee> /rally status #1\n")
    assert "No open alerts you can see" in listed.split("lee> /rally status\n")[1]
    assert "closed (the member it is about asked to be forgotten)" in section(
        one, "only lee sees this", "Alert #1"
    )
