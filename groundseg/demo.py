"""`groundseg demo`: the whole system in one command, on embedded defaults.

The simulated pad (hw_sim, started as a child process), the controller with an in-process
MQTT broker and its journal, the operator API and console, and the Soyuz-5 count started
at once and run at `--speed` times real time. It prints the console's URL and the demo
accounts, and stops cleanly on Ctrl-C. With `--mqtt` it publishes to a real broker; with
`--influx` (InfluxDB 2.x/3.x or VictoriaMetrics) or `--influx-v1` an ingest runs in the
same process and archives the telemetry there.

The terminal count holds two dozen verified commands within minutes: above TERMINAL_SPEED
the demo slows the plant and the count to it from T-11 min (links keep real time, so a
verification window must not shrink below what a real poll needs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import errno
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import structlog

from groundseg.api import ApiSettings, UserStore
from groundseg.clock import ScaledClock
from groundseg.config import load_pad
from groundseg.controller import Controller, ControllerSettings
from groundseg.errors import ConfigError, ConfigProblem
from groundseg.gate.authority import Role
from groundseg.heap import frozen_heap
from groundseg.ingest.service import IngestService, IngestSettings
from groundseg.ingest.spool import Spool
from groundseg.mqtt.connection import MqttSettings
from groundseg.mqtt.topics import Topics, pad_slug
from groundseg.options import mqtt_arguments, mqtt_settings, parse_host_port
from groundseg.sequencer.countdown import CountdownError
from groundseg.sequencer.machine import StartCount
from groundseg.service_cli import database_sinks
from groundseg.simulator import SimulatorHandle, simulator
from groundseg.stopping import run_until_stopped

__all__ = ["DEMO_USERS", "add_demo_command"]

log = structlog.get_logger("groundseg.demo")

TERMINAL_SPEED = 60.0
TERMINAL_T_S = -660.0
DEFAULT_PORT = 8080
DEMO_USERS: dict[str, tuple[Role, ...]] = {
    "viewer": (Role.VIEWER,),
    "operator": (Role.OPERATOR,),
    "director": (Role.DIRECTOR,),
    "director2": (Role.DIRECTOR,),
    "safety": (Role.SAFETY,),
    "admin": (Role.ADMIN,),
}
"""The demo's accounts; each password is `<name>-demo`. Two directors, so a two-person
command can be armed by one and approved by the other."""


def add_demo_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo", help="the simulated pad, the controller and the console in one process"
    )
    demo.add_argument(
        "--pad", type=Path, default=Path("pads/baiterek.toml"), help="pad definition (TOML)"
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="plant and count speed (default 60: loading starts within a minute)",
    )
    demo.add_argument(
        "--api",
        default=f"127.0.0.1:{DEFAULT_PORT}",
        metavar="HOST:PORT",
        help=f"console address (default 127.0.0.1:{DEFAULT_PORT}, or a free port if taken)",
    )
    demo.add_argument(
        "--state-dir", type=Path, default=Path("var/demo"), help="journal, audit, state"
    )
    demo.add_argument(
        "--no-start", action="store_true", help="do not start the count (a director starts it)"
    )
    demo.add_argument(
        "--influx",
        default=None,
        metavar="URL",
        help="archive into InfluxDB 2.x/3.x or VictoriaMetrics",
    )
    demo.add_argument("--influx-v1", default=None, metavar="URL", help="archive into InfluxDB 1.x")
    demo.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop after S seconds"
    )
    mqtt_arguments(demo, required=False)
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    pad = load_pad(args.pad)
    host, port = parse_host_port("--api", args.api)
    if port == DEFAULT_PORT and not _free(host, port):
        port = 0
    if not 0 < args.speed <= 1000:
        raise ConfigError(
            "--speed", [ConfigProblem(key="", expected=f"a speed in (0, 1000], got {args.speed}")]
        )
    mqtt = mqtt_settings(args)
    users = UserStore.with_passwords(
        {name: (f"{name}-demo", roles) for name, roles in DEMO_USERS.items()}
    )
    settings = ControllerSettings(
        state_dir=args.state_dir,
        mqtt=mqtt,
        confirm="broker",
        count_speed=args.speed,
        api=ApiSettings(host=host, port=port),
    )

    async def run() -> None:
        async with simulator(args.pad, speed=args.speed) as sim:
            controller = Controller(
                pad, dataclasses.replace(settings, endpoints=sim.endpoints), users=users
            )
            async with asyncio.TaskGroup() as tasks:
                running = tasks.create_task(controller.run(), name="controller")
                await controller.ready.wait()
                with frozen_heap():
                    async with _archive(args, controller, tasks):
                        _greet(controller, args)
                        if not args.no_start:
                            await _start_count(controller)
                        slowing = tasks.create_task(
                            _terminal_speed(controller, sim), name="terminal-speed"
                        )
                        if args.duration is None:
                            await running
                        else:
                            await asyncio.sleep(args.duration)
                            running.cancel()
                            slowing.cancel()

    run_until_stopped(run())
    return 0


def _free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _greet(controller: Controller, args: argparse.Namespace) -> None:
    assert controller.api_server is not None
    url = controller.api_server.url
    others = ", ".join(n for n in DEMO_USERS if n != "director")
    print(
        f"groundseg demo: {controller.pad.name} pad ({controller.pad.vehicle}), simulated, "
        f"count at {args.speed:g}x real time\n"
        f"  console:  {url}\n"
        f"  log in:   director / director-demo  (also {others}; password <name>-demo)\n"
        f"  MQTT:     127.0.0.1:{controller.mqtt_port}  topics {controller.topics.base}/#\n"
        f"  polls:    a built-in hold ends with a GO/NO-GO poll; answer it as director "
        f"(Poll GO) before the launch window closes, or the count scrubs\n"
        f"  Ctrl-C stops everything",
        flush=True,
    )
    print(
        json.dumps(
            {
                "console": url,
                "users": {n: f"{n}-demo" for n in DEMO_USERS},
                "mqtt": f"127.0.0.1:{controller.mqtt_port}",
                "journal": str(controller.journal.settings.directory),
            }
        ),
        flush=True,
    )


async def _start_count(controller: Controller) -> None:
    """Start the count once the links are up (the first step's permissives need data)."""
    assert controller.launch is not None
    launch = controller.launch
    if launch.sequencer.under_way:
        return  # a restarted demo comes back holding; the director resumes
    if not await launch.wait_fresh():
        log.warning("links not all fresh: the count starts and holds on what is missing")
    try:
        launch.request(StartCount(by="demo"))
    except CountdownError as exc:
        log.warning("count not started", reason=str(exc))


async def _terminal_speed(controller: Controller, sim: SimulatorHandle) -> None:
    clock = controller.count_clock
    if not isinstance(clock, ScaledClock) or clock.speed <= TERMINAL_SPEED:
        return
    assert controller.launch is not None
    launch = controller.launch
    await launch.wait_t(TERMINAL_T_S)
    await sim.control(f"speed {TERMINAL_SPEED:g}")
    clock.set_speed(TERMINAL_SPEED)
    log.warning("terminal count: plant and count slowed", speed=TERMINAL_SPEED)


@contextlib.asynccontextmanager
async def _archive(
    args: argparse.Namespace, controller: Controller, tasks: asyncio.TaskGroup
) -> AsyncIterator[None]:
    sinks = database_sinks(v1_url=args.influx_v1, v2_url=args.influx)
    if not sinks:
        yield
        return
    mqtt = mqtt_settings(args) or MqttSettings(
        host="127.0.0.1", port=controller.mqtt_port or 0, protocol=4
    )
    spool = Spool(args.state_dir / "ingest-spool", sync_every=0)
    service = IngestService(
        mqtt=mqtt,
        topics=Topics(pad_slug(controller.pad.name)),
        spool=spool,
        sinks=sinks,
        channels=[c.id for c in controller.pad.channels],
        settings=IngestSettings(
            instance="demo-ingest", dead_letter=args.state_dir / "ingest-dead-letter.lp"
        ),
    )
    ingest = tasks.create_task(service.run(), name="ingest")
    try:
        yield
    finally:
        ingest.cancel()
        spool.close()
        for sink in sinks:
            sink.close()
