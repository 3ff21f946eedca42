"""Whole-file checks of a pad definition: the ones a single key cannot answer.

Each check reports through `fail(key, expected)` and carries on, so one load reports every
problem in the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from groundseg.config import schema
from groundseg.config.model import (
    Channel,
    Check,
    Command,
    DataType,
    Device,
    GroupSource,
    Parameter,
    RegisterSource,
    SentenceSource,
    Table,
    Valve,
    Write,
)

__all__ = ["check_commands", "check_layout", "check_valves", "representable_span"]


class Fail(Protocol):
    def __call__(self, key: str, expected: str, *, channel_id: str | None = None) -> None: ...


_INTEGER_SPANS: Mapping[DataType, tuple[int, int]] = {
    DataType.BOOL: (0, 1),
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
}


def representable_span(channel: Channel) -> tuple[float, float] | None:
    """Engineering values the channel's raw type can carry; None when unbounded (floats)."""
    source = channel.source
    if isinstance(source, SentenceSource) or source.type in (DataType.FLOAT32, DataType.DECIMAL):
        return None
    raw_low, raw_high = _INTEGER_SPANS[DataType.BOOL if source.bit is not None else source.type]
    ends = (raw_low * channel.scale + channel.offset, raw_high * channel.scale + channel.offset)
    return min(ends), max(ends)


def check_layout(
    devices: Mapping[str, Device],
    channels: Sequence[Channel],
    keys: Mapping[str, str],
    fail: Fail,
) -> None:
    """Addresses inside each device's map, no two channels on the same bits, spans representable."""
    # (device, space, word) -> channel ids holding the whole word, or (channel id, bit) pairs
    occupied: dict[tuple[str, str, int], list[tuple[str, int | None]]] = {}
    sentence_fields: dict[tuple[str, str, str, str], str] = {}
    points: dict[tuple[str, int], str] = {}
    for channel in channels:
        key = keys[channel.id]
        source = channel.source
        if isinstance(source, SentenceSource):
            field_key = (channel.device, source.kind, source.sensor, source.field)
            previous = sentence_fields.setdefault(field_key, channel.id)
            if previous != channel.id:
                fail(
                    f"{key}.field",
                    f"{source.kind} {source.sensor} {source.field} is already mapped by channel {previous!r}",
                    channel_id=channel.id,
                )
            continue
        if isinstance(source, RegisterSource):
            place = _register_place(channel, source, devices[channel.device], key, fail)
        else:
            place = _group_place(channel, source, devices[channel.device], key, fail, points=points)
        if place is None:
            continue
        _check_span(channel, key, fail)
        space, first = place
        for word in range(first, first + source.span):
            holders = occupied.setdefault((channel.device, space, word), [])
            clash = [h for h in holders if h[1] is None or source.bit is None or h[1] == source.bit]
            if clash:
                what = (
                    f"bit {source.bit} of {space} {word}"
                    if source.bit is not None
                    else f"{space} {word}"
                )
                fail(
                    f"{key}.{'address' if isinstance(source, RegisterSource) else 'word'}",
                    f"{what} overlaps channel {clash[0][0]!r} ({keys[clash[0][0]]})",
                    channel_id=channel.id,
                )
                break
            holders.append((channel.id, source.bit))


def _register_place(
    channel: Channel, source: RegisterSource, device: Device, key: str, fail: Fail
) -> tuple[str, int] | None:
    """(address space, first address) of a Modbus channel, or None after reporting why not."""
    if source.table is Table.HOLDING_REGISTER and source.bit is not None:
        fail(
            f"{key}.bit",
            "a bit of a holding register cannot be written without disturbing the "
            "other bits; give the channel its own register or a coil",
            channel_id=channel.id,
        )
        return None
    size = device.register_map.size(source.table)
    if source.address + source.span > size:
        last = source.address + source.span - 1
        fail(
            f"{key}.address",
            f"{source.table} address {last} is past the device's map "
            f"({_map_key(source.table)} = {size}, so addresses 0-{size - 1})",
            channel_id=channel.id,
        )
        return None
    return str(source.table), source.address


