"""The interactive console in a real pseudo-terminal: no log line over the prompt, and
Ctrl-C or Ctrl-D leave at once, cleanly."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pexpect
import pytest

pytestmark = pytest.mark.e2e

RALLYBOT = Path(sys.executable).with_name("rallybot")


def console(data_dir: Path) -> pexpect.spawn:
    """`rallybot run` on a terminal, with a fast scheduler tick and logging at DEBUG, so any
    log line that could reach the screen would."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "RALLYBOT_", "DATABASE_URL"))
    }
    env.update(
        RALLYBOT_DATA_DIR=str(data_dir), RALLYBOT_TICK_SECONDS="0.1", RALLYBOT_LOG_LEVEL="DEBUG"
    )
    child = pexpect.spawn(
        str(RALLYBOT), ["run"], env=env, cwd=str(data_dir), encoding="utf-8", timeout=60
    )
    child.expect("ana> ")
    return child


def ended(child: pexpect.spawn) -> str:
    """Everything the console printed until it ended, once it has ended."""
    child.expect(pexpect.EOF, timeout=10)
    child.close()
    return str(child.before)


@pytest.mark.parametrize("leave", ["ctrl-c", "ctrl-d"])
def test_the_console_logs_to_a_file_and_leaves_at_once(tmp_path: Path, leave: str) -> None:
    child = console(tmp_path)
    banner = str(child.before)
    log_file = tmp_path / "rallybot.log"
    assert f"Logs go to {log_file}" in banner
    child.sendline("/rally alert https://x.com/troll/status/1 pile-on")
    child.expect("Rally #1: Ana is under attack")
    child.expect("ana> ")
    # Many scheduler ticks pass with the prompt waiting: nothing may be printed over it.
    time.sleep(1.5)
    with pytest.raises(pexpect.TIMEOUT):
        child.expect(r"\S", timeout=0.5)
    if leave == "ctrl-c":
        child.sendintr()
    else:
        child.sendeof()
    started = time.monotonic()
    out = ended(child)
    assert time.monotonic() - started < 5  # no waiting for Enter
    assert child.exitstatus == 0 and child.signalstatus is None
    assert "Bye." in out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out
    logged = log_file.read_text(encoding="utf-8")
    assert "DEBUG" in logged  # the logs went to the file, at the level asked for
    assert "https://x.com/troll" not in logged  # and never what people typed


def test_ctrl_c_while_typing_leaves_without_enter(tmp_path: Path) -> None:
    child = console(tmp_path)
    child.send("/rally sta")  # half a line, no Enter
    time.sleep(0.3)
    child.sendintr()
    out = ended(child)
    assert child.exitstatus == 0 and "Bye." in out and "Traceback" not in out
