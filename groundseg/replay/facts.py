"""What a campaign report says, computed from a journal in one pass.

- the countdown timeline (every countdown event with its T-time) and the holds, with what
  caused each and how long it lasted;
- loading curves: each tank's level transmitter A over time, reduced to at most
  `CURVE_POINTS` points (the bucket means) so a report of a long campaign stays small;
- redline margins: for every limit redline, the closest approach of its channels' GOOD
  samples to the limit (negative: the limit was crossed);
- alarms raised, commands with their verification times, and link quality per device
  (links lost, share of GOOD samples).

Samples are folded in chunks of batches (numpy `fmax.at`/`fmin.at` over the channel
column), so memory stays flat however long the campaign. The time span counts GOOD
samples only.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from groundseg.config import PadDefinition
from groundseg.quality import Quality
from groundseg.sequencer.plan import compile_plan
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.events import Event

__all__ = [
    "CURVE_POINTS",
    "Alarm",
    "CampaignFacts",
    "CommandRecord",
    "Curve",
    "Hold",
    "LinkQuality",
    "Margin",
    "TimelineEntry",
    "campaign_facts",
]

CURVE_POINTS = 400
FOLD_CHUNK = 200_000
LEVEL_CHANNELS = "*.level.a"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    time_ns: int
    kind: str
    t_s: float | None
    message: str


@dataclass(frozen=True, slots=True)
class Hold:
    time_ns: int
    t_s: float | None
    by: str
    reason: str
    duration_s: float | None
    """Until the count resumed, recycled or ended; None if it never did in the record."""


@dataclass(frozen=True, slots=True)
class Curve:
    channel: str
    unit: str
    time_ns: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Margin:
    redline: str
    side: str
    """"above" (a maximum must stay under the limit) or "below"."""
    limit: float
    closest: float | None
    """The highest (above) or lowest (below) GOOD value of the redline's channels."""
    channel: str | None

    @property
    def margin(self) -> float | None:
        if self.closest is None:
            return None
        return self.limit - self.closest if self.side == "above" else self.closest - self.limit


@dataclass(frozen=True, slots=True)
class Alarm:
    time_ns: int
    alarm: str
    severity: str
    message: str


@dataclass(frozen=True, slots=True)
class CommandRecord:
    time_ns: int
    command: str
    by: str
    outcome: str
    """verified, failed, verify_timeout, vetoed, refused, or issued (no outcome recorded)."""
    verified_ms: float | None


@dataclass(frozen=True, slots=True)
class LinkQuality:
    device: str
    losses: int
    samples: int
    good: int

    @property
    def good_share(self) -> float:
        return self.good / self.samples if self.samples else 0.0


@dataclass(frozen=True, slots=True)
class CampaignFacts:
    pad: str
    start_ns: int
    end_ns: int
    samples: int
    timeline: list[TimelineEntry]
    holds: list[Hold]
    curves: list[Curve]
    margins: list[Margin]
    alarms: list[Alarm]
    commands: list[CommandRecord]
    links: list[LinkQuality]
    notes: list[str] = field(default_factory=list)


def campaign_facts(
    pad: PadDefinition,
    recorded_channels: list[str],
    batches: Iterable[SampleBatch],
    events: Iterable[Event],
    *,
    progress: Callable[[int], None] | None = None,
) -> CampaignFacts:
    folded = _Fold(pad, recorded_channels)
    for batch in batches:
        folded.take(batch)
        if progress is not None:
            progress(folded.samples)
    folded.flush()
    recorded = sorted(events, key=lambda e: e.time_ns)
    return CampaignFacts(
        pad=pad.name,
        start_ns=folded.first_ns if folded.samples else 0,
        end_ns=folded.last_ns if folded.samples else 0,
        samples=folded.samples,
        timeline=_timeline(recorded),
        holds=_holds(recorded),
        curves=folded.curves(),
        margins=folded.margins(),
        alarms=[
            Alarm(e.time_ns, str(e.fields.get("alarm", "")), str(e.severity), e.message)
            for e in recorded
            if e.kind == "alarm.raised"
        ],
        commands=_commands(recorded),
        links=folded.links(recorded),
    )


