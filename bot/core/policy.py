"""Tunables the core needs: defaults for new collectives and the demo collective."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.core.library import LibraryFile
from bot.core.links import LinkRules


@dataclass(frozen=True)
class Policy:
    timezone: str = "America/Chicago"
    rally_cap: int = 8
    escalation_wait_minutes: int = 30
    escalation_min_responders: int = 2
    escalation_max_steps: int = 3
    checkin_offsets_hours: tuple[int, ...] = (24, 72, 168)
    alerts_per_day: int = 5
    link_code_minutes: int = 15
    due_batch: int = 100  # due rows claimed per tick
    reminder_minutes: int = 60  # "still on it?" to a responder quiet this long
    consent_expiry_hours: int = 48  # an unanswered consent request closes the alert
    retention_days: int = 365  # closed alerts' personal data is purged after this
    join_request_days: int = 30  # a join request no lead decided is deleted after this
    open_alert_idle_days: int = 90  # an open alert with no activity this long is closed…
    open_alert_notice_days: int = 7  # …after the target and leads were told this long before
    safety_case_days: int = 30  # a forgotten target's safety case is kept this long, closed
    uninstall_grace_days: int = 30  # a removed space's data goes this long after the removal
    channel_check_days: int = 7  # the same finding about a channel is repeated this often
    review_first_alerts: bool = True
    brigade_threshold: int = 3
    brigade_window_hours: int = 24  # reports of one link within this window are compared
    new_member_days: int = 14  # a member is "recently joined" this long
    digest_weekday: int = 0  # Monday
    digest_hour: int = 9
    digest_to_channel: bool = False
    # The message library: what a new collective starts with, and what fits where.
    starter_library: LibraryFile | None = None
    message_limits: Mapping[str, int] = field(default_factory=dict)  # over DEFAULT_LIMITS
    suggestions: int = 3  # suggestions shown at a time
    # Link rules (config/links.toml): shorteners are held for a lead, trackers refused.
    link_rules: LinkRules = field(default_factory=LinkRules)
    late_consent_days: int = 7  # a "yes" after a consent request expired still starts it
    checkin_hour: int = 9  # check-ins go at this local hour, outside quiet hours
    # The digest's care watch: a responder who gave at least load_share of the period's
    # responses (and at least load_min), or more than load_week_max in the week.
    load_share: float = 0.4
    load_min: int = 3
    load_week_max: int = 10


@dataclass(frozen=True)
class DemoMember:
    handle: str
    name: str
    roles: tuple[str, ...]


DEMO_COLLECTIVE = "Demo collective"
DEMO_MEMBERS = (
    DemoMember("ana", "Ana", ()),
    DemoMember("ben", "Ben", ("responder",)),
    DemoMember("cam", "Cam", ("responder",)),
    DemoMember("dee", "Dee", ("responder",)),
    DemoMember("lee", "Lee", ("lead",)),
    DemoMember("sam", "Sam", ("safety_lead",)),
)
