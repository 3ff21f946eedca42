"""Console clients for the benchmarks, in a process of their own (their CPU is not the
controller's): N WebSocket consoles that read everything, and S that never read.

    python -m bench.console_clients WS_URL TOKEN --consoles 20 --stalled 1

Prints one JSON line when every console has its snapshot, then runs until stdin closes
and prints one JSON line of what each reading console received.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import time
from dataclasses import dataclass, field

import websockets


@dataclass
class _Roll:
    """Who has joined; set `ready` once everyone has."""

    url: str
    token: str
    total: int
    joined: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def join(self) -> None:
        self.joined += 1
        if self.joined == self.total:
            self.ready.set()


async def _reading(roll: _Roll, counts: list[int], index: int) -> None:
    async with websockets.connect(roll.url, max_size=None) as socket:
        await socket.send(json.dumps({"token": roll.token}))
        await socket.recv()  # hello
        await socket.recv()  # snapshot
        roll.join()
        async for _ in socket:
            counts[index] += 1


async def _stalled(roll: _Roll) -> None:
    # A one-message receive queue and a small kernel buffer: the library stops reading
    # almost at once, TCP fills, and the server's sends to this console block.
    host, port = roll.url.split("//")[1].split("/")[0].rsplit(":", 1)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect((host, int(port)))  # blocking, once, before the bench starts timing
    async with websockets.connect(roll.url, max_size=None, max_queue=1, sock=raw) as stalled:
        await stalled.send(json.dumps({"token": roll.token}))
        await stalled.recv()
        roll.join()
        await asyncio.Event().wait()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("--consoles", type=int, default=20)
    parser.add_argument("--stalled", type=int, default=0)
    args = parser.parse_args()
    counts = [0] * args.consoles
    total = args.consoles + args.stalled
    roll = _Roll(url=args.url, token=args.token, total=total)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    async with asyncio.TaskGroup() as tasks:
        consoles = [tasks.create_task(_reading(roll, counts, n)) for n in range(args.consoles)]
        consoles += [tasks.create_task(_stalled(roll)) for _ in range(args.stalled)]
        await roll.ready.wait()
        started = time.monotonic()
        print(json.dumps({"ready": total}), flush=True)
        await stdin.read()
        elapsed = time.monotonic() - started
        print(json.dumps({"messages": counts, "seconds": elapsed}), flush=True)
        for console in consoles:
            console.cancel()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except* asyncio.CancelledError:
        pass
