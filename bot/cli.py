"""The `rallybot` command: run, migrate, config, digest, library and the platform helpers."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from bot import logging as rally_logging
from bot.settings import ConfigError, Settings

if TYPE_CHECKING:
    from bot.core.services import Services

T = TypeVar("T")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rallybot",
        description="Helps advocacy collectives answer online attacks together.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run rallybot (the console when no platform is set)")
    run.add_argument(
        "--console", action="store_true", help="open the console on the demo collective"
    )
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser("config", help="print the effective settings (secrets hidden)")
    sub.add_parser("web", help="serve Slack over HTTP (events, OAuth install, /healthz) on $PORT")
    sub.add_parser("worker", help="the Discord gateway, delivery and the scheduler (scale-out)")
    manifest = sub.add_parser("slack-manifest", help="print the Slack app manifest")
    manifest.add_argument("--url", help="public https base URL: HTTP mode instead of Socket Mode")
    sync = sub.add_parser("discord-sync", help="register the /rally commands with Discord")
    sync.add_argument("--guild", help="register in this guild only (instant; for testing)")
    sub.add_parser("discord-invite", help="print the Discord invite URL for the bot")
    digest = sub.add_parser("digest", help="a collective's weekly digest")
    digest.add_argument(
        "--collective", help="the collective's name (needed when there are several)"
    )
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
    library = sub.add_parser("library", help="import or export a collective's message library")
    lib = library.add_subparsers(dest="library_command", required=True)
    lib_import = lib.add_parser(
        "import", help="add a library file's messages (they wait for a lead)"
    )
    lib_import.add_argument("file", help="a TOML library file (as `library export` writes)")
    lib_import.add_argument(
        "--collective", help="the collective's name (needed when there are several)"
    )
    lib_export = lib.add_parser("export", help="print the library as a TOML file")
    lib_export.add_argument(
        "--collective", help="the collective's name (needed when there are several)"
    )
    lib_export.add_argument("--out", help="write to this file instead of standard output")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings()
        settings.policy()  # reads the starter library: a broken file is reported here
    except (ValidationError, ConfigError) as error:
        print(f"rallybot: the configuration is not valid:\n{error}", file=sys.stderr)
        return 2
    rally_logging.configure(settings.log_level, settings.log_format)
    if args.command == "config":
        for name, value in settings.model_dump(exclude={"copy_texts"}).items():
            print(f"{name} = {value!s}")
        print(f"copy = {len(settings.copy_texts)} texts")
        return 0
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    if args.command == "digest":
        return _digest(settings, args)
    if args.command == "library":
        return _library(settings, args)
    if args.command == "worker":
        return asyncio.run(_worker(settings))
    if args.command == "web":
        from bot.adapters.slack.web import serve_web

        return asyncio.run(serve_web(settings))
    if args.command == "slack-manifest":
        from bot.adapters.slack.manifest import render_manifest

        print(render_manifest(settings, args.url), end="")
        return 0
    if args.command == "discord-sync":
        from bot.adapters.discord.ops import sync_commands

        return asyncio.run(sync_commands(settings, args.guild))
    if args.command == "discord-invite":
        from bot.adapters.discord.ops import invite_url

        print(asyncio.run(invite_url(settings)))
        return 0
    return asyncio.run(_run(settings, console=args.console))


async def _migrate(settings: Settings) -> int:
    from bot.store import schema

    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    await schema.upgrade(settings.db_url)
    print(f"rallybot: the database schema is at {await schema.current_revision(settings.db_url)}")
    return 0


def _library(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.adapters.files import FileProblem, read_text_file

    content = ""
    if args.library_command == "import":
        try:
            content = read_text_file(Path(args.file))
        except FileProblem as problem:
            print(f"rallybot: {problem}", file=sys.stderr)
            return 2
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
    from bot.bootstrap import build
    from bot.core.errors import RallyError
    from bot.runtime import SchemaOutdated, prepare_schema

    try:
        await prepare_schema(settings)
    except SchemaOutdated as error:
        print(f"rallybot: {error}", file=sys.stderr)
        return 2
    runtime = build(settings)
    try:
        return await job(runtime.services)
    except RallyError as error:
        print(f"rallybot: {runtime.services.copy(error.key, **error.params)}", file=sys.stderr)
        return 2
    finally:
        await runtime.close()


async def _library_run(
    settings: Settings, what: str, collective: str | None, content: str
) -> str | int:
    """The export's text, or what the import did; an exit code after saying what failed."""

    async def job(services: Services) -> str:
        if what == "import":
            added, same = await services.library_import(collective, content)
            return f"{added} messages added ({same} already there); they wait for a lead's approval"
        return await services.library_export(collective)

    return await _with_services(settings, job)


async def _digest_data(
    settings: Settings, args: argparse.Namespace
) -> tuple[str, bytes | None] | int:
    """The rendered digest and its chart, or an exit code after saying what went wrong."""
    from bot.core.services import digest

    async def job(services: Services) -> tuple[str, bytes | None]:
        data = await services.digest_report(args.collective, args.week, args.send)
        copy = services.copy
        if args.format == "json":
            rendered = data.to_json()
        elif args.format == "markdown":
            rendered = digest.render_markdown(copy, data)
        else:
            rendered = digest.render_text(copy, data)
        png = None
        if args.chart and services.chart is not None:
            png = services.chart.weekly(
                data.weeks, copy("digest.chart_alerts"), copy("digest.chart_median")
            )
        return rendered, png

    return await _with_services(settings, job)


def _digest(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

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
            print(
                "rallybot: no chart: install the chart extra (pip install 'rallybot[chart]')",
                file=sys.stderr,
            )
            return 1
        Path(args.chart).write_bytes(png)
    return 0


async def _worker(settings: Settings) -> int:
    from bot.runtime import SchemaOutdated, work

    try:
        await work(settings)
    except SchemaOutdated as error:
        print(f"rallybot: {error}", file=sys.stderr)
        return 2
    return 0


async def _run(settings: Settings, console: bool) -> int:
    from bot.runtime import SchemaOutdated, run

    try:
        await run(settings, console=console)
    except SchemaOutdated as error:
        print(f"rallybot: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
