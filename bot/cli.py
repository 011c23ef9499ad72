"""The `rallybot` command: run, migrate, config, digest, library and the platform helpers.

Exit codes: 0 done, 1 a failure (a database down, a platform refusing), 2 a usage or
configuration problem. Every problem at start is one line on stderr; the traceback only
with RALLYBOT_LOG_LEVEL=DEBUG.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from bot import logs as rally_logging
from bot.ops.startup import FAILURE, USAGE, StartupError, explain
from bot.settings import ConfigError, Settings, config_file, describe

if TYPE_CHECKING:
    from bot.core.services import Services

T = TypeVar("T")

COLLECTIVE_HELP = "the collective's name (needed when there are several)"


def version() -> str:
    try:
        return metadata.version("rallybot")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rallybot",
        description="Helps advocacy collectives of health professionals answer online attacks "
        "together, in Slack, Discord and a local console.",
        epilog="Exit codes: 0 done, 1 a failure (database down, platform refusing), "
        "2 a usage or configuration problem.",
    )
    p.add_argument("--version", action="version", version=f"rallybot {version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=description)

    run = command(
        "run",
        "run rallybot (the console when no platform is set)",
        "Run every configured platform (Slack Socket Mode, Discord), delivery and the scheduler "
        "in one process. With no platform credentials, open the console on a demo collective: "
        "interactive on a terminal, or reading a script from a pipe. SQLite is migrated here.",
    )
    run.add_argument(
        "--console", action="store_true", help="open the console on the demo collective"
    )
    command(
        "migrate",
        "bring the database schema up to date",
        "Run the database migrations up to this version's schema (the release step on "
        "PostgreSQL; SQLite is also migrated by `rallybot run`).",
    )
    command(
        "config",
        "check and print the effective settings (secrets hidden)",
        "Load and check every setting exactly as `run` uses it (environment, .env, the config "
        "file, the starter library), then print them with secrets hidden. Exit 2 if any is wrong.",
    )
    command(
        "web",
        "serve Slack over HTTP on $PORT, with delivery",
        "Serve Slack's events, slash commands and OAuth install on $PORT (plus /livez, /readyz "
        "and /metrics with RALLYBOT_METRICS_TOKEN), and deliver the outbox. Run as many copies as "
        "you need on one PostgreSQL.",
    )
    command(
        "worker",
        "the Discord gateway, delivery and the scheduler (scale-out)",
        "Run the Discord gateway (with DISCORD_TOKEN), deliver every platform's outbox and run "
        "the scheduler. Several may run on one PostgreSQL. Exit 2 when no platform is set.",
    )
    manifest = command(
        "slack-manifest",
        "print the Slack app manifest",
        "Print the manifest to create rallybot's Slack app from: Socket Mode, or HTTP mode "
        "with --url.",
    )
    manifest.add_argument("--url", help="public https base URL: HTTP mode instead of Socket Mode")
    sync = command(
        "discord-sync",
        "register the /rally commands with Discord",
        "Register the /rally and /rally-library commands with Discord over REST "
        "(needs DISCORD_TOKEN).",
    )
    sync.add_argument("--guild", help="register in this guild only (instant; for testing)")
    command(
        "discord-invite",
        "print the Discord invite URL for the bot",
        "Print the link that adds the bot to a server with the least permissions it needs "
        "(needs DISCORD_APPLICATION_ID or DISCORD_TOKEN).",
    )
    digest = command(
        "digest",
        "a collective's weekly digest",
        "Print (or queue for the leads) a week's digest of a collective, from an existing "
        "database, as text, JSON or Markdown, with the 8-week chart as a PNG.",
    )
    digest.add_argument("--collective", help=COLLECTIVE_HELP)
    digest.add_argument(
        "--week", help="an ISO week such as 2026-W48 (default: the last complete week)"
    )
    digest.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    digest.add_argument("--out", help="write to this file instead of standard output")
    digest.add_argument("--chart", help="also write the 8-week chart (PNG) to this file")
    digest.add_argument(
        "--send",
        action="store_true",
        help="queue it for the leads (a running rallybot delivers it)",
    )
    library = command(
        "library",
        "import or export a collective's message library",
        "Add a TOML file's messages to a collective's library (they wait for a lead's "
        "approval), or export the library as a TOML file, on an existing database.",
    )
    lib = library.add_subparsers(dest="library_command", required=True, metavar="ACTION")
    lib_import = lib.add_parser(
        "import",
        help="add a library file's messages (they wait for a lead)",
        description="Add a library file's messages; they wait for a lead's approval.",
    )
    lib_import.add_argument("file", help="a TOML library file (as `library export` writes)")
    lib_import.add_argument("--collective", help=COLLECTIVE_HELP)
    lib_export = lib.add_parser(
        "export",
        help="print the library as a TOML file",
        description="Print (or write) the collective's library as a TOML file.",
    )
    lib_export.add_argument("--collective", help=COLLECTIVE_HELP)
    lib_export.add_argument("--out", help="write to this file instead of standard output")
    command(
        "new-key",
        "print a new secret key for RALLYBOT_SECRET_KEY",
        "Print a new Fernet key. Keep it with your other secrets: the Slack tokens in the "
        "database can't be read without it.",
    )
    command(
        "rotate-key",
        "re-encrypt the stored Slack tokens with RALLYBOT_SECRET_KEY",
        "Re-encrypt every stored Slack token with RALLYBOT_SECRET_KEY, reading tokens encrypted "
        "with any key in RALLYBOT_OLD_SECRET_KEYS, in one transaction (tokens stored before "
        "encryption are encrypted too). Afterwards RALLYBOT_OLD_SECRET_KEYS can go.",
    )
    return p


def load_settings() -> Settings:
    """Settings checked exactly as every command uses them; a StartupError (exit 2) if not."""
    try:
        settings = Settings()
        settings.policy()  # reads the starter library: a broken file is reported here
        settings.make_copy()
    except ValidationError as error:
        raise StartupError(f"the configuration is not valid: {describe(error)}") from None
    except ConfigError as error:
        raise StartupError(str(error)) from None
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    debug = os.environ.get("RALLYBOT_LOG_LEVEL", "").strip().upper() == "DEBUG"
    try:
        return _command(load_settings(), args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        problem = error if isinstance(error, StartupError) else _explain(error)
        if debug:
            traceback.print_exception(error, file=sys.stderr)
        print(f"rallybot: {_one_line(str(problem))}", file=sys.stderr)
        return problem.code


def _explain(error: Exception) -> StartupError:
    """Known problems as a StartupError; anything else as an unexpected failure (exit 1)."""
    from bot.runtime import SchemaOutdated

    if isinstance(error, SchemaOutdated | ConfigError):
        return StartupError(str(error))
    reason = rally_logging.redact(f"{type(error).__name__}: {error}")[:300]
    return StartupError(
        f"stopped by an unexpected error ({reason}); set RALLYBOT_LOG_LEVEL=DEBUG to see where",
        FAILURE,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


# Commands that open the database: on PostgreSQL they need RALLYBOT_SECRET_KEY.
DATABASE_COMMANDS = frozenset(
    {"run", "web", "worker", "migrate", "config", "digest", "library", "rotate-key"}
)


def _command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.keys import new_key, require_key

    if args.command == "new-key":
        print(new_key())
        return 0
    if args.command in DATABASE_COMMANDS:
        require_key(settings)
    if not (args.command == "run" and _console(settings, args)):
        rally_logging.configure(settings.log_level, settings.log_format)
    if args.command == "config":
        return _config(settings)
    if args.command == "rotate-key":
        return asyncio.run(_rotate_key(settings))
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    if args.command == "digest":
        return _digest(settings, args)
    if args.command == "library":
        return _library(settings, args)
    if args.command == "worker":
        return asyncio.run(_worker(settings))
    if args.command == "web":
        from bot.runtime import web

        return asyncio.run(web(settings))
    if args.command == "slack-manifest":
        from bot.adapters.slack.manifest import render_manifest

        print(render_manifest(settings, args.url), end="")
        return 0
    if args.command == "discord-sync":
        return asyncio.run(_discord_sync(settings, args.guild))
    if args.command == "discord-invite":
        from bot.adapters.discord.ops import invite_url

        print(asyncio.run(invite_url(settings)))
        return 0
    return asyncio.run(_run(settings, console=args.console))


def _config(settings: Settings) -> int:
    """Every setting as `run` uses it, secrets hidden."""
    from bot.keys import key_file

    print(f"config_file = {config_file()}")
    for name, value in settings.model_dump(exclude={"copy_texts"}).items():
        print(f"{name} = {value!s}")
    print(f"copy = {len(settings.copy_texts)} texts")
    if settings.secret_key is None:
        print(f"secret_key_file = {key_file(settings)} (created when first needed)")
    return 0


def _console(settings: Settings, args: argparse.Namespace) -> bool:
    """`run` opens the console (which sets up its own logging) with no platform configured."""
    from bot.platforms import configured

    return bool(args.console) or not configured(settings, "run")


async def _migrate(settings: Settings) -> int:
    from bot.store import schema

    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        await schema.upgrade(settings.db_url)
        revision = await schema.current_revision(settings.db_url)
    except Exception as error:
        found = explain(error, settings.db_url)
        if found is None:
            raise
        raise found from error
    print(f"rallybot: the database schema is at {revision}")
    return 0


def _library(settings: Settings, args: argparse.Namespace) -> int:
    from bot.adapters.files import FileProblem, read_text_file

    content = ""
    if args.library_command == "import":
        try:
            content = read_text_file(Path(args.file))
        except FileProblem as problem:
            print(f"rallybot: {problem}", file=sys.stderr)
            return USAGE
    result = asyncio.run(_library_run(settings, args.library_command, args.collective, content))
    if isinstance(result, int):
        return result
    if args.library_command == "import":
        print(f"rallybot: {result}", file=sys.stderr)
    elif args.out:
        Path(args.out).write_text(result, encoding="utf-8")
    else:
        print(result, end="")
    return 0


async def _with_services(settings: Settings, job: Callable[[Services], Awaitable[T]]) -> T | int:
    """Run one job on the core against an up-to-date schema; an exit code after saying what
    went wrong (an outdated schema, or the core refusing, in its own words)."""
    from bot.core.errors import RallyError
    from bot.runtime import opened

    found = settings.sqlite_file
    if found is not None and not found.is_file():
        # Reading a week or a library from an empty database would only create one.
        raise StartupError(
            f"there is no rallybot database at {found}: set RALLYBOT_DATA_DIR (or DATABASE_URL) "
            "to where rallybot runs, or start it with `rallybot run` first"
        )
    async with opened(settings) as runtime:
        try:
            return await job(runtime.services)
        except RallyError as error:
            print(f"rallybot: {runtime.services.copy(error.key, **error.params)}", file=sys.stderr)
            return USAGE


async def _library_run(
    settings: Settings, what: str, collective: str | None, content: str
) -> str | int:
    """The export's text, or what the import did; an exit code after saying what failed."""

    async def job(services: Services) -> str:
        if what == "import":
            added, same = await services.library_import(collective, content)
            if not added:
                return f"No messages added ({same} already there)"
            messages = "1 message" if added == 1 else f"{added} messages"
            waits = "it waits" if added == 1 else "they wait"
            return f"{messages} added ({same} already there); {waits} for a lead's approval"
        return await services.library_export(collective)

    return await _with_services(settings, job)


