"""Load a pad definition file into frozen objects, or say precisely what is wrong with it.

Three passes, each reporting every problem it finds: TOML syntax; the schema (pydantic,
key by key); then the checks that need the whole file: duplicate ids, overlapping
registers, addresses past a device's map, references from valves and commands to channels.
Nothing is returned unless all three pass, so a half-valid pad never reaches a driver.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from groundseg.config import schema
from groundseg.config.checks import check_commands, check_layout, check_valves
from groundseg.config.model import (
    Channel,
    ChannelSource,
    DataType,
    Device,
    GroupSource,
    Limits,
    LinkKind,
    PadDefinition,
    RegisterMap,
    RegisterSource,
    SentenceSource,
    SerialEndpoint,
    Table,
    TcpEndpoint,
    WordOrder,
)
from groundseg.errors import ConfigError, ConfigProblem

__all__ = ["load_pad", "parse_pad"]

_CHANNEL_SPEC: Mapping[
    LinkKind,
    type[schema.RegisterChannelSpec | schema.GroupChannelSpec | schema.SentenceChannelSpec],
] = {
    LinkKind.MODBUS_TCP: schema.RegisterChannelSpec,
    LinkKind.MODBUS_RTU: schema.RegisterChannelSpec,
    LinkKind.UMBILICAL: schema.GroupChannelSpec,
    LinkKind.WEATHER: schema.SentenceChannelSpec,
}
_LINK_NAMES = frozenset(kind.value for kind in LinkKind)


def load_pad(path: str | Path) -> PadDefinition:
    """Read and validate a pad definition file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            str(path), [ConfigProblem(key="", expected=f"cannot read file: {exc.strerror}")]
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(path), [ConfigProblem(key="", expected=f"not UTF-8 text ({exc.reason})")]
        ) from None
    return parse_pad(text, source=str(path))


