"""What every driver shares: its channels, quality, staleness, link upkeep and counters.

A driver reads its device on a schedule and hands each poll cycle to a sink as one
`SampleBatch`. Quality is decided here, once, for every link: a reading outside the
channel's valid range or not a number is INVALID; a device's error answer is INVALID; a
channel not refreshed within `stale_after_periods` of its period is STALE (and so is every
channel of a link known to be down). A stale or invalid sample carries the last value read,
so displays can grey it out rather than blank it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import structlog

from groundseg.cancellation import raise_if_cancelling
from groundseg.clock import Clock
from groundseg.config import Channel, Device
from groundseg.drivers.backoff import Backoff
from groundseg.errors import LinkDown, ProtocolError
from groundseg.quality import Quality
from groundseg.telemetry.batch import QUALITY_DTYPE, SampleBatch
from groundseg.telemetry.events import Event, Severity
from groundseg.telemetry.staleness import StalenessWatchdog

__all__ = [
    "BatchSink",
    "Driver",
    "DriverCore",
    "DriverStatistics",
    "LinkCounters",
    "LinkState",
    "Reading",
    "poll_on_schedule",
]

BatchSink = Callable[[SampleBatch], None]
E = TypeVar("E")


class LinkState(StrEnum):
    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverStatistics:
    """A snapshot of one driver's counters."""

    device: str
    link: LinkState
    cycles: int
    requests: int
    writes: int
    responses: int
    timeouts: int
    link_losses: int
    reconnects: int
    device_errors: int
    bad_frames: int
    garbage_bytes: int
    late_replies: int
    overruns: int
    samples: int
    stale_channels: int
    lateness_p50_ms: float
    lateness_p99_ms: float
    """How late poll cycles started against their schedule (recent cycles)."""
    last_error: str


@dataclass(frozen=True, slots=True)
class Reading:
    """One channel's value as just read, for verification and bench checks."""

    value: float
    quality: Quality


@dataclass(slots=True)
class LinkCounters:
    """The counters a link updates as it exchanges frames."""

    requests: int = 0
    writes: int = 0
    responses: int = 0
    timeouts: int = 0
    device_errors: int = 0
    bad_frames: int = 0
    garbage_bytes: int = 0
    late_replies: int = 0


@dataclass(slots=True)
class _Counters(LinkCounters):
    cycles: int = 0
    link_losses: int = 0
    reconnects: int = 0
    overruns: int = 0
    samples: int = 0
    last_error: str = ""


class LatenessLog:
    """How far recent poll cycles started from their schedule (negative: early), in a ring."""

    def __init__(self, size: int = 4096) -> None:
        self._values = np.zeros(size)
        self._count = 0

    def record(self, seconds: float) -> None:
        self._values[self._count % len(self._values)] = seconds
        self._count += 1

    def values(self) -> npt.NDArray[np.float64]:
        return self._values[: min(self._count, len(self._values))].copy()

    def percentile_ms(self, percent: float) -> float:
        """A percentile of the distance from the schedule, early or late, in ms."""
        values = np.abs(self.values())
        return float(np.percentile(values, percent) * 1000.0) if len(values) else 0.0


class Driver(Protocol):
    """A device's driver, as the controller and the tools see it."""

    @property
    def device(self) -> Device: ...

    async def run(self) -> None:
        """Keep the link up and poll until cancelled; never returns on its own."""
        ...

    async def wait_connected(self) -> None:
        """Return once the link is up (the service is ready)."""
        ...

    async def read_now(self, channel_ids: Sequence[str]) -> dict[str, Reading]:
        """Read these channels from the device right now, outside the poll schedule."""
        ...

    def statistics(self) -> DriverStatistics: ...


