"""A controller running the launch sequence against a simulated pad, and the operator's
view of it: the countdown's state, the events on the bus, what the gate wrote.

Scenario tests read like procedures: start the count, inject a fault, expect a hold
within a deadline. Every wait is on a condition with a deadline, never a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from groundseg.api import UserStore
from groundseg.clock import Clock
from groundseg.config import PadDefinition
from groundseg.controller import Controller, ControllerSettings
from groundseg.heap import frozen_heap
from groundseg.launch.runner import LaunchRunner
from groundseg.rules.conditions import trusted_value
from groundseg.sequencer.countdown import CountdownState
from groundseg.sequencer.machine import Sequencer
from groundseg.telemetry.bus import Overflow
from groundseg.telemetry.events import Event
from tests.helpers import eventually

__all__ = ["TOLERANT_PERIODS", "Launch", "launch_controller", "tolerant_pad_text"]

TOLERANT_PERIODS = 10.0
"""For the tests that run the whole count fast (the nominal count, a recycle, a crash mid
fast fill): the simulated plant then takes most of a core of a two-core machine, and a
reply or a poll held up past the pad's margins would hold the count. Those tests are about
the sequence; link supervision and staleness have tests of their own at the pad's values."""


def tolerant_pad_text(text: str, periods: float = TOLERANT_PERIODS) -> str:
    """The pad file with every device waiting a second for a reply and `periods` poll
    periods before it calls a value stale."""
    return re.sub(
        r"^timeout_ms = \d+$",
        f"timeout_ms = 1000\nstale_after_periods = {periods:g}",
        text,
        flags=re.MULTILINE,
    )


@dataclass
class Launch:
    controller: Controller
    events: list[Event] = field(default_factory=list)

    @property
    def runner(self) -> LaunchRunner:
        assert self.controller.launch is not None
        return self.controller.launch

    @property
    def sequencer(self) -> Sequencer:
        return self.runner.sequencer

    @property
    def state(self) -> CountdownState:
        return self.sequencer.countdown.state

    def t(self) -> float:
        return self.sequencer.countdown.t(self.controller.count_clock.monotonic())

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def written(self) -> list[str]:
        """Commands the gate wrote to a device, in order."""
        return [str(e.fields["command"]) for e in self.events if e.kind == "command.written"]

    def verified(self) -> list[str]:
        return [str(e.fields["command"]) for e in self.events if e.kind == "command.verified"]

    def first(self, kind: str, where: Callable[[Event], bool] = lambda e: True) -> Event | None:
        return next((e for e in self.events if e.kind == kind and where(e)), None)

    async def wait_state(self, state: CountdownState, *, within: float) -> float:
        return await eventually(
            lambda: self.state is state,
            within=within,
            what=f"the countdown {state.value}",
            seen=lambda: (self.state.value, round(self.t()), self.sequencer.countdown.hold_reason),
        )

    async def wait_event(
        self, kind: str, *, within: float, where: Callable[[Event], bool] = lambda e: True
    ) -> Event:
        await eventually(
            lambda: self.first(kind, where) is not None,
            within=within,
            what=f"a {kind} event",
            seen=lambda: [f"{e.kind}: {e.message}" for e in self.events[-8:]],
        )
        found = self.first(kind, where)
        assert found is not None
        return found

    async def wait_fresh(self, *, within: float = 10.0) -> None:
        """Until every channel of the pad has a trusted value (the links are up)."""
        monitor = self.controller.monitor

        def fresh() -> bool:
            now_ns = round(self.controller.clock.monotonic() * 1e9)
            return all(
                trusted_value(
                    monitor.latest, c.index, now_ns=now_ns, stale_after_ns=monitor.stale_after_ns
                )
                is not None
                for c in self.controller.pad.channels
            )

        await eventually(fresh, within=within, what="fresh data on every channel")


@contextlib.asynccontextmanager
async def launch_controller(
    pad: PadDefinition,
    endpoints: Mapping[str, str],
    state_dir: Path,
    *,
    clock: Clock | None = None,
    users: UserStore | None = None,
    **settings: object,
) -> AsyncIterator[Launch]:
    """A controller (in-process MQTT broker) on the simulated pad, running until the
    block ends; its events collected."""
    controller = Controller(
        pad,
        ControllerSettings(state_dir=state_dir, endpoints=dict(endpoints), **settings),  # type: ignore[arg-type]
        clock=clock,
        users=users,
    )
    launch = Launch(controller)
    events = controller.bus.subscribe(
        "test-events", capacity=100_000, overflow=Overflow.FAULT, samples=False
    )

    async def collect() -> None:
        while True:
            item = await events.get()
            if isinstance(item, Event):
                launch.events.append(item)

    async with asyncio.TaskGroup() as tasks:
        running = tasks.create_task(controller.run(), name="controller")
        collector = tasks.create_task(collect(), name="collect-events")
        try:
            async with asyncio.timeout(30.0):
                await controller.ready.wait()
            # As `groundseg controller` does: the test session's heap (every test module,
            # its pads and plans) out of the collector's reach, or one full pass stalls the
            # loop past the links' staleness margins.
            with frozen_heap():
                yield launch
        finally:
            running.cancel()
            collector.cancel()
