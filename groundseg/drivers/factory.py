"""Drivers from a pad definition, and endpoints overridden at run time.

The pad file names each device's production endpoint; a bench or the simulator supplies
others (`plc=127.0.0.1:40123`, `gas_panel=/dev/pts/7`), which replace them here, once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType

from groundseg.clock import Clock
from groundseg.config import LinkKind, PadDefinition, SerialEndpoint, TcpEndpoint
from groundseg.drivers.base import BatchSink, Driver
from groundseg.drivers.modbus import ModbusDriver
from groundseg.drivers.umbilical import UmbilicalDriver
from groundseg.drivers.weather import WeatherDriver
from groundseg.errors import ConfigError, ConfigProblem
from groundseg.telemetry.events import Event

__all__ = ["build_drivers", "with_endpoints"]


def with_endpoints(
    pad: PadDefinition, endpoints: Mapping[str, str], *, source: str = "endpoints"
) -> PadDefinition:
    """The pad with some devices' endpoints replaced ("host:port" for TCP, a path for serial)."""
    problems = []
    devices = dict(pad.devices)
    for device_id, text in endpoints.items():
        device = devices.get(device_id)
        if device is None:
            problems.append(
                ConfigProblem(
                    key=device_id, expected=f"unknown device; the pad has {', '.join(pad.devices)}"
                )
            )
            continue
        if device.link is LinkKind.MODBUS_TCP:
            host, _, port = text.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                problems.append(
                    ConfigProblem(key=device_id, expected=f"a TCP endpoint HOST:PORT, got {text!r}")
                )
                continue
            devices[device_id] = dataclasses.replace(
                device, endpoint=TcpEndpoint(host=host, port=int(port))
            )
        else:
            serial = device.endpoint
            assert isinstance(serial, SerialEndpoint)
            if not text.startswith("/"):
                problems.append(
                    ConfigProblem(
                        key=device_id,
                        expected=f"a serial port path such as /dev/ttyUSB0, got {text!r}",
                    )
                )
                continue
            devices[device_id] = dataclasses.replace(
                device, endpoint=dataclasses.replace(serial, path=text)
            )
    if problems:
        raise ConfigError(source, problems)
    return dataclasses.replace(pad, devices=MappingProxyType(devices))


def build_drivers(
    pad: PadDefinition,
    sink: BatchSink,
    clock: Clock,
    *,
    only: Collection[str] | None = None,
    next_seq: Mapping[str, int] | None = None,
    events: Callable[[Event], None] | None = None,
) -> dict[str, Driver]:
    """One driver per device (or per device named in `only`); `next_seq` continues each
    device's batch numbering after a restart."""
    drivers: dict[str, Driver] = {}
    for device_id, device in pad.devices.items():
        if only is not None and device_id not in only:
            continue
        channels = pad.channels_of(device_id)
        first_seq = (next_seq or {}).get(device_id, 0)
        match device.link:
            case LinkKind.MODBUS_TCP | LinkKind.MODBUS_RTU:
                drivers[device_id] = ModbusDriver(
                    device, channels, sink, clock, first_seq=first_seq, events=events
                )
            case LinkKind.UMBILICAL:
                drivers[device_id] = UmbilicalDriver(
                    device, channels, sink, clock, first_seq=first_seq, events=events
                )
            case LinkKind.WEATHER:
                drivers[device_id] = WeatherDriver(
                    device, channels, sink, clock, first_seq=first_seq, events=events
                )
    return drivers
