"""Fault injection: what can go wrong on a pad, as data.

A fault is written `KIND:TARGET[:KEY=VALUE,...]`, the same on the command line
(`--fault stuck:lox.s1.ullage_pressure.a`), on the simulator's control input and through
the Python API (`parse_fault`). Three layers take faults:

| layer   | kinds                                               | target        |
|---------|-----------------------------------------------------|---------------|
| sensor  | stuck[:value=], noise:sigma=, drift:rate=           | a channel id  |
| plant   | stuck_valve, leak:rate=, overpressure:rate=, force:value= | a valve, a tank (lox.s1...), a signal |
| link    | dropout, disconnect, slow:delay_ms=, late:delay_ms=[,count=], corrupt[:rate=], garbage[:rate=,bytes=] | a device id |

`late` answers after the delay (longer than the client's timeout) and then answers the next
request as usual, which is the case that makes naive Modbus RTU masters mismatch replies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

__all__ = ["Fault", "FaultKind", "FaultSpecError", "LinkFaults", "parse_fault"]


class FaultSpecError(ValueError):
    """A fault specification that cannot be understood; the message says what is wrong."""


class FaultKind(StrEnum):
    STUCK = "stuck"
    NOISE = "noise"
    DRIFT = "drift"
    STUCK_VALVE = "stuck_valve"
    LEAK = "leak"
    OVERPRESSURE = "overpressure"
    FORCE = "force"
    DROPOUT = "dropout"
    DISCONNECT = "disconnect"
    SLOW = "slow"
    LATE = "late"
    CORRUPT = "corrupt"
    GARBAGE = "garbage"

    @property
    def layer(self) -> str:
        if self in (FaultKind.STUCK, FaultKind.NOISE, FaultKind.DRIFT):
            return "sensor"
        if self in (FaultKind.STUCK_VALVE, FaultKind.LEAK, FaultKind.OVERPRESSURE, FaultKind.FORCE):
            return "plant"
        return "link"


# Parameters each kind takes: name -> (default, low, high); None default means required.
_PARAMETERS: Mapping[FaultKind, Mapping[str, tuple[float | None, float, float]]] = {
    FaultKind.STUCK: {"value": (float("nan"), -1e12, 1e12)},
    FaultKind.NOISE: {"sigma": (None, 0.0, 1e9)},
    FaultKind.DRIFT: {"rate": (None, -1e9, 1e9)},
    FaultKind.STUCK_VALVE: {},
    FaultKind.LEAK: {"rate": (0.05, 0.0, 100.0)},
    FaultKind.OVERPRESSURE: {"rate": (0.05, 0.0, 100.0)},
    FaultKind.FORCE: {"value": (None, -1e12, 1e12)},
    FaultKind.DROPOUT: {},
    FaultKind.DISCONNECT: {},
    FaultKind.SLOW: {"delay_ms": (100.0, 0.0, 60_000.0)},
    FaultKind.LATE: {"delay_ms": (None, 0.0, 60_000.0), "count": (1.0, 1.0, 1e9)},
    FaultKind.CORRUPT: {"rate": (1.0, 0.0, 1.0)},
    FaultKind.GARBAGE: {"rate": (1.0, 0.0, 1.0), "bytes": (7.0, 1.0, 200.0)},
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One fault: a kind, what it hits, and its parameters (validated on construction)."""

    kind: FaultKind
    target: str
    params: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not self.target:
            raise FaultSpecError(f"{self.kind}: a target is required")
        allowed = _PARAMETERS[self.kind]
        for name, value in self.params.items():
            if name not in allowed:
                known = ", ".join(allowed) or "none"
                raise FaultSpecError(f"{self.kind}: unknown parameter {name!r} (takes: {known})")
            _, low, high = allowed[name]
            if not low <= value <= high:
                raise FaultSpecError(f"{self.kind}: {name}={value:g} is outside {low:g}..{high:g}")
        for name, (default, _, _) in allowed.items():
            if default is None and name not in self.params:
                raise FaultSpecError(f"{self.kind}: parameter {name!r} is required")

    def param(self, name: str) -> float:
        if name in self.params:
            return self.params[name]
        default = _PARAMETERS[self.kind][name][0]
        assert default is not None
        return default

    @property
    def spec(self) -> str:
        params = ",".join(f"{k}={_exact(v)}" for k, v in self.params.items())
        return f"{self.kind}:{self.target}" + (f":{params}" if params else "")


def parse_fault(spec: str) -> Fault:
    """`KIND:TARGET[:KEY=VALUE,...]` into a Fault, or FaultSpecError naming the problem."""
    parts = spec.strip().split(":")
    if len(parts) < 2 or len(parts) > 3:
        raise FaultSpecError(f"{spec!r}: expected KIND:TARGET[:KEY=VALUE,...]")
    kind_text, target = parts[0], parts[1]
    try:
        kind = FaultKind(kind_text)
    except ValueError:
        known = ", ".join(k.value for k in FaultKind)
        raise FaultSpecError(
            f"{spec!r}: unknown fault kind {kind_text!r} (known: {known})"
        ) from None
    params: dict[str, float] = {}
    if len(parts) == 3 and parts[2]:
        for item in parts[2].split(","):
            name, equals, text = item.partition("=")
            if not equals:
                raise FaultSpecError(f"{spec!r}: parameter {item!r} is not KEY=VALUE")
            try:
                params[name.strip()] = float(text)
            except ValueError:
                raise FaultSpecError(f"{spec!r}: {name.strip()}={text!r} is not a number") from None
    try:
        return Fault(kind=kind, target=target, params=MappingProxyType(params))
    except FaultSpecError as exc:
        raise FaultSpecError(f"{spec!r}: {exc}") from None


@dataclass(slots=True)
class LinkFaults:
    """What the active faults do to one device's link, as the device layer needs it."""

    dropout: bool = False
    disconnect: bool = False
    delay_s: float = 0.0
    late_delay_s: float = 0.0
    late_remaining: int = 0
    corrupt_rate: float = 0.0
    garbage_rate: float = 0.0
    garbage_bytes: int = 0


def _exact(value: float) -> str:
    """The shortest text that parses back to exactly `value` ("30", "812.3456")."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)
