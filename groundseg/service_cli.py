"""`groundseg controller` and `groundseg ingest`: the long-running services.

Configuration comes from the pad file, flags and environment variables; secrets only from
the environment or a file (`GROUNDSEG_MQTT_PASSWORD`, `--mqtt-password-file`,
`GROUNDSEG_INFLUX_TOKEN`), never the command line. Once a service is ready it prints one
JSON line on stdout (what it listens on, where it keeps its state), for scripts and tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
from pathlib import Path

from groundseg.clock import SystemClock
from groundseg.config import load_pad
from groundseg.controller import Controller, ControllerSettings
from groundseg.errors import ConfigError, ConfigProblem
from groundseg.heap import frozen_heap
from groundseg.ingest.service import IngestService, IngestSettings
from groundseg.ingest.sinks import InfluxV1Sink, InfluxV2Sink, Sink
from groundseg.ingest.spool import Spool
from groundseg.journal.writer import FsyncPolicy
from groundseg.mqtt.topics import Topics, pad_slug
from groundseg.options import add_api_arguments, api_settings, mqtt_arguments, mqtt_settings
from groundseg.poll_view import PollView, make_console, run_poll, select_channels
from groundseg.simulator import simulated_unless_given
from groundseg.stopping import run_until_stopped
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.bus import Overflow
from groundseg.telemetry.latest import LatestValues

__all__ = ["add_service_commands", "database_sinks"]


def add_service_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    controller = commands.add_parser(
        "controller", help="drivers, journal and MQTT publishing for a pad"
    )
    controller.add_argument("--pad", type=Path, required=True, help="pad definition (TOML)")
    controller.add_argument(
        "--state-dir",
        type=Path,
        default=Path("var/controller"),
        help="journal and cursors (default var/controller)",
    )
    controller.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="DEVICE=ENDPOINT",
        help="override a device endpoint",
    )
    controller.add_argument(
        "--sim", action="store_true", help="start the simulated pad and use its endpoints"
    )
    controller.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="count-clock speed (a simulated plant's: with --sim, the plant runs at it too)",
    )
    controller.add_argument(
        "--confirm",
        choices=["ingest", "broker"],
        default=None,
        help="what confirms a record stored (default: ingest with --mqtt, broker otherwise)",
    )
    controller.add_argument(
        "--fsync", default="200ms", help="journal fsync: always, never or an interval such as 200ms"
    )
    controller.add_argument("--segment-mb", type=float, default=64.0, help="journal segment size")
    controller.add_argument(
        "--retention-gb", type=float, default=None, help="keep at most this much journal"
    )
    controller.add_argument(
        "--retention-days", type=float, default=None, help="keep journal segments this long"
    )
    controller.add_argument(
        "--stale-periods",
        type=float,
        default=3.0,
        help="a value older than this many poll periods no longer counts for rules (default 3)",
    )
    controller.add_argument(
        "--drain-s",
        type=float,
        default=5.0,
        help="on a clean stop, wait this long for every record to be confirmed (default 5)",
    )
    controller.add_argument(
        "--view", action="store_true", help="show the live channel table in this terminal"
    )
    controller.add_argument(
        "--channels",
        action="append",
        default=[],
        metavar="GLOB",
        help="with --view: channels to show",
    )
    controller.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds",
    )
    controller.add_argument(
        "--latest-hz",
        type=float,
        default=1.0,
        help="retained latest-value messages per channel per second",
    )
    mqtt_arguments(controller, required=False)
    add_api_arguments(controller, default=None)
    controller.set_defaults(handler=_controller)

    ingest = commands.add_parser("ingest", help="MQTT telemetry into InfluxDB or VictoriaMetrics")
    ingest.add_argument(
        "--pad", type=Path, required=True, help="pad definition (names the channels)"
    )
    ingest.add_argument("--instance", default="ingest-1", help="this instance's name")
    ingest.add_argument(
        "--topic-pad",
        default=None,
        metavar="NAME",
        help="consume the topics of NAME instead of the pad's (a replay: groundseg replay "
        "publishes under <pad>-replay); its rows are tagged pad=NAME",
    )
    ingest.add_argument(
        "--shared",
        default=None,
        metavar="GROUP",
        help="MQTT 5 shared subscription group (several instances split the load)",
    )
    ingest.add_argument(
        "--spool", type=Path, default=Path("var/ingest/spool"), help="durable spool directory"
    )
    ingest.add_argument("--spool-max-mb", type=float, default=None, help="spool size cap")
    ingest.add_argument(
        "--every-quality",
        action="store_true",
        help="write <channel>_quality for GOOD samples too (default: only for the others)",
    )
    ingest.add_argument(
        "--influx-v1", default=None, metavar="URL", help="InfluxDB 1.x, written with /write?db="
    )
    ingest.add_argument("--database", default="groundseg", help="with --influx-v1: the database")
    ingest.add_argument(
        "--influx-username",
        default=os.environ.get("GROUNDSEG_INFLUX_USERNAME"),
        help="with --influx-v1 (password in GROUNDSEG_INFLUX_PASSWORD)",
    )
    ingest.add_argument(
        "--influx-v2",
        default=None,
        metavar="URL",
        help="InfluxDB 2.x/3.x or VictoriaMetrics, written with /api/v2/write",
    )
    ingest.add_argument("--bucket", default="groundseg", help="with --influx-v2")
    ingest.add_argument("--org", default="groundseg", help="with --influx-v2")
    ingest.add_argument(
        "--retry-max-s", type=float, default=30.0, help="longest wait between write attempts"
    )
    ingest.add_argument(
        "--lines-per-write", type=int, default=5000, help="frames per database write"
    )
    mqtt_arguments(ingest, required=True)
    ingest.set_defaults(handler=_ingest)


def database_sinks(
    *,
    v1_url: str | None,
    v2_url: str | None,
    database: str = "groundseg",
    username: str | None = None,
    bucket: str = "groundseg",
    org: str = "groundseg",
) -> list[Sink]:
    """The database writers asked for; secrets from the environment, never the command line."""
    sinks: list[Sink] = []
    if v1_url:
        password = os.environ.get("GROUNDSEG_INFLUX_PASSWORD")
        sinks.append(InfluxV1Sink(v1_url, database, username=username, password=password))
    if v2_url:
        token = os.environ.get("GROUNDSEG_INFLUX_TOKEN", "")
        sinks.append(InfluxV2Sink(v2_url, bucket=bucket, org=org, token=token))
    return sinks


def _announce(message: dict[str, object]) -> None:
    print(json.dumps(message), flush=True)


def _controller(args: argparse.Namespace) -> int:
    pad = load_pad(args.pad)
    mqtt = mqtt_settings(args)
    try:
        fsync = FsyncPolicy.parse(args.fsync)
    except ValueError as exc:
        raise ConfigError("--fsync", [ConfigProblem(key="", expected=str(exc))]) from None
    endpoints = dict(item.split("=", 1) for item in args.endpoint if "=" in item)
    settings = ControllerSettings(
        state_dir=args.state_dir,
        endpoints=endpoints,
        mqtt=mqtt,
        confirm=args.confirm,
        fsync=fsync,
        segment_bytes=int(args.segment_mb * 1024 * 1024),
        retention_bytes=int(args.retention_gb * 1024**3) if args.retention_gb else None,
        retention_seconds=args.retention_days * 86400 if args.retention_days else None,
        latest_hz=args.latest_hz,
        count_speed=args.speed,
        stale_periods=args.stale_periods,
        drain_s=args.drain_s,
        api=api_settings(args),
    )

    async def run() -> None:
        async with simulated_unless_given(
            args.sim, args.pad, endpoints, speed=args.speed
        ) as resolved:
            controller = Controller(pad, dataclasses.replace(settings, endpoints=resolved))
            async with asyncio.TaskGroup() as tasks:
                running = tasks.create_task(controller.run(), name="controller")
                await controller.ready.wait()
                with frozen_heap():
                    _announce(
                        {
                            "mqtt": f"127.0.0.1:{controller.mqtt_port}",
                            "journal": str(controller.journal.settings.directory),
                            "topics": controller.topics.base,
                            "console": controller.api_server.url if controller.api_server else None,
                        }
                    )
                    if args.view:
                        await _view(controller, args)
                        running.cancel()
                    elif args.duration is not None:
                        await asyncio.sleep(args.duration)
                        running.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await running

    run_until_stopped(run())
    return 0


async def _view(controller: Controller, args: argparse.Namespace) -> None:
    """The poll view of `groundseg poll`, fed from the controller's own bus."""
    latest = LatestValues(len(controller.pad.channels))
    feed = controller.bus.subscribe(
        "terminal-view", capacity=1000, overflow=Overflow.DROP_OLDEST, events=False
    )

    async def take() -> None:
        while True:
            item = await feed.get()
            if isinstance(item, SampleBatch):
                latest.update(item)

    view = PollView(
        controller.pad,
        select_channels(controller.pad, args.channels),
        latest,
        controller.drivers,
        SystemClock(),
    )
    async with asyncio.TaskGroup() as tasks:
        feeder = tasks.create_task(take(), name="terminal-view")
        await run_poll(
            view,
            refresh_hz=4.0,
            once=False,
            duration_s=args.duration,
            settle_s=0.0,
            console=make_console(),
        )
        feeder.cancel()


