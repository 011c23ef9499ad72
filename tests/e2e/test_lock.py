"""The lock file check (.ci/lock --check, run by CI) passes on this checkout and fails when
pyproject.toml and requirements.txt disagree. It asks PyPI, as CI's install does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / ".ci" / "lock"), "--check"],
        env={**os.environ, "RALLYBOT_ROOT": str(root), "UV": str(UV)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_lock_matches_and_a_changed_dependency_fails_the_check(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "requirements.txt", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("bot", "config", "migrations"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=ignore)
    same = check(tmp_path)
    assert same.returncode == 0, same.stderr
    assert "requirements.txt matches pyproject.toml" in same.stdout
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert '    "prometheus-client>=0.20,<1",\n' in text
    pyproject.write_text(text.replace('    "prometheus-client>=0.20,<1",\n', ""), encoding="utf-8")
    changed = check(tmp_path)
    assert changed.returncode == 1
    assert "-prometheus-client==" in changed.stdout  # the diff shows what the lock would lose
    assert "does not match pyproject.toml: run `bash .ci/lock`" in changed.stderr
