"""The contract suite covers the whole port: every method of every repository of the
UnitOfWork (bot/core/ports.py) is called by a contract test, and both stores implement each
one themselves (a method left to the Protocol's `...` would quietly return None)."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest

from bot.core import ports
from bot.store.uow import SqlUnitOfWork
from tests.fakes import MemoryUnitOfWork

HERE = Path(__file__).parent
# The contract tests and the builders they add rows with (tests/support/builders.py).
SOURCES = [*sorted(HERE.glob("test_contract_*.py")), HERE.parents[1] / "support" / "builders.py"]


def port_methods() -> dict[str, set[str]]:
    """Each repository attribute of UnitOfWork and the public methods of its port."""
    hints = typing.get_type_hints(ports.UnitOfWork)
    return {
        name: {m for m, v in vars(port).items() if not m.startswith("_") and callable(v)}
        for name, port in hints.items()
        if isinstance(port, type) and port.__name__.endswith("Repo")
    }


def called_in_contract() -> set[tuple[str, str]]:
    """(repository, method) for every `<x>.<repository>.<method>` in the contract's sources."""
    repos = set(port_methods())
    called: set[tuple[str, str]] = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr in repos
            ):
                called.add((node.value.attr, node.attr))
    return called


def test_the_port_listing_is_complete() -> None:
    methods = port_methods()
    # Every attribute of the unit of work is a repository port, and each is listed.
    assert set(methods) == set(typing.get_type_hints(ports.UnitOfWork))
    assert sum(len(m) for m in methods.values()) > 100
    assert "claim" in methods["outbox"] and "seen" in methods["members"]


def test_every_port_method_is_called_by_a_contract_test() -> None:
    wanted = {(repo, m) for repo, names in port_methods().items() for m in names}
    assert sorted(wanted - called_in_contract()) == []


@pytest.mark.parametrize("uow_class", [SqlUnitOfWork, MemoryUnitOfWork])
def test_each_store_implements_every_port_method_itself(uow_class: type) -> None:
    hints = typing.get_type_hints(uow_class)
    missing = []
    for repo, names in port_methods().items():
        implementation = hints[repo]
        for name in sorted(names):
            owner = next(c for c in inspect.getmro(implementation) if name in vars(c))
            if owner.__module__ == ports.__name__:
                missing.append(f"{implementation.__name__}.{name}")
    assert missing == []
