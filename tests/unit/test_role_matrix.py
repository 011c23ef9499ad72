"""The role x command matrix on the core: every subcommand and every button, for every role.

Each cell runs on its own copy of one scene and checks the reply's `ok` flag; a refusal must
change nothing at all (every table of the store compared before and after), except that a
forged id (another collective's alert, someone else's check-in) is audited as
`forged_request_refused` and nothing else.

The matrix has 99 commands and buttons x 10 roles = 990 cases.

The scene, in the demo collective (console) and a second collective (a Slack workspace):

| role      | who                                                                         |
|-----------|-----------------------------------------------------------------------------|
| stranger  | zed, who never joined                                                       |
| pending   | pat, who asked to join and was not approved                                 |
| suspended | sue, approved, then suspended by a lead                                     |
| member    | max, an approved plain member with no part in any alert                     |
| responder | ben, a responder called to #1 and #5                                        |
| target    | ana, the target of #1 (her own), #2 (raised for her), #3, #5 and #6          |
| raiser    | cam, a plain member who raised #2 on ana's behalf (waiting for her consent) |
| lead      | lee                                                                         |
| safety    | sam, the safety lead                                                        |
| other     | oscar, an approved member of the other collective                           |

Alerts: #1 ana's, active and public; #2 raised by cam for ana, pending consent; #3 ana's
threat, in safety review; #4 raised by neo (a newcomer), held for review; #5 ana's,
responders only; #6 ana's, leads only. The library has m1 (approved) and m2 (pending), both
added by lee. The other collective has no alerts, so an alert
number typed there names nothing, and a button carrying one of our ids is a forgery.
"""

# The matrix below is a table meant to be read: its rows are wider than the line limit.
# ruff: noqa: E501

from __future__ import annotations

import copy as copying
from dataclasses import dataclass
from typing import Any

import pytest

from bot.core.commands import Caller
from bot.core.messages import Reply
from bot.core.policy import Policy
from bot.core.services import Services
from bot.delivery.outbox import Dispatcher
from tests.fakes import FakeClock, MemoryChat, MemoryStore, SeqIds, Tables
from tests.unit.conftest import Rally, as_, build_rally

LINK = "https://x.com/troll/status/77"

ROLES = (
    "stranger",
    "pending",
    "suspended",
    "member",
    "responder",
    "target",
    "raiser",
    "lead",
    "safety",
    "other",
)

