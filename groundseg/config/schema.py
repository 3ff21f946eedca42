"""The pad definition file's schema, checked by pydantic.

These models describe one TOML file key by key, reject unknown keys and check what can be
checked locally (types, spans, units, low below high). Checks that need the whole file
(duplicate ids, overlapping registers, references between sections) live in `load.py`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from groundseg.config.launch_schema import LaunchSpec
from groundseg.config.units import UNITS

__all__ = [
    "CommandSpec",
    "DeviceSpec",
    "GroupChannelSpec",
    "ModbusRtuDeviceSpec",
    "ModbusTcpDeviceSpec",
    "PadFileSpec",
    "RegisterChannelSpec",
    "SentenceChannelSpec",
    "UmbilicalDeviceSpec",
    "ValveSpec",
    "WeatherDeviceSpec",
]

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=80)]
DeviceId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
TableName = Literal["coil", "discrete_input", "input_register", "holding_register"]
RegisterType = Literal["bool", "int16", "uint16", "int32", "uint32", "float32"]
Positive = Annotated[float, Field(gt=0)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class LimitsSpec(_Spec):
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _low_below_high(self) -> LimitsSpec:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low limit {self.low:g} is above high limit {self.high:g}")
        return self


class _ChannelSpec(_Spec):
    id: Identifier
    description: str = ""
    unit: str
    scale: float = 1.0
    offset: float = 0.0
    rate_hz: Positive | None = None
    limits: LimitsSpec = LimitsSpec()
    range: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    states: dict[str, str] = {}
    sim: Identifier | None = None

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, unit: str) -> str:
        if unit not in UNITS:
            known = ", ".join(repr(u) for u in UNITS)
            raise ValueError(f"unknown unit {unit!r}; expected one of {known}")
        return unit

    @field_validator("scale")
    @classmethod
    def _nonzero_scale(cls, scale: float) -> float:
        if scale == 0:
            raise ValueError("scale must not be zero")
        return scale

    @field_validator("range")
    @classmethod
    def _range_ordered(cls, span: list[float] | None) -> list[float] | None:
        if span is not None and span[0] >= span[1]:
            raise ValueError(f"range low end {span[0]:g} must be below its high end {span[1]:g}")
        return span

    @field_validator("states")
    @classmethod
    def _integer_state_keys(cls, states: dict[str, str]) -> dict[str, str]:
        for key in states:
            try:
                int(key)
            except ValueError:
                raise ValueError(f"state key {key!r} is not an integer") from None
        return states


class RegisterChannelSpec(_ChannelSpec):
    table: TableName
    address: Annotated[int, Field(ge=0, le=65535)]
    type: RegisterType = "uint16"
    word_order: Literal["big", "little"] | None = None
    bit: Annotated[int, Field(ge=0, le=15)] | None = None

    @model_validator(mode="after")
    def _type_fits_table(self) -> RegisterChannelSpec:
        is_bit_table = self.table in ("coil", "discrete_input")
        if is_bit_table and self.type != "bool":
            raise ValueError(
                f"a {self.table} holds one bit; type must be 'bool', not {self.type!r}"
            )
        if not is_bit_table and self.type == "bool" and self.bit is None:
            raise ValueError(f"a bool in a {self.table} needs 'bit' (0-15)")
        if self.bit is not None and (is_bit_table or self.type not in ("uint16", "bool")):
            raise ValueError("'bit' applies only to uint16 or bool fields of a register")
        return self


class GroupChannelSpec(_ChannelSpec):
    group: Annotated[int, Field(ge=0, le=255)]
    word: Annotated[int, Field(ge=0, le=118)]
    type: RegisterType = "uint16"
    word_order: Literal["big", "little"] | None = None
    bit: Annotated[int, Field(ge=0, le=15)] | None = None
    point: Annotated[int, Field(ge=0, le=65535)] | None = None

    @model_validator(mode="after")
    def _bits_in_words(self) -> GroupChannelSpec:
        if self.type == "bool" and self.bit is None:
            raise ValueError("a bool in a data group needs 'bit' (0-15)")
        if self.bit is not None and self.type not in ("uint16", "bool"):
            raise ValueError("'bit' applies only to uint16 or bool fields")
        return self


class SentenceChannelSpec(_ChannelSpec):
    sentence: Literal["WND", "ATM", "LTG", "GAS"]
    sensor: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,8}$")]
    field: str
    empty_value: float | None = None
    """What an empty field means for this channel (e.g. no strike: beyond range); without it
    an empty field is an invalid reading."""

    @model_validator(mode="after")
    def _field_of_sentence(self) -> SentenceChannelSpec:
        # The sentence layouts are the protocol's; repeated here so the file is checked
        # without importing the codec into the configuration layer.
        fields = {
            "WND": ("mean", "gust", "direction"),
            "ATM": ("temperature", "humidity", "pressure"),
            "LTG": ("distance", "count"),
            "GAS": ("o2", "vapour"),
        }[self.sentence]
        if self.field not in fields:
            raise ValueError(
                f"sentence {self.sentence} has no field {self.field!r}; expected one of "
                + ", ".join(fields)
            )
        return self


class RegisterMapSpec(_Spec):
    coils: Annotated[int, Field(ge=0, le=65536)] = 0
    discrete_inputs: Annotated[int, Field(ge=0, le=65536)] = 0
    input_registers: Annotated[int, Field(ge=0, le=65536)] = 0
    holding_registers: Annotated[int, Field(ge=0, le=65536)] = 0


class _DeviceSpec(_Spec):
    description: str = ""
    simulated: bool = False
    """Stood in for by hw_sim, started by the controller (a bench with some devices)."""
    rate_hz: Positive = 10.0
    timeout_ms: Annotated[float, Field(gt=0, le=60_000)] = 250.0
    stale_after_periods: Annotated[float, Field(ge=1.0, le=100.0)] = 3.0
    reconnect_max_ms: Annotated[float, Field(gt=0, le=60_000)] = 2000.0


class _SerialDeviceSpec(_DeviceSpec):
    path: str
    baudrate: Annotated[int, Field(gt=0)] = 115200
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1


class ModbusTcpDeviceSpec(_DeviceSpec):
    link: Literal["modbus_tcp"]
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    unit_id: Annotated[int, Field(ge=0, le=255)] = 1
    word_order: Literal["big", "little"] = "big"
    max_gap: Annotated[int, Field(ge=0, le=124)] = 16
    map: RegisterMapSpec


class ModbusRtuDeviceSpec(_SerialDeviceSpec):
    link: Literal["modbus_rtu"]
    unit_id: Annotated[int, Field(ge=1, le=247)] = 1
    word_order: Literal["big", "little"] = "big"
    max_gap: Annotated[int, Field(ge=0, le=124)] = 16
    map: RegisterMapSpec


class UmbilicalDeviceSpec(_SerialDeviceSpec):
    link: Literal["umbilical_serial"]
    heartbeat_hz: Positive = 5.0
    groups: dict[str, Annotated[int, Field(ge=1, le=119)]]

    @field_validator("groups")
    @classmethod
    def _group_numbers(cls, groups: dict[str, int]) -> dict[str, int]:
        for key in groups:
            if not key.isdigit() or not 1 <= int(key) <= 255:
                raise ValueError(f"group key {key!r} must be a group number 1-255")
        return groups


class WeatherDeviceSpec(_SerialDeviceSpec):
    link: Literal["weather_serial"]
    baudrate: Annotated[int, Field(gt=0)] = 9600


DeviceSpec = Annotated[
    ModbusTcpDeviceSpec | ModbusRtuDeviceSpec | UmbilicalDeviceSpec | WeatherDeviceSpec,
    Field(discriminator="link"),
]


class WriteSpec(_Spec):
    channel: Identifier
    value: float | Literal["$argument"]


class CheckSpec(_Spec):
    channel: Identifier
    equals: float | Literal["$argument"]
    tolerance: Annotated[float, Field(ge=0)] = 0.0


class ParameterSpec(_Spec):
    name: Identifier
    unit: str
    low: float
    high: float

    @model_validator(mode="after")
    def _low_below_high(self) -> ParameterSpec:
        if self.low > self.high:
            raise ValueError(f"low {self.low:g} is above high {self.high:g}")
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r}")
        return self


class CommandSpec(_Spec):
    id: Identifier
    description: str = ""
    writes: Annotated[list[WriteSpec], Field(min_length=1)]
    verify: Annotated[list[CheckSpec], Field(min_length=1)]
    window_ms: Annotated[float, Field(gt=0, le=600_000)]
    parameter: ParameterSpec | None = None


class ValveSpec(_Spec):
    id: Identifier
    description: str = ""
    command: Identifier
    open_switch: Identifier
    closed_switch: Identifier
    window_ms: Annotated[float, Field(gt=0, le=600_000)]
    fail_safe: Literal["closed", "open"] = "closed"


class PadSpec(_Spec):
    name: str
    site: str = ""
    vehicle: str = ""


class PadFileSpec(LaunchSpec):
    schema_version: Literal[1] = Field(alias="schema")
    pad: PadSpec
    devices: dict[DeviceId, DeviceSpec]
    channels: dict[str, list[dict[str, object]]]
    """Channel lists keyed by device; each list is checked against its device's link kind."""
    valves: list[ValveSpec] = Field(default_factory=list)
    commands: list[CommandSpec] = Field(default_factory=list)

    def launch(self) -> LaunchSpec:
        """The launch part of the file: countdown, rules, sequence, safing, gate."""
        return LaunchSpec(**{name: getattr(self, name) for name in LaunchSpec.model_fields})
