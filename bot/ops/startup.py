"""Start-up problems in one line, with the exit code, and retrying a platform until it answers."""

from __future__ import annotations

import asyncio
import errno
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from sqlalchemy import exc as sql
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

T = TypeVar("T")

USAGE = 2  # a usage or configuration problem: the operator changes something
FAILURE = 1  # something failed (a database down): trying again later may work


class StartupError(Exception):
    """What is wrong and what to do, in one line; `code` is the process's exit code."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


def where(url: str) -> str:
    """The database, named without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL too broken to parse is named by its scheme alone
        return url.split("://", 1)[0] + "://…"


def explain(error: BaseException, url: str) -> StartupError | None:
    """A database problem met at start, as one line; None when it is something else."""
    db = where(url)
    if isinstance(error, sql.DBAPIError):
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        lowered = reason.lower()
        if "unable to open database file" in lowered:
            return StartupError(
                f"the SQLite database {db} can't be opened: check RALLYBOT_DATA_DIR or "
                "DATABASE_URL names a folder rallybot may write",
                USAGE,
            )
        if "does not exist" in lowered and "database" in lowered:
            return StartupError(
                f"the database in {db} does not exist ({reason}): create it, or fix DATABASE_URL",
                FAILURE,
            )
        if any(w in lowered for w in ("password", "authentication", "role", "permission")):
            return StartupError(
                f"the database {db} refused the login ({reason}): fix the user and password "
                "in DATABASE_URL",
                USAGE,
            )
        return StartupError(f"the database {db} failed ({reason}): check it and DATABASE_URL", 1)
    if isinstance(error, OSError | TimeoutError):
        reason = error.strerror or type(error).__name__ if isinstance(error, OSError) else "timeout"
        return StartupError(
            f"the database {db} is unreachable ({reason}): start it, or fix DATABASE_URL",
            FAILURE,
        )
    return None


async def listen(site: web.TCPSite, setting: str, runner: web.AppRunner) -> None:
    """Start listening; a port that is taken or not allowed is a StartupError naming the
    setting to change (the runner is cleaned up first)."""
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        if error.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise StartupError(
                f"can't listen on {site.name} ({error.strerror}): choose another {setting}"
            ) from None
        raise


def backoff(first: float, cap: float) -> Callable[[], float]:
    """Exponential delays with jitter: first, twice that, … up to cap."""
    delay = first

    def next_delay() -> float:
        nonlocal delay
        current = delay
        delay = min(cap, delay * 2)
        return current * random.uniform(0.8, 1.2)

    return next_delay


async def until_up(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    transient: Callable[[BaseException], bool],
    report: Callable[[str | None], None],
    first: float = 1.0,
    cap: float = 60.0,
) -> T:
    """Run attempt until it succeeds; a transient failure (the network) is retried with backoff
    and reported (for /readyz), anything else is raised at once."""
    delays = backoff(first, cap)
    while True:
        try:
            result = await attempt()
        except Exception as error:
            if not transient(error):
                raise
            delay = delays()
            reason = f"{what} is unreachable ({type(error).__name__}); retrying"
            log.warning("%s in %.0f s", reason, delay)
            report(reason)
            await asyncio.sleep(delay)
        else:
            report(None)
            return result
