"""One typed Settings: env > .env > config/rallybot.toml > defaults; secrets from env only."""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url

from bot.core.errors import BadInput
from bot.core.library import DEFAULT_LIMITS, LibraryFile, parse_file
from bot.core.links import LinkRules
from bot.core.policy import Policy
from bot.core.wording import Copy, flatten
from bot.keys import parse_keys

SECRETS = frozenset(
    {
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "slack_client_secret",
        "discord_token",
        "database_url",
        "metrics_token",
        "secret_key",
        "old_secret_keys",
    }
)
# The schemes DATABASE_URL may use (bot.store.uow picks the async driver for each).
DATABASE_SCHEMES = ("postgres", "postgresql", "postgresql+asyncpg", "sqlite", "sqlite+aiosqlite")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def shipped(name: str) -> Traversable:
    """A file rallybot ships: config/NAME in the source tree, the package bot.defaults once
    installed (an editable install maps the one onto the other; see pyproject.toml)."""
    return resources.files("bot.defaults") / name


def config_path() -> Path | None:
    """$RALLYBOT_CONFIG, else ./config/rallybot.toml; None: the shipped default is used."""
    explicit = os.environ.get("RALLYBOT_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path("config") / "rallybot.toml"
    return local if local.is_file() else None


def config_file() -> Path | Traversable:
    """The configuration file in use: the operator's own, or the one rallybot ships."""
    return config_path() or shipped("rallybot.toml")


class ConfigError(Exception):
    """The configuration file is missing or wrong; the message says what to fix."""


def load_toml(path: Path | Traversable) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} not found: fix RALLYBOT_CONFIG, or unset it to use the "
            "shipped configuration"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder: name the TOML file") from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(f"config file {path} can't be read ({reason})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}; fix it") from None


def describe(error: ValidationError) -> str:
    """A settings error in one line: which setting (as the operator sets it) and what's wrong.
    Secrets' values are never repeated."""
    fields = Settings.model_fields
    parts: list[str] = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else ""
        field_name = next((f for f, info in fields.items() if name in (f, *_aliases(info))), name)
        info = fields.get(field_name)
        where = (_aliases(info)[0] if info is not None and _aliases(info) else None) or (
            f"RALLYBOT_{field_name.upper()}"
        )
        if field_name not in SECRETS and field_name != "copy_texts":
            where += f" / {field_name}"
        message = str(problem["msg"]).removeprefix("Value error, ")
        if field_name not in SECRETS and problem["type"] != "value_error":
            message += f" (got {str(problem.get('input'))[:60]!r})"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _aliases(info: FieldInfo) -> list[str]:
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [alias] if isinstance(alias, str) else []


