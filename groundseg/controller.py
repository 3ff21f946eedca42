"""The controller: the one place that wires configuration into running services.

    drivers --batches, events--> bus --> journal (must not drop) --records--> MQTT publisher
                                    |--> live view (drops oldest) --> latest values, events
                                    |--> launch runner (must not drop): monitor, sequencer
                                    |     --> command gate --> drivers' write path
                                    \\--> operator API (drops oldest): console stream
    operators --> operator API (authenticated, role-checked) --> launch runner, command gate

Everything runs in one task group. A clean stop goes in order: decisions first, then the
drivers, then the journal and the publisher finish what was produced (`_wind_down`). A
batch is journaled before it is published; if the journal cannot take it (disk full) an
alarm is raised, the batch still goes out live flagged as not archived, and journaling
resumes by itself when space returns. With no broker configured the controller runs an
in-process one on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import structlog

from groundseg.api import (
    ApiContext,
    ApiServer,
    ApiSettings,
    Commanding,
    LiveDesk,
    Sessions,
    StreamHub,
    UserStore,
    create_app,
)
from groundseg.clock import Clock, ScaledClock, SystemClock
from groundseg.config import PadDefinition
from groundseg.drivers.base import Driver
from groundseg.drivers.factory import build_drivers, with_endpoints
from groundseg.gate.audit import AuditLog, open_audit
from groundseg.gate.gate import CommandGate
from groundseg.gate.policies import authority_for
from groundseg.journal.reader import JournalReader
from groundseg.journal.writer import FsyncPolicy, JournalSettings, JournalWriter
from groundseg.launch.runner import LaunchRunner
from groundseg.mqtt.connection import MqttSettings
from groundseg.mqtt.embedded import embedded_broker
from groundseg.mqtt.live import LivePublisher
from groundseg.mqtt.publisher import TelemetryPublisher
from groundseg.mqtt.topics import Topics, pad_slug
from groundseg.sequencer.monitor import Monitor
from groundseg.sequencer.plan import compile_plan
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.bus import Bus, Overflow, Subscription
from groundseg.telemetry.events import Event, Severity

__all__ = ["Controller", "ControllerSettings"]

log = structlog.get_logger("groundseg.controller")

JOURNAL_QUEUE = 20_000
LIVE_QUEUE = 2_000
DEFAULT_FSYNC = FsyncPolicy(0.2)


@dataclass(frozen=True, slots=True, kw_only=True)
class ControllerSettings:
    state_dir: Path
    """Journal and cursors live here."""
    endpoints: Mapping[str, str] = field(default_factory=dict)
    mqtt: MqttSettings | None = None
    """None: an in-process broker on loopback."""
    confirm: Literal["ingest", "broker"] | None = None
    """What confirms a record stored; None: an ingest with an external broker, the broker's
    PUBACK with the in-process one (no ingest listens there)."""
    fsync: FsyncPolicy = DEFAULT_FSYNC
    segment_bytes: int = 64 * 1024 * 1024
    retention_bytes: int | None = None
    retention_seconds: float | None = None
    latest_hz: float = 1.0
    client_id: str = ""
    count_speed: float = 1.0
    """How much faster than real time the count clock runs (a simulated plant's speed)."""
    verify_floor_s: float = 0.5
    """Shortest readback window in real time, whatever the count speed (links keep real time)."""
    launch_tick_s: float = 0.1
    stale_periods: float = 3.0
    """A value older than this many of its channel's poll periods no longer counts (rules,
    interlocks). Tests sharing two cores with a browser relax it; the pad keeps 3."""
    api: ApiSettings | None = None
    """None: no operator API (a bench or a test drives the runner directly)."""
    drain_s: float = 5.0
    """On a clean stop, how long the publisher may take to have everything confirmed."""


class Controller:
    def __init__(
        self,
        pad: PadDefinition,
        settings: ControllerSettings,
        *,
        clock: Clock | None = None,
        users: UserStore | None = None,
    ) -> None:
        self.pad = with_endpoints(pad, settings.endpoints, source="endpoints")
        self.settings = settings
        self.clock = clock or SystemClock()
        self.topics = Topics(pad_slug(pad.name))
        self.client_id = settings.client_id or f"groundseg-controller-{self.topics.pad}"
        self.bus = Bus()
        self.journal = JournalWriter(
            JournalSettings(
                directory=settings.state_dir / "journal",
                fsync=settings.fsync,
                segment_bytes=settings.segment_bytes,
                retention_bytes=settings.retention_bytes,
                retention_seconds=settings.retention_seconds,
            ),
            pad=pad.name,
            channels=[c.id for c in pad.channels],
            sources=list(pad.devices),
            clock=self.clock,
        )
        self.archiving = True
        self.unarchived_batches = 0
        self.publisher: TelemetryPublisher | None = None
        self.live: LivePublisher | None = None
        self.drivers: dict[str, Driver] = {}
        self.plan = compile_plan(self.pad)
        self.count_clock: Clock = (
            self.clock if settings.count_speed == 1.0 else ScaledClock(settings.count_speed)
        )
        self.monitor = Monitor(self.pad, self.plan, stale_periods=settings.stale_periods)
        self.audit: AuditLog | None = None
        self.gate: CommandGate | None = None
        self.launch: LaunchRunner | None = None
        self.ready = asyncio.Event()
        self.mqtt_port: int | None = None
        self.users = users
        self.hub: StreamHub | None = None
        self.api_server: ApiServer | None = None

    async def run(self) -> None:
        """Run until cancelled."""
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.journal.open()
        reader = JournalReader(self.journal.settings.directory)
        next_seq = {source: last + 1 for source, last in reader.last_sequences().items()}
        archive = self.bus.subscribe("journal", capacity=JOURNAL_QUEUE, overflow=Overflow.FAULT)
        live = self.bus.subscribe(
            "live", capacity=LIVE_QUEUE, overflow=Overflow.DROP_OLDEST, events=False
        )
        self.drivers = build_drivers(
            self.pad, self.bus.publish, self.clock, next_seq=next_seq, events=self.bus.publish
        )
        self.audit = open_audit(self.settings.state_dir / "audit.jsonl")
        self.gate = CommandGate(
            self.pad,
            self.drivers,
            authority=authority_for(self.plan),
            vetoes=lambda command: self.monitor.vetoes(
                command, round(self.clock.monotonic() * 1e9)
            ),
            audit=self.audit,
            publish=self.bus.publish,
            link_clock=self.clock,
            count_speed=lambda: float(getattr(self.count_clock, "speed", 1.0)),
            verify_floor_s=self.settings.verify_floor_s,
        )
        self.launch = LaunchRunner(
            self.pad,
            self.plan,
            bus=self.bus,
            gate=self.gate,
            monitor=self.monitor,
            telemetry_clock=self.clock,
            count_clock=self.count_clock,
            state_file=self.settings.state_dir / "sequencer.json",
            tick_s=self.settings.launch_tick_s,
        )
        try:
            async with self._broker() as mqtt, asyncio.TaskGroup() as tasks:
                self.publisher = TelemetryPublisher(
                    settings=mqtt,
                    topics=self.topics,
                    journal=self.journal,
                    client_id=self.client_id,
                    cursor_file=self.settings.state_dir / "publisher-cursor.json",
                    clock=self.clock,
                    confirm=self.settings.confirm
                    or ("ingest" if self.settings.mqtt is not None else "broker"),
                )
                self.live = LivePublisher(
                    settings=mqtt,
                    topics=self.topics,
                    pad=self.pad,
                    samples=live,
                    journal=reader,
                    client_id=self.client_id,
                    event_cursor_file=self.settings.state_dir / "event-cursor.json",
                    rate_hz=self.settings.latest_hz,
                    countdown=self.launch.state,
                )
                journal = tasks.create_task(self._archive(archive), name="journal")
                publishing = tasks.create_task(self.publisher.run(), name="publisher")
                live_view = tasks.create_task(self.live.run(), name="live")
                deciding = [tasks.create_task(self.launch.run(), name="launch")]
                if self.settings.api is not None:
                    self.api_server = self._operator_api(self.settings.api)
                    assert self.hub is not None
                    deciding.append(tasks.create_task(self.hub.run(), name="console-stream"))
                    deciding.append(tasks.create_task(self.api_server.run(), name="operator-api"))
                await self.launch.ready.wait()
                if self.api_server is not None:
                    await self.api_server.ready.wait()
                acquiring = [
                    tasks.create_task(driver.run(), name=f"driver-{device_id}")
                    for device_id, driver in self.drivers.items()
                ]
                self.ready.set()
                log.info(
                    "controller running",
                    pad=self.pad.name,
                    devices=list(self.drivers),
                    journal=str(self.journal.settings.directory),
                )
                try:
                    await asyncio.Future()  # until stopped
                finally:
                    await self._wind_down(
                        deciding, acquiring, [journal, publishing, live_view], archive
                    )
        finally:
            self.journal.close()
            if self.audit is not None:
                self.audit.close()

    async def _wind_down(
        self,
        deciding: list[asyncio.Task[None]],
        acquiring: list[asyncio.Task[None]],
        outputs: list[asyncio.Task[None]],
        archive: Subscription,
    ) -> None:
        """Stop in order, so that a clean stop loses nothing and decides nothing: the
        sequencer and the API first (drivers going quiet must not hold the count in the
        saved state), then the drivers, then the journal takes what they produced, and the
        publisher gets up to `drain_s` to have every record confirmed. A crash skips all of
        this, and so does a failed task (the group is aborting); the saved cursor then makes
        the next start resend."""
        failed = any(
            t.done() and not t.cancelled() and t.exception() is not None
            for t in (*deciding, *acquiring, *outputs)
        )
        await _cancelled(deciding)
        await _cancelled(acquiring)
        assert self.publisher is not None
        if failed or any(t.done() for t in outputs):
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.drain_s):
                # The journal task handles each item without awaiting, so an empty queue
                # means everything taken is journaled and offered to the publisher.
                await archive.emptied()
                await self.publisher.all_confirmed()
        unsent = self.journal.next_sample_record - self.publisher.durable
        if unsent:
            log.warning("stopping with records not yet confirmed", records=unsent)

    def _operator_api(self, settings: ApiSettings) -> ApiServer:
        assert self.launch is not None
        assert self.gate is not None
        launch, gate = self.launch, self.gate
        users = self.users
        if users is None:
            if settings.users_file is None:
                raise ValueError("the operator API needs accounts: a users file or a UserStore")
            users = UserStore.load(settings.users_file)
        desk = LiveDesk(launch, gate, self.clock)
        self.hub = StreamHub(
            [c.id for c in self.pad.channels],
            bus=self.bus,
            desk=desk,
            rate_hz=settings.display_hz,
        )
        context = ApiContext(
            pad=self.pad,
            plan=self.plan,
            desk=desk,
            authority=gate.authority,
            commanding=Commanding(launch, gate),
            audit=self.audit,
            clock=self.clock,
            hub=self.hub,
            users=users,
            sessions=Sessions(lifetime_s=settings.session_hours * 3600),
            limits=settings.limits,
        )
        return ApiServer(create_app(context), settings)

    @contextlib.asynccontextmanager
    async def _broker(self) -> AsyncIterator[MqttSettings]:
        if self.settings.mqtt is not None:
            self.mqtt_port = self.settings.mqtt.port
            yield self.settings.mqtt
            return
        async with embedded_broker() as port:
            self.mqtt_port = port
            log.info("embedded MQTT broker", port=port)
            # The in-process broker speaks MQTT 3.1.1; nothing downstream confirms storage.
            yield MqttSettings(host="127.0.0.1", port=port, protocol=4)

    async def _archive(self, subscription: Subscription) -> None:
        """Journal every item, then hand it to the publishers; survive a full disk."""
        assert self.publisher is not None
        assert self.live is not None
        while True:
            item = await subscription.get()
            if isinstance(item, Event):
                self._journal_event(item)
                continue
            try:
                record = self.journal.append(item)
            except OSError as exc:
                self._not_archived(item, exc)
                continue
            if not self.archiving:
                self.archiving = True
                self.bus.publish(
                    Event(
                        kind="journal.resumed",
                        source="journal",
                        time_ns=self.clock.time_ns(),
                        severity=Severity.INFO,
                        message="journaling resumed",
                    )
                )
                log.info("journaling resumed")
            self.live.set_archived(item, archived=True)
            self.publisher.offer(record, item)

    def _journal_event(self, event: Event) -> None:
        assert self.live is not None
        try:
            record = self.journal.append_event(event)
        except OSError as exc:
            log.error("event not journaled", kind=event.kind, reason=exc.strerror)
            return
        self.live.notify_event(record, event)

    def _not_archived(self, batch: SampleBatch, exc: OSError) -> None:
        assert self.publisher is not None
        assert self.live is not None
        self.unarchived_batches += 1
        self.live.set_archived(batch, archived=False)
        self.publisher.offer_unarchived(batch)
        if self.archiving:
            self.archiving = False
            reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
            log.error("journal cannot write: live telemetry continues, not archived", reason=reason)
            # The alarm cannot be journaled either; it goes out live and stays in the log.
            alarm = Event(
                kind="journal.failed",
                source="journal",
                time_ns=self.clock.time_ns(),
                severity=Severity.ALARM,
                message=f"journal cannot write ({reason}); telemetry not archived",
            )
            assert self.live is not None
            self.live.alarm(alarm)


async def _cancelled(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel these tasks and wait until they have finished (however they end)."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)
