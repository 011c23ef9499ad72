"""`rallybot run` on PostgreSQL refuses an outdated schema until `rallybot migrate` ran."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.store import schema
from tests.support.postgres import POSTGRES_URL, throwaway_postgres
from tests.support.secrets import TEST_KEY

RALLYBOT = Path(sys.executable).with_name("rallybot")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.skipif(POSTGRES_URL is None, reason="RALLYBOT_TEST_POSTGRES_URL is not set"),
]


def sqlite_files(folder: Path) -> list[Path]:
    return list(folder.glob("*.db"))


def rallybot(url: str, cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    env["DATABASE_URL"] = url
    env["RALLYBOT_SECRET_KEY"] = TEST_KEY
    return subprocess.run(
        [str(RALLYBOT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


async def test_run_refuses_an_unmigrated_postgres_then_works_after_migrate(
    tmp_path: Path,
) -> None:
    assert POSTGRES_URL is not None
    async with throwaway_postgres(POSTGRES_URL) as url:
        refused = rallybot(url, tmp_path, "run", stdin="/rally status\n")
        assert refused.returncode == 2
        assert "Run `rallybot migrate` first" in refused.stderr
        assert refused.stdout == ""

        migrated = rallybot(url, tmp_path, "migrate")
        assert migrated.returncode == 0, migrated.stderr
        assert f"schema is at {schema.head_revision()}" in migrated.stdout

        ran = rallybot(
            url,
            tmp_path,
            "run",
            stdin="/rally alert https://x.com/t/1 on postgres\n/rally status\n",
        )
        assert ran.returncode == 0, ran.stderr
        assert "Rally #1: Ana is under attack" in ran.stdout
        assert "#1 Ana: active" in ran.stdout
        assert not sqlite_files(tmp_path)  # nothing fell back to SQLite
