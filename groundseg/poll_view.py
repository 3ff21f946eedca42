"""`groundseg poll`: a live terminal table of channel values for a test-bench engineer.

The drivers run exactly as in the controller; their batches feed a latest-value table that
a rich display redraws in place a few times a second: value, unit, quality and age of each
channel, and each device's link state and error counters.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Mapping, Sequence

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from groundseg.clock import Clock
from groundseg.config import Channel, PadDefinition
from groundseg.drivers.base import Driver, LinkState
from groundseg.quality import Quality
from groundseg.telemetry.latest import LatestSnapshot, LatestValues

__all__ = ["PollView", "make_console", "run_poll", "select_channels"]

_QUALITY_STYLE = {
    Quality.GOOD: "green",
    Quality.STALE: "yellow",
    Quality.INVALID: "bold red",
    Quality.SIMULATED: "cyan",
    Quality.REPLAYED: "magenta",
}
_LINK_STYLE = {LinkState.UP: "green", LinkState.CONNECTING: "yellow", LinkState.DOWN: "bold red"}


def make_console() -> Console:
    """The terminal, or, for piped output (a log, a test), wide lines instead of wrapping at 80."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def select_channels(pad: PadDefinition, patterns: Sequence[str]) -> list[Channel]:
    """Channels whose id matches any glob pattern (all channels when there are none)."""
    if not patterns:
        return list(pad.channels)
    return [c for c in pad.channels if any(fnmatch.fnmatchcase(c.id, p) for p in patterns)]


class PollView:
    def __init__(
        self,
        pad: PadDefinition,
        channels: Sequence[Channel],
        latest: LatestValues,
        drivers: Mapping[str, Driver],
        clock: Clock,
    ) -> None:
        self.pad = pad
        self.channels = channels
        self.latest = latest
        self.drivers = drivers
        self.clock = clock

    def render(self) -> Group:
        snapshot = self.latest.snapshot()
        now_ns = self.clock.time_ns()
        return Group(self._links(), self._values(snapshot, now_ns))

    def _links(self) -> Table:
        table = Table(
            title=f"{self.pad.name} ({self.pad.vehicle}), {self.pad.site}",
            title_justify="left",
            expand=False,
        )
        for column in (
            "device",
            "endpoint",
            "link",
            "cycles",
            "timeouts",
            "bad frames",
            "late",
            "device errors",
            "stale",
            "last error",
        ):
            table.add_column(
                column,
                justify="right"
                if column in ("cycles", "timeouts", "bad frames", "late", "device errors", "stale")
                else "left",
            )
        for device_id, driver in self.drivers.items():
            stats = driver.statistics()
            table.add_row(
                device_id,
                str(driver.device.endpoint),
                Text(stats.link.value, style=_LINK_STYLE[stats.link]),
                str(stats.cycles),
                str(stats.timeouts),
                str(stats.bad_frames),
                str(stats.late_replies),
                str(stats.device_errors),
                str(stats.stale_channels),
                stats.last_error[:60],
            )
        return table

    def _values(self, snapshot: LatestSnapshot, now_ns: int) -> Table:
        table = Table(expand=False)
        longest = max((len(c.id) for c in self.channels), default=10)
        table.add_column("channel", no_wrap=True, min_width=longest)
        table.add_column("value", justify="right", no_wrap=True, min_width=10)
        table.add_column("unit", no_wrap=True, min_width=5)
        table.add_column("quality", no_wrap=True, min_width=8)
        table.add_column("age s", justify="right", no_wrap=True, min_width=5)
        table.add_column("description", no_wrap=True, overflow="ellipsis", max_width=60)
        seen = snapshot.seen()
        for channel in self.channels:
            i = channel.index
            if not seen[i]:
                table.add_row(
                    channel.id,
                    "-",
                    channel.unit,
                    Text("NO DATA", style="dim"),
                    "-",
                    channel.description,
                )
                continue
            quality = Quality(int(snapshot.quality[i]))
            age = (now_ns - int(snapshot.time_ns[i])) / 1e9
            table.add_row(
                channel.id,
                channel.format_value(float(snapshot.value[i])),
                channel.unit,
                Text(quality.name, style=_QUALITY_STYLE[quality]),
                f"{age:.1f}",
                channel.description,
            )
        return table


async def run_poll(
    view: PollView,
    *,
    refresh_hz: float,
    once: bool,
    duration_s: float | None,
    settle_s: float,
    console: Console,
) -> None:
    """Show the table live (or once, when every selected channel has a value or `settle_s` passed)."""
    if once:
        deadline = view.clock.monotonic() + settle_s
        wanted = [c.index for c in view.channels]
        while view.clock.monotonic() < deadline and not view.latest.snapshot().seen()[wanted].all():
            await view.clock.sleep_until(min(view.clock.monotonic() + 0.05, deadline))
        console.print(view.render())
        return
    period = 1.0 / refresh_hz
    end = None if duration_s is None else view.clock.monotonic() + duration_s
    with Live(
        view.render(),
        console=console,
        refresh_per_second=refresh_hz,
        screen=console.is_terminal,
        transient=False,
    ) as live:
        while end is None or view.clock.monotonic() < end:
            await asyncio.sleep(period)
            live.update(view.render())
