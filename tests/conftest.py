"""Suite-wide guard: PostgreSQL tests that were asked for must run, never silently vanish."""

from __future__ import annotations

import os

import pytest

_store_items: list[str] = []
_postgres_passed: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _store_items.extend(i.nodeid for i in items if i.nodeid.startswith("tests/store/"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Also called on pytest-xdist's controller, which collects nothing itself.
    if report.when == "setup" and report.nodeid.startswith("tests/store/"):
        _store_items.append(report.nodeid)
    if report.when == "call" and report.passed and "postgres" in report.keywords:
        _postgres_passed.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("RALLYBOT_TEST_POSTGRES_URL") and _store_items and not _postgres_passed:
        print("\nRALLYBOT_TEST_POSTGRES_URL is set but no PostgreSQL test passed: failing.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _store_items:
        terminalreporter.write_line(
            f"PostgreSQL tests passed: {len(_postgres_passed)}"
            if os.environ.get("RALLYBOT_TEST_POSTGRES_URL")
            else "PostgreSQL tests not requested (set RALLYBOT_TEST_POSTGRES_URL to run them)"
        )
