"""The copy in config/rallybot.toml: every key the core asks for exists with the right blanks."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pytest

from bot.core.model import (
    Action,
    AlertStatus,
    CheckInAnswer,
    CloseReason,
    EntryStatus,
    EvidenceKind,
    Help,
    Kind,
    MemberStatus,
    MessageKind,
    ResponseState,
    Role,
    Severity,
    Venue,
    Visibility,
)
from bot.core.wording import Copy, flatten

CORE = Path(__file__).resolve().parents[2] / "bot" / "core"
ERRORS = {"RallyError", "BadInput", "NotAllowed", "NotFound", "Conflict", "Forged"}
KEY = re.compile(r"^[a-z_]+\.[a-z_]+$")

# Keys built at run time: the literal start of the f-string, and what may follow it.
FAMILIES: dict[str, tuple[str, ...]] = {
    "kind.": (*Kind, "unspecified"),
    "venue.": tuple(Venue),
    "severity.": tuple(Severity),
    "want.": tuple(Help),
    "visibility.": tuple(Visibility),
    "action.": tuple(Action),
    "status.": tuple(AlertStatus),
    "close.": (*CloseReason, "None"),
    "evidence_kind.": tuple(EvidenceKind),
    "member_status.": tuple(MemberStatus),
    "role.": (*Role, "member"),
    "respond.": tuple(ResponseState),
    "checkin.thanks_": tuple(CheckInAnswer),
    "checkin.": ("paused", "resumed", "stopped"),
    "digest.answer_": ("need_help", "struggling"),  # follow-up never lists "ok"
    "held.why_": ("first_alert", "brigading"),
    "held.why_link_": ("shortener", "mixed_script"),
    "gate.held_": ("first_alert", "brigading", "link"),
    "gate.consent": ("", "_you"),  # the target reads her own part as "your"
    "gate.target": ("", "_you"),
    "gate.target_no": ("", "_you"),
    "stage.": tuple(AlertStatus),
    "practice.": ("threat", "doxxing", "sexual_harassment"),
    "escalation.done_": ("widen", "page_all"),
    "library.where_": ("support", "report"),  # replies and counters name the venue
    "library.status_": tuple(EntryStatus),
    "message_kind.": tuple(MessageKind),
    "decline.closed_": ("declined", "expired", "withdrawn", "removed"),  # why a join request closed
}
# list_words(copy, prefix, values) asks for f"{prefix}.{value}".
LIST_WORDS = {"want": Help, "action": Action}


@dataclass(frozen=True)
class Ask:
    """One place in the core that asks the copy for a text."""

    where: str
    keys: tuple[str, ...]
    params: frozenset[str] | None  # None: passed on as **params, not checked here


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _keys_of(node: ast.expr) -> tuple[str, ...] | None:
    """The keys a key expression can name, or None when it is not a key at all."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (node.value,)
    if isinstance(node, ast.JoinedStr):
        head = node.values[0] if node.values else None
        if not (isinstance(head, ast.Constant) and isinstance(head.value, str)):
            return None
        if len(node.values) != 2:
            raise AssertionError(f"unexpected key shape {ast.unparse(node)}")
        prefix = head.value
        assert prefix in FAMILIES, f"a new family of copy keys {prefix!r}: add it to FAMILIES"
        return tuple(f"{prefix}{v}" for v in FAMILIES[prefix])
    return None


def _params(call: ast.Call) -> frozenset[str] | None:
    if any(k.arg is None for k in call.keywords):
        return None
    return frozenset(k.arg for k in call.keywords if k.arg is not None)


def _forwarders(tree: ast.Module) -> dict[str, tuple[int, frozenset[str]]]:
    """Functions that ask the copy for a key they were given: name -> (arg index, params)."""
    found = {}
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        names = [a.arg for a in fn.args.args]
        for call in ast.walk(fn):
            if (
                isinstance(call, ast.Call)
                and _name(call.func) == "copy"
                and call.args
                and isinstance(call.args[0], ast.Name)
                and call.args[0].id in names
                and (params := _params(call)) is not None
            ):
                found[fn.name] = (names.index(call.args[0].id), params)
    return found


def asks() -> Iterator[Ask]:
    trees = {p: ast.parse(p.read_text(), str(p)) for p in sorted(CORE.rglob("*.py"))}
    forwarders: dict[str, tuple[int, frozenset[str]]] = {}
    for tree in trees.values():
        forwarders.update(_forwarders(tree))
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            where = f"{path.relative_to(CORE.parents[1])}:{node.lineno}"
            name = _name(node.func)
            if name in ("copy", *ERRORS) and node.args:
                keys = _keys_of(node.args[0])
                if keys is not None:
                    yield Ask(where, keys, _params(node))
            elif name == "list_words" and len(node.args) >= 2:
                prefix = node.args[1]
                if isinstance(prefix, ast.Constant):
                    words = tuple(f"{prefix.value}.{v}" for v in LIST_WORDS[prefix.value])
                    yield Ask(where, words, frozenset())
            elif name in forwarders:
                index, params = forwarders[name]
                args = node.args
                if len(args) > index and isinstance(args[index], ast.Constant):
                    yield Ask(where, (str(args[index].value),), params)


def key_constants(groups: set[str]) -> Iterator[tuple[str, str]]:
    """Every string in the core that looks like a key of one of these copy groups."""
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        # The literal start of an f-string is a family, checked with FAMILIES instead.
        parts = {id(v) for f in ast.walk(tree) if isinstance(f, ast.JoinedStr) for v in f.values}
        for node in ast.walk(tree):
            if (
                id(node) not in parts
                and isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and KEY.match(node.value)
                and node.value.split(".")[0] in groups
            ):
                yield f"{path.name}:{node.lineno}", node.value


