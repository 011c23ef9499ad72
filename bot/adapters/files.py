"""Reading a file a person named (the console and the command line): small, UTF-8 text."""

from __future__ import annotations

from pathlib import Path

MAX_FILE_BYTES = 512_000


class FileProblem(Exception):
    """The file can't be used; the message says why, in plain words."""


def read_text_file(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    try:
        if not path.is_file():
            raise FileProblem(f"{path} is not a file")
        if path.stat().st_size > limit:
            raise FileProblem(f"{path} is larger than {limit // 1000} kB")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FileProblem(f"{path} is not UTF-8 text") from None
    except OSError as error:
        raise FileProblem(f"{path} can't be read: {error.strerror or error}") from None
