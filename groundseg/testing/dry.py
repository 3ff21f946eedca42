"""The dry run: a procedure walked without a controller, writing nothing anywhere.

`DryBench` has the `Bench` methods. Every expectation is checked against the pad
definition (an unknown channel or state fails as it would live) and noted as a wait it
would make; every command is checked to exist and noted as a command it would send, and
nothing is sent: there is no connection at all. The report of a dry run is the list of
everything the procedure would do, in order, for a reviewer before it meets hardware.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from groundseg.config import PadDefinition
from groundseg.rules.conditions import Condition
from groundseg.testing.bench import Seen, Sent
from groundseg.testing.expect import ChannelTable, ProcedureError, expectation

__all__ = ["DryBench", "DryFaults"]

Event = dict[str, Any]


class DryBench:
    def __init__(self, pad: PadDefinition) -> None:
        self.pad = pad
        self.table = ChannelTable.of(
            [{"id": c.id, "states": {str(k): v for k, v in c.states.items()}} for c in pad.channels]
        )
        self.sent: list[Sent] = []
        self.log: list[tuple[float, str]] = []
        self.touched: dict[str, list[tuple[float, float | None]]] = {}
        self.events: list[Event] = []
        self.now_ns = 0

    def note(self, text: str) -> None:
        self.log.append((0.0, text))

    def expectation(self, condition: str) -> Condition:
        return expectation(condition, self.table)

    def value(self, channel: str) -> float | None:
        self.table.channel_index(channel)
        return None

    async def await_telemetry(self, condition: str, *, within: float) -> Seen:
        return (await self.await_sequence([condition], within=within))[0]

    async def await_sequence(self, conditions: Sequence[str], *, within: float) -> list[Seen]:
        for condition in conditions:
            self.expectation(condition)
        order = " then ".join(conditions)
        self.note(f"would wait up to {within:g} s for {order}")
        return [Seen(c, 0, 0.0) for c in conditions]

    async def send(self, command: str, argument: float | None = None) -> Sent:
        if command not in self.pad.commands:
            raise ProcedureError(f"the pad has no command {command!r}")
        shown = command if argument is None else f"{command}({argument:g})"
        self.note(f"would send {shown}")
        sent = Sent(command, argument, 0.0)
        self.sent.append(sent)
        return sent

    async def send_and_assert(
        self, command: str, *, expect: str, within: float, argument: float | None = None
    ) -> Seen:
        self.expectation(expect)
        await self.send(command, argument)
        return await self.await_telemetry(expect, within=within)

    def mark(self) -> int:
        return 0

    async def await_event(
        self,
        kind: str,
        *,
        within: float,
        after: int | None = None,
        where: Callable[[Event], bool] | None = None,
    ) -> Event:
        self.note(f"would wait up to {within:g} s for an event {kind}")
        return {"seq": 0, "time": 0.0, "kind": kind, "message": "(dry run)", "fields": {}}

    async def assert_event_count(
        self,
        kind: str,
        *,
        during: float,
        count: int | None = None,
        at_least: int = 0,
        at_most: int | None = None,
        after: int | None = None,
        where: Callable[[Event], bool] | None = None,
    ) -> list[Event]:
        self.note(f"would count events {kind} for {during:g} s")
        return []

    async def assert_telemetry_count(
        self,
        condition: str,
        *,
        during: float,
        count: int | None = None,
        at_least: int = 0,
        at_most: int | None = None,
    ) -> int:
        self.expectation(condition)
        self.note(f"would count the times {condition} comes true in {during:g} s")
        return count if count is not None else at_least


class DryFaults:
    """Fault injection noted, not made."""

    def __init__(self, bench: DryBench) -> None:
        self._bench = bench

    async def inject(self, spec: str) -> str:
        self._bench.note(f"would inject the fault {spec}")
        return spec

    async def clear(self, spec: str | None = None) -> None:
        self._bench.note(f"would clear {spec or 'every fault'}")

    async def signal(self, name: str) -> float:
        self._bench.note(f"would read the plant's {name}")
        return 0.0
