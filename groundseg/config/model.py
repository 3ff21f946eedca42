"""The pad definition as frozen, validated objects.

These objects exist only if the file they came from was valid (see `load.py`); code that
holds a `PadDefinition` never re-checks it. Channel indices are positions in
`PadDefinition.channels` and are what sample batches carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from groundseg.config.launch_schema import LaunchSpec

__all__ = [
    "Channel",
    "ChannelSource",
    "Check",
    "Command",
    "DataType",
    "Device",
    "GroupSource",
    "Limits",
    "LinkKind",
    "PadDefinition",
    "Parameter",
    "RegisterMap",
    "RegisterSource",
    "SentenceSource",
    "SerialEndpoint",
    "Table",
    "TcpEndpoint",
    "Valve",
    "WordOrder",
    "Write",
]


class LinkKind(StrEnum):
    MODBUS_TCP = "modbus_tcp"
    MODBUS_RTU = "modbus_rtu"
    UMBILICAL = "umbilical_serial"
    WEATHER = "weather_serial"


class Table(StrEnum):
    """The four Modbus address spaces."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    INPUT_REGISTER = "input_register"
    HOLDING_REGISTER = "holding_register"

    @property
    def is_bit(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE_INPUT)

    @property
    def is_writable(self) -> bool:
        return self in (Table.COIL, Table.HOLDING_REGISTER)


class DataType(StrEnum):
    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"
    DECIMAL = "decimal"
    """A decimal number in an ASCII sentence."""

    @property
    def words(self) -> int:
        """16-bit words the type occupies in a register map or a frame group."""
        return 2 if self in (DataType.INT32, DataType.UINT32, DataType.FLOAT32) else 1


class WordOrder(StrEnum):
    """Order of the two 16-bit words of a 32-bit value (bytes within a word are big-endian)."""

    BIG = "big"
    LITTLE = "little"


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpEndpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SerialEndpoint:
    path: str
    baudrate: int
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterSource:
    """Where a Modbus channel lives: table, 0-based protocol address, encoding."""

    table: Table
    address: int
    type: DataType
    word_order: WordOrder = WordOrder.BIG
    bit: int | None = None

    @property
    def span(self) -> int:
        """Addresses occupied (one per coil or input bit, one or two per register value)."""
        return 1 if self.table.is_bit else self.type.words


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupSource:
    """Where an umbilical-controller channel lives: a word of a data group (group 0 is the
    heartbeat), and for a writable channel the point that commands it."""

    group: int
    word: int
    type: DataType
    word_order: WordOrder = WordOrder.BIG
    bit: int | None = None
    point: int | None = None

    @property
    def span(self) -> int:
        return self.type.words


@dataclass(frozen=True, slots=True, kw_only=True)
class SentenceSource:
    """Where a weather-station channel lives: sentence kind, sensor id, field name."""

    kind: str
    sensor: str
    field: str
    empty_value: float | None = None
    """What an empty field means (e.g. no strike within range); None: an invalid reading."""