ASKS = list(asks())


def test_the_scan_finds_the_cores_questions() -> None:
    keys = {k for ask in ASKS for k in ask.keys}
    assert len(ASKS) > 150
    expected = {
        "rally.title", "error.no_alert", "venue.x", "respond.on_it", "want.quiet",
        "checkin.thanks_need_help", "safety.decided_lead", "leads.catalogued_title",
    }  # fmt: skip
    assert expected <= keys


def test_every_key_the_core_asks_for_exists(copy: Copy) -> None:
    missing = [(a.where, k) for a in ASKS for k in a.keys if not copy.has(k)]
    assert missing == []


def test_every_key_like_string_in_the_core_exists(copy: Copy) -> None:
    constants = list(key_constants({k.split(".")[0] for k in copy.texts}))
    assert len(constants) > 100
    assert [(where, key) for where, key in constants if not copy.has(key)] == []


def test_every_blank_a_template_has_is_filled_by_the_code(copy: Copy) -> None:
    unfilled = [
        (ask.where, key, sorted(copy.keys_used_in(key) - ask.params))
        for ask in ASKS
        if ask.params is not None
        for key in ask.keys
        if copy.has(key) and copy.keys_used_in(key) - ask.params
    ]
    # Each of these would show a person a literal "{placeholder}".
    assert unfilled == []


def test_every_plural_key_is_given_its_count(copy: Copy) -> None:
    """A key with .one/.other forms picks its form by `count`: every ask of one passes it."""
    plural = [k for a in ASKS for k in a.keys if copy.is_plural(k)]
    assert len(plural) > 20
    missing = [
        (ask.where, key)
        for ask in ASKS
        if ask.params is not None
        for key in ask.keys
        if copy.is_plural(key) and "count" not in ask.params
    ]
    assert missing == []


def test_every_plural_key_has_one_and_other(copy: Copy) -> None:
    # (venue.other is a platform, not a plural form: plural tables always have .one)
    bases = {k.rsplit(".", 1)[0] for k in copy.texts if k.endswith((".one", ".zero"))}
    assert bases
    for base in bases:
        assert f"{base}.other" in copy.texts and f"{base}.one" in copy.texts, base
        assert base not in copy.texts, base


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "not used yet"), (1, "used once"), (2, "used 2 times")]
)
def test_a_plural_key_picks_the_form_that_fits_the_count(copy: Copy, count, expected) -> None:
    assert copy("library.uses", count=count) == expected


def test_a_plural_key_without_a_zero_form_uses_other_for_zero() -> None:
    text = Copy({"x.y.one": "1 thing", "x.y.other": "{count} things"})
    assert [text("x.y", count=n) for n in (0, 1, 5)] == ["0 things", "1 thing", "5 things"]
    assert text.has("x.y") and text.keys_used_in("x.y") == {"count"}


@pytest.mark.parametrize(
    "enum",
    [Kind, Venue, Severity, Help, Visibility, Action, AlertStatus, CloseReason, EvidenceKind,
     MemberStatus, Role],
)  # fmt: skip
def test_every_choice_has_a_name_people_read(copy: Copy, enum: type[StrEnum]) -> None:
    prefix = {Help: "want", AlertStatus: "status", CloseReason: "close"}.get(
        enum, re.sub(r"(?<!^)([A-Z])", r"_\1", enum.__name__).lower()
    )
    assert [v for v in enum if not copy.has(f"{prefix}.{v}")] == []


def test_every_response_and_check_in_answer_has_its_thanks(copy: Copy) -> None:
    assert [s for s in ResponseState if not copy.has(f"respond.{s}")] == []
    assert [a for a in CheckInAnswer if not copy.has(f"checkin.thanks_{a.value}")] == []


def test_every_template_is_well_formed(copy: Copy) -> None:
    formatter = string.Formatter()
    for key, template in copy.texts.items():
        assert template.strip(), f"{key} is empty"
        for _, field, spec, conversion in formatter.parse(template):
            if field is None:
                continue
            assert re.fullmatch(r"[a-z_][a-z0-9_]*", field), f"{key}: odd placeholder {{{field}}}"
            assert not spec and conversion is None, f"{key}: {{{field}}} has a format spec"


def test_the_copy_is_flat_strings() -> None:
    nested = {"a": {"b": "x", "c": {"d": "y"}}, "e": 3}
    assert flatten(nested) == {"a.b": "x", "a.c.d": "y", "e": "3"}


def test_a_missing_key_names_itself(copy: Copy) -> None:
    with pytest.raises(KeyError, match=r"no\.such_key"):
        copy("no.such_key")


def test_typed_text_in_a_blank_is_never_formatted_again(copy: Copy) -> None:
    text = copy("consent.note", note="{number} {0} {note.__class__}")
    assert text == "They wrote: {number} {0} {note.__class__}"


def test_a_blank_left_unfilled_stays_visible_instead_of_failing(copy: Copy) -> None:
    assert copy("raised.title") == "Alert #{number} raised"


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (1, "1 minute"),
        (31, "31 minutes"),
        (119, "119 minutes"),
        (120, "2 hours"),
        (1471, "24 hours"),
        (48 * 60 - 1, "47 hours"),
        (48 * 60, "2 days"),
        (10 * 24 * 60 + 5, "10 days"),
    ],
)
def test_a_wait_is_told_in_the_unit_read_at_a_glance(
    copy: Copy, minutes: int, expected: str
) -> None:
    assert copy.duration(minutes) == expected
