"""The write path: write a command to its device, then verify it by readback.

Only the command gate may import this module (an import contract checks it): every
actuation must pass the gate's role check, interlocks and audit first. Here a command is
carried out exactly as the pad definition declares it: its writes, in order, then its
readback checks, repeated until all hold or the verification window closes. A readback
counts only if its quality is usable (stale or invalid data never confirms anything).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from groundseg.clock import Clock
from groundseg.codecs.registers import WordField, encode_words
from groundseg.config import Channel, Command, GroupSource, PadDefinition, RegisterSource, Table
from groundseg.drivers.base import Driver, Reading
from groundseg.drivers.modbus import ModbusDriver
from groundseg.drivers.umbilical import UmbilicalDriver
from groundseg.errors import (
    CommandRejected,
    DeviceError,
    LinkError,
    ProtocolError,
    VerificationFailed,
    VerifyMismatch,
    WriteFailed,
)

__all__ = ["CommandOutcome", "actuate", "verify_command", "write_command"]

VERIFY_INTERVAL_S = 0.02


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandOutcome:
    """A command written and confirmed."""

    command: str
    argument: float | None
    verified_after_s: float
    readings: Mapping[str, Reading]


async def actuate(
    pad: PadDefinition,
    drivers: Mapping[str, Driver],
    command_id: str,
    argument: float | None = None,
    *,
    clock: Clock,
    verify_interval_s: float = VERIFY_INTERVAL_S,
) -> CommandOutcome:
    """Carry out a command: writes, then readback verification within its window."""
    started = clock.monotonic()
    await write_command(pad, drivers, command_id, argument)
    return await verify_command(
        pad,
        drivers,
        command_id,
        argument,
        clock=clock,
        started=started,
        verify_interval_s=verify_interval_s,
    )


async def write_command(
    pad: PadDefinition, drivers: Mapping[str, Driver], command_id: str, argument: float | None
) -> None:
    """The command's writes, in order; CommandRejected or WriteFailed."""
    command = _checked(pad, command_id, argument)
    driver = drivers.get(command.device)
    if driver is None:
        raise CommandRejected(command_id, f"no driver for device {command.device!r}")
    for write in command.writes:
        channel = pad.channel(write.channel)
        value = write.value if write.value is not None else argument
        assert value is not None  # _checked guarantees the argument where a write needs it
        try:
            await _write(driver, channel, value, command_id)
        except (LinkError, DeviceError, ProtocolError) as exc:
            raise WriteFailed(command_id, exc) from None


async def verify_command(
    pad: PadDefinition,
    drivers: Mapping[str, Driver],
    command_id: str,
    argument: float | None,
    *,
    clock: Clock,
    started: float,
    window_s: float | None = None,
    verify_interval_s: float = VERIFY_INTERVAL_S,
) -> CommandOutcome:
    """Read back until every check holds or the window (the command's own unless given,
    counted from `started`) closes; VerificationFailed then."""
    command = _checked(pad, command_id, argument)
    driver = drivers[command.device]
    return await _verify(
        command,
        argument,
        driver,
        clock=clock,
        started=started,
        interval_s=verify_interval_s,
        window_s=command.window_s if window_s is None else window_s,
    )


def _checked(pad: PadDefinition, command_id: str, argument: float | None) -> Command:
    command = pad.commands.get(command_id)
    if command is None:
        raise CommandRejected(command_id, "unknown command")
    parameter = command.parameter
    if parameter is None and argument is not None:
        raise CommandRejected(command_id, "takes no argument")
    if parameter is not None:
        if argument is None:
            raise CommandRejected(
                command_id,
                f"needs {parameter.name} ({parameter.unit}, {parameter.low:g} to {parameter.high:g})",
            )
        if not parameter.low <= argument <= parameter.high:
            raise CommandRejected(
                command_id,
                f"{parameter.name} {argument:g} {parameter.unit} is outside {parameter.low:g} to {parameter.high:g}",
            )
    return command


async def _write(driver: Driver, channel: Channel, value: float, command_id: str) -> None:
    source = channel.source
    if isinstance(driver, ModbusDriver) and isinstance(source, RegisterSource):
        if source.table is Table.COIL:
            await driver.link.write_bits(source.address, [value >= 0.5])
            return
        if source.table is Table.HOLDING_REGISTER:
            field = WordField(
                channel=channel.index,
                address=source.address,
                type=source.type,
                word_order=source.word_order,
                bit=source.bit,
                scale=channel.scale,
                offset=channel.offset,
            )
            await driver.link.write_words(source.address, encode_words(field, value))
            return
    if (
        isinstance(driver, UmbilicalDriver)
        and isinstance(source, GroupSource)
        and source.point is not None
    ):
        raw = round((value - channel.offset) / channel.scale)
        await driver.write_point(source.point, raw)
        return
    raise CommandRejected(
        command_id, f"channel {channel.id} cannot be written through {type(driver).__name__}"
    )


async def _verify(
    command: Command,
    argument: float | None,
    driver: Driver,
    *,
    clock: Clock,
    started: float,
    interval_s: float,
    window_s: float,
) -> CommandOutcome:
    deadline = started + window_s
    channels = [check.channel for check in command.verify]
    while True:
        seen: dict[str, Reading] = {}
        problem = ""
        try:
            seen = await driver.read_now(channels)
        except (LinkError, DeviceError, ProtocolError) as exc:
            problem = str(exc)
        mismatches = [
            _mismatch(
                check.channel,
                check.expected(argument),
                check.tolerance,
                seen.get(check.channel),
                problem,
            )
            for check in command.verify
        ]
        failed = [m for m in mismatches if m is not None]
        now = clock.monotonic()
        if not failed:
            return CommandOutcome(
                command=command.id, argument=argument, verified_after_s=now - started, readings=seen
            )
        if now >= deadline:
            raise VerificationFailed(command.id, window_s, failed)
        await clock.sleep_until(min(now + interval_s, deadline))


def _mismatch(
    channel: str, expected: float, tolerance: float, reading: Reading | None, problem: str
) -> VerifyMismatch | None:
    if reading is None:
        return VerifyMismatch(
            channel=channel, expected=f"{expected:g}", seen=f"no reading ({problem or 'not read'})"
        )
    if not reading.quality.is_usable:
        return VerifyMismatch(
            channel=channel,
            expected=f"{expected:g}",
            seen=f"{reading.value:g} ({reading.quality.name})",
        )
    if abs(reading.value - expected) > tolerance + 1e-9:
        return VerifyMismatch(channel=channel, expected=f"{expected:g}", seen=f"{reading.value:g}")
    return None