def _ingest(args: argparse.Namespace) -> int:
    pad = load_pad(args.pad)
    mqtt = mqtt_settings(args)
    assert mqtt is not None
    sinks = database_sinks(
        v1_url=args.influx_v1,
        v2_url=args.influx_v2,
        database=args.database,
        username=args.influx_username,
        bucket=args.bucket,
        org=args.org,
    )
    if not sinks:
        raise ConfigError(
            "ingest",
            [
                ConfigProblem(
                    key="", expected="a database: --influx-v1 URL or --influx-v2 URL (or both)"
                )
            ],
        )
    spool = Spool(
        args.spool,
        max_bytes=int(args.spool_max_mb * 1024 * 1024) if args.spool_max_mb else None,
        sync_every=0,  # the ingest syncs once per group of frames before acknowledging them
    )
    service = IngestService(
        mqtt=mqtt,
        topics=Topics(pad_slug(args.topic_pad or pad.name)),
        spool=spool,
        sinks=sinks,
        channels=[c.id for c in pad.channels],
        settings=IngestSettings(
            instance=args.instance,
            shared_group=args.shared,
            retry_max_s=args.retry_max_s,
            lines_per_write=args.lines_per_write,
            every_quality=args.every_quality,
            dead_letter=args.spool.parent / f"{args.instance}-dead-letter.lp",
        ),
    )

    async def run() -> None:
        _announce(
            {"instance": args.instance, "spool": str(args.spool), "sinks": [s.name for s in sinks]}
        )
        await service.run()

    try:
        run_until_stopped(run())
    finally:
        spool.close()
        for sink in sinks:
            sink.close()
    return 0