async def _digest_data(
    settings: Settings, args: argparse.Namespace
) -> tuple[str, bytes | None] | int:
    """The rendered digest and its chart, or an exit code after saying what went wrong."""
    from bot.core.digest.render import render_markdown, render_text

    async def job(services: Services) -> tuple[str, bytes | None]:
        data = await services.digest_report(args.collective, args.week, args.send)
        copy = services.copy
        if args.format == "json":
            rendered = data.to_json()
        elif args.format == "markdown":
            rendered = render_markdown(copy, data)
        else:
            rendered = render_text(copy, data)
        png = None
        if args.chart and services.chart is not None:
            png = services.chart.weekly(
                data.weeks, copy("digest.chart_alerts"), copy("digest.chart_median")
            )
        return rendered, png

    return await _with_services(settings, job)


def _digest(settings: Settings, args: argparse.Namespace) -> int:
    result = asyncio.run(_digest_data(settings, args))
    if isinstance(result, int):
        return result
    rendered, png = result
    if args.out:
        Path(args.out).write_text(rendered, encoding="utf-8")
    else:
        print(rendered, end="")
    if args.send:
        print("rallybot: the digest is queued for the leads", file=sys.stderr)
    if args.chart:
        if png is None:
            print("rallybot: the chart could not be drawn (see the log)", file=sys.stderr)
            return FAILURE
        Path(args.chart).write_bytes(png)
    return 0