# ok: allowed.  no: refused, nothing changed.  F: refused as a forgery, audited as
# forged_request_refused, nothing else changed.  `/rally …` is typed text; `button …` is a
# button press with that action id ({a1} is alert #1's id, {me} the presser's own member id).
MATRIX = """
command                                   | stranger pending suspended member responder target raiser lead safety other
/rally alert {link} matrix note           | no       no      no        ok     ok        ok     ok     ok   ok     ok
/rally alert {link} for=ana               | no       no      no        ok     ok        ok     ok     ok   ok     no
/rally alert                              | no       no      no        ok     ok        ok     ok     ok   ok     ok
/rally status                             | no       no      no        ok     ok        ok     ok     ok   ok     ok
/rally status #1                          | no       no      no        ok     ok        ok     ok     ok   ok     no
/rally status #5                          | no       no      no        no     ok        ok     no     ok   ok     no
/rally status #6                          | no       no      no        no     no        ok     no     ok   ok     no
/rally standdown #1                       | no       no      no        no     no        ok     no     ok   ok     no
/rally standdown #2                       | no       no      no        no     no        ok     ok     ok   ok     no
/rally consent #2 yes                     | no       no      no        no     no        ok     no     no   no     no
/rally consent #2 no                      | no       no      no        no     no        ok     no     no   no     no
/rally evidence #1 screenshot saved       | no       no      no        no     no        ok     no     ok   ok     no
/rally export #1                          | no       no      no        no     no        ok     no     ok   ok     no
/rally delegate #1 dee                    | no       no      no        no     no        ok     no     no   no     no
/rally checkins #1 pause                  | no       no      no        no     no        ok     no     no   no     no
/rally checkins #1 resume                 | no       no      no        no     no        ok     no     no   no     no
/rally checkins #1 stop                   | no       no      no        no     no        ok     no     no   no     no
/rally me                                 | no       no      no        ok     ok        ok     ok     ok   ok     ok
/rally available off                      | no       no      no        ok     ok        ok     ok     ok   ok     ok
/rally pause 2h                           | no       no      no        ok     ok        ok     ok     ok   ok     ok
/rally quiet 22:00-07:00                  | no       no      no        ok     ok        ok     ok     ok   ok     ok
/rally timezone Europe/Dublin             | no       no      no        ok     ok        ok     ok     ok   ok     ok
/rally prefer dm                          | no       no      no        ok     ok        ok     ok     ok   ok     ok
/rally link                               | no       no      no        ok     ok        ok     ok     ok   ok     ok
/rally link {code}                        | ok       no      no        no     no        no     no     no   no     no
/rally forgetme                           | no       ok      ok        ok     ok        ok     ok     ok   ok     ok
/rally join                               | ok       ok      no        no     no        no     no     no   no     no
/rally help                               | ok       ok      ok        ok     ok        ok     ok     ok   ok     ok
/rally help alert                         | ok       ok      ok        ok     ok        ok     ok     ok   ok     ok
/rally setup                              | no       no      no        no     no        no     no     ok   ok     no
/rally setup rally                        | no       no      no        no     no        no     no     ok   ok     no
/rally setup leads                        | no       no      no        no     no        no     no     ok   ok     no
/rally setup name Renamed                 | no       no      no        no     no        no     no     ok   ok     no
/rally setup timezone Europe/Dublin       | no       no      no        no     no        no     no     ok   ok     no
/rally members                            | no       no      no        no     no        no     no     ok   ok     no
/rally approve pat                        | no       no      no        no     no        no     no     ok   ok     no
/rally decline pat                        | no       no      no        no     no        no     no     ok   ok     no
/rally role dee lead                      | no       no      no        no     no        no     no     ok   ok     no
/rally role dee member                    | no       no      no        no     no        no     no     ok   ok     no
/rally review #4 release                  | no       no      no        no     no        no     no     ok   ok     no
/rally review #4 reject                   | no       no      no        no     no        no     no     ok   ok     no
/rally suspend dee                        | no       no      no        no     no        no     no     ok   ok     no
/rally unsuspend sue                      | no       no      no        no     no        no     no     ok   ok     no
/rally audit                              | no       no      no        no     no        no     no     ok   ok     no
/rally audit ana #1                       | no       no      no        no     no        no     no     ok   ok     no
/rally digest                             | no       no      no        no     no        no     no     ok   ok     no
/rally library                            | no       no      no        no     no        no     no     ok   ok     no
/rally library list pending               | no       no      no        no     no        no     no     ok   ok     no
/rally library show m1                    | no       no      no        no     no        no     no     ok   ok     no
/rally library add reply Thanks, truly.   | no       no      no        ok     ok        ok     ok     ok   ok     ok
/rally library edit m1 where=x            | no       no      no        no     no        no     no     ok   ok     no
/rally library approve m2                 | no       no      no        no     no        no     no     ok   ok     no
/rally library remove m1                  | no       no      no        no     no        no     no     ok   ok     no
/rally library topics                     | no       no      no        ok     ok        ok     ok     ok   ok     ok
/rally library topics add long-covid      | no       no      no        no     no        no     no     ok   ok     no
/rally library import                     | no       no      no        no     no        no     no     ok   ok     no
/rally library export                     | no       no      no        no     no        no     no     ok   ok     no
/rally frobnicate                         | no       no      no        no     no        no     no     no   no     no
button rally:alert:{a1}:on_it             | no       no      no        ok     ok        no     ok     ok   ok     F
button rally:alert:{a1}:cant              | no       no      no        ok     ok        no     ok     ok   ok     F
button rally:alert:{a1}:done              | no       no      no        ok     ok        ok     ok     ok   ok     F
button rally:alert:{a1}:did:amplified     | no       no      no        ok     ok        no     ok     ok   ok     F
button rally:alert:{a1}:standdown         | no       no      no        no     no        ok     no     ok   ok     F
button rally:alert:{a5}:on_it             | no       no      no        no     ok        no     no     ok   ok     F
button rally:alert:{a6}:on_it             | no       no      no        no     no        no     no     ok   ok     F
button rally:alert:{a2}:on_it             | no       no      no        no     no        no     no     no   no     F
button rally:alert:{a2}:standdown         | no       no      no        no     no        ok     ok     ok   ok     F
button rally:consent:{a2}:yes             | no       no      no        no     no        ok     no     no   no     F
button rally:consent:{a2}:no              | no       no      no        no     no        ok     no     no   no     F
button rally:safety:{a3}:rally            | no       no      no        no     no        no     no     no   ok     no
button rally:safety:{a3}:hold             | no       no      no        no     no        no     no     no   ok     no
button rally:target:{a3}:rally            | no       no      no        no     no        ok     no     no   no     F
button rally:target:{a3}:hold             | no       no      no        no     no        ok     no     no   no     F
button rally:checkin:{c1}:ok              | no       no      no        F      F         ok     F      F    F      F
button rally:checkin:{c1}:struggling      | no       no      no        F      F         ok     F      F    F      F
button rally:checkin:{c1}:need_help       | no       no      no        F      F         ok     F      F    F      F
button rally:checkins:{a1}:pause          | no       no      no        no     no        ok     no     no   no     F
button rally:checkins:{a1}:resume         | no       no      no        no     no        ok     no     no   no     F
button rally:checkins:{a1}:stop           | no       no      no        no     no        ok     no     no   no     F
button rally:member:{pat}:approve         | no       no      no        no     no        no     no     ok   ok     no
button rally:member:{pat}:decline         | no       no      no        no     no        no     no     ok   ok     no
button rally:alert:{a1}:keep              | no       no      no        no     no        ok     no     ok   ok     F
button rally:review:{a4}:release          | no       no      no        no     no        no     no     ok   ok     no
button rally:review:{a4}:reject           | no       no      no        no     no        no     no     ok   ok     no
button rally:alert:{a1}:suggest           | no       no      no        ok     ok        ok     ok     ok   ok     F
button rally:alert:{a5}:suggest           | no       no      no        no     ok        ok     no     ok   ok     F
button rally:alert:{a2}:suggest           | no       no      no        no     no        no     no     no   no     F
button rally:lib:{l1}:use:{a1}            | no       no      no        ok     ok        ok     ok     ok   ok     F
button rally:lib:{l2}:approve             | no       no      no        no     no        no     no     ok   ok     no
button rally:forgetme:{me}:confirm        | no       ok      ok        ok     ok        ok     ok     ok   ok     ok
button rally:forgetme:{ana}:confirm       | no       F       F         F      F         ok     F      F    F      F
button rally:alert:{a1}:frobnicate        | no       no      no        no     no        no     no     no   no     no
button rally:alert:{a1}:did:bribed        | no       no      no        no     no        no     no     no   no     no
button rally:checkin:{c1}:fine            | no       no      no        no     no        no     no     no   no     no
button rally:alert:{a1}:on_it:extra       | no       no      no        no     no        no     no     no   no     no
button rally:alert:1:on_it                | no       no      no        no     no        no     no     no   no     no
button rally:member:{missing}:approve     | no       no      no        no     no        no     no     no   no     no
button rally:alert:{missing}:on_it        | no       no      no        no     no        no     no     no   no     no
button rally:consent:{missing}:yes        | no       no      no        no     no        no     no     no   no     no
"""


