"""The analyst tools' pure parts: progress lines, the sequence context from recorded
events, differences between re-runs, and re-running under a reordered definition."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from groundseg.clock import ManualClock
from groundseg.config import PadDefinition
from groundseg.errors import ConfigError
from groundseg.quality import Quality
from groundseg.replay.player import Coalescer, Pacing, flagged, play
from groundseg.replay.progress import ProgressLine
from groundseg.replay.rerun import (
    Context,
    Decision,
    Difference,
    contexts_from_events,
    differences,
    rerun,
)
from groundseg.replay.tclock import parse_t, wall_time_at_t
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.events import Event, Severity
from groundseg.telemetry.run import SampleRun
from tests.helpers import eventually

T0 = 1_800_000_000_000_000_000


def test_progress_says_share_rate_and_time_left_at_most_every_interval() -> None:
    line = ProgressLine("samples", 1_000_000, started_s=0.0, every_s=1.0)
    assert line.update(250_000, 10.0) == (
        "25% (250,000 of ~1,000,000 samples, 25.0k/s, about 30 s left)"
    )
    assert line.update(260_000, 10.5) is None, "half a second later: nothing new to print"
    assert line.update(500_000, 20.0) == (
        "50% (500,000 of ~1,000,000 samples, 25.0k/s, about 20 s left)"
    )
    assert (
        line.update(1_200_000, 40.0, final=True) == "1,200,000 samples in 40.0 s (30.0k samples/s)"
    )


def test_progress_without_an_estimate_says_so() -> None:
    line = ProgressLine("samples", 0, started_s=0.0)
    assert line.update(5_000, 2.0) == "5,000 samples so far, 2.5k/s (total unknown)"


def test_progress_past_its_estimate_does_not_go_over_100_percent() -> None:
    line = ProgressLine("samples", 100, started_s=0.0)
    assert line.update(150, 5.0) == "100% (150 of ~150 samples, 30/s, about 0 s left)"


def event(kind: str, at_s: float, **fields: str) -> Event:
    return Event(
        kind=kind,
        source="sequencer",
        time_ns=T0 + round(at_s * 1e9),
        severity=Severity.INFO,
        message=f"phase {fields['phase']}" if "phase" in fields else kind,
        fields=fields,
    )


def test_the_context_follows_the_recorded_count_and_its_phases() -> None:
    events = [
        event("sequence.phase", 2.0, phase="gn2_purge"),
        event("countdown.started", 1.0),
        event("command.issued", 1.5),
        event("countdown.hold", 3.0),
        event("countdown.scrubbed", 4.0),
    ]
    assert contexts_from_events(events) == [
        Context(time_ns=T0 + 1_000_000_000, phase=None, counting=True),
        Context(time_ns=T0 + 2_000_000_000, phase="gn2_purge", counting=True),
        Context(time_ns=T0 + 4_000_000_000, phase=None, counting=False),
    ]


def decision(rule: str, at: int, *, active: bool = True) -> Decision:
    return Decision(time_ns=at, rule=rule, active=active, reaction="hold", message=rule)


def test_differences_are_what_one_rerun_decided_and_the_other_did_not() -> None:
    same = decision("a", 1)
    earlier, later = decision("b", 2), decision("b", 5)
    only_flown = decision("c", 3)
    assert differences([same, later, only_flown], [same, earlier]) == [
        Difference(decision=earlier, only_in="changed"),
        Difference(decision=only_flown, only_in="baseline"),
        Difference(decision=later, only_in="baseline"),
    ]


def test_a_recording_made_with_another_channel_order_decides_the_same(
    pad: PadDefinition,
) -> None:
    names = [c.id for c in pad.channels]
    transmitters = [pad.channel(f"ker.s1.ullage_pressure.{x}").index for x in "abc"]

    def batches(position: list[int]) -> list[SampleRun]:
        return [
            SampleRun.of(
                [
                    SampleBatch.at(
                        source="plc",
                        seq=n,
                        time_ns=T0 + n * 100_000_000,
                        channel=np.array([position[t] for t in transmitters], dtype=np.uint32),
                        value=np.full(3, 3.3 if 5 <= n < 10 else 1.0),
                        quality=Quality.GOOD,
                    )
                    for n in range(15)
                ]
            )
        ]

    counting = [Context(time_ns=T0, phase=None, counting=True)]
    same_order = list(range(len(names)))
    flown = rerun(pad, names, batches(same_order), counting)
    assert [(d.rule, d.active) for d in flown if d.rule == "ker.s1.ullage.meop"] == [
        ("ker.s1.ullage.meop", True),
        ("ker.s1.ullage.meop", False),
    ]
    # Recorded by a definition that listed the channels the other way round (and had one
    # this definition does not know).
    reversed_order = [len(names) - 1 - i for i in range(len(names))]
    recorded_names = ["retired.channel", *reversed(names)]
    shifted = [p + 1 for p in reversed_order]
    assert rerun(pad, recorded_names, batches(shifted), counting) == flown
    assert not [
        d for d in rerun(pad, names, batches(same_order), []) if d.rule.startswith("ker")
    ], "no count under way: the redline is not armed"


def cycle(n: int, at_s: float, quality: Quality = Quality.GOOD) -> SampleBatch:
    return SampleBatch.at(
        source="plc",
        seq=n,
        time_ns=T0 + round(at_s * 1e9),
        channel=np.array([1, 2], dtype=np.uint32),
        value=np.array([1.0, 2.0]),
        quality=quality,
    )


def test_replayed_good_samples_are_flagged_and_bad_ones_keep_their_quality() -> None:
    assert flagged(cycle(0, 0.0)).quality.tolist() == [Quality.REPLAYED] * 2
    assert flagged(cycle(0, 0.0, Quality.STALE)).quality.tolist() == [Quality.STALE] * 2
    with pytest.raises(ValueError, match="positive"):
        Pacing(speed=0.0)


async def test_a_replay_at_twice_real_time_delivers_each_batch_at_half_its_recorded_offset() -> (
    None
):
    clock = ManualClock()
    delivered: list[float] = []

    async def deliver(batch: SampleBatch) -> None:
        delivered.append(clock.monotonic() - 1000.0)

    playing = asyncio.create_task(
        play(
            [cycle(0, 0.0), cycle(1, 1.0), cycle(2, 4.0)], deliver, pacing=Pacing(2.0), clock=clock
        )
    )
    for _ in range(8):
        await asyncio.sleep(0)
        clock.advance(0.25)
    await asyncio.sleep(0)
    assert await asyncio.wait_for(playing, 1.0) == 6
    assert delivered == [0.0, 0.5, 2.0]


async def test_step_by_step_releases_as_many_batches_as_asked() -> None:
    steps: asyncio.Queue[int] = asyncio.Queue()
    delivered: list[int] = []

    async def deliver(batch: SampleBatch) -> None:
        delivered.append(batch.seq)

    playing = asyncio.create_task(
        play(
            [cycle(n, float(n)) for n in range(5)],
            deliver,
            pacing=Pacing(step=steps),
            clock=ManualClock(),
        )
    )
    await asyncio.sleep(0)
    assert delivered == []
    steps.put_nowait(1)
    await eventually(lambda: delivered == [0], within=1.0, what="one batch")
    steps.put_nowait(3)
    await eventually(lambda: delivered == [0, 1, 2, 3], within=1.0, what="three more")
    steps.put_nowait(10)
    assert await asyncio.wait_for(playing, 1.0) == 10


def countdown(kind: str, at_s: float, t_s: float) -> Event:
    return Event(
        kind=kind,
        source="sequencer",
        time_ns=T0 + round(at_s * 1e9),
        severity=Severity.INFO,
        message=kind,
        fields={"t_s": t_s},
    )


def test_a_t_time_is_found_where_the_recorded_clock_ran_through_it() -> None:
    # A count at 300x from T-6 h: 10 s of wall time, a hold at T-3 h for 5 s, resumed.
    events = [
        countdown("countdown.started", 0.0, -21_600.0),
        countdown("countdown.hold", 36.0, -10_800.0),
        countdown("countdown.resumed", 41.0, -10_800.0),
        countdown("countdown.hold", 47.0, -9_000.0),
    ]
    assert wall_time_at_t(events, -21_600.0) == T0
    assert wall_time_at_t(events, -16_200.0) == T0 + 18_000_000_000
    assert wall_time_at_t(events, -9_900.0) == T0 + 44_000_000_000, "after the hold"
    assert wall_time_at_t(events, -8_000.0) is None, "the record ends in a hold before it"
    assert wall_time_at_t(events, -30_000.0) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("T-01:00:00", -3600.0), ("-00:10:30", -630.0), ("T+00:00:05", 5.0), ("-3600", -3600.0)],
)
def test_t_times_are_read_as_written_on_a_countdown_clock(text: str, seconds: float) -> None:
    assert parse_t("--at-t", text) == seconds


def test_a_t_time_that_is_not_one_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match="T-one hour"):
        parse_t("--at-t", "T-one hour")


def test_a_fast_replay_joins_each_source_s_cycles_into_frames_of_about_the_size_asked() -> None:
    joined = Coalescer(5)
    out = [joined.add(cycle(n, n * 0.1)) for n in range(5)]  # two samples a cycle
    assert [b is not None for b in out] == [False, False, True, False, False]
    first = out[2]
    assert first is not None
    assert first.seq == 0
    assert first.time_ns.tolist() == [T0] * 2 + [T0 + 100_000_000] * 2 + [T0 + 200_000_000] * 2
    assert [len(b) for b in joined.rest()] == [4], "the last two cycles, joined"
    assert joined.rest() == []