class DriverCore:
    """Shared state and behaviour of one driver; drivers compose it."""

    def __init__(
        self,
        device: Device,
        channels: Sequence[Channel],
        sink: BatchSink,
        clock: Clock,
        *,
        first_seq: int = 0,
        events: Callable[[Event], None] | None = None,
    ) -> None:
        self.device = device
        self.events = events
        """Where link transitions are reported (the bus), if anywhere."""
        self.channels = tuple(channels)
        self.sink = sink
        self.clock = clock
        self.log = structlog.get_logger("groundseg.driver").bind(device=device.id)
        self.global_index = np.array([c.index for c in channels], dtype=np.uint32)
        self.local = {c.id: i for i, c in enumerate(channels)}
        self.low = np.array([c.valid_range[0] if c.valid_range else -np.inf for c in channels])
        self.high = np.array([c.valid_range[1] if c.valid_range else np.inf for c in channels])
        self.last_value = np.full(len(channels), np.nan)
        self.watchdog = StalenessWatchdog(
            [c.period_s for c in channels],
            stale_after_periods=device.stale_after_periods,
            now=clock.monotonic(),
        )
        self.counters = _Counters()
        self.link = LinkState.CONNECTING
        self.connected = asyncio.Event()
        self.lost = asyncio.Event()
        self.backoff = Backoff(cap_s=device.reconnect_max_s)
        self.lateness = LatenessLog()
        self._seq = first_seq
        """Batch sequence numbers continue across restarts (see `JournalReader.last_sequences`)."""

    # -- publishing ----------------------------------------------------------------------

    def qualify(
        self, local: npt.NDArray[np.intp], values: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.uint8]:
        """GOOD, or INVALID where a value is not a number or outside the channel's span."""
        bad = ~np.isfinite(values) | (values < self.low[local]) | (values > self.high[local])
        return np.where(bad, np.uint8(Quality.INVALID), np.uint8(Quality.GOOD)).astype(
            QUALITY_DTYPE
        )

    def publish(
        self,
        local: npt.NDArray[np.intp],
        values: npt.NDArray[np.float64],
        quality: npt.NDArray[np.uint8] | None = None,
    ) -> None:
        """Emit fresh readings of `local` channels as one batch."""
        if len(local) == 0:
            return
        if quality is None:
            quality = self.qualify(local, values)
        now = self.clock.monotonic()
        self.watchdog.observe(local, now)
        self.last_value[local] = values
        self._emit(local, values, quality)

    def publish_invalid(self, local: npt.NDArray[np.intp]) -> None:
        """The device answered with an error for these channels: INVALID, last value kept."""
        if len(local) == 0:
            return
        self.watchdog.observe(local, self.clock.monotonic())
        self._emit(
            local, self.last_value[local], np.full(len(local), Quality.INVALID, dtype=QUALITY_DTYPE)
        )

    def publish_stale(self, local: npt.NDArray[np.intp]) -> None:
        if len(local) == 0:
            return
        self._emit(
            local, self.last_value[local], np.full(len(local), Quality.STALE, dtype=QUALITY_DTYPE)
        )

    def _emit(
        self,
        local: npt.NDArray[np.intp],
        values: npt.NDArray[np.float64],
        quality: npt.NDArray[np.uint8],
    ) -> None:
        batch = SampleBatch.at(
            source=self.device.id,
            seq=self._seq,
            time_ns=self.clock.time_ns(),
            channel=self.global_index[local],
            value=np.asarray(values, dtype=np.float64),
            quality=quality,
        )
        self._seq += 1
        self.counters.samples += len(batch)
        self.sink(batch)

    # -- tasks every driver runs --------------------------------------------------------

    async def run(
        self,
        *,
        connect: Callable[[], Awaitable[None]],
        close: Callable[[], None],
        cycles: Mapping[float, Callable[[], Awaitable[None]]],
        receive: Callable[[], Coroutine[object, object, None]] | None = None,
    ) -> None:
        """Every task of a driver, in one group: the link, staleness, a receiver if the link
        speaks unasked, and one poll loop per rate (Hz -> cycle)."""
        name = self.device.id
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.keep_link(connect, close), name=f"{name}-link")
                tasks.create_task(self.watch_staleness(), name=f"{name}-staleness")
                if receive is not None:
                    tasks.create_task(receive(), name=f"{name}-receive")
                for rate, cycle in cycles.items():
                    tasks.create_task(
                        poll_on_schedule(self.clock, 1.0 / rate, cycle, self),
                        name=f"{name}-poll-{rate:g}Hz",
                    )
        finally:
            # A stopped driver lets go of its port: an exclusively locked serial port left
            # open would keep the next controller in this process off the line.
            with contextlib.suppress(Exception):
                close()

    def drain(
        self, next_event: Callable[[], E | object], need_data: object, handle: Callable[[E], None]
    ) -> None:
        """Take every event a sans-I/O decoder has; a bad frame is counted and skipped."""
        while True:
            try:
                event = next_event()
            except ProtocolError as exc:
                self.counters.bad_frames += 1
                self.note_error(str(exc))
                continue
            if event is need_data:
                return
            handle(event)  # type: ignore[arg-type]  # anything but the sentinel is an event

    async def watch_staleness(self) -> None:
        """Mark channels stale as their freshness deadlines pass."""
        while True:
            deadline = min(self.watchdog.next_deadline(), self.clock.monotonic() + 1.0)
            await self.clock.sleep_until(deadline)
            self.publish_stale(self.watchdog.expire(self.clock.monotonic()))

    async def keep_link(
        self, connect: Callable[[], Awaitable[None]], close: Callable[[], None]
    ) -> None:
        """Connect, wait for the link to be lost, mark everything stale, back off, repeat."""
        while True:
            try:
                await connect()
            except LinkDown as exc:
                self.note_error(exc.reason)
                self.link = LinkState.DOWN
                await asyncio.sleep(self.backoff.next_delay())
                continue
            if self.backoff.attempts:
                self.counters.reconnects += 1
            self.backoff.reset()
            self.lost.clear()
            self.link = LinkState.UP
            self.connected.set()
            self.log.info("link up", endpoint=str(self.device.endpoint))
            self._event("link.up", Severity.INFO, f"link to {self.device.endpoint} up")
            await self.lost.wait()
            self.connected.clear()
            self.link = LinkState.DOWN
            self.counters.link_losses += 1
            with contextlib.suppress(Exception):
                close()
            self.log.warning("link lost", reason=self.counters.last_error)
            self._event("link.lost", Severity.WARNING, self.counters.last_error or "link lost")
            self.publish_stale(
                self.watchdog.mark_stale(np.arange(len(self.channels), dtype=np.intp))
            )
            await asyncio.sleep(self.backoff.next_delay())

    def _event(self, kind: str, severity: Severity, message: str) -> None:
        if self.events is not None:
            self.events(
                Event(
                    kind=kind,
                    source=self.device.id,
                    time_ns=self.clock.time_ns(),
                    severity=severity,
                    message=message,
                )
            )

    def link_lost(self, reason: str) -> None:
        """A request found the link down; `keep_link` reconnects. Until then, nobody uses it."""
        self.note_error(reason)
        self.connected.clear()
        self.lost.set()

    def note_error(self, reason: str) -> None:
        self.counters.last_error = reason

    def statistics(self) -> DriverStatistics:
        c = self.counters
        return DriverStatistics(
            device=self.device.id,
            link=self.link,
            cycles=c.cycles,
            requests=c.requests,
            writes=c.writes,
            responses=c.responses,
            timeouts=c.timeouts,
            link_losses=c.link_losses,
            reconnects=c.reconnects,
            device_errors=c.device_errors,
            bad_frames=c.bad_frames,
            garbage_bytes=c.garbage_bytes,
            late_replies=c.late_replies,
            overruns=c.overruns,
            samples=c.samples,
            stale_channels=int(self.watchdog.stale.sum()),
            lateness_p50_ms=self.lateness.percentile_ms(50),
            lateness_p99_ms=self.lateness.percentile_ms(99),
            last_error=c.last_error,
        )


TIMER_EARLY_S = 0.0005
"""asyncio's timers fire up to a millisecond late (epoll counts whole milliseconds, rounding
up); waking half a millisecond early centres cycle starts on their schedule."""


async def poll_on_schedule(
    clock: Clock, period_s: float, cycle: Callable[[], Awaitable[None]], core: DriverCore
) -> None:
    """Run `cycle` every `period_s` on an absolute schedule (no drift). A cycle that overran
    its period is followed at once, and the schedule goes on from there: its data is already
    late, and waiting for the next slot would age every channel by up to one more period
    (two slow cycles in a row would then stale a link that is only slow). The slots it ran
    into are counted as overruns."""
    next_start = clock.monotonic()
    while True:
        await clock.sleep_until(next_start - TIMER_EARLY_S)
        if not core.connected.is_set():
            await core.connected.wait()
            next_start = clock.monotonic()
        core.lateness.record(clock.monotonic() - next_start)
        await cycle()
        raise_if_cancelling()  # pymodbus awaits replies with 3.11's wait_for
        core.counters.cycles += 1
        next_start += period_s
        now = clock.monotonic()
        if next_start < now:
            core.counters.overruns += int((now - next_start) // period_s) + 1
            next_start = now
