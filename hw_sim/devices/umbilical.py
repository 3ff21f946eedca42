"""The umbilical and cable-mast controller: UMB-1 frames on a serial line.

Requests are answered one at a time, in order; the heartbeat goes out on its own schedule
between them. A write reaches the plant only after the point, the value and its range
have been checked; anything else is refused with a NAK that says why.
"""

from __future__ import annotations

import asyncio
import math

import structlog

from groundseg.codecs.umbilical import (
    NEED_DATA,
    FrameType,
    NakCode,
    ReadGroup,
    UmbilicalDevice,
    WritePoint,
)
from groundseg.config import Device
from groundseg.config.checks import representable_span
from groundseg.errors import ProtocolError
from hw_sim.devices.images import Command, GroupImage, Refresh
from hw_sim.devices.line import SerialLine
from hw_sim.plant.umbilical import Umbilical

__all__ = ["UmbilicalController"]

log = structlog.get_logger(__name__)


class UmbilicalController:
    def __init__(
        self,
        device: Device,
        image: GroupImage,
        line: SerialLine,
        *,
        plant: Umbilical,
        refresh: Refresh,
        command: Command,
    ) -> None:
        self.device = device
        self.image = image
        self.line = line
        self.plant = plant
        self.refresh = refresh
        self.command = command
        self.codec = UmbilicalDevice(device=device.id)

    @property
    def endpoint(self) -> str:
        return self.line.path

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._serve(), name=f"{self.device.id}-serve")
            tasks.create_task(self._heartbeat(), name=f"{self.device.id}-heartbeat")

    async def _serve(self) -> None:
        while True:
            self.codec.receive_data(await self.line.receive())
            while True:
                try:
                    event = self.codec.next_event()
                except ProtocolError as exc:
                    self.plant.frames_bad += 1
                    log.info("bad frame", device=self.device.id, reason=exc.reason)
                    continue
                if event is NEED_DATA:
                    break
                await self.line.send_frame(self._answer(event))

    def _answer(self, request: ReadGroup | WritePoint) -> bytes:
        if isinstance(request, ReadGroup):
            words = self.image.words.get(request.group)
            if words is None or request.group == 0:
                return self.codec.nak(
                    request.seq, FrameType.READ_GROUP, NakCode.UNKNOWN_GROUP_OR_POINT
                )
            self.refresh()
            return self.codec.group_data(request.seq, request.group, [int(w) for w in words])
        target = self.image.points.get(request.point)
        if target is None:
            return self.codec.nak(
                request.seq, FrameType.WRITE_POINT, NakCode.UNKNOWN_GROUP_OR_POINT
            )
        field = target.field
        engineering = request.value * field.scale + field.offset
        span = target.channel.valid_range or representable_span(target.channel)
        if field.bit is not None:
            span = (0.0, 1.0)
        if not math.isfinite(engineering) or (
            span is not None and not span[0] <= engineering <= span[1]
        ):
            return self.codec.nak(request.seq, FrameType.WRITE_POINT, NakCode.VALUE_OUT_OF_RANGE)
        self.command(target.channel, engineering)
        return self.codec.write_ack(request.seq, request.point, request.value)

    async def _heartbeat(self) -> None:
        period = 1.0 / self.device.heartbeat_hz
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            deadline += period
            await asyncio.sleep(max(deadline - loop.time(), 0.0))
            self.plant.heartbeats += 1
            self.refresh(force=True)
            counter, status = (int(w) for w in self.image.words[0][:2])
            await self.line.send_frame(self.codec.heartbeat(counter, status), reply=False)