ChannelSource = RegisterSource | GroupSource | SentenceSource


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Operating limits shown to operators (alarm and redline rules come later)."""

    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """One measured or commanded quantity."""

    id: str
    index: int
    device: str
    description: str
    unit: str
    source: ChannelSource
    scale: float = 1.0
    offset: float = 0.0
    rate_hz: float
    limits: Limits = field(default_factory=Limits)
    valid_range: tuple[float, float] | None = None
    """Readings outside this span are physically impossible (a broken 4-20 mA loop, a sensor
    fault) and are marked invalid."""
    states: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    """Display names of discrete values (0 = "GROUND", 1 = "INTERNAL")."""
    sim: str = ""
    """The simulator signal this channel measures; defaults to the channel id."""

    @property
    def writable(self) -> bool:
        match self.source:
            case RegisterSource(table=table):
                return table.is_writable
            case GroupSource(point=point):
                return point is not None
            case _:
                return False

    @property
    def period_s(self) -> float:
        return 1.0 / self.rate_hz

    def format_value(self, value: float) -> str:
        """The value as an operator reads it: a state name where one is defined."""
        if self.states and value == int(value) and int(value) in self.states:
            return self.states[int(value)]
        return f"{value:.6g}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterMap:
    """How many addresses each Modbus table of a device has (its register map's size)."""

    coils: int = 0
    discrete_inputs: int = 0
    input_registers: int = 0
    holding_registers: int = 0

    def size(self, table: Table) -> int:
        return {
            Table.COIL: self.coils,
            Table.DISCRETE_INPUT: self.discrete_inputs,
            Table.INPUT_REGISTER: self.input_registers,
            Table.HOLDING_REGISTER: self.holding_registers,
        }[table]


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """A controller on the pad and how to reach it."""

    id: str
    description: str
    link: LinkKind
    endpoint: TcpEndpoint | SerialEndpoint
    rate_hz: float
    timeout_s: float
    unit_id: int = 1
    word_order: WordOrder = WordOrder.BIG
    """Word order of 32-bit values whose channel does not set its own."""
    max_gap: int = 16
    """Unused addresses a coalesced block read may span (Telegraf's max_insert)."""
    register_map: RegisterMap = field(default_factory=RegisterMap)
    groups: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))
    """Umbilical data groups: group number -> words in the group."""
    stale_after_periods: float = 3.0
    reconnect_max_s: float = 2.0
    heartbeat_hz: float = 5.0
    simulated: bool = False
    """hw_sim stands in for it: the controller starts the simulator for it (partial
    integration: a bench with only some of the pad's devices)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Write:
    """One write of a command: a writable channel and the value in engineering units
    (None: the command's argument)."""

    channel: str
    value: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One readback that confirms a command: channel equals a value (None: the argument)
    within a tolerance."""

    channel: str
    equals: float | None
    tolerance: float = 0.0

    def expected(self, argument: float | None) -> float:
        target = self.equals if self.equals is not None else argument
        if target is None:
            raise ValueError(f"check on {self.channel} needs the command's argument")
        return target


@dataclass(frozen=True, slots=True, kw_only=True)
class Parameter:
    """The argument a command takes, with its allowed span."""

    name: str
    unit: str
    low: float
    high: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """An actuation: what it writes and which readbacks confirm it, within what window."""

    id: str
    description: str
    device: str
    writes: tuple[Write, ...]
    verify: tuple[Check, ...]
    window_s: float
    parameter: Parameter | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Valve:
    """A valve with a command output and open/closed limit switches; it yields the commands
    `<id>.open` and `<id>.close`."""

    id: str
    device: str
    description: str
    command: str
    open_switch: str
    closed_switch: str
    window_s: float
    fail_safe: str = "closed"


@dataclass(frozen=True, slots=True, kw_only=True)
class PadDefinition:
    """Everything groundseg knows about one pad, loaded from one file."""

    name: str
    site: str
    vehicle: str
    source: str
    devices: Mapping[str, Device]
    channels: tuple[Channel, ...]
    commands: Mapping[str, Command]
    valves: Mapping[str, Valve]
    launch: LaunchSpec = field(default_factory=LaunchSpec)
    """The countdown, rules, sequence and safing as written; `groundseg.sequencer.plan`
    compiles them against the channels."""
    _by_id: Mapping[str, Channel] = field(repr=False, compare=False)

    def channel(self, channel_id: str) -> Channel:
        """The channel with this id; KeyError names it when it does not exist."""
        try:
            return self._by_id[channel_id]
        except KeyError:
            raise KeyError(f"no channel {channel_id!r} in pad {self.name!r}") from None

    def has_channel(self, channel_id: str) -> bool:
        return channel_id in self._by_id

    def channels_of(self, device: str) -> tuple[Channel, ...]:
        return tuple(c for c in self.channels if c.device == device)
