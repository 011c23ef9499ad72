"""The key that encrypts secrets at rest (Slack tokens): RALLYBOT_SECRET_KEY, Fernet."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.ops.startup import StartupError

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

KEY_FILE = "secret.key"  # SQLite without RALLYBOT_SECRET_KEY: beside the database
SEALED = "gAAAAA"  # how every Fernet token starts (version byte 0x80, then the time)


class Unreadable(Exception):
    """A sealed value none of the configured keys opens."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def parse_keys(value: str) -> list[Fernet]:
    """Comma-separated Fernet keys; ValueError naming the position of one that is not a key
    (never the key itself)."""
    keys: list[Fernet] = []
    for position, raw in enumerate((k.strip() for k in value.split(",")), start=1):
        if not raw:
            continue
        try:
            keys.append(Fernet(raw.encode()))
        except (ValueError, TypeError):
            raise ValueError(
                f"key {position} is not a Fernet key (32 url-safe base64-encoded bytes): make "
                "one with `rallybot new-key`"
            ) from None
    return keys


@dataclass
class SecretBox:
    """Seals text with the primary key; opens what any configured key sealed. Text stored
    before encryption was turned on (a plain Slack token) is read as it is, and sealed by
    `rallybot rotate-key` or the next save."""

    keys: MultiFernet

    def seal(self, value: str | None) -> str | None:
        if value is None or is_sealed(value):
            return value
        return self.keys.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        if value is None or not is_sealed(value):
            return value
        try:
            return self.keys.decrypt(value.encode()).decode()
        except InvalidToken:
            raise Unreadable("no configured key opens this value") from None

    def rotate(self, value: str | None) -> str | None:
        """The value sealed with the primary key (a plain value sealed for the first time)."""
        if value is None:
            return None
        if not is_sealed(value):
            return self.seal(value)
        try:
            return self.keys.rotate(value.encode()).decode()
        except InvalidToken:
            raise Unreadable("no configured key opens this value") from None


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED)


def key_file(settings: Settings) -> Path:
    return (settings.data_dir / KEY_FILE).resolve()


def require_key(settings: Settings) -> None:
    """PostgreSQL is where rallybot runs for real: it does not start without a key there."""
    if settings.secret_key is None and not settings.is_sqlite:
        raise StartupError(
            "RALLYBOT_SECRET_KEY is not set: on PostgreSQL rallybot keeps Slack tokens "
            "encrypted with it. Make one with `rallybot new-key`, keep it with your other "
            "secrets, and set it for every rallybot process"
        )


def secret_box(settings: Settings) -> SecretBox:
    """The box for this deployment: RALLYBOT_SECRET_KEY (and RALLYBOT_OLD_SECRET_KEYS while a
    rotation is under way); on SQLite without one, the key file in the data folder, created
    with owner-only permissions the first time it is needed."""
    require_key(settings)
    old_keys = settings.old_secret_keys
    old = parse_keys(old_keys.get_secret_value()) if old_keys is not None else []
    if settings.secret_key is not None:
        return SecretBox(MultiFernet(parse_keys(settings.secret_key.get_secret_value()) + old))
    return SecretBox(MultiFernet([_file_key(key_file(settings)), *old]))


def _file_key(path: Path) -> Fernet:
    try:
        return Fernet(path.read_bytes().strip())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as error:
        raise StartupError(
            f"the key file {path} can't be used ({type(error).__name__}): restore it from a "
            "backup, or set RALLYBOT_SECRET_KEY"
        ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        # Owner-only permissions from the start: no moment where others may read it.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it just now
        return _file_key(path)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key + b"\n")
    log.warning(
        "created a secret key for Slack tokens at %s (RALLYBOT_SECRET_KEY is not set): back it "
        "up with the database, which can't be read without it",
        path,
    )
    return Fernet(key)
