"""Domain errors: each carries a copy key, so adapters turn it into a kind reply in one place."""

from __future__ import annotations


class RallyError(Exception):
    """A request the core refuses; nothing was changed."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class BadInput(RallyError):
    """The command could not be understood or a value is out of bounds."""


class NotAllowed(RallyError):
    """The caller may not do this (role, membership, collective, visibility)."""


class NotFound(RallyError):
    """No such alert, member or check-in in the caller's collective."""


class Conflict(RallyError):
    """The thing exists but is in a state that does not allow this."""


class FieldError(BadInput):
    """Bad input in one field of a form, so a platform can show it beside that field."""

    def __init__(self, field: str, key: str, **params: object) -> None:
        super().__init__(key, **params)
        self.field = field
