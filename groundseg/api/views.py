"""What the console sees, as plain JSON-ready dicts: the pad, the countdown, alarms,
armings and the permissive matrix of the next step. Pure: time is passed in."""

from __future__ import annotations

from collections.abc import Sequence

from groundseg.config import PadDefinition
from groundseg.gate.authority import Authority
from groundseg.rules.alarms import Alarm
from groundseg.rules.conditions import Condition, Truth
from groundseg.sequencer.machine import Sequencer, StepStatus
from groundseg.sequencer.monitor import Monitor
from groundseg.sequencer.plan import LaunchPlan, Step

__all__ = [
    "alarm_view",
    "armings_view",
    "next_step",
    "pad_view",
    "permissives_view",
    "step_awaited",
]

_TRUTH = {Truth.TRUE: "true", Truth.FALSE: "false", Truth.UNKNOWN: "unknown"}


def pad_view(pad: PadDefinition, plan: LaunchPlan, authority: Authority) -> dict[str, object]:
    def position_of(valve_id: str) -> str | None:
        candidate = f"{valve_id}.position"
        return candidate if pad.has_channel(candidate) else None

    return {
        "name": pad.name,
        "site": pad.site,
        "vehicle": pad.vehicle,
        "channels": [
            {
                "id": c.id,
                "unit": c.unit,
                "description": c.description,
                "device": c.device,
                "states": {str(k): v for k, v in c.states.items()},
                "limits": {"low": c.limits.low, "high": c.limits.high},
            }
            for c in pad.channels
        ],
        "valves": [
            {
                "id": v.id,
                "description": v.description,
                "device": v.device,
                "command": v.command,
                "open_switch": v.open_switch,
                "closed_switch": v.closed_switch,
                "position": position_of(v.id),
                "open_command": f"{v.id}.open",
                "close_command": f"{v.id}.close",
            }
            for v in pad.valves.values()
        ],
        "commands": [_command_view(pad, authority, command_id) for command_id in pad.commands],
        "phases": list(plan.phases),
        "steps": [
            {"id": s.id, "at_t_s": s.at_t_s, "phase": s.phase, "description": s.description}
            for s in plan.steps
        ],
        "holds": [
            {"t_s": h.t_s, "duration_s": h.duration_s, "poll": list(h.poll)}
            for h in plan.countdown.holds
        ],
        "recycle_points": list(plan.countdown.recycle_points),
    }


def _command_view(pad: PadDefinition, authority: Authority, command_id: str) -> dict[str, object]:
    command = pad.commands[command_id]
    policy = authority.policy(command_id)
    parameter = command.parameter
    return {
        "id": command.id,
        "description": command.description,
        "device": command.device,
        "parameter": None
        if parameter is None
        else {
            "name": parameter.name,
            "unit": parameter.unit,
            "low": parameter.low,
            "high": parameter.high,
        },
        "roles": sorted(r.value for r in policy.permitted_roles),
        "hazardous": policy.hazardous,
        "two_person": policy.two_person,
        "safing": policy.safing,
    }


def next_step(sequencer: Sequencer) -> Step | None:
    """The step operators wait for: the current one until it starts, then the one after."""
    return step_awaited(sequencer.plan.steps, sequencer.current_step, sequencer.step_status)


def step_awaited(steps: Sequence[Step], step: Step | None, status: StepStatus) -> Step | None:
    """`next_step` of a sequence at `step` in `status` (a live sequencer, or a record)."""
    if step is None or status is StepStatus.PENDING:
        return step
    index = steps.index(step)
    return steps[index + 1] if index + 1 < len(steps) else None


def alarm_view(alarm: Alarm, now: float) -> dict[str, object]:
    return {
        "id": alarm.id,
        "severity": alarm.severity,
        "message": alarm.message,
        "latched": alarm.latched,
        "state": alarm.state.value,
        "condition_active": alarm.condition_active,
        "acknowledged_by": alarm.acknowledged_by,
        "shelved_by": alarm.shelved_by,
        "shelved_for_s": None
        if alarm.shelved_until is None
        else round(max(0.0, alarm.shelved_until - now), 1),
    }


def armings_view(authority: Authority, now: float) -> list[dict[str, object]]:
    return [
        {
            "token": a.token,
            "command": a.command,
            "argument": a.argument,
            "armed_by": a.armed_by,
            "approved_by": a.approved_by,
            "two_person": authority.policy(a.command).two_person,
            "expires_in_s": round(a.expires_at - now, 1),
        }
        for a in authority.armed(now)
    ]


def permissives_view(
    plan: LaunchPlan, step: Step | None, monitor: Monitor, now_ns: int
) -> dict[str, object]:
    """Every condition `step` (the next) needs, green (true), red (false) or unknown, and
    why; first the rules acting now."""
    rows: list[dict[str, object]] = [
        {
            "kind": "rule",
            "name": rule,
            "condition": "not acting",
            "truth": "false",
            "why": "acting: the count cannot resume while it does",
        }
        for rule in monitor.acting_holds()
    ]
    if step is None:
        return {"step": None, "rows": rows}
    if step.require is not None:
        rows.append(_condition_row("require", f"{step.id}: require", step.require, monitor, now_ns))
    for call in (*step.commands, *step.on_complete):
        for interlock in plan.interlocks_of(call.command):
            row = _condition_row("interlock", interlock.id, interlock.permit, monitor, now_ns)
            row["command"] = call.command
            if row["truth"] != "true":
                row["why"] = f"{interlock.reason}; {row['why']}"
            rows.append(row)
    if step.wait is not None:
        rows.append(_condition_row("wait", f"{step.id}: wait", step.wait, monitor, now_ns))
    return {
        "step": {"id": step.id, "description": step.description, "at_t_s": step.at_t_s},
        "rows": rows,
    }


def _condition_row(
    kind: str, name: str, condition: Condition, monitor: Monitor, now_ns: int
) -> dict[str, object]:
    truth = monitor.peek(condition, now_ns)
    terms = condition.terms(monitor.latest, now_ns, monitor.stale_after_ns)
    # The terms that are not true say why the whole is not (or, when true, what made it so).
    shown = [t for t in terms if t.truth is not Truth.TRUE] or terms
    why = "; ".join(
        f"{t.text} is {_TRUTH[t.truth]} ({t.seen})" if t.seen else f"{t.text} is {_TRUTH[t.truth]}"
        for t in shown
    )
    return {
        "kind": kind,
        "name": name,
        "condition": condition.text,
        "truth": _TRUTH[truth],
        "why": why,
    }
