"""The Slack app manifest: Socket Mode by default, HTTP request URLs with `--url`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from bot.adapters.slack.app import EVENTS, EVENTS_PATH, REDIRECT_PATH, SCOPES
from bot.settings import Settings

Value = str | bool | Sequence["Value"] | Mapping[str, "Value"]


def manifest(settings: Settings, url: str | None = None) -> dict[str, Value]:
    """Minimal scopes, the slash command, interactivity and App Home; Socket Mode unless a
    public base URL is given, then every request goes to {url}/slack/events."""
    copy = settings.make_copy()
    command: dict[str, Value] = {
        "command": f"/{settings.command}",
        "description": copy("slack.command_description"),
        "usage_hint": copy("slack.usage_hint"),
        # Slack turns typed @names and #channels into ids (<@U…>), so for=@ana is exact.
        "should_escape": True,
    }
    events: dict[str, Value] = {"bot_events": list(EVENTS)}
    interactivity: dict[str, Value] = {"is_enabled": True}
    oauth: dict[str, Value] = {"scopes": {"bot": list(SCOPES)}}
    base = url.rstrip("/") if url else None
    if base:
        command["url"] = base + EVENTS_PATH
        events["request_url"] = base + EVENTS_PATH
        interactivity["request_url"] = base + EVENTS_PATH
        oauth = {"redirect_urls": [base + REDIRECT_PATH], **oauth}
    return {
        "display_information": {
            "name": "rallybot",
            "description": copy("slack.manifest_description"),
            "background_color": "#1d4e89",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": "rallybot", "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": oauth,
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": base is None,
            "token_rotation_enabled": False,
        },
    }


def render_manifest(settings: Settings, url: str | None) -> str:
    """The manifest as YAML, to paste into "Create New App → From a manifest"."""
    lines = [
        "# rallybot's Slack app manifest, printed by `rallybot slack-manifest"
        + (f" --url {url}`" if url else "`"),
        "# (Socket Mode)." if not url else "# (HTTP mode).",
    ]
    lines += _yaml(manifest(settings, url), 0)
    return "\n".join(lines) + "\n"


def _scalar(value: str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def _yaml(value: Value, indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, str | bool):
                out.append(f"{pad}{key}: {_scalar(item)}")
            else:
                out.append(f"{pad}{key}:")
                out += _yaml(item, indent + 2)
        return out
    assert not isinstance(value, str | bool)
    for item in value:
        if isinstance(item, str | bool):
            out.append(f"{pad}- {_scalar(item)}")
        else:
            nested = _yaml(item, indent + 2)
            out.append(f"{pad}- {nested[0].lstrip()}")
            out += nested[1:]
    return out
