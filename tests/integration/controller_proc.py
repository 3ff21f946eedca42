"""A controller process for crash tests: the real Controller, driven by lines on stdin
(the operator API stands in for this in production).

    python -m tests.integration.controller_proc --pad PAD --state-dir DIR \
        --endpoint plc=127.0.0.1:5020 ... [--count-speed N]

Prints one JSON line when ready, then answers each stdin line with one JSON line:
`start`, `hold`, `resume`, `state` (the countdown state plus the gate's counters).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path

from groundseg.config import load_pad
from groundseg.controller import Controller, ControllerSettings
from groundseg.errors import GroundsegError
from groundseg.logs import configure_logging
from groundseg.sequencer.countdown import Hold, Resume
from groundseg.sequencer.machine import StartCount


def _reply(message: object) -> None:
    print(json.dumps(message), flush=True)


async def _serve(controller: Controller) -> None:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    launch = controller.launch
    gate = controller.gate
    assert launch is not None
    assert gate is not None
    while line := (await reader.readline()).decode().strip():
        try:
            match line:
                case "start":
                    launch.request(StartCount(by="test"))
                case "hold":
                    launch.request(Hold(reason="test", by="test"))
                case "resume":
                    launch.request(Resume(by="test"))
                case "state":
                    pass
                case _:
                    _reply({"ok": False, "error": f"unknown {line!r}"})
                    continue
        except GroundsegError as exc:
            _reply({"ok": False, "error": str(exc)})
            continue
        _reply({"ok": True, **launch.state(), "gate": dataclasses.asdict(gate.statistics())})


async def _main(args: argparse.Namespace) -> None:
    endpoints = dict(item.split("=", 1) for item in args.endpoint)
    controller = Controller(
        load_pad(args.pad),
        ControllerSettings(
            state_dir=args.state_dir, endpoints=endpoints, count_speed=args.count_speed
        ),
    )
    async with asyncio.TaskGroup() as tasks:
        running = tasks.create_task(controller.run(), name="controller")
        await controller.ready.wait()
        _reply({"ok": True, "ready": True})
        await _serve(controller)
        running.cancel()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pad", required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--endpoint", action="append", default=[])
    parser.add_argument("--count-speed", type=float, default=1.0)
    configure_logging("warning")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
