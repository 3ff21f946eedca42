"""What a console is shown: the countdown, the alarms, the armings and the permissives.

The read routes and the stream ask a `Desk`. The live controller's is `LiveDesk` (the
launch runner and the command gate); a replay's shows the record instead (see
`groundseg.replay.desk`) and has nothing to command, so the control routes refuse.
"""

from __future__ import annotations

from typing import Protocol

from groundseg.api.views import alarm_view, armings_view, next_step, permissives_view
from groundseg.clock import Clock
from groundseg.gate.gate import CommandGate
from groundseg.launch.runner import LaunchRunner

__all__ = ["Desk", "LiveDesk"]

JSON = dict[str, object]


class Desk(Protocol):
    def state(self) -> JSON:
        """The countdown as the console's header shows it."""
        ...

    def alarms(self) -> list[JSON]: ...

    def armings(self) -> list[JSON]: ...

    def permissives(self) -> JSON:
        """What the next step needs, and whether it holds."""
        ...


class LiveDesk:
    def __init__(self, runner: LaunchRunner, gate: CommandGate, clock: Clock) -> None:
        self.runner = runner
        self.gate = gate
        self.clock = clock
        """The links' clock (armings expire on it)."""

    def state(self) -> JSON:
        step = next_step(self.runner.sequencer)
        return {
            **self.runner.state(),
            "next_step": None
            if step is None
            else {"id": step.id, "at_t_s": step.at_t_s, "description": step.description},
            "armings": self.armings(),
        }

    def alarms(self) -> list[JSON]:
        now = self.runner.clock.monotonic()
        return [alarm_view(a, now) for a in self.runner.alarms.alarms()]

    def armings(self) -> list[JSON]:
        return armings_view(self.gate.authority, self.clock.monotonic())

    def permissives(self) -> JSON:
        runner = self.runner
        now_ns = round(runner.clock.monotonic() * 1e9)
        step = next_step(runner.sequencer)
        return permissives_view(runner.plan, step, runner.monitor, now_ns)
