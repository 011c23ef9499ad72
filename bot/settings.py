"""One typed Settings: env > .env > config/rallybot.toml > defaults; secrets from env only."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.core.copy import Copy, flatten
from bot.core.errors import BadInput
from bot.core.library import DEFAULT_LIMITS, LibraryFile, parse_file
from bot.core.links import LinkRules
from bot.core.policy import Policy

SOURCE_CONFIG = Path(__file__).resolve().parent.parent / "config" / "rallybot.toml"
SECRETS = frozenset(
    {
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "slack_client_secret",
        "discord_token",
        "database_url",
    }
)


def config_path() -> Path:
    """$RALLYBOT_CONFIG, else ./config/rallybot.toml, else the one beside the source."""
    explicit = os.environ.get("RALLYBOT_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path("config") / "rallybot.toml"
    return local if local.is_file() else SOURCE_CONFIG


class ConfigError(Exception):
    """The configuration file is missing or wrong; the message says what to fix."""


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found (set RALLYBOT_CONFIG)") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None


class TomlSource(PydanticBaseSettingsSource):
    """Tunables from [rallybot] and copy from [copy]; secrets are ignored here on purpose."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data = load_toml(config_path())
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
    port: int = Field(default=3000, validation_alias=AliasChoices("PORT", "RALLYBOT_PORT"))
    # /healthz and /metrics for `run` and `worker` (`web` serves them on PORT).
    metrics_port: int | None = None
    outbox_lag_alarm: float = Field(default=300.0, gt=0)  # /healthz turns 503 past this
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
    shutdown_grace: float = Field(default=10.0, ge=0, le=600)
    # Workers taking acknowledged Slack and Discord requests from a queue (per platform);
    # unset: the database pool's size (at least 2), so no request waits on the pool's timeout.
    request_workers: int | None = Field(default=None, ge=1, le=1000)
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
        path = self.links_file
        if path is None:
            path = config_path().parent / "links.toml"
            if not path.is_file():
                path = SOURCE_CONFIG.parent / "links.toml"
            if not path.is_file():
                return LinkRules()
        data = load_toml(path)
        lists = {name: data.get(name, []) for name in ("shorteners", "trackers")}
        for name, hosts in lists.items():
            if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
                raise ConfigError(f"links file {path}: {name} must be a list of host names")
        return LinkRules.from_lists(lists["shorteners"], lists["trackers"])

    def starter_library(self) -> LibraryFile | None:
        """The starter library, checked at start-up: a broken or missing file named in the
        settings is a ConfigError; by default config/library.toml beside the config file,
        else the one shipped beside the source, else none."""
        path = self.library_file
        if path is None:
            path = config_path().parent / "library.toml"
            if not path.is_file():
                path = SOURCE_CONFIG.parent / "library.toml"
            if not path.is_file():
                return None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"library file {path} can't be read: {error}") from None
        try:
            return parse_file(text)
        except BadInput as error:
            reason = f"{error.key} {error.params}"
            raise ConfigError(f"library file {path} is not valid: {reason}") from None

    def make_copy(self) -> Copy:
        """The configured copy over the shipped copy, so a missing key never breaks a reply."""
        texts: dict[str, str] = {}
        if SOURCE_CONFIG.is_file():
            texts.update(flatten(load_toml(SOURCE_CONFIG).get("copy", {})))
        texts.update(self.copy_texts)
        return Copy(texts)