class TomlSource(PydanticBaseSettingsSource):
    """Tunables from [rallybot] and copy from [copy]; secrets are ignored here on purpose."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data = load_toml(config_file())
        values = {k: v for k, v in dict(data.get("rallybot", {})).items() if k not in SECRETS}
        values["copy_texts"] = flatten(data.get("copy", {}))
        return values


def _env(*names: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(*names))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RALLYBOT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # Where state lives.
    database_url: SecretStr | None = _env("DATABASE_URL")
    data_dir: Path = Path(".")
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    # Slack (secrets from the environment only).
    slack_bot_token: SecretStr | None = _env("SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = _env("SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = _env("SLACK_SIGNING_SECRET")
    slack_client_id: str | None = _env("SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = _env("SLACK_CLIENT_SECRET")
    slack_api_url: str = Field(
        default="https://slack.com/api/", validation_alias=AliasChoices("SLACK_API_URL")
    )
    # Discord.
    discord_token: SecretStr | None = _env("DISCORD_TOKEN")
    discord_api_url: str | None = _env("DISCORD_API_URL")
    discord_gateway_url: str | None = _env("DISCORD_GATEWAY_URL")
    discord_application_id: str | None = _env("DISCORD_APPLICATION_ID")
    port: int = Field(
        default=3000, ge=0, le=65535, validation_alias=AliasChoices("PORT", "RALLYBOT_PORT")
    )
    # /livez, /readyz and /metrics on a port of their own, for every process (`web` also
    # serves them on PORT, where /metrics needs the token), on localhost unless told.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    # /metrics on a public port (PORT) answers only `Authorization: Bearer <this>`.
    metrics_token: SecretStr | None = None
    outbox_lag_alarm: float = Field(default=300.0, gt=0)  # /readyz turns 503 past this
    # Encrypts Slack's tokens at rest (Fernet; comma-separated keys: the first encrypts).
    # Required on PostgreSQL; on SQLite a key file in the data folder stands in.
    secret_key: SecretStr | None = None
    # During a rotation: the keys tokens may still be encrypted with (read, never written).
    old_secret_keys: SecretStr | None = None
    # Tunables ([rallybot] in config/rallybot.toml; RALLYBOT_<NAME> overrides).
    command: str = "rally"
    timezone: str = "America/Chicago"
    rally_cap: int = Field(default=8, ge=1, le=500)
    escalation_wait_minutes: int = Field(default=30, ge=1, le=24 * 60)
    escalation_min_responders: int = Field(default=2, ge=1, le=100)
    escalation_max_steps: int = Field(default=3, ge=1, le=20)
    checkin_offsets_hours: tuple[int, ...] = (24, 72, 168)
    alerts_per_day: int = Field(default=5, ge=1, le=1000)
    link_code_minutes: int = Field(default=15, ge=1, le=24 * 60)
    due_batch: int = Field(default=100, ge=1, le=10_000)
    tick_seconds: float = Field(default=15.0, gt=0, le=3600)
    delivery_attempts: int = Field(default=6, ge=1, le=100)
    review_first_alerts: bool = True
    brigade_threshold: int = Field(default=3, ge=2, le=100)
    reminder_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    consent_expiry_hours: int = Field(default=48, ge=1, le=24 * 30)
    retention_days: int = Field(default=365, ge=1, le=3650)
    join_request_days: int = Field(default=30, ge=1, le=3650)
    open_alert_idle_days: int = Field(default=90, ge=2, le=3650)
    open_alert_notice_days: int = Field(default=7, ge=1, le=365)
    safety_case_days: int = Field(default=30, ge=1, le=3650)
    uninstall_grace_days: int = Field(default=30, ge=1, le=3650)
    channel_check_days: int = Field(default=7, ge=1, le=365)
    shutdown_grace: float = Field(default=10.0, ge=0, le=600)
    # Recorded on every outbox row this process claims; the next process with the same id
    # takes back what it had claimed when it died. Unset: the dyno, or host name and command.
    worker_id: str | None = Field(default=None, min_length=1, max_length=64)
    # Acknowledged Slack and Discord requests this process works from the inbox side by side
    # (different people; one person's in order). 0: none (this process only writes and
    # acknowledges). Unset: the database pool's size (at least 2), except `rallybot web` on
    # PostgreSQL, which leaves the inbox to `rallybot worker`s.
    request_workers: int | None = Field(default=None, ge=0, le=1000)
    # Tries of an acknowledged request (backing off) before the person is told it failed.
    inbox_attempts: int = Field(default=5, ge=1, le=100)
    digest_weekday: int = Field(default=0, ge=0, le=6)  # 0 = Monday
    digest_hour: int = Field(default=9, ge=0, le=23)
    digest_to: Literal["dm", "channel"] = "dm"
    # The message library: the starter file new collectives get (config/library.toml
    # unless set), the characters a suggestion may have per platform, and how many show.
    library_file: Path | None = None
    message_limits: dict[str, int] = Field(default_factory=dict)
    suggestions: int = Field(default=3, ge=1, le=5)
    copy_texts: dict[str, str] = Field(default_factory=dict, repr=False)
    # Issue 17: the link rules (config/links.toml unless set), late consent, the check-in
    # hour and the digest's load watch.
    links_file: Path | None = None
    late_consent_days: int = Field(default=7, ge=0, le=90)
    checkin_hour: int = Field(default=9, ge=0, le=23)
    load_share: float = Field(default=0.4, gt=0, le=1)
    load_min: int = Field(default=3, ge=1, le=10_000)
    load_week_max: int = Field(default=10, ge=1, le=10_000)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value[:60]!r} is not a time zone: use an IANA name such as America/Chicago "
                "or Europe/Paris"
            ) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value()
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme.lower() not in DATABASE_SCHEMES:
            shown = f"the scheme {scheme[:20]!r}" if scheme else "a URL without a scheme"
            raise ValueError(
                f"{shown} is not a database rallybot uses: give "
                "postgresql://user:password@host:5432/name or sqlite:////path/to/rallybot.db"
            )
        return value

    @field_validator("secret_key", "old_secret_keys")
    @classmethod
    def _keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not parse_keys(value.get_secret_value()):
            raise ValueError("empty: give a key made with `rallybot new-key`, or unset it")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(
                f"{value[:20]!r} is not a log level: use one of {', '.join(LOG_LEVELS)}"
            )
        return value.upper()

    @field_validator("slack_api_url", "discord_api_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value[:60]!r} is not an http:// or https:// URL")
        return value

    @field_validator("discord_gateway_url")
    @classmethod
    def _ws(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("ws://", "wss://")):
            raise ValueError(f"{value[:60]!r} is not a ws:// or wss:// URL")
        return value

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: Path) -> Path:
        """rallybot writes here (the SQLite file, the console's files and log): a folder it may
        write, or one it may create."""
        folder = value.expanduser()
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if existing.exists() and not existing.is_dir():
            raise ValueError(f"{existing} is a file, not a folder: name a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            what = "can't be written" if existing == folder else f"can't be created in {existing}"
            raise ValueError(f"{folder} {what}: choose a folder rallybot may write")
        return folder

    @field_validator("message_limits")
    @classmethod
    def _limits(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(DEFAULT_LIMITS))
        if unknown:
            raise ValueError(
                f"message_limits: unknown keys {unknown}; use {sorted(DEFAULT_LIMITS)}"
            )
        if any(n < 20 or n > 100_000 for n in value.values()):
            raise ValueError("message_limits are characters between 20 and 100000")
        return value

    @field_validator("checkin_offsets_hours")
    @classmethod
    def _offsets(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(h <= 0 or h > 24 * 365 for h in value):
            raise ValueError("check-in offsets are hours between 1 and 8760")
        return tuple(sorted(set(value)))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, TomlSource(settings_cls))

    @property
    def db_url(self) -> str:
        """DATABASE_URL, or a SQLite file in the data directory."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'rallybot.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database's file (None on PostgreSQL or in memory)."""
        if not self.is_sqlite:
            return None
        database = make_url(self.db_url).database
        return Path(database) if database and database != ":memory:" else None

    @property
    def has_slack(self) -> bool:
        return self.slack_bot_token is not None and self.slack_app_token is not None

    @property
    def has_discord(self) -> bool:
        return self.discord_token is not None

    def policy(self) -> Policy:
        return Policy(
            timezone=self.timezone,
            rally_cap=self.rally_cap,
            escalation_wait_minutes=self.escalation_wait_minutes,
            escalation_min_responders=self.escalation_min_responders,
            escalation_max_steps=self.escalation_max_steps,
            checkin_offsets_hours=self.checkin_offsets_hours,
            alerts_per_day=self.alerts_per_day,
            link_code_minutes=self.link_code_minutes,
            due_batch=self.due_batch,
            reminder_minutes=self.reminder_minutes,
            consent_expiry_hours=self.consent_expiry_hours,
            retention_days=self.retention_days,
            join_request_days=self.join_request_days,
            open_alert_idle_days=self.open_alert_idle_days,
            open_alert_notice_days=min(self.open_alert_notice_days, self.open_alert_idle_days - 1),
            safety_case_days=self.safety_case_days,
            uninstall_grace_days=self.uninstall_grace_days,
            channel_check_days=self.channel_check_days,
            review_first_alerts=self.review_first_alerts,
            brigade_threshold=self.brigade_threshold,
            digest_weekday=self.digest_weekday,
            digest_hour=self.digest_hour,
            digest_to_channel=self.digest_to == "channel",
            starter_library=self.starter_library(),
            message_limits=dict(self.message_limits),
            suggestions=self.suggestions,
            link_rules=self.link_rules(),
            late_consent_days=self.late_consent_days,
            checkin_hour=self.checkin_hour,
            load_share=self.load_share,
            load_min=self.load_min,
            load_week_max=self.load_week_max,
        )

    def link_rules(self) -> LinkRules:
        """The link rules, checked at start-up: the file named in the settings, else
        config/links.toml beside the config file, else the one shipped with rallybot."""
        path: Path | Traversable | None = self.links_file
        if path is None:
            own = config_path()
            beside = own.parent / "links.toml" if own is not None else None
            path = beside if beside is not None and beside.is_file() else shipped("links.toml")
            if not path.is_file():
                # The shipped rules are part of the safety path: never run without them.
                raise ConfigError(
                    "rallybot's own links.toml is missing from this installation: reinstall "
                    "rallybot, or name a links file with RALLYBOT_LINKS_FILE"
                )
        data = load_toml(path)
        lists = {name: data.get(name, []) for name in ("shorteners", "trackers")}
        for name, hosts in lists.items():
            if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
                raise ConfigError(f"links file {path}: {name} must be a list of host names")
        return LinkRules.from_lists(lists["shorteners"], lists["trackers"])

    def starter_library(self) -> LibraryFile | None:
        """The starter library, checked at start-up: a broken or missing file named in the
        settings is a ConfigError; by default library.toml beside the operator's config file,
        else the one rallybot ships."""
        path: Path | Traversable | None = self.library_file
        if path is None:
            own = config_path()
            beside = own.parent / "library.toml" if own is not None else None
            path = beside if beside is not None and beside.is_file() else shipped("library.toml")
            if not path.is_file():
                return None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise ConfigError(
                f"library file {path} can't be read ({reason}): fix it or RALLYBOT_LIBRARY_FILE"
            ) from None
        try:
            return parse_file(text)
        except BadInput as error:
            reason = f"{error.key} {error.params}"
            raise ConfigError(
                f"library file {path} is not valid ({reason}): fix it or RALLYBOT_LIBRARY_FILE"
            ) from None

    def make_copy(self) -> Copy:
        """The configured copy over the shipped copy, so a missing key never breaks a reply."""
        texts = flatten(load_toml(shipped("rallybot.toml")).get("copy", {}))
        texts.update(self.copy_texts)
        return Copy(texts)
