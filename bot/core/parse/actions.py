"""Buttons: a stable action id (rally:<scope>:<32-hex id>:<verb>[:<extra>]) becomes a
command; anything unexpected is refused, never guessed."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from bot.core import commands as c
from bot.core.errors import BadInput
from bot.core.model import Action, CheckInAnswer, ResponseState

_ID = re.compile(r"^[0-9a-f]{32}$")

Plain = Callable[[str], c.Command]  # the command, from the id in the button
WithExtra = Callable[[str, str], c.Command]  # …and from one more part after the verb


def parse_action(action_id: str) -> c.Command:
    """Parse a button's stable action id; anything unexpected is refused, never guessed."""
    parts = action_id.split(":")
    if len(parts) < 4 or parts[0] != "rally" or not _ID.match(parts[2]):
        raise BadInput("error.bad_button")
    scope, ident, verb, extra = parts[1], parts[2], parts[3], parts[4:]
    try:
        if not extra and (plain := BUTTONS.get((scope, verb))) is not None:
            return plain(ident)
        if len(extra) == 1 and (more := WITH_EXTRA.get((scope, verb))) is not None:
            return more(ident, extra[0])
    except ValueError:  # an extra part that is not one of ours
        pass
    raise BadInput("error.bad_button")


def _alert(ident: str) -> c.AlertRef:
    return c.AlertRef(id=ident)


def _page(word: str) -> int:
    if not (word.isdigit() and len(word) <= 4):
        raise ValueError(word)
    return int(word)


def _entity(word: str) -> str:
    if not _ID.match(word):
        raise ValueError(word)
    return word


def _escalation(ident: str, verb: str) -> c.Command:
    return c.ActOnEscalation(_alert(ident), verb)


def _checkins(ident: str, verb: str) -> c.Command:
    return c.ControlCheckIns(_alert(ident), verb)


def _checkgroup(ident: str, verb: str) -> c.Command:
    return c.ControlCheckInGroup(ident, verb)


def _answer(ident: str, answer: CheckInAnswer) -> c.Command:
    return c.AnswerCheckIn(ident, answer)


BUTTONS: dict[tuple[str, str], Plain] = {
    ("alert", "on_it"): lambda i: c.Respond(_alert(i), ResponseState.ON_IT),
    ("alert", "cant"): lambda i: c.Respond(_alert(i), ResponseState.CANT),
    ("alert", "done"): lambda i: c.ShowDoneChoices(_alert(i)),
    ("alert", "suggest"): lambda i: c.SuggestMessages(_alert(i)),
    ("alert", "standdown"): lambda i: c.StandDown(_alert(i)),
    ("alert", "keep"): lambda i: c.KeepOpen(_alert(i)),
    ("lib", "approve"): lambda i: c.LibraryApprove(entry_id=i),
    ("consent", "yes"): lambda i: c.GiveConsent(_alert(i), True, anonymous=False),
    ("consent", "yes_anon"): lambda i: c.GiveConsent(_alert(i), True, anonymous=True),
    ("consent", "safety"): lambda i: c.GiveConsent(_alert(i), True, crowd=False),
    ("consent", "no"): lambda i: c.GiveConsent(_alert(i), False),
    ("safety", "rally"): lambda i: c.SafetyDecision(_alert(i), True),
    ("safety", "hold"): lambda i: c.SafetyDecision(_alert(i), False),
    ("target", "rally"): lambda i: c.TargetSafetyChoice(_alert(i), True, anonymous=False),
    ("target", "rally_anon"): lambda i: c.TargetSafetyChoice(_alert(i), True, anonymous=True),
    ("target", "hold"): lambda i: c.TargetSafetyChoice(_alert(i), False),
    ("review", "release"): lambda i: c.ReviewAlert(_alert(i), True),
    ("review", "reject"): lambda i: c.ReviewAlert(_alert(i), False),
    ("member", "approve"): lambda i: c.Approve(c.MemberRef(member_id=i)),
    ("member", "decline"): lambda i: c.Decline(c.MemberRef(member_id=i)),
    ("forgetme", "confirm"): lambda i: c.ForgetMe(confirmed=True, member_id=i),
    **{("escalation", v): partial(_escalation, verb=v) for v in ("widen", "page_all", "take")},
    **{("checkins", v): partial(_checkins, verb=v) for v in ("pause", "stop", "resume")},
    **{("checkgroup", v): partial(_checkgroup, verb=v) for v in ("pause", "stop")},
    **{("checkin", a.value): partial(_answer, answer=a) for a in CheckInAnswer},
}
WITH_EXTRA: dict[tuple[str, str], WithExtra] = {
    ("alert", "did"): lambda i, a: c.Respond(_alert(i), ResponseState.DONE, Action(a)),
    ("alert", "suggest"): lambda i, page: c.SuggestMessages(_alert(i), _page(page)),
    ("lib", "use"): lambda i, alert: c.UseMessage(i, c.AlertRef(id=_entity(alert))),
}