def parse_pad(text: str, *, source: str = "<string>") -> PadDefinition:
    """Validate the text of a pad definition file; `source` names it in errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(str(exc))
        raise ConfigError(
            source, [ConfigProblem(key="", expected=f"not valid TOML: {exc}", line=line)]
        ) from None
    locator = _Locator(text)
    try:
        spec = schema.PadFileSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc, raw, (), locator)) from None
    return _Builder(spec, raw, source, locator).build()


class _Builder:
    def __init__(
        self, spec: schema.PadFileSpec, raw: dict[str, Any], source: str, locator: _Locator
    ) -> None:
        self.spec = spec
        self.raw = raw
        self.source = source
        self.locator = locator
        self.problems: list[ConfigProblem] = []
        self.keys: dict[str, str] = {}
        """Channel id -> the dotted key it was defined at."""

    def fail(
        self, key: str, expected: str, *, channel_id: str | None = None, occurrence: int = 0
    ) -> None:
        line = self.locator.line_of_id(channel_id, occurrence)
        self.problems.append(ConfigProblem(key=key, expected=expected, line=line))

    def build(self) -> PadDefinition:
        devices = {
            device_id: _device(device_id, device_spec)
            for device_id, device_spec in self.spec.devices.items()
        }
        channels = self._channels(devices)
        self._raise_if_failed()
        by_id = {c.id: c for c in channels}
        check_layout(devices, channels, self.keys, self.fail)
        valves = check_valves(self.spec.valves, by_id, self.fail)
        commands = check_commands(self.spec.commands, valves, by_id, self.fail)
        self._raise_if_failed()
        return PadDefinition(
            name=self.spec.pad.name,
            site=self.spec.pad.site,
            vehicle=self.spec.pad.vehicle,
            source=self.source,
            devices=MappingProxyType(devices),
            channels=tuple(channels),
            commands=MappingProxyType(commands),
            valves=MappingProxyType(valves),
            launch=self.spec.launch(),
            _by_id=MappingProxyType(by_id),
        )

    def _raise_if_failed(self) -> None:
        if self.problems:
            raise ConfigError(self.source, self.problems)

    def _channels(self, devices: Mapping[str, Device]) -> list[Channel]:
        channels: list[Channel] = []
        for device_id, raw_list in self.spec.channels.items():
            key = f"channels.{device_id}"
            device = devices.get(device_id)
            if device is None:
                known = ", ".join(devices) or "none"
                self.fail(
                    key, f"unknown device {device_id!r}; devices defined in [devices]: {known}"
                )
                continue
            spec_type = _CHANNEL_SPEC[device.link]
            for position, raw_channel in enumerate(raw_list):
                item_key = f"{key}[{position}]"
                try:
                    channel_spec = spec_type.model_validate(raw_channel)
                except ValidationError as exc:
                    channel_id = raw_channel.get("id") if isinstance(raw_channel, dict) else None
                    for problem in _problems(exc, raw_channel, (), self.locator, prefix=item_key):
                        self.problems.append(
                            ConfigProblem(
                                key=problem.key,
                                expected=problem.expected,
                                line=self.locator.line_of_id(
                                    channel_id if isinstance(channel_id, str) else None
                                ),
                            )
                        )
                    continue
                if channel_spec.id in self.keys:
                    self.fail(
                        f"{item_key}.id",
                        f"duplicate channel id {channel_spec.id!r} (first defined at {self.keys[channel_spec.id]})",
                        channel_id=channel_spec.id,
                        occurrence=1,
                    )
                    continue
                self.keys[channel_spec.id] = item_key
                channels.append(_channel(channel_spec, device, index=len(channels)))
        for device_id in devices:
            if device_id not in self.spec.channels:
                self.fail(f"channels.{device_id}", "every device needs a channel list")
        return channels


def _device(
    device_id: str,
    spec: schema.ModbusTcpDeviceSpec
    | schema.ModbusRtuDeviceSpec
    | schema.UmbilicalDeviceSpec
    | schema.WeatherDeviceSpec,
) -> Device:
    endpoint: TcpEndpoint | SerialEndpoint
    register_map = RegisterMap()
    groups: Mapping[int, int] = MappingProxyType({})
    unit_id, max_gap, heartbeat_hz, word_order = 1, 0, 5.0, WordOrder.BIG
    match spec:
        case schema.ModbusTcpDeviceSpec():
            endpoint = TcpEndpoint(host=spec.host, port=spec.port)
            register_map = RegisterMap(**spec.map.model_dump())
            unit_id, max_gap, word_order = spec.unit_id, spec.max_gap, WordOrder(spec.word_order)
        case schema.ModbusRtuDeviceSpec():
            endpoint = _serial(spec)
            register_map = RegisterMap(**spec.map.model_dump())
            unit_id, max_gap, word_order = spec.unit_id, spec.max_gap, WordOrder(spec.word_order)
        case schema.UmbilicalDeviceSpec():
            endpoint = _serial(spec)
            # Group 0 is the unsolicited heartbeat: counter and status words.
            groups = MappingProxyType({0: 2} | {int(g): n for g, n in spec.groups.items()})
            heartbeat_hz = spec.heartbeat_hz
        case schema.WeatherDeviceSpec():
            endpoint = _serial(spec)
    return Device(
        id=device_id,
        description=spec.description,
        link=LinkKind(spec.link),
        endpoint=endpoint,
        rate_hz=spec.rate_hz,
        timeout_s=spec.timeout_ms / 1000.0,
        unit_id=unit_id,
        word_order=word_order,
        max_gap=max_gap,
        register_map=register_map,
        groups=groups,
        stale_after_periods=spec.stale_after_periods,
        reconnect_max_s=spec.reconnect_max_ms / 1000.0,
        heartbeat_hz=heartbeat_hz,
        simulated=spec.simulated,
    )


def _serial(
    spec: schema.ModbusRtuDeviceSpec | schema.UmbilicalDeviceSpec | schema.WeatherDeviceSpec,
) -> SerialEndpoint:
    return SerialEndpoint(
        path=spec.path,
        baudrate=spec.baudrate,
        bytesize=spec.bytesize,
        parity=spec.parity,
        stopbits=spec.stopbits,
    )


def _channel(
    spec: schema.RegisterChannelSpec | schema.GroupChannelSpec | schema.SentenceChannelSpec,
    device: Device,
    *,
    index: int,
) -> Channel:
    default_order = device.word_order
    source: ChannelSource
    match spec:
        case schema.RegisterChannelSpec():
            source = RegisterSource(
                table=Table(spec.table),
                address=spec.address,
                type=DataType(spec.type),
                word_order=WordOrder(spec.word_order) if spec.word_order else default_order,
                bit=spec.bit,
            )
        case schema.GroupChannelSpec():
            source = GroupSource(
                group=spec.group,
                word=spec.word,
                type=DataType(spec.type),
                word_order=WordOrder(spec.word_order) if spec.word_order else default_order,
                bit=spec.bit,
                point=spec.point,
            )
        case schema.SentenceChannelSpec():
            source = SentenceSource(
                kind=spec.sentence,
                sensor=spec.sensor,
                field=spec.field,
                empty_value=spec.empty_value,
            )
    rate = spec.rate_hz or (
        device.heartbeat_hz
        if isinstance(source, GroupSource) and source.group == 0
        else device.rate_hz
    )
    return Channel(
        id=spec.id,
        index=index,
        device=device.id,
        description=spec.description,
        unit=spec.unit,
        source=source,
        scale=spec.scale,
        offset=spec.offset,
        rate_hz=rate,
        limits=Limits(low=spec.limits.low, high=spec.limits.high),
        valid_range=(spec.range[0], spec.range[1]) if spec.range else None,
        states=MappingProxyType({int(k): v for k, v in spec.states.items()}),
        sim=spec.sim or spec.id,
    )


class _Locator:
    """Finds the line of a channel in the file text, so errors point at it."""

    def __init__(self, text: str) -> None:
        self._lines: dict[str, list[int]] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            for match in re.finditer(r'\bid\s*=\s*"([^"]+)"', line):
                self._lines.setdefault(match.group(1), []).append(number)

    def line_of_id(self, item_id: str | None, occurrence: int = 0) -> int | None:
        lines = self._lines.get(item_id, []) if item_id else []
        return lines[min(occurrence, len(lines) - 1)] if lines else None


_ALL_KEYS = sorted(
    {
        name
        for model in vars(schema).values()
        if isinstance(model, type) and issubclass(model, BaseModel)
        for name in model.model_fields
    }
    | {"schema"}
)


def _problems(
    exc: ValidationError,
    raw: Any,
    base: Sequence[str | int],
    locator: _Locator,
    *,
    prefix: str = "",
) -> list[ConfigProblem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = [*base, *(part for part in error["loc"] if part not in _LINK_NAMES)]
        key = _dotted(loc, prefix)
        problems.append(
            ConfigProblem(key=key, expected=_expectation(error), line=_line_for(raw, loc, locator))
        )
    return problems


def _dotted(loc: Iterable[str | int], prefix: str) -> str:
    key = prefix
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else str(part)
    return key


def _expectation(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        unknown = str(error["loc"][-1])
        close = difflib.get_close_matches(unknown, _ALL_KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key {unknown!r}{hint}"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message.replace("Input should be", "expected")
    if kind == "union_tag_invalid":
        return f"unknown link {error['input'].get('link')!r}; expected one of " + ", ".join(
            sorted(_LINK_NAMES)
        )
    if kind.startswith("value_error") or "input" not in error:
        return message
    return f"{message} (got {error['input']!r})"


def _line_for(raw: Any, loc: Sequence[str | int], locator: _Locator) -> int | None:
    # The deepest table along the path that carries an id tells us the line.
    node, found = raw, None
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            found = node["id"]
    return locator.line_of_id(found)


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None
