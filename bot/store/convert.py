"""Domain dataclass <-> row values, derived from the dataclass's own type hints."""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

D = TypeVar("D", bound="DataclassInstance")

Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]  # (to row, from row)


def _same(value: Any) -> Any:
    return value


def _codec(hint: Any) -> Codec:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported union {hint!r}")
        dump, load = _codec(inner[0])
        return (
            lambda v: None if v is None else dump(v),
            lambda v: None if v is None else load(v),
        )
    if isinstance(hint, type) and issubclass(hint, Enum):
        enum_type = hint
        return (lambda v: enum_type(v).value), enum_type
    if origin is frozenset or origin is set:
        dump, load = _codec(args[0])
        # Sorted so that an unchanged set never looks changed to the ORM.
        return (lambda v: sorted(dump(x) for x in v)), (lambda v: origin(load(x) for x in v))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            dump, load = _codec(args[0])
            return (lambda v: [dump(x) for x in v]), (lambda v: tuple(load(x) for x in v))
        codecs = [_codec(a) for a in args]
        return (
            lambda v: [c[0](x) for c, x in zip(codecs, v, strict=True)],
            lambda v: tuple(c[1](x) for c, x in zip(codecs, v, strict=True)),
        )
    if origin in (dict, list) or hint in (dict, list):
        # Copies both ways: a domain object must never share a mutable value with a row,
        # or an in-place change would also change the row's committed state and be lost.
        return copy.deepcopy, copy.deepcopy
    return _same, _same


@cache
def _codecs(cls: type[DataclassInstance]) -> Mapping[str, Codec]:
    hints = typing.get_type_hints(cls)
    return {f.name: _codec(hints[f.name]) for f in dataclasses.fields(cls)}


def to_values(obj: DataclassInstance) -> dict[str, Any]:
    """The column values of a domain object, keyed by field name."""
    return {name: dump(getattr(obj, name)) for name, (dump, _) in _codecs(type(obj)).items()}


def to_domain(cls: type[D], row: object) -> D:
    """The domain object held by a row (any object with the fields as attributes)."""
    return cls(**{name: load(getattr(row, name)) for name, (_, load) in _codecs(cls).items()})


def copy_to_row(obj: DataclassInstance, row: object, exclude: frozenset[str] = frozenset()) -> None:
    """Overwrite a row's attributes with the domain object's values."""
    for name, value in to_values(obj).items():
        if name not in exclude:
            setattr(row, name, value)