async def _rotate_key(settings: Settings) -> int:
    """Every stored Slack token re-encrypted with the primary key, in one transaction."""
    from bot.adapters.slack.storage import reseal
    from bot.keys import Unreadable, secret_box
    from bot.runtime import opened

    if settings.secret_key is None:
        raise StartupError(
            "set RALLYBOT_SECRET_KEY to the new key (`rallybot new-key`) and "
            "RALLYBOT_OLD_SECRET_KEYS to the key the tokens are encrypted with now"
        )
    found = settings.sqlite_file
    if found is not None and not found.is_file():
        raise StartupError(f"there is no rallybot database at {found}: nothing to re-encrypt")
    async with opened(settings) as runtime:
        try:
            written = await reseal(runtime.engine, secret_box(settings))
        except Unreadable:
            raise StartupError(
                "a stored Slack token opens with none of the keys: put the key it was encrypted "
                "with in RALLYBOT_OLD_SECRET_KEYS (comma-separated); nothing was changed"
            ) from None
    print(
        f"rallybot: {written} Slack tokens are encrypted with the new key; "
        "RALLYBOT_OLD_SECRET_KEYS can be removed once every process runs with the new key"
    )
    return 0


async def _discord_sync(settings: Settings, guild: str | None) -> int:
    """`discord-sync`: the commands registered over REST, from the composition root's
    runtime (no schema needed: nothing is read or written)."""
    from bot.adapters.discord.ops import sync_commands
    from bot.runtime import assembled

    async with assembled(settings) as runtime:
        return await sync_commands(runtime, guild)


async def _worker(settings: Settings) -> int:
    from bot.runtime import work

    await work(settings)
    return 0


async def _run(settings: Settings, console: bool) -> int:
    from bot.runtime import run

    await run(settings, console=console)
    return 0
