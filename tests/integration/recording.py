"""A recorded count with a fault, for the analyst's tools (re-run, export, replay).

The controller runs the count on the simulated pad; the three stage-1 kerosene ullage
transmitters are stuck over the MEOP redline until the count holds, then released; the
journal is what an analyst gets after the campaign.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from groundseg.config import PadDefinition, load_pad, parse_pad
from groundseg.replay.rerun import Decision
from groundseg.sequencer.countdown import CountdownState
from groundseg.sequencer.machine import StartCount
from groundseg.telemetry.events import Event
from hw_sim.pad import SimulatedPad
from tests.conftest import PAD_FILE
from tests.integration.launch_rig import launch_controller

__all__ = [
    "RULE",
    "STUCK_AT",
    "TRANSMITTERS",
    "Recording",
    "automation_decided",
    "automation_recorded",
    "raised_redline",
    "record_a_held_count",
]

RULE = "ker.s1.ullage.meop"
TRANSMITTERS = [f"ker.s1.ullage_pressure.{x}" for x in "abc"]
STUCK_AT = 3.2
"""Over the redline's 3.0 bar (and the transmitters' own high limits)."""


@dataclass(frozen=True)
class Recording:
    state: Path
    pad: PadDefinition
    events: list[Event]

    @property
    def journal(self) -> Path:
        return self.state / "journal"

    def hold(self) -> Event:
        return next(
            e for e in self.events if e.kind == "countdown.hold" and e.fields.get("by") == RULE
        )


def raised_redline(limit: float) -> str:
    """The shipped pad's text with the MEOP redline's limit at `limit`."""
    text = PAD_FILE.read_text()
    changed, count = re.subn(
        rf'(id = "{re.escape(RULE)}"\non = "[^"]+"\nabove = )[0-9.]+', rf"\g<1>{limit}", text
    )
    assert count == 1, "the redline's limit is where this test expects it"
    return changed


def automation_recorded(events: Iterable[Event]) -> list[tuple[str, str, float | None]]:
    """What the automation announced (kind, message, T-time) and which commands its
    sequence and reactions sent ("command", command id, None), in order."""
    out: list[tuple[str, str, float | None]] = []
    for event in events:
        if event.kind.startswith(("countdown.", "sequence.")):
            t_s = event.fields.get("t_s")
            out.append((event.kind, event.message, float(t_s) if t_s is not None else None))
        elif event.kind == "command.issued" and event.fields.get("by") != "test":
            out.append(("command", str(event.fields["command"]), None))
    return out


def automation_decided(decisions: Iterable[Decision]) -> list[tuple[str, str, float | None]]:
    """The same of a re-run's decisions (a command decision reads `call (purpose)`)."""
    return [
        ("command", d.message.split("(")[0].strip(), None)
        if d.rule == "command"
        else (d.rule, d.message, d.t_s)
        for d in decisions
        if d.reaction == "sequence"
    ]


def record_a_held_count(directory: Path) -> Recording:
    return asyncio.run(_record(directory))


async def _record(directory: Path) -> Recording:
    pad = load_pad(PAD_FILE)
    state = directory / "state"
    async with (
        SimulatedPad(pad, speed=1.0, seed=11) as sim,
        launch_controller(pad, sim.endpoints, state) as launch,
    ):
        await launch.wait_fresh(within=20.0)
        launch.runner.request(StartCount(by="test"))
        await launch.wait_state(CountdownState.COUNTING, within=10.0)
        for channel in TRANSMITTERS:
            await sim.inject(f"stuck:{channel}:value={STUCK_AT}")
        await launch.wait_event(
            "countdown.hold", within=20.0, where=lambda e: e.fields.get("by") == RULE
        )
        await sim.clear(None)
        await launch.wait_event(
            "alarm.cleared", within=20.0, where=lambda e: e.fields.get("alarm") == RULE
        )
        events = list(launch.events)
    parse_pad(raised_redline(3.5), source="check")  # the changed definition is valid
    return Recording(state=state, pad=pad, events=events)
