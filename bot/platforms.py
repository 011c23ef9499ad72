"""The chat platforms rallybot knows, in one table: each one's name, whether the settings
configure it for a process role, and a factory per role (imported only when used).

Adding a platform adds its adapter package and one `Registered` entry here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.bootstrap import Runtime
from bot.ops.platform import Platform
from bot.settings import Settings

Role = Literal["run", "web", "worker"]
ROLES: tuple[Role, ...] = ("run", "web", "worker")

Factory = Callable[[Runtime], Platform]


@dataclass(frozen=True)
class Registered:
    """A platform: `configured(settings, role)` says whether this process runs it, `make[role]`
    builds it (a role it has no factory for never runs it), `check[role]` refuses settings
    it can't run with (a ConfigError, before the database is opened), `needs[role]` says what
    to set when no platform is configured."""

    name: str
    configured: Callable[[Settings, Role], bool]
    make: Mapping[Role, Factory] = field(default_factory=dict)
    check: Mapping[Role, Callable[[Settings], None]] = field(default_factory=dict)
    needs: Mapping[Role, str] = field(default_factory=dict)

    def runs_in(self, settings: Settings, role: Role) -> bool:
        return role in self.make and self.configured(settings, role)


# --- Slack: Socket Mode in `run`, HTTP (events, OAuth install) in `web`, sends in `worker`.


def _slack_configured(settings: Settings, role: Role) -> bool:
    if role == "run":
        return settings.has_slack
    if role == "web":
        return bool(
            settings.slack_signing_secret or settings.slack_client_id or settings.slack_bot_token
        )
    return bool(settings.slack_bot_token or settings.slack_client_id)


def _slack_socket(runtime: Runtime) -> Platform:
    from bot.adapters.slack.socket_mode import create

    return create(runtime)


def _slack_http(runtime: Runtime) -> Platform:
    from bot.adapters.slack.web import create

    return create(runtime)


def _slack_http_check(settings: Settings) -> None:
    from bot.adapters.slack.web import check_settings

    check_settings(settings)


def _slack_sender(runtime: Runtime) -> Platform:
    from bot.adapters.slack.sender import create_sender

    return create_sender(runtime)


SLACK = Registered(
    "slack",
    _slack_configured,
    {"run": _slack_socket, "web": _slack_http, "worker": _slack_sender},
    check={"web": _slack_http_check},
    needs={
        "run": "SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Slack)",
        "web": "SLACK_SIGNING_SECRET with SLACK_BOT_TOKEN or SLACK_CLIENT_ID (Slack)",
        "worker": "SLACK_BOT_TOKEN / SLACK_CLIENT_ID (Slack's deliveries)",
    },
)


# --- Discord: the gateway (one process at a time, by a lease) and REST, in `run` and `worker`.


def _discord(runtime: Runtime) -> Platform:
    from bot.adapters.discord.client import create

    return create(runtime)


DISCORD = Registered(
    "discord",
    lambda settings, role: settings.has_discord,
    {"run": _discord, "worker": _discord},
    needs={"run": "DISCORD_TOKEN (Discord)", "worker": "DISCORD_TOKEN (Discord)"},
)


PLATFORMS: tuple[Registered, ...] = (SLACK, DISCORD)


def configured(
    settings: Settings, role: Role, registry: Sequence[Registered] = PLATFORMS
) -> list[Registered]:
    """The platforms this process role runs with these settings."""
    return [entry for entry in registry if entry.runs_in(settings, role)]


def check(settings: Settings, role: Role, registry: Sequence[Registered] = PLATFORMS) -> None:
    """Each configured platform's settings checked for the role (a ConfigError if wrong)."""
    for entry in configured(settings, role, registry):
        if role in entry.check:
            entry.check[role](settings)


def platforms_for(
    runtime: Runtime, role: Role = "run", registry: Sequence[Registered] = PLATFORMS
) -> list[Platform]:
    """The platforms of a role, made (each constructor checks its settings: a ConfigError)."""
    return [entry.make[role](runtime) for entry in configured(runtime.settings, role, registry)]


def needs(role: Role, registry: Sequence[Registered] = PLATFORMS) -> str:
    """What to set for a role to have something to do, for the one-line start-up error."""
    return " or ".join(entry.needs[role] for entry in registry if role in entry.needs)