class _Fold:
    """Per-channel extremes and counts, level samples and per-source quality, batch by batch."""

    def __init__(self, pad: PadDefinition, recorded: list[str]) -> None:
        self.pad = pad
        self.names = recorded
        n = len(recorded)
        self.high = np.full(n, -np.inf)
        self.low = np.full(n, np.inf)
        self.level_index = {
            i: name for i, name in enumerate(recorded) if fnmatch.fnmatchcase(name, LEVEL_CHANNELS)
        }
        self.is_level = np.zeros(n, dtype=bool)
        self.is_level[list(self.level_index)] = True
        self.level_samples: dict[int, list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]]
        self.level_samples = {i: [] for i in self.level_index}
        self.per_source: dict[str, list[int]] = {}
        self._pending: list[SampleBatch] = []
        self._pending_samples = 0
        self.samples = 0
        self.first_ns = np.iinfo(np.int64).max
        self.last_ns = np.iinfo(np.int64).min

    def take(self, batch: SampleBatch) -> None:
        if len(batch) == 0:
            return
        self.samples += len(batch)
        counts = self.per_source.setdefault(batch.source, [0, 0])
        counts[0] += len(batch)
        counts[1] += int(np.count_nonzero(batch.quality == Quality.GOOD))
        self._pending.append(batch)
        self._pending_samples += len(batch)
        if self._pending_samples >= FOLD_CHUNK:
            self.flush()

    def flush(self) -> None:
        """Fold the batches taken so far: numpy's per-call cost paid per chunk, not per
        poll cycle (a campaign has hundreds of thousands of them)."""
        if not self._pending:
            return
        pending, self._pending, self._pending_samples = self._pending, [], 0
        times = np.concatenate([b.time_ns for b in pending])
        good = np.concatenate([b.quality for b in pending]) == Quality.GOOD
        channel = np.concatenate([b.channel for b in pending])[good]
        value = np.concatenate([b.value for b in pending])[good]
        times = times[good]
        if len(times):
            self.first_ns = min(self.first_ns, int(times.min()))
            self.last_ns = max(self.last_ns, int(times.max()))
        np.fmax.at(self.high, channel, value)
        np.fmin.at(self.low, channel, value)
        levels = self.is_level[channel]
        if levels.any():
            level_channel, level_time, level_value = channel[levels], times[levels], value[levels]
            for index in np.unique(level_channel).tolist():
                mine = level_channel == index
                self.level_samples[index].append((level_time[mine], level_value[mine]))

    def curves(self) -> list[Curve]:
        out = []
        for index, name in sorted(self.level_index.items(), key=lambda item: item[1]):
            parts = self.level_samples[index]
            if not parts:
                continue
            times = np.concatenate([t for t, _ in parts])
            values = np.concatenate([v for _, v in parts])
            order = np.argsort(times, kind="stable")
            times, values = _reduced(times[order], values[order])
            unit = self.pad.channel(name).unit if self.pad.has_channel(name) else ""
            out.append(Curve(name, unit, times, values))
        return out

    def margins(self) -> list[Margin]:
        position = {name: i for i, name in enumerate(self.names)}
        plan = compile_plan(self.pad)
        votes = {
            v.group.name: [self.pad.channels[c].id for c in v.group.channels] for v in plan.votes
        }
        out = []
        for redline in plan.redlines:
            for side, limit in (("above", redline.above), ("below", redline.below)):
                if limit is None:
                    continue
                members = votes.get(redline.vote or "", [])
                if redline.channel is not None:
                    members = [self.pad.channels[redline.channel].id]
                seen = [
                    (self.high if side == "above" else self.low)[position[m]]
                    for m in members
                    if m in position
                ]
                finite = [
                    (float(v), m) for v, m in zip(seen, members, strict=False) if np.isfinite(v)
                ]
                if not finite:
                    out.append(Margin(redline.id, side, float(limit), None, None))
                    continue
                closest, channel = max(finite) if side == "above" else min(finite)
                out.append(Margin(redline.id, side, float(limit), closest, channel))
        return out

    def links(self, events: list[Event]) -> list[LinkQuality]:
        losses: dict[str, int] = {}
        for event in events:
            if event.kind == "link.lost":
                losses[event.source] = losses.get(event.source, 0) + 1
        return [
            LinkQuality(device, losses.get(device, 0), *self.per_source.get(device, [0, 0]))
            for device in self.pad.devices
        ]


def _reduced(
    times: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """At most CURVE_POINTS points: the mean of each equal share of the samples."""
    if len(times) <= CURVE_POINTS:
        return times, values
    edges = np.linspace(0, len(times), CURVE_POINTS + 1).astype(np.intp)
    sums = np.add.reduceat(values, edges[:-1])
    widths = np.diff(edges)
    middle = times[(edges[:-1] + edges[1:]) // 2]
    return middle.astype(np.int64), sums / widths


_COUNTDOWN = "countdown."
_HOLD_ENDS = {"countdown.resumed", "countdown.recycled", "countdown.scrubbed", "countdown.aborted"}


def _t(event: Event) -> float | None:
    value = event.fields.get("t_s")
    return float(value) if isinstance(value, int | float | str) and value != "" else None


def _timeline(events: list[Event]) -> list[TimelineEntry]:
    return [
        TimelineEntry(e.time_ns, e.kind.removeprefix(_COUNTDOWN), _t(e), e.message)
        for e in events
        if e.kind.startswith(_COUNTDOWN)
    ]


def _holds(events: list[Event]) -> list[Hold]:
    holds: list[Hold] = []
    open_at: Event | None = None
    for event in events:
        if event.kind == "countdown.hold" and open_at is None:
            open_at = event
        elif event.kind in _HOLD_ENDS and open_at is not None:
            holds.append(_hold(open_at, (event.time_ns - open_at.time_ns) / 1e9))
            open_at = None
    if open_at is not None:
        holds.append(_hold(open_at, None))
    return holds


def _hold(event: Event, duration_s: float | None) -> Hold:
    reason = str(event.fields.get("reason", "")) or event.message.removeprefix("hold: ")
    return Hold(event.time_ns, _t(event), str(event.fields.get("by", "")), reason, duration_s)


_OUTCOMES = {
    "command.verified": "verified",
    "command.failed": "failed",
    "command.verify_timeout": "verify_timeout",
    "command.vetoed": "vetoed",
    "command.refused": "refused",
}


def _commands(events: list[Event]) -> list[CommandRecord]:
    """Each issued command with the outcome that followed it (the gate's events pair up by
    command in order)."""
    out: list[CommandRecord] = []
    waiting: dict[str, list[int]] = {}
    for event in events:
        command = str(event.fields.get("command", ""))
        if event.kind == "command.issued":
            waiting.setdefault(command, []).append(len(out))
            by = str(event.fields.get("by") or event.fields.get("origin") or "")
            out.append(CommandRecord(event.time_ns, command, by, "issued", None))
        elif event.kind in _OUTCOMES and waiting.get(command):
            index = waiting[command].pop(0)
            ms = event.fields.get("verified_ms")
            out[index] = CommandRecord(
                out[index].time_ns,
                command,
                out[index].by,
                _OUTCOMES[event.kind],
                float(ms) if isinstance(ms, str | int | float) and ms != "" else None,
            )
    return out
