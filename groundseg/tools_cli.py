"""`groundseg check-config`, `audit verify` and `poll`: the tools of a test bench and an
operator's terminal.

    groundseg check-config pads/baiterek.toml
    groundseg poll --pad pads/baiterek.toml --sim
    groundseg poll --pad pads/baiterek.toml --endpoint plc=10.0.0.5:502 --channels 'lox.*'
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence, Sized
from pathlib import Path

from groundseg.clock import SystemClock
from groundseg.config import LinkKind, PadDefinition, load_pad
from groundseg.drivers.factory import build_drivers, with_endpoints
from groundseg.drivers.modbus import plan_reads
from groundseg.errors import AuditBroken, ConfigError, ConfigProblem
from groundseg.gate.audit import verify_audit
from groundseg.poll_view import PollView, make_console, run_poll, select_channels
from groundseg.sequencer.plan import compile_plan
from groundseg.simulator import simulated_unless_given
from groundseg.stopping import run_until_stopped
from groundseg.telemetry.latest import LatestValues

__all__ = ["add_tool_commands"]


def add_tool_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check-config", help="validate a pad definition and print a summary"
    )
    check.add_argument("file", type=Path, help="pad definition (TOML)")
    check.set_defaults(handler=_check_config)

    audit = commands.add_parser("audit", help="the command audit log")
    audit_actions = audit.add_subparsers(title="actions", required=True, metavar="ACTION")
    verify = audit_actions.add_parser("verify", help="check an audit log's hash chain")
    verify.add_argument("file", type=Path, help="audit log (JSON lines)")
    verify.set_defaults(handler=_audit_verify)

    poll = commands.add_parser("poll", help="live table of channel values, for a test bench")
    poll.add_argument("--pad", type=Path, required=True, help="pad definition (TOML)")
    poll.add_argument("--sim", action="store_true", help="start the simulated pad and poll it")
    poll.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="with --sim: plant time runs this many times faster",
    )
    poll.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="with --sim: inject a fault at start",
    )
    poll.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="DEVICE=ENDPOINT",
        help="override an endpoint: plc=HOST:PORT or gas_panel=/dev/ttyUSB0",
    )
    poll.add_argument(
        "--device", action="append", default=None, metavar="ID", help="poll only these devices"
    )
    poll.add_argument(
        "--channels",
        action="append",
        default=[],
        metavar="GLOB",
        help="show only channels matching (e.g. 'lox.s1.*')",
    )
    poll.add_argument("--refresh-hz", type=float, default=4.0, help="display refresh rate")
    poll.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop after S seconds"
    )
    poll.add_argument(
        "--once", action="store_true", help="print one table once values are in, then exit"
    )
    poll.set_defaults(handler=_poll)


def _audit_verify(args: argparse.Namespace) -> int:
    try:
        count, head = verify_audit(args.file)
    except AuditBroken as exc:
        print(f"groundseg: audit log broken at {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"groundseg: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"{args.file}: {count} records, chain intact (head {head})")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    pad = load_pad(args.file)
    plan = compile_plan(pad)
    console = make_console()
    console.print(f"[bold]{pad.name}[/bold] ({pad.vehicle}), {pad.site}: {args.file} is valid")
    for device_id, device in pad.devices.items():
        channels = pad.channels_of(device_id)
        rates = sorted({c.rate_hz for c in channels}, reverse=True)
        line = f"  {device_id:<10} {device.link.value:<17} {device.endpoint!s:<22} {len(channels):>4} channels at {', '.join(f'{r:g}' for r in rates)} Hz"
        if device.link in (LinkKind.MODBUS_TCP, LinkKind.MODBUS_RTU):
            requests = sum(len(reads) for reads in plan_reads(device, channels).values())
            line += f"; {requests} requests per scan"
        console.print(line, highlight=False)
    writable = sum(1 for c in pad.channels if c.writable)
    console.print(
        f"  {len(pad.channels)} channels ({writable} writable), {len(pad.valves)} valves, {len(pad.commands)} commands",
        highlight=False,
    )
    if plan.steps:
        start = plan.countdown.start_t_s
        console.print(
            f"  launch: count from T{start / 3600:+g} h, {_count(plan.steps, 'step')} in "
            f"{_count(plan.phases, 'phase')}, {_count(plan.countdown.holds, 'built-in hold')}; "
            f"{_count(plan.interlocks, 'interlock')}, {_count(plan.redlines, 'redline')}, "
            f"{_count(plan.votes, 'vote')}; {_count(plan.safing.commands, 'safing command')}",
            highlight=False,
        )
    return 0


def _count(items: Sized, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _poll(args: argparse.Namespace) -> int:
    pad = load_pad(args.pad)
    endpoints = _parse_endpoints(args.endpoint)
    if args.speed <= 0:
        raise ConfigError(
            "--speed", [ConfigProblem(key="", expected=f"must be positive, got {args.speed:g}")]
        )
    run_until_stopped(_poll_async(pad, args, endpoints))
    return 0


async def _poll_async(
    pad: PadDefinition, args: argparse.Namespace, endpoints: dict[str, str]
) -> None:
    async with simulated_unless_given(
        args.sim, args.pad, endpoints, speed=args.speed, faults=args.fault
    ) as resolved:
        pad = with_endpoints(pad, resolved, source="--endpoint")
        clock = SystemClock()
        latest = LatestValues(len(pad.channels))
        drivers = build_drivers(pad, latest.update, clock, only=args.device)
        shown = [c for c in select_channels(pad, args.channels) if c.device in drivers]
        view = PollView(pad, shown, latest, drivers, clock)
        async with asyncio.TaskGroup() as tasks:
            running = [
                tasks.create_task(d.run(), name=f"driver-{d.device.id}") for d in drivers.values()
            ]
            settle_s = 2.0 * max(
                (
                    d.device.stale_after_periods
                    / min(c.rate_hz for c in pad.channels_of(d.device.id))
                    for d in drivers.values()
                ),
                default=1.0,
            )
            await run_poll(
                view,
                refresh_hz=args.refresh_hz,
                once=args.once,
                duration_s=args.duration,
                settle_s=settle_s,
                console=make_console(),
            )
            for task in running:
                task.cancel()


def _parse_endpoints(items: Sequence[str]) -> dict[str, str]:
    endpoints, problems = {}, []
    for item in items:
        device, equals, endpoint = item.partition("=")
        if not equals or not device or not endpoint:
            problems.append(
                ConfigProblem(key=item, expected="DEVICE=ENDPOINT, e.g. plc=127.0.0.1:1502")
            )
            continue
        endpoints[device] = endpoint
    if problems:
        raise ConfigError("--endpoint", problems)
    return endpoints
