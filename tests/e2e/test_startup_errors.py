"""Every problem at start is one line on stderr saying what to do, with the exit code (2 usage
or configuration, 1 a failure) and no traceback unless RALLYBOT_LOG_LEVEL=DEBUG."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.postgres import POSTGRES_URL
from tests.support.secrets import TEST_KEY

pytestmark = pytest.mark.e2e

RALLYBOT = Path(sys.executable).with_name("rallybot")
COMMANDS = (
    "run",
    "migrate",
    "config",
    "web",
    "worker",
    "slack-manifest",
    "discord-sync",
    "discord-invite",
    "digest",
    "library",
    "new-key",
    "rotate-key",
)


def rallybot(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "RALLYBOT_", "DATABASE_URL"))
    }
    clean["RALLYBOT_DATA_DIR"] = str(cwd)
    return subprocess.run(
        [str(RALLYBOT), *args],
        input="",
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=cwd,
        timeout=120,
        check=False,
    )


def one_line(done: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """The process ended with `code` and one line on stderr holding every word: the last,
    after at most a library's own log lines (discord.py warns that voice is not installed)."""
    assert done.returncode == code, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    said = [line for line in lines if line.startswith("rallybot: ")]
    assert len(said) == 1 and lines[-1] == said[0], done.stderr
    assert all(" WARNING discord." in line for line in lines[:-1]), done.stderr
    for word in words:
        assert word in said[0], said[0]
    return said[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_database_that_is_down_is_a_failure(tmp_path: Path) -> None:
    url = f"postgresql://rally:s3cret@127.0.0.1:{closed_port()}/rallybot"
    for command in ("migrate", "run", "worker"):
        env = {"DISCORD_TOKEN": "x"} if command == "worker" else {}
        line = one_line(
            rallybot(tmp_path, command, DATABASE_URL=url, RALLYBOT_SECRET_KEY=TEST_KEY, **env),
            1,
            "is unreachable",
            "start it, or fix DATABASE_URL",
        )
        assert "s3cret" not in line  # the password is never repeated
    debug = rallybot(
        tmp_path,
        "migrate",
        DATABASE_URL=url,
        RALLYBOT_LOG_LEVEL="DEBUG",
        RALLYBOT_SECRET_KEY=TEST_KEY,
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    assert debug.stderr.splitlines()[-1].startswith("rallybot: the database")


@pytest.mark.postgres
@pytest.mark.skipif(POSTGRES_URL is None, reason="RALLYBOT_TEST_POSTGRES_URL is not set")
def test_a_database_that_does_not_exist_is_a_failure(tmp_path: Path) -> None:
    assert POSTGRES_URL is not None
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/rallybot_no_such_database"
    one_line(
        rallybot(tmp_path, "migrate", DATABASE_URL=url, RALLYBOT_SECRET_KEY=TEST_KEY),
        1,
        "does not exist",
        "create it",
    )


def test_postgresql_without_a_secret_key_is_refused_by_config_as_by_run(tmp_path: Path) -> None:
    url = "postgresql://rally:s3cret@db.example/rallybot"
    env = {"DISCORD_TOKEN": "x"}
    said = {
        one_line(rallybot(tmp_path, command, DATABASE_URL=url, **env), 2, "RALLYBOT_SECRET_KEY")
        for command in ("config", "run", "web", "worker", "migrate", "rotate-key")
    }
    assert len(said) == 1 and "rallybot new-key" in said.pop()
    # A key that is not a Fernet key is refused as a setting, never repeated.
    bad = one_line(
        rallybot(tmp_path, "config", DATABASE_URL=url, RALLYBOT_SECRET_KEY="hunter2-not-a-key"),
        2,
        "RALLYBOT_SECRET_KEY",
        "not a Fernet key",
    )
    assert "hunter2" not in bad
    made = rallybot(tmp_path, "new-key")
    assert made.returncode == 0 and len(made.stdout.strip()) == 44
    ok = rallybot(tmp_path, "config", DATABASE_URL=url, RALLYBOT_SECRET_KEY=made.stdout.strip())
    assert ok.returncode == 0 and made.stdout.strip() not in ok.stdout


def test_a_database_url_with_a_wrong_scheme_is_refused_by_config_as_by_run(
    tmp_path: Path,
) -> None:
    url = "mysql://rally:s3cret@db.example/rallybot"
    said = {
        one_line(rallybot(tmp_path, command, DATABASE_URL=url), 2, "DATABASE_URL", "'mysql'")
        for command in ("config", "run", "migrate")
    }
    assert len(said) == 1 and "s3cret" not in said.pop()


def test_a_time_zone_that_does_not_exist_is_refused_by_config_as_by_run(tmp_path: Path) -> None:
    said = {
        one_line(
            rallybot(tmp_path, command, RALLYBOT_TIMEZONE="Mars/Base"),
            2,
            "RALLYBOT_TIMEZONE",
            "'Mars/Base' is not a time zone",
        )
        for command in ("config", "run", "worker")
    }
    assert len(said) == 1
    assert not list(tmp_path.glob("*.db"))  # refused before anything was created
    good = rallybot(tmp_path, "config", RALLYBOT_TIMEZONE="Europe/Paris")
    assert good.returncode == 0 and "timezone = Europe/Paris" in good.stdout


def test_a_broken_config_file_and_a_broken_library_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[rallybot]\nrally_cap = \n", encoding="utf-8")
    one_line(
        rallybot(tmp_path, "run", RALLYBOT_CONFIG=str(broken)), 2, "broken.toml", "not valid TOML"
    )
    one_line(
        rallybot(tmp_path, "config", RALLYBOT_CONFIG=str(tmp_path / "missing.toml")),
        2,
        "missing.toml not found",
    )
    library = tmp_path / "library.toml"
    library.write_text('[[message]]\nkind = "nonsense"\ntext = "Hi"\n', encoding="utf-8")
    for command in ("config", "run"):
        one_line(
            rallybot(tmp_path, command, RALLYBOT_LIBRARY_FILE=str(library)),
            2,
            "library file",
            "is not valid",
        )
    one_line(
        rallybot(tmp_path, "config", RALLYBOT_RALLY_CAP="many"), 2, "RALLYBOT_RALLY_CAP", "'many'"
    )


def test_a_data_dir_rallybot_cannot_use(tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("", encoding="utf-8")
    for command in ("config", "run", "migrate"):
        one_line(
            rallybot(tmp_path, command, RALLYBOT_DATA_DIR=str(a_file / "data")),
            2,
            "RALLYBOT_DATA_DIR",
            "is a file, not a folder",
        )


def test_a_worker_with_no_platform_says_so(tmp_path: Path) -> None:
    one_line(rallybot(tmp_path, "worker"), 2, "nothing to do", "DISCORD_TOKEN")


def test_discord_helpers_exit_alike_without_credentials(tmp_path: Path) -> None:
    sync = one_line(rallybot(tmp_path, "discord-sync"), 2, "DISCORD_TOKEN")
    invite = one_line(rallybot(tmp_path, "discord-invite"), 2, "DISCORD_TOKEN")
    assert sync != invite  # each says what it needs


def test_digest_and_library_never_create_a_database(tmp_path: Path) -> None:
    for args in (("digest",), ("library", "export")):
        one_line(rallybot(tmp_path, *args), 2, "no rallybot database", "rallybot run")
    assert not list(tmp_path.glob("*.db"))


def test_version_and_every_command_has_a_description(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib.metadata import version

    shown = rallybot(tmp_path, "--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"rallybot {version('rallybot')}"
    top = rallybot(tmp_path, "--help")
    assert top.returncode == 0 and "Exit codes: 0 done, 1 a failure" in top.stdout
    # Every subcommand's help, from the same parser the command runs (in this process:
    # one interpreter start per command cost half a minute of CI).
    from bot.cli import parser

    monkeypatch.setenv("COLUMNS", "100")  # the same width here as in the child process
    helps = {}
    for command in COMMANDS:
        with pytest.raises(SystemExit) as done:
            parser().parse_args([command, "--help"])
        assert done.value.code == 0
        helps[command] = capsys.readouterr().out
        usage, description = helps[command].split("\n\n")[:2]
        assert usage.startswith(f"usage: rallybot {command}")
        assert len(description.split()) >= 8, (command, description)
    helped = rallybot(tmp_path, "worker", "--help", COLUMNS="100")
    assert helped.returncode == 0 and helped.stdout == helps["worker"]
    wrong = rallybot(tmp_path, "frobnicate")
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr


def test_a_port_already_taken_names_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        one_line(
            rallybot(tmp_path, "worker", DISCORD_TOKEN="x", RALLYBOT_METRICS_PORT=port),
            2,
            f"can't listen on http://127.0.0.1:{port}",
            "choose another RALLYBOT_METRICS_PORT",
        )
