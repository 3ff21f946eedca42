"""The role x endpoint matrix: which roles may call which endpoint of the operator API.

This is the first check; the gate makes the second for pad commands (the pad file's
`[[gate.policies]]` name who may send each command, and what must be armed or approved),
and the countdown makes its own (a resume is refused while a hold rule acts). A role not
listed for an endpoint gets 403 naming the roles that may. Holds and aborts are open to
every role that sits at a console with authority over the pad (operator, director, range
safety): stopping must never wait for the right person. The admin manages accounts and
reads the audit trail but sends nothing to the pad.
"""

from __future__ import annotations

from types import MappingProxyType

from groundseg.gate.authority import Role

__all__ = ["ACCESS", "ANYONE", "may"]

OPERATOR, DIRECTOR, SAFETY, ADMIN = Role.OPERATOR, Role.DIRECTOR, Role.SAFETY, Role.ADMIN
ANYONE = frozenset(Role)
_STOPPERS = frozenset({OPERATOR, DIRECTOR, SAFETY})
_COMMANDERS = frozenset({OPERATOR, DIRECTOR, SAFETY})

ACCESS = MappingProxyType(
    {
        # reading
        "me": ANYONE,
        "logout": ANYONE,
        "pad": ANYONE,
        "state": ANYONE,
        "channels": ANYONE,
        "history": ANYONE,
        "alarms": ANYONE,
        "events": ANYONE,
        "permissives": ANYONE,
        "interlocks_check": ANYONE,
        "stream": ANYONE,
        "audit": frozenset({DIRECTOR, SAFETY, ADMIN}),
        # the countdown
        "countdown_start": frozenset({DIRECTOR}),
        "countdown_hold": _STOPPERS,
        "countdown_resume": frozenset({DIRECTOR}),
        "countdown_recycle": frozenset({DIRECTOR}),
        "countdown_scrub": frozenset({DIRECTOR}),
        "countdown_abort": _STOPPERS,
        "countdown_poll": frozenset({DIRECTOR}),
        # pad commands (the gate then applies the command's own policy)
        "command_send": _COMMANDERS,
        "command_arm": frozenset({OPERATOR, DIRECTOR}),
        "arming_approve": frozenset({OPERATOR, DIRECTOR, SAFETY}),
        "arming_execute": frozenset({OPERATOR, DIRECTOR}),
        "arming_disarm": frozenset({OPERATOR, DIRECTOR, SAFETY}),
        # alarms
        "alarm_acknowledge": frozenset({OPERATOR, DIRECTOR, SAFETY}),
        "alarm_shelve": frozenset({OPERATOR, DIRECTOR, SAFETY}),
        # accounts
        "users": frozenset({ADMIN}),
        "sessions_revoke": frozenset({ADMIN}),
    }
)


def may(roles: frozenset[Role], endpoint: str) -> bool:
    return bool(roles & ACCESS[endpoint])