def _group_place(
    channel: Channel,
    source: GroupSource,
    device: Device,
    key: str,
    fail: Fail,
    *,
    points: dict[tuple[str, int], str],
) -> tuple[str, int] | None:
    """(address space, first word) of an umbilical channel, or None after reporting why not."""
    if source.group not in device.groups:
        known = ", ".join(str(g) for g in sorted(device.groups))
        fail(
            f"{key}.group",
            f"unknown group {source.group}; the device defines groups {known}",
            channel_id=channel.id,
        )
        return None
    words = device.groups[source.group]
    if source.word + source.span > words:
        fail(
            f"{key}.word",
            f"word {source.word + source.span - 1} is past group {source.group}'s {words} words (words 0-{words - 1})",
            channel_id=channel.id,
        )
        return None
    if source.point is not None:
        previous = points.setdefault((channel.device, source.point), channel.id)
        if previous != channel.id:
            fail(
                f"{key}.point",
                f"point {source.point} is already written by channel {previous!r}",
                channel_id=channel.id,
            )
    return f"group {source.group}", source.word


def _map_key(table: Table) -> str:
    return {
        Table.COIL: "map.coils",
        Table.DISCRETE_INPUT: "map.discrete_inputs",
        Table.INPUT_REGISTER: "map.input_registers",
        Table.HOLDING_REGISTER: "map.holding_registers",
    }[table]


def _check_span(channel: Channel, key: str, fail: Fail) -> None:
    span = representable_span(channel)
    if span is None or channel.valid_range is None:
        return
    low, high = channel.valid_range
    if low < span[0] or high > span[1]:
        source = channel.source
        assert not isinstance(source, SentenceSource)
        fail(
            f"{key}.range",
            f"range [{low:g}, {high:g}] cannot be carried by {source.type} with scale {channel.scale:g} "
            f"and offset {channel.offset:g} ({span[0]:g} to {span[1]:g})",
            channel_id=channel.id,
        )


def _at(fail: Fail, item_id: str) -> Fail:
    """`fail`, pointing at the line that defines `item_id` (a valve or a command)."""

    def located(key: str, expected: str, *, channel_id: str | None = None) -> None:
        fail(key, expected, channel_id=channel_id or item_id)

    return located


def check_valves(
    specs: Sequence[schema.ValveSpec], channels: Mapping[str, Channel], outer_fail: Fail
) -> dict[str, Valve]:
    valves: dict[str, Valve] = {}
    for position, spec in enumerate(specs):
        key = f"valves[{position}]"
        fail = _at(outer_fail, spec.id)
        if spec.id in valves:
            fail(f"{key}.id", f"duplicate valve id {spec.id!r}")
            continue
        command = _existing(channels, spec.command, f"{key}.command", fail)
        switches = [
            _existing(channels, ref, f"{key}.{name}", fail)
            for name, ref in (
                ("open_switch", spec.open_switch),
                ("closed_switch", spec.closed_switch),
            )
        ]
        if command is None or None in switches:
            continue
        if not command.writable:
            fail(
                f"{key}.command",
                f"channel {spec.command!r} is not writable (a coil, holding register or point)",
            )
            continue
        valves[spec.id] = Valve(
            id=spec.id,
            device=command.device,
            description=spec.description,
            command=spec.command,
            open_switch=spec.open_switch,
            closed_switch=spec.closed_switch,
            window_s=spec.window_ms / 1000.0,
            fail_safe=spec.fail_safe,
        )
    return valves