def parse_matrix(text: str) -> list[tuple[str, dict[str, str]]]:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    header = lines[0].split("|")[1].split()
    assert tuple(header) == ROLES, header
    rows = []
    for line in lines[1:]:
        command, _, cells = line.partition("|")
        values = cells.split()
        assert len(values) == len(ROLES), line
        assert set(values) <= {"ok", "no", "F"}, line
        rows.append((command.strip(), dict(zip(ROLES, values, strict=True))))
    return rows


ROWS = parse_matrix(MATRIX)
CASES = [(command, role, cells[role]) for command, cells in ROWS for role in ROLES]
MATRIX_SIZE = len(CASES)


# --- the scene, built once and copied for every cell ---------------------------------------

OLGA = Caller("slack", "T2", "UOLGA", display_name="Olga", channel="C2", can_manage=True)
OSCAR = Caller("slack", "T2", "UOSCAR", display_name="Oscar", channel="C2")


def console(handle: str) -> Caller:
    return Caller("console", "local", handle, display_name=handle.title(), channel="#rally")


CALLERS: dict[str, Caller] = {
    "stranger": console("zed"),
    "pending": console("pat"),
    "suspended": console("sue"),
    "member": console("max"),
    "responder": as_("ben"),
    "target": as_("ana"),
    "raiser": as_("cam"),
    "lead": as_("lee"),
    "safety": as_("sam"),
    "other": OSCAR,
}


