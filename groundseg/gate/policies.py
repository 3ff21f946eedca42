"""The gate's policies from the launch plan: who may send what, and what is hazardous."""

from __future__ import annotations

import secrets

from groundseg.gate.authority import Authority, CommandPolicy, Role
from groundseg.sequencer.plan import LaunchPlan

__all__ = ["authority_for"]

SAFING_ROLES = frozenset({Role.OPERATOR, Role.DIRECTOR, Role.SAFETY})


def authority_for(plan: LaunchPlan) -> Authority:
    """Declared policies, plus every safing and reaction command as a safing policy (any
    operator, director or range-safety officer may send it, never armed)."""
    policies = {
        p.command: CommandPolicy(
            command=p.command,
            roles=frozenset(Role(r) for r in p.roles),
            hazardous=p.hazardous,
            two_person=p.two_person,
            lease_s=p.lease_s,
        )
        for p in plan.policies
    }
    for command in plan.safing_commands():
        declared = policies.get(command)
        if declared is None or not declared.hazardous:
            policies[command] = CommandPolicy(command=command, roles=SAFING_ROLES, safing=True)
    return Authority(policies, token_source=lambda: secrets.token_hex(16))
