"""The alert modal: built with slack_sdk.models, read back into the core's form parser."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.adapters.slack.syntax import SLACK
from bot.core.commands import MemberRef, RaiseAlert
from bot.core.model import Help, Kind, Severity, Venue, Visibility
from bot.core.parse import MAX_NOTE_CHARS, alert_from_form
from bot.core.services.alerts import DEFAULT_HELP
from bot.core.wording import Copy

ALERT_FORM = "rally:alert_form"  # the view's callback_id
VALUE = "value"  # every input's action_id; the block_id names the field
# Block ids are the field names FieldError.field uses, so errors land beside their input.
LINKS, POST, WHERE, KINDS, SEVERITY, HELP, VISIBILITY, ANONYMOUS, FOR, NOTE, TOPICS = (
    "links",
    "post",
    "where",
    "kinds",
    "severity",
    "help",
    "visibility",
    "anonymous",
    "for",
    "note",
    "topics",
)
LIBRARY_FORM = "rally:library_import"  # the library import form's callback_id
LIBRARY_FILE = "file"
INPUT_CHARS = 3000  # Slack's limit for a plain_text_input


def _plain(text: str, limit: int) -> PlainTextObject:
    return PlainTextObject(text=text[:limit], emoji=False)


def _options(copy: Copy, prefix: str, values: Sequence[StrEnum]) -> list[Option]:
    return [Option(value=v.value, label=copy(f"{prefix}.{v.value}")[:75]) for v in values]


def _input(
    copy: Copy, block_id: str, label: str, element: Any, optional: bool, hint: str | None = None
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=_plain(copy(f"slack.{label}"), 2000),
        element=element,
        optional=optional,
        hint=_plain(copy(f"slack.{hint}"), 2000) if hint else None,
    )


def alert_modal(copy: Copy, channel: str | None) -> View:
    """Every field of an alert; the channel it was opened from comes back with the submission."""
    help_options = _options(copy, "want", list(Help))
    visibility_options = _options(copy, "visibility", list(Visibility))
    blocks: list[Block] = [
        _input(
            copy,
            LINKS,
            "field_links",
            PlainTextInputElement(
                action_id=VALUE,
                multiline=True,
                max_length=INPUT_CHARS,
                placeholder=_plain(copy("slack.field_links_placeholder"), 150),
            ),
            optional=False,
            hint="field_links_hint",
        ),
        _input(
            copy,
            POST,
            "field_post",
            PlainTextInputElement(action_id=VALUE, max_length=INPUT_CHARS),
            optional=True,
            hint="field_post_hint",
        ),
        _input(
            copy,
            WHERE,
            "field_where",
            StaticSelectElement(
                action_id=VALUE,
                placeholder=_plain(copy("slack.choose"), 150),
                options=_options(copy, "venue", list(Venue)),
            ),
            optional=True,
            hint="field_where_hint",
        ),
        _input(
            copy,
            KINDS,
            "field_kinds",
            CheckboxesElement(action_id=VALUE, options=_options(copy, "kind", list(Kind))),
            optional=True,
        ),
        _input(
            copy,
            SEVERITY,
            "field_severity",
            StaticSelectElement(
                action_id=VALUE,
                placeholder=_plain(copy("slack.choose"), 150),
                options=_options(copy, "severity", list(Severity)),
            ),
            optional=True,
            hint="field_severity_hint",
        ),
        _input(
            copy,
            HELP,
            "field_help",
            CheckboxesElement(
                action_id=VALUE,
                options=help_options,
                initial_options=[o for o in help_options if Help(o.value) in DEFAULT_HELP],
            ),
            optional=True,
        ),
        _input(
            copy,
            VISIBILITY,
            "field_visibility",
            RadioButtonsElement(
                action_id=VALUE, options=visibility_options, initial_option=visibility_options[0]
            ),
            optional=True,
        ),
        _input(
            copy,
            ANONYMOUS,
            "field_anonymous",
            CheckboxesElement(
                action_id=VALUE,
                options=[Option(value="yes", label=copy("slack.anonymous_option")[:75])],
            ),
            optional=True,
        ),
        _input(
            copy,
            FOR,
            "field_for",
            UserSelectElement(action_id=VALUE, placeholder=_plain(copy("slack.choose"), 150)),
            optional=True,
            hint="field_for_hint",
        ),
        _input(
            copy,
            NOTE,
            "field_note",
            PlainTextInputElement(action_id=VALUE, multiline=True, max_length=MAX_NOTE_CHARS),
            optional=True,
        ),
        _input(
            copy,
            TOPICS,
            "field_topics",
            PlainTextInputElement(action_id=VALUE, max_length=400),
            optional=True,
            hint="field_topics_hint",
        ),
    ]
    return _modal(copy, ALERT_FORM, "modal", channel, blocks)


def _modal(copy: Copy, callback: str, words: str, channel: str | None, blocks: list[Block]) -> View:
    """A modal whose submission comes back with the channel it was opened from."""
    return View(
        type="modal",
        callback_id=callback,
        title=_plain(copy(f"slack.{words}_title"), 24),
        submit=_plain(copy(f"slack.{words}_submit"), 24),
        close=_plain(copy("slack.modal_close"), 24),
        private_metadata=json.dumps({"channel": channel}),
        blocks=blocks,
    )


def opened_from(view: Mapping[str, Any]) -> str | None:
    """The channel the modal was opened from (where the private reply goes)."""
    try:
        channel = json.loads(str(view.get("private_metadata") or "{}")).get("channel")
    except (ValueError, AttributeError):
        return None
    return channel if isinstance(channel, str) and channel else None


class _State:
    """The submitted values; anything missing or of the wrong shape reads as empty."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def _value(self, block: str) -> Mapping[str, Any]:
        found = self.values.get(block, {})
        value = found.get(VALUE, {}) if isinstance(found, Mapping) else {}
        return value if isinstance(value, Mapping) else {}

    def text(self, block: str) -> str:
        value = self._value(block).get("value")
        return value if isinstance(value, str) else ""

    def choice(self, block: str) -> str:
        option = self._value(block).get("selected_option")
        value = option.get("value") if isinstance(option, Mapping) else None
        return value if isinstance(value, str) else ""

    def choices(self, block: str) -> list[str]:
        options = self._value(block).get("selected_options")
        if not isinstance(options, list):
            return []
        return [o["value"] for o in options if isinstance(o, Mapping) and "value" in o]

    def user(self, block: str) -> str | None:
        user = self._value(block).get("selected_user")
        return user if isinstance(user, str) and user else None