@dataclass
class Scene:
    rally: Rally
    ids: dict[str, str]  # placeholders for the matrix's commands
    next_id: int


_SCENE: Scene | None = None


async def ok(rally: Rally, who: str | Caller, text: str) -> Reply:
    reply = await rally.say(who, text)
    assert reply.ok, (text, reply.message.plain_text())
    return reply


async def build_scene() -> Scene:
    rally = await build_rally(Policy(alerts_per_day=50))
    await ok(rally, "lee", "role cam member")  # cam: a plain member, the raiser
    for handle in ("pat", "sue", "max", "neo"):
        await ok(rally, console(handle), "join")
    for handle in ("sue", "max", "neo"):
        await ok(rally, "lee", f"approve {handle}")
    await ok(rally, "lee", "suspend sue")
    await rally.edit_member("max", trusted=True)
    await rally.raise_alert("ana", "kinds=trolling")  # 1
    await ok(rally, "cam", f"alert {LINK} for=ana kinds=pile_on")  # 2
    await rally.raise_alert("ana", "kinds=threat")  # 3
    await ok(rally, console("neo"), f"alert {LINK} kinds=trolling")  # 4, held
    await rally.raise_alert("ana", "visibility=responders")  # 5
    await rally.raise_alert("ana", "visibility=leads")  # 6
    await ok(rally, "ana", "link")
    await ok(rally, "lee", "library add reply Thank you for your work.")  # m1
    await ok(rally, "lee", "library approve m1")
    await ok(rally, "lee", "library add reply Words still waiting.")  # m2, pending
    await ok(rally, OLGA, "setup name Other collective")
    await ok(rally, OSCAR, "join")
    await ok(rally, OLGA, "approve oscar")
    # Delivered rows keep no body: the copies every cell makes stay small.
    chat = MemoryChat("console")
    await Dispatcher(
        rally.services.uow, {"console": chat, "slack": MemoryChat("slack")}, rally.clock
    ).drain()

    statuses = {n: rally.alert(n).status.value for n in range(1, 7)}
    assert statuses == {
        1: "active",
        2: "pending_consent",
        3: "safety_review",
        4: "held",
        5: "active",
        6: "active",
    }
    assert set(rally.rallied(rally.alert(1))) == {"ben", "dee"}
    assert set(rally.rallied(rally.alert(5))) == {"ben", "dee"}
    (code,) = rally.data.link_codes.values()
    checkin = rally.checkins(rally.alert(1))[0]
    ids = {f"a{n}": rally.alert(n).id for n in range(1, 7)}
    ids.update(
        link=LINK,
        code=code.code,
        c1=checkin.id,
        pat=rally.member("pat").id,
        ana=rally.member("ana").id,
        missing="f" * 32,
        l1=next(e.id for e in rally.data.library.values() if e.number == 1),
        l2=next(e.id for e in rally.data.library.values() if e.number == 2),
    )
    next_id = rally.services.ids._next  # type: ignore[attr-defined]
    return Scene(rally, ids, next_id)


