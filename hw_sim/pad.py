"""The simulated pad: plant, sensors and the four devices, started together on real links.

    async with SimulatedPad(load_pad("pads/baiterek.toml"), speed=20) as sim:
        sim.endpoints        # {"plc": "127.0.0.1:40123", "gas_panel": "/dev/pts/7", ...}
        await sim.inject("stuck_valve:lox.s1.fill_valve")
        sim.reading("lox.s1.ullage_pressure.a")

The plant is advanced lazily: every device read brings it up to the present (at most once
a millisecond), and a background tick keeps it moving when nobody reads. A device's
register image is encoded only when that device is read (encoding every image on every
refresh cost more than the physics). Entering the
context returns once every device is listening; leaving it stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Collection, Iterable, Mapping
from types import TracebackType

import numpy as np
import numpy.typing as npt
import structlog

from groundseg.config import Channel, LinkKind, PadDefinition
from hw_sim.clock import SimClock
from hw_sim.devices.images import GroupImage, ModbusImage, Refresh
from hw_sim.devices.line import SerialLine
from hw_sim.devices.modbus import ModbusRtuDevice, ModbusTcpDevice, build_sim_device
from hw_sim.devices.umbilical import UmbilicalController
from hw_sim.devices.weather import WeatherStation
from hw_sim.faults import Fault, FaultKind, FaultSpecError, LinkFaults, parse_fault
from hw_sim.plant.model import PadPlant, step_for_speed
from hw_sim.plant.signals import UnknownSignalError
from hw_sim.sensors import SensorArray

__all__ = ["SimulatedPad"]

log = structlog.get_logger(__name__)

REFRESH_INTERVAL_S = 0.001
TICK_S = 0.02


class SimulatedPad:
    def __init__(
        self,
        pad: PadDefinition,
        *,
        speed: float = 1.0,
        seed: int = 0,
        faults: Iterable[Fault | str] = (),
        host: str = "127.0.0.1",
        devices: Collection[str] | None = None,
    ) -> None:
        unknown = set(devices or ()) - set(pad.devices)
        if unknown:
            raise FaultSpecError(f"unknown device(s) to simulate: {', '.join(sorted(unknown))}")
        self.pad = pad
        self.clock = SimClock(speed)
        self.plant = PadPlant(seed=seed, max_step_s=step_for_speed(speed))
        self.sensors = SensorArray(
            pad.channels, self.plant.signals, np.random.default_rng(seed + 1)
        )
        self.host = host
        self.simulated = [d for d in pad.devices if devices is None or d in devices]
        self._rng = random.Random(seed + 2)
        self._initial_faults = [parse_fault(f) if isinstance(f, str) else f for f in faults]
        self.faults: dict[str, Fault] = {}
        self.writes: list[tuple[str, float]] = []
        """Every write a device received (channel, value), in order: what went on the wire."""
        self._link: dict[str, LinkFaults] = {d: LinkFaults() for d in pad.devices}
        self._generation = 0
        """Counts refreshes; an image encoded at an older one is out of date."""
        self._tcp: dict[str, ModbusTcpDevice] = {}
        self._lines: list[SerialLine] = []
        self._servers: dict[str, ModbusRtuDevice | UmbilicalController | WeatherStation] = {}
        self._last_sim = 0.0
        self._last_real = -1.0
        self._readings = np.zeros(len(pad.channels))
        self._runner: asyncio.Task[None] | None = None
        self.endpoints: dict[str, str] = {}
        for fault in self._initial_faults:
            self._validate(fault)

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> SimulatedPad:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._runner = asyncio.create_task(self._run(ready), name="hw_sim")
        try:
            await asyncio.wait({self._runner, ready}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            await self._stop()
            raise
        if not ready.done():
            await self._runner  # the simulator failed while starting: raise why
        for fault in self._initial_faults:
            await self.inject(fault)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None

    async def _run(self, ready: asyncio.Future[None]) -> None:
        try:
            self._build()
            for tcp in self._tcp.values():
                await tcp.start()
            self.endpoints = {d: self._endpoint(d) for d in self.simulated}
            self.refresh(force=True)
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._tick(), name="hw_sim-physics")
                for device_id, server in self._servers.items():
                    tasks.create_task(server.run(), name=f"hw_sim-{device_id}")
                ready.set_result(None)
                log.info("simulated pad ready", endpoints=self.endpoints, speed=self.clock.speed)
        finally:
            for tcp in self._tcp.values():
                await tcp.stop()
            for line in self._lines:
                line.close()

    def _build(self) -> None:
        for device_id in self.simulated:
            device = self.pad.devices[device_id]
            members = [(i, c) for i, c in enumerate(self.pad.channels) if c.device == device_id]
            positions = [i for i, _ in members]
            channels = [c for _, c in members]
            link = self._link_faults(device_id)
            if device.link in (LinkKind.MODBUS_TCP, LinkKind.MODBUS_RTU):
                image = ModbusImage(device, channels, positions)
                # On a serial line the line itself applies delays; over TCP the datastore does.
                delay = (
                    self._reply_delay(device_id)
                    if device.link is LinkKind.MODBUS_TCP
                    else _no_delay
                )
                sim_device = build_sim_device(
                    device, image, self._refresher(image), self.command, delay
                )
                if device.link is LinkKind.MODBUS_TCP:
                    self._tcp[device_id] = ModbusTcpDevice(
                        device, sim_device, link, self._rng, self.host
                    )
                else:
                    self._servers[device_id] = ModbusRtuDevice(
                        device, sim_device, self._line(device_id, link)
                    )
            elif device.link is LinkKind.UMBILICAL:
                group_image = GroupImage(device, channels, positions)
                self._servers[device_id] = UmbilicalController(
                    device,
                    group_image,
                    self._line(device_id, link),
                    plant=self.plant.umbilical,
                    refresh=self._refresher(group_image),
                    command=self.command,
                )
            else:
                self._servers[device_id] = WeatherStation(
                    device, channels, positions, self._line(device_id, link), self.readings
                )

    def _line(self, device_id: str, faults: _LinkFaultView) -> SerialLine:
        endpoint = self.pad.devices[device_id].endpoint
        line = SerialLine(
            device=device_id,
            baudrate=getattr(endpoint, "baudrate", 115200),
            faults=faults,
            rng=self._rng,
        )
        line.start()
        self._lines.append(line)
        return line

    def _reply_delay(self, device_id: str) -> _ReplyDelay:
        return _ReplyDelay(self._link, device_id)

    def _link_faults(self, device_id: str) -> _LinkFaultView:
        return _LinkFaultView(self._link, device_id)

    def _endpoint(self, device_id: str) -> str:
        if device_id in self._tcp:
            return self._tcp[device_id].endpoint
        return self._servers[device_id].endpoint

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.refresh()

    # -- the plant, as devices see it ----------------------------------------------------

    def refresh(self, *, force: bool = False) -> None:
        """Bring the plant and the sensor readings up to the present."""
        real = time.monotonic()
        if not force and real - self._last_real < REFRESH_INTERVAL_S:
            return
        self._last_real = real
        now = self.clock.now()
        if now > self._last_sim:
            self.plant.advance(now - self._last_sim)
            self._last_sim = now
        self._readings = self.sensors.read(self.plant.values(), now)
        self._generation += 1

    def _refresher(self, image: ModbusImage | GroupImage) -> Refresh:
        """A device's refresh: the plant, then its own image if the readings moved."""
        encoded = -1

        def refresh(*, force: bool = False) -> None:
            nonlocal encoded
            self.refresh(force=force)
            if encoded != self._generation:
                image.update(self._readings)
                encoded = self._generation

        return refresh

    def readings(self) -> npt.NDArray[np.float64]:
        self.refresh()
        return self._readings

    def command(self, channel: Channel, value: float) -> None:
        """A device received a write: the plant sees it from now on."""
        self.refresh(force=True)
        self.plant.command(channel.sim, value)
        self.writes.append((channel.id, value))
        log.info("write", device=channel.device, channel=channel.id, value=value)
        self.refresh(force=True)

    def reading(self, channel_id: str) -> float:
        """What the channel's sensor reads now, in engineering units (before encoding)."""
        self.refresh(force=True)
        return float(self._readings[self.pad.channel(channel_id).index])

    def signal(self, name: str) -> float:
        """The plant's true value of a signal, without sensor noise or faults."""
        self.refresh(force=True)
        return float(self.plant.values()[self.plant.signals.index(name)])

    def set_speed(self, speed: float) -> None:
        """Run the plant `speed` times real time from now on, with the physics step for that
        speed (a bench that speeds up keeps the plant's CPU cost; one that slows down gets
        the finer step back)."""
        self.clock.set_speed(speed)
        self.plant.max_step_s = step_for_speed(speed)

    def pause(self) -> None:
        """Freeze the plant and every reading, e.g. to compare two clients' reads exactly."""
        self.refresh(force=True)
        self.clock.pause()

    def resume(self) -> None:
        self.clock.resume()

    # -- faults -------------------------------------------------------------------------

    async def inject(self, fault: Fault | str) -> str:
        """Apply a fault; returns its spec, which `clear` takes."""
        fault = parse_fault(fault) if isinstance(fault, str) else fault
        self._validate(fault)
        self.faults[fault.spec] = fault
        await self._apply(fault, active=True)
        log.info("fault injected", fault=fault.spec)
        return fault.spec

    async def clear(self, spec: str | None = None) -> None:
        """Clear one fault by its spec, or every fault."""
        if spec is not None and spec not in self.faults:
            spec = parse_fault(spec).spec  # the same fault written another way ("30.0" for "30")
        if spec is None:
            targets = list(self.faults.values())
        elif spec in self.faults:
            targets = [self.faults[spec]]
        else:
            raise FaultSpecError(
                f"no active fault {spec!r}; active: {', '.join(self.faults) or 'none'}"
            )
        for fault in targets:
            del self.faults[fault.spec]
            await self._apply(fault, active=False)
            log.info("fault cleared", fault=fault.spec)

    def _validate(self, fault: Fault) -> None:
        layer, target = fault.kind.layer, fault.target
        try:
            if layer == "sensor":
                self.pad.channel(target)
            elif fault.kind is FaultKind.STUCK_VALVE:
                if not self.plant.valves.has(target):
                    raise UnknownSignalError(f"no valve {target!r}")
            elif fault.kind in (FaultKind.LEAK, FaultKind.OVERPRESSURE):
                self.plant.tank(target)
            elif fault.kind is FaultKind.FORCE:
                self.plant.signals.index(target)
            elif target not in self.pad.devices:
                raise UnknownSignalError(
                    f"no device {target!r}; devices: {', '.join(self.pad.devices)}"
                )
        except KeyError as exc:
            raise FaultSpecError(f"{fault.spec}: {exc.args[0]}") from None

    async def _apply(self, fault: Fault, *, active: bool) -> None:
        kind, target = fault.kind, fault.target
        match kind:
            case FaultKind.STUCK:
                self.refresh(force=True)
                self.sensors.set_stuck(target, fault.param("value") if active else None)
            case FaultKind.NOISE:
                self.sensors.set_noise(target, fault.param("sigma") if active else 0.0)
            case FaultKind.DRIFT:
                self.sensors.set_drift(
                    target, fault.param("rate") if active else 0.0, self.clock.now()
                )
            case FaultKind.STUCK_VALVE:
                self.refresh(force=True)
                self.plant.set_valve_stuck(target, active)
            case FaultKind.LEAK:
                self.plant.set_leak(target, fault.param("rate") if active else 0.0)
            case FaultKind.OVERPRESSURE:
                self.plant.set_overpressure(target, fault.param("rate") if active else 0.0)
            case FaultKind.FORCE:
                self.plant.force(target, fault.param("value") if active else None)
            case _:
                await self._apply_link(target)
        if kind.layer != "link":
            # On the wire at once, as a real sensor's change would be, not at the next tick.
            self.refresh(force=True)

    async def _apply_link(self, device_id: str) -> None:
        link = LinkFaults()
        for fault in self.faults.values():
            if fault.target != device_id or fault.kind.layer != "link":
                continue
            match fault.kind:
                case FaultKind.DROPOUT:
                    link.dropout = True
                case FaultKind.DISCONNECT:
                    link.disconnect = True
                case FaultKind.SLOW:
                    link.delay_s = fault.param("delay_ms") / 1000.0
                case FaultKind.LATE:
                    link.late_delay_s = fault.param("delay_ms") / 1000.0
                    link.late_remaining = int(fault.param("count"))
                case FaultKind.CORRUPT:
                    link.corrupt_rate = fault.param("rate")
                case FaultKind.GARBAGE:
                    link.garbage_rate = fault.param("rate")
                    link.garbage_bytes = int(fault.param("bytes"))
        was_disconnected = self._link[device_id].disconnect
        self._link[device_id] = link
        tcp = self._tcp.get(device_id)
        if tcp is not None and link.disconnect and not was_disconnected:
            await tcp.disconnect_clients()
        elif tcp is not None and was_disconnected and not link.disconnect:
            await tcp.start(tcp.port)

    def statistics(self) -> Mapping[str, Mapping[str, int]]:
        """Per-device counters of the simulated links."""
        stats: dict[str, dict[str, int]] = {}
        for line in self._lines:
            stats[line.device] = {
                "frames_sent": line.frames_sent,
                "frames_dropped": line.frames_dropped,
            }
        for device_id, server in self._servers.items():
            if isinstance(server, ModbusRtuDevice):
                stats[device_id] |= {"requests": server.requests, "bad_frames": server.bad_frames}
        return stats


class _LinkFaultView:
    """The live link faults of one device, read by its server at each frame."""

    def __init__(self, table: dict[str, LinkFaults], device_id: str) -> None:
        self._table = table
        self._device_id = device_id

    def __call__(self) -> LinkFaults:
        return self._table[self._device_id]


class _ReplyDelay:
    """How long the next reply of a TCP device waits: slow replies, and late ones once."""

    def __init__(self, table: dict[str, LinkFaults], device_id: str) -> None:
        self._table = table
        self._device_id = device_id

    def __call__(self) -> float:
        link = self._table[self._device_id]
        delay = link.delay_s
        if link.late_remaining > 0:
            link.late_remaining -= 1
            delay += link.late_delay_s
        return delay


def _no_delay() -> float:
    return 0.0
