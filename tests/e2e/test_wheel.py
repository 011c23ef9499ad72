"""The wheel is the product: built and installed exactly as the Dockerfile does it
(deploy/install.sh), then run from a folder outside the clone. This is also the container's
tested equivalent: no container engine runs here, so its install steps, command and health
check run in a fresh virtualenv instead."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.store import schema
from tests.fakes.slack import FakeSlack, User

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = (ROOT / "compose.yaml").read_text(encoding="utf-8")
# What is left out of the build context (.dockerignore) is left out of the copy built here.
IGNORED = shutil.ignore_patterns(
    ".git", ".venv*", "__pycache__", "*.egg-info", "build", "dist", ".hypothesis", "*_cache",
    "*.db", "*.db-*", "bench",
)  # fmt: skip


def steps(stage_command: str) -> list[list[str]]:
    """The Dockerfile's `RUN … sh deploy/install.sh STEP …` lines, as argument lists."""
    found = re.findall(rf"sh \S*install\.sh ({stage_command} \S+ \S+)", DOCKERFILE)
    return [line.split() for line in found]


def dockerfile_env() -> dict[str, str]:
    """The runtime stage's ENV (the last ENV instruction)."""
    block = DOCKERFILE.split("\nENV ")[-1].split("\nCOPY")[0]
    return dict(re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")))


def exec_form(instruction: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")  # continuation lines as one
    line = re.search(rf"^\s*{instruction} \[(.*)\]", joined, re.MULTILINE)
    assert line is not None, instruction
    return re.findall(r'"([^"]*)"', line[1])


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The 'image': a virtualenv with rallybot installed from the wheelhouse, as the
    Dockerfile's two stages build it. Yields the virtualenv's bin folder."""
    base = tmp_path_factory.mktemp("image")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    (wheels_step,) = steps("wheels")
    (install_step,) = steps("install")
    assert wheels_step == ["wheels", "/src", "/wheels"]
    assert install_step == ["install", "/wheels", "/opt/rallybot"]
    script = source / "deploy" / "install.sh"
    env = {**os.environ, "PYTHON": sys.executable}
    started = time.monotonic()
    for step, one, two in (
        ("wheels", source, base / "wheels"),
        ("install", base / "wheels", base / "venv"),
    ):
        subprocess.run(["sh", str(script), step, str(one), str(two)], env=env, check=True)
    print(f"\nwheelhouse and install: {time.monotonic() - started:.1f} s")
    yield base / "venv" / "bin"


def outside(
    bin_dir: Path, cwd: Path, *args: str, stdin: str = "", **more: str
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "RALLYBOT_", "DATABASE_URL", "PYTHON"))
    }
    env.update(more)
    return subprocess.run(
        [str(bin_dir / "rallybot"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=180,
        check=False,
    )


def test_the_packages_in_pyproject_are_every_package_in_the_tree() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    tree = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "bot").rglob("__init__.py")}
    assert tree <= listed
    assert listed - tree == {"bot.defaults", "bot.migrations", "bot.migrations.versions"}


def test_the_installed_wheel_runs_every_command_from_anywhere(image: Path, tmp_path: Path) -> None:
    python = image / "python"
    where = subprocess.run(
        [str(python), "-c", "import bot, importlib.resources as r; print(bot.__file__); "
         "print(r.files('bot.defaults')); print(r.files('bot.migrations'))"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert all("site-packages" in path and str(ROOT) not in path for path in where)
    # Every file the code loads from config/ and migrations/ travels in the wheel.
    shipped_defaults, shipped_migrations = (Path(w) for w in where[1:])
    wanted = [p.relative_to(ROOT / "config") for p in (ROOT / "config").glob("*.toml")]
    assert wanted and all((shipped_defaults / name).is_file() for name in wanted), wanted
    migration_files = [
        p.relative_to(ROOT / "migrations")
        for p in (ROOT / "migrations").rglob("*")
        if p.is_file() and p.suffix in (".py", ".mako")
    ]
    missing = [m for m in migration_files if not (shipped_migrations / m).is_file()]
    assert not missing, missing
    version = outside(image, tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("rallybot ")
    config = outside(image, tmp_path, "config")
    assert config.returncode == 0, config.stderr
    assert "bot/defaults/rallybot.toml" in config.stdout and "copy = " in config.stdout
    migrated = outside(image, tmp_path, "migrate", RALLYBOT_DATA_DIR=str(tmp_path))
    assert migrated.returncode == 0, migrated.stderr
    assert f"the database schema is at {schema.head_revision()}" in migrated.stdout
    script = "\n".join(
        [
            "/rally alert https://x.com/troll/status/1 pile-on after my vaccine video",
            "/as ben",
            "/press I'm on it",
            "/as ana",
            "/rally standdown #1",
        ]
    )
    ran = outside(image, tmp_path, "run", stdin=script + "\n", RALLYBOT_DATA_DIR=str(tmp_path))
    assert ran.returncode == 0, ran.stderr
    assert "Rally #1: Ana is under attack" in ran.stdout
    assert "This alert is closed (stood down)" in ran.stdout
    assert "(End of input. Lines run: 5." in ran.stdout
    chart = tmp_path / "chart.png"
    digest = outside(
        image, tmp_path, "digest", "--chart", str(chart), RALLYBOT_DATA_DIR=str(tmp_path)
    )
    assert digest.returncode == 0, digest.stderr
    assert "weekly digest" in digest.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    zone = outside(image, tmp_path, "config", RALLYBOT_TIMEZONE="Asia/Kathmandu")
    assert zone.returncode == 0 and "timezone = Asia/Kathmandu" in zone.stdout  # tzdata


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def compose_command(service: str) -> list[str]:
    block = COMPOSE.split(f"\n  {service}:\n", 1)[1].split("\n\n", 1)[0]
    found = re.search(r"command: \[(.*)\]", block)
    assert found is not None, service
    return re.findall(r'"([^"]*)"', found[1])


async def test_the_container_migrates_serves_and_answers_its_health_check(
    image: Path, tmp_path: Path
) -> None:
    """compose's release step and web service, with the Dockerfile's entry point, ENV and
    HEALTHCHECK, against SQLite and a fake Slack on loopback."""
    assert exec_form("ENTRYPOINT") == ["rallybot"]
    health = exec_form("HEALTHCHECK .*CMD")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "RALLYBOT_", "DATABASE_URL", "PYTHON"))
    }
    env.update(dockerfile_env())
    env["PATH"] = f"{image}{os.pathsep}{env['PATH']}"  # the image's PATH starts with the venv
    # The only changes: a data folder of this test's own, free ports, a fake Slack.
    port, metrics_port = free_port(), free_port()
    env.update(
        RALLYBOT_DATA_DIR=str(tmp_path), PORT=str(port), RALLYBOT_METRICS_PORT=str(metrics_port)
    )
    async with FakeSlack() as slack:
        team = slack.add_workspace("T0000001", "clinicians", [User("UANA", "ana", "Ana")], {"C1"})
        env.update(
            SLACK_API_URL=slack.api_url,
            SLACK_BOT_TOKEN=team.bot_token,
            SLACK_SIGNING_SECRET="container-test-signing-secret",
        )
        release = await asyncio.create_subprocess_exec(
            *exec_form("ENTRYPOINT"), *compose_command("migrate"), env=env, cwd=tmp_path
        )
        assert await asyncio.wait_for(release.wait(), 120) == 0
        web = await asyncio.create_subprocess_exec(
            *exec_form("ENTRYPOINT"),
            *compose_command("web"),
            env=env,
            cwd=tmp_path,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            probe_ok = False
            for _ in range(600):
                probe = await asyncio.create_subprocess_exec(
                    *health, env=env, stderr=asyncio.subprocess.DEVNULL
                )
                if await probe.wait() == 0:
                    probe_ok = True
                    break
                assert web.returncode is None, "the container's command ended"
                await asyncio.sleep(0.1)
            assert probe_ok
            async with aiohttp.ClientSession() as session:
                ready: dict[str, object] = {}
                for _ in range(300):
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as answer:
                        ready = await answer.json()
                    if answer.status == 200:
                        break
                    await asyncio.sleep(0.1)
                assert ready["ready"] is True, ready
                async with session.get(f"http://127.0.0.1:{port}/metrics") as answer:
                    assert answer.status == 404  # no token set: not on the public port
                async with session.get(f"http://127.0.0.1:{metrics_port}/metrics") as answer:
                    assert answer.status == 200 and "rallybot_outbox_pending" in await answer.text()
        finally:
            web.send_signal(signal.SIGTERM)  # docker stop
            code = await asyncio.wait_for(web.wait(), 30)
            assert web.stderr is not None
            logs = (await web.stderr.read()).decode()
    assert code == 0, logs
    assert "Traceback" not in logs