async def scene_copy() -> tuple[Rally, dict[str, str]]:
    """A fresh Rally on a copy of the scene's committed state (same clock and ids)."""
    global _SCENE
    if _SCENE is None:
        _SCENE = await build_scene()
    base = _SCENE.rally
    store = MemoryStore()
    store.committed = copying.deepcopy(base.store.committed)
    clock = FakeClock(base.clock.now())
    services = Services(
        uow=store.uow,
        clock=clock,
        ids=SeqIds(_SCENE.next_id),
        copy=base.copy,
        policy=Policy(alerts_per_day=50),
    )
    return Rally(services, store, clock, base.copy), dict(_SCENE.ids)


def member_id(rally: Rally, role: str) -> str:
    caller = CALLERS[role]
    found = [
        i.member_id
        for i in rally.data.identities.values()
        if (i.platform, i.workspace, i.user) == (caller.platform, caller.workspace, caller.user)
    ]
    return found[0] if found else "e" * 32  # a stranger has no id: any well-formed one


def without_new_audit(after: Tables, before: Tables) -> tuple[Tables, list[Any]]:
    new = [e for k, e in after.audit.items() if k not in before.audit]
    trimmed = copying.copy(after)
    trimmed.audit = {k: e for k, e in after.audit.items() if k in before.audit}
    return trimmed, new


# --- the matrix --------------------------------------------------------------------------


def test_the_matrix_is_the_size_the_docstring_says() -> None:
    print(f"role x command matrix: {len(ROWS)} commands x {len(ROLES)} roles = {MATRIX_SIZE}")
    assert __doc__ is not None
    assert f"{len(ROWS)} commands and buttons x {len(ROLES)} roles = {MATRIX_SIZE} cases" in (
        " ".join(__doc__.split())
    )


def test_the_matrix_covers_every_subcommand_and_every_button_kind() -> None:
    typed = {c.split()[1] for c, _ in ROWS if c.startswith("/rally ")}
    language = {
        "alert", "status", "standdown", "consent", "evidence", "export", "delegate", "checkins",
        "me", "available", "pause", "quiet", "timezone", "prefer", "link", "forgetme", "join",
        "help", "setup", "members", "approve", "decline", "role", "review", "suspend", "unsuspend", "audit",
        "digest", "library",
    }  # fmt: skip
    assert language <= typed
    pressed = {
        ":".join(c.split()[1].split(":")[1:2] + c.split()[1].split(":")[3:])
        for c, _ in ROWS
        if c.startswith("button ")
    }
    buttons = {
        "alert:on_it", "alert:cant", "alert:done", "alert:did:amplified", "alert:standdown",
        "consent:yes", "consent:no", "safety:rally", "safety:hold", "target:rally",
        "target:hold", "checkin:ok", "checkin:struggling", "checkin:need_help",
        "checkins:pause", "checkins:stop", "checkins:resume", "member:approve", "member:decline",
        "alert:keep",
        "review:release", "review:reject", "forgetme:confirm", "alert:suggest",
        "lib:use:{a1}", "lib:approve",
    }  # fmt: skip
    assert buttons <= pressed


@pytest.mark.parametrize(("command", "role", "expected"), CASES)
async def test_role_command_matrix(command: str, role: str, expected: str) -> None:
    rally, ids = await scene_copy()
    ids["me"] = member_id(rally, role)
    kind, _, template = command.partition(" ")
    text = template.format(**ids)
    before = rally.snapshot()

    if kind == "/rally":
        reply = await rally.services.handle_text(CALLERS[role], text)
    else:
        reply = await rally.services.handle_action(CALLERS[role], text)

    shown = reply.message.plain_text()
    if expected == "ok":
        assert reply.ok, shown
        return
    assert not reply.ok, shown
    after, new_audit = without_new_audit(rally.snapshot(), before)
    assert after == before, "a refused request changed the store"
    if expected == "F":
        assert [e.action for e in new_audit] == ["forged_request_refused"]
        (event,) = new_audit
        assert event.actor_id == ids["me"]
        assert event.collective_id == rally.data.members[ids["me"]].collective_id
    else:
        assert new_audit == [], [e.action for e in new_audit]