def form_alert(values: Mapping[str, Any]) -> RaiseAlert:
    """The submitted modal as a command; FieldError names the block to show an error beside."""
    state = _State(values)
    target = state.user(FOR)
    return alert_from_form(
        links=state.text(LINKS),
        note=state.text(NOTE),
        post=state.text(POST),
        where=state.choice(WHERE),
        kinds=state.choices(KINDS),
        severity=state.choice(SEVERITY),
        help_wanted=state.choices(HELP),
        visibility=state.choice(VISIBILITY),
        anonymous="yes" in state.choices(ANONYMOUS),
        # A Slack user id, resolved by the core through this workspace's identities.
        target=MemberRef(user=target) if target else None,
        topics=state.text(TOPICS),
        syntax=SLACK,  # a link typed as <url|label> loses its label
    )


def library_modal(copy: Copy, channel: str | None) -> View:
    """Paste a library file (Slack modals take text, up to 3,000 characters at a time)."""
    field = _input(
        copy,
        LIBRARY_FILE,
        "field_library_file",
        PlainTextInputElement(action_id=VALUE, multiline=True, max_length=INPUT_CHARS),
        optional=False,
        hint="field_library_file_hint",
    )
    return _modal(copy, LIBRARY_FORM, "library", channel, [field])


def form_library(values: Mapping[str, Any]) -> str:
    return _State(values).text(LIBRARY_FILE)
