"""`python -m hw_sim`: the simulated pad as a process, for test benches and demos.

Starts every device on free loopback ports and new ptys and, once all are ready, prints one
JSON line mapping each device id to its endpoint. Runs until SIGINT or SIGTERM, then exits 0.

While running it takes control lines on stdin, one JSON reply line each on stdout:
    fault SPEC      inject a fault (see hw_sim.faults)
    clear SPEC|all  clear one fault or every fault
    pause | resume  freeze or release the plant (readings stop changing)
    speed N         run the plant N times faster than real time from now on
    signal NAME     the plant's true value of a signal
    status          active faults, link counters and how many writes the devices received
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import stat
import sys
from collections.abc import Callable, Sequence

from groundseg.config import PadDefinition, load_pad
from groundseg.errors import ConfigError
from groundseg.logs import configure_logging
from hw_sim.faults import Fault, FaultSpecError, parse_fault
from hw_sim.pad import SimulatedPad
from hw_sim.plant.signals import UnknownSignalError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hw_sim", description="The simulated Baiterek pad hardware."
    )
    parser.add_argument("--pad", required=True, help="pad definition file (TOML)")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="plant time runs this many times faster than real time",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault at start, e.g. stuck_valve:lox.s1.fill_valve",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the noise generators (reproducible runs)"
    )
    parser.add_argument(
        "--device",
        action="append",
        default=None,
        metavar="ID",
        help="simulate only these devices (default: all)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address the TCP devices listen on (default: loopback)"
    )
    parser.add_argument(
        "--stop-on-eof",
        action="store_true",
        help="exit when the control input closes (the process that started this one went away)",
    )
    parser.add_argument(
        "--log-level", default="warning", help="debug, info, warning or error (to stderr)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        pad = load_pad(args.pad)
        faults = [parse_fault(spec) for spec in args.fault]
        if args.speed <= 0:
            raise FaultSpecError(f"--speed must be positive, got {args.speed:g}")
        return asyncio.run(_serve(pad, args, faults))
    except (ConfigError, FaultSpecError, UnknownSignalError) as exc:
        print(f"hw_sim: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


async def _serve(pad: PadDefinition, args: argparse.Namespace, faults: list[Fault]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    simulated = SimulatedPad(
        pad,
        speed=args.speed,
        seed=args.seed,
        faults=faults,
        host=args.host,
        devices=args.device,
    )
    async with simulated as sim:
        _reply(sim.endpoints)
        async with asyncio.TaskGroup() as tasks:
            control = tasks.create_task(
                _control(sim, on_eof=stop.set if args.stop_on_eof else None), name="hw_sim-control"
            )
            await stop.wait()
            control.cancel()
    return 0


async def _control(sim: SimulatedPad, *, on_eof: Callable[[], None] | None) -> None:
    if not _stdin_is_stream():
        return  # stdin is /dev/null, a file or closed: run without control input
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command, _, argument = line.decode(errors="replace").strip().partition(" ")
        try:
            _reply(await _execute(sim, command, argument.strip()))
        except (FaultSpecError, UnknownSignalError, ValueError) as exc:
            _reply({"ok": False, "error": str(exc)})
    if on_eof is not None:
        on_eof()  # the process that started us is gone (its end of the pipe closed)


async def _execute(sim: SimulatedPad, command: str, argument: str) -> dict[str, object]:
    match command:
        case "fault":
            return {"ok": True, "fault": await sim.inject(argument)}
        case "clear":
            await sim.clear(None if argument in ("", "all") else argument)
            return {"ok": True, "faults": list(sim.faults)}
        case "pause":
            sim.pause()
            return {"ok": True, "paused": True}
        case "resume":
            sim.resume()
            return {"ok": True, "paused": False}
        case "speed":
            sim.set_speed(float(argument))
            return {"ok": True, "speed": sim.clock.speed}
        case "signal":
            return {"ok": True, "value": sim.signal(argument)}
        case "status":
            return {
                "ok": True,
                "faults": list(sim.faults),
                "links": sim.statistics(),
                "sim_time_s": sim.clock.now(),
                "writes": len(sim.writes),
                "last_writes": [[channel, value] for channel, value in sim.writes[-50:]],
            }
        case "":
            return {"ok": True}
        case _:
            return {
                "ok": False,
                "error": f"unknown command {command!r}; expected fault, clear, pause, resume, speed, signal or status",
            }


def _stdin_is_stream() -> bool:
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or sys.stdin.isatty()


def _reply(message: object) -> None:
    print(json.dumps(message), flush=True)