def check_commands(
    specs: Sequence[schema.CommandSpec],
    valves: Mapping[str, Valve],
    channels: Mapping[str, Channel],
    outer_fail: Fail,
) -> dict[str, Command]:
    commands = {c.id: c for valve in valves.values() for c in _valve_commands(valve)}
    for position, spec in enumerate(specs):
        key = f"commands[{position}]"
        fail = _at(outer_fail, spec.id)
        if spec.id in commands:
            origin = (
                "a valve's derived command"
                if spec.id.rsplit(".", 1)[0] in valves
                else "another command"
            )
            fail(f"{key}.id", f"duplicate command id {spec.id!r} (already {origin})")
            continue
        command = _command(spec, key, channels, fail)
        if command is not None:
            commands[spec.id] = command
    return commands


def _valve_commands(valve: Valve) -> list[Command]:
    def command(verb: str, value: float) -> Command:
        return Command(
            id=f"{valve.id}.{verb}",
            description=f"{verb.capitalize()} {valve.description or valve.id}",
            device=valve.device,
            writes=(Write(channel=valve.command, value=value),),
            verify=(
                Check(channel=valve.open_switch, equals=value),
                Check(channel=valve.closed_switch, equals=1.0 - value),
            ),
            window_s=valve.window_s,
        )

    return [command("open", 1.0), command("close", 0.0)]


def _command(
    spec: schema.CommandSpec, key: str, channels: Mapping[str, Channel], fail: Fail
) -> Command | None:
    ok = True
    devices: set[str] = set()
    uses_argument = False
    for index, write in enumerate(spec.writes):
        write_key = f"{key}.writes[{index}]"
        channel = _existing(channels, write.channel, f"{write_key}.channel", fail)
        if channel is None:
            ok = False
            continue
        devices.add(channel.device)
        if not channel.writable:
            fail(
                f"{write_key}.channel",
                f"channel {write.channel!r} is not writable (a coil, holding register or point)",
            )
            ok = False
        if isinstance(write.value, str):
            uses_argument = True
        elif not _fits(channel, write.value):
            fail(
                f"{write_key}.value",
                f"{write.value:g} is outside what channel {write.channel!r} can take",
            )
            ok = False
    if len(devices) > 1:
        fail(
            f"{key}.writes",
            f"a command writes to one device; these writes go to {', '.join(sorted(devices))}",
        )
        ok = False
    for index, check in enumerate(spec.verify):
        check_key = f"{key}.verify[{index}]"
        if _existing(channels, check.channel, f"{check_key}.channel", fail) is None:
            ok = False
        if isinstance(check.equals, str):
            uses_argument = True
    if uses_argument and spec.parameter is None:
        fail(f"{key}.parameter", 'required: a write or check uses "$argument"')
        ok = False
    if spec.parameter is not None and not uses_argument:
        fail(f"{key}.parameter", 'declared but no write or check uses "$argument"')
        ok = False
    if not ok or not devices:
        return None
    return Command(
        id=spec.id,
        description=spec.description,
        device=devices.pop(),
        writes=tuple(
            Write(channel=w.channel, value=None if isinstance(w.value, str) else w.value)
            for w in spec.writes
        ),
        verify=tuple(
            Check(
                channel=c.channel,
                equals=None if isinstance(c.equals, str) else c.equals,
                tolerance=c.tolerance,
            )
            for c in spec.verify
        ),
        window_s=spec.window_ms / 1000.0,
        parameter=None
        if spec.parameter is None
        else Parameter(
            name=spec.parameter.name,
            unit=spec.parameter.unit,
            low=spec.parameter.low,
            high=spec.parameter.high,
        ),
    )


def _existing(
    channels: Mapping[str, Channel], channel_id: str, key: str, fail: Fail
) -> Channel | None:
    channel = channels.get(channel_id)
    if channel is None:
        fail(key, f"unknown channel {channel_id!r}")
    return channel


def _fits(channel: Channel, value: float) -> bool:
    span = channel.valid_range or representable_span(channel)
    return span is None or span[0] <= value <= span[1]
