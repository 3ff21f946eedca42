"""A serial line on a pseudo-terminal, as a device sees its RS-232/RS-485 port.

The simulator keeps the master side; clients open the slave path (`/dev/pts/N`) exactly
as they would open `/dev/ttyUSB0`. The simulator also holds the slave open itself, so the
line survives clients coming and going (without it, the master reads EIO whenever no
client has the port open). Output is paced at the configured baud rate, and link faults
(silence, corruption, garbage between frames, delays) are applied to each outgoing frame
here, in one place for every serial device.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tty
from collections.abc import Callable

import structlog

from hw_sim.faults import LinkFaults

__all__ = ["SerialLine"]

log = structlog.get_logger(__name__)

BITS_PER_BYTE = 10  # start, 8 data, stop
TURNAROUND_S = 0.0005


class SerialLine:
    """Bytes in from the client, frames out to it, with the line's timing and faults."""

    def __init__(
        self, *, device: str, baudrate: int, faults: Callable[[], LinkFaults], rng: random.Random
    ) -> None:
        self.device = device
        self.baudrate = baudrate
        self._faults = faults
        self._rng = rng
        self.master_fd, self._slave_fd = os.openpty()
        tty.setraw(self._slave_fd)
        os.set_blocking(self.master_fd, False)
        self.path = os.ttyname(self._slave_fd)
        self._received: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1024)
        self.frames_sent = 0
        self.frames_dropped = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master_fd, self._on_readable)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.master_fd)
            self._loop = None
        for fd in (self.master_fd, self._slave_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master_fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if data and not self._received.full():
            self._received.put_nowait(data)

    async def receive(self) -> bytes:
        """The next bytes the client sent (any chunking)."""
        return await self._received.get()

    def transmission_s(self, size: int) -> float:
        return size * BITS_PER_BYTE / self.baudrate

    async def send_frame(self, frame: bytes, *, reply: bool = True) -> None:
        """Send one frame the way the line and the active faults would deliver it."""
        faults = self._faults()
        if faults.dropout or faults.disconnect:
            self.frames_dropped += 1
            return
        delay = TURNAROUND_S + self.transmission_s(len(frame)) + faults.delay_s
        if reply and faults.late_remaining > 0:
            faults.late_remaining -= 1
            delay += faults.late_delay_s
            log.info("late reply", device=self.device, delay_s=faults.late_delay_s)
        if faults.corrupt_rate and self._rng.random() < faults.corrupt_rate:
            frame = self._corrupt(frame)
        if faults.garbage_rate and self._rng.random() < faults.garbage_rate:
            frame = self._rng.randbytes(faults.garbage_bytes) + frame
        await asyncio.sleep(delay)
        self.write(frame)

    def write(self, data: bytes) -> None:
        try:
            os.write(self.master_fd, data)
            self.frames_sent += 1
        except (BlockingIOError, InterruptedError):
            # Nobody is reading the port and its buffer is full: the bytes fall on the floor,
            # as they would on a real line with no receiver attached.
            self.frames_dropped += 1

    def _corrupt(self, frame: bytes) -> bytes:
        position = self._rng.randrange(len(frame))
        damaged = bytearray(frame)
        damaged[position] ^= 1 << self._rng.randrange(8)
        return bytes(damaged)
