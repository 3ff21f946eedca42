"""`groundseg export`, `rerun` and `report`: the analyst's commands over a recorded journal.

    groundseg export --journal state/journal --channels 'lox.s1.*' --from 2026-11-29T10:00Z \\
        --to 2026-11-29T11:00Z --format parquet --out lox.parquet
    groundseg rerun --journal state/journal --pad pads/baiterek.toml --with changed.toml
    groundseg report --journal state/journal --pad pads/baiterek.toml --out r.html --pdf r.pdf

Each shows progress with an estimate of the time left on stderr, and stops cleanly on
Ctrl-C: an interrupted export or report leaves no file behind, a re-run prints nothing
half-done.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from groundseg.clock import SystemClock
from groundseg.codecs.frames import encode_frame
from groundseg.config import PadDefinition, load_pad
from groundseg.errors import ConfigError, ConfigProblem
from groundseg.files import replace_file
from groundseg.journal.reader import JournalReader
from groundseg.mqtt.connection import make_client
from groundseg.mqtt.topics import Topics, pad_slug
from groundseg.options import add_api_arguments, api_settings, mqtt_arguments, mqtt_settings
from groundseg.quality import Quality
from groundseg.replay.export import ExportFormat, export_samples
from groundseg.replay.facts import campaign_facts
from groundseg.replay.player import Coalescer, Pacing, play
from groundseg.replay.progress import ProgressLine
from groundseg.replay.report import render_html, write_pdf
from groundseg.replay.rerun import (
    Decision,
    Rerunner,
    contexts_from_events,
    differences,
    renumbering,
    rerun,
)
from groundseg.replay.resequence import resequence
from groundseg.replay.sources import (
    InfluxV1Source,
    JournalSource,
    ReplaySource,
    VictoriaMetricsSource,
)
from groundseg.replay.tclock import parse_t, parse_time, wall_time_at_t
from groundseg.stopping import run_until_stopped
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.events import Event
from groundseg.telemetry.run import SampleRun

__all__ = ["add_replay_commands"]

EXIT_INTERRUPTED = 130
IN_FLIGHT = 48
COALESCE_SAMPLES = 1000
"""Replay frames awaiting their PUBACK at once (aiomqtt warns past 50)."""


def add_replay_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser("export", help="recorded channels to CSV or Parquet")
    _journal_range(export)
    export.add_argument(
        "--channels",
        action="append",
        default=[],
        metavar="GLOB",
        help="channels to export (repeatable; default all)",
    )
    export.add_argument("--format", choices=["csv", "parquet"], default=None)
    export.add_argument("--out", type=Path, required=True, help="file to write")
    export.set_defaults(handler=_export)

    again = commands.add_parser(
        "rerun", help="the monitors over a recording: what the rules decide, or would have"
    )
    _journal_range(again)
    again.add_argument("--pad", type=Path, required=True, help="the pad definition flown")
    again.add_argument(
        "--with",
        dest="changed",
        type=Path,
        default=None,
        help="another definition (changed limits, rules): list the decisions that differ",
    )
    again.add_argument(
        "--stale-periods", type=float, default=3.0, help="as the controller's (default 3)"
    )
    again.add_argument("--json", action="store_true", help="one JSON object per decision")
    again.add_argument(
        "--warm-up",
        type=float,
        default=600.0,
        metavar="S",
        help="from mid-record, the rules first read this much of the record before --from"
        " (or --at-t) without reporting it, so they start as the controller stood: latest"
        " values, votes, persistence, redlines already acting (default 600)",
    )
    again.add_argument(
        "--monitors-only",
        action="store_true",
        help="the monitors alone, in the recorded context (default: the monitors and the"
        " sequencer, with the operators' recorded requests)",
    )
    again.set_defaults(handler=_rerun)

    replay = commands.add_parser(
        "replay", help="recorded telemetry played back, flagged as replayed, into MQTT"
    )
    replay.add_argument("--journal", type=Path, default=None, help="replay this journal")
    replay.add_argument(
        "--influx-v1", default=None, metavar="URL", help="or replay from InfluxDB (/query)"
    )
    replay.add_argument("--database", default="groundseg", help="with --influx-v1")
    replay.add_argument(
        "--victoria-metrics", default=None, metavar="URL", help="or from VictoriaMetrics"
    )
    replay.add_argument(
        "--pad", type=Path, required=True, help="the pad definition (channel ids, its name)"
    )
    replay.add_argument(
        "--from", dest="start", default=None, metavar="TIME", help="ISO 8601 (UTC if no zone)"
    )
    replay.add_argument("--to", dest="end", default=None, metavar="TIME", help="ISO 8601")
    _at_t(replay)
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, help="times real time (default 1)")
    pace.add_argument("--fast", action="store_true", help="as fast as possible")
    pace.add_argument(
        "--step", action="store_true", help="a batch per line on stdin (a number: that many)"
    )
    mqtt_arguments(replay, required=False, when_absent="published nowhere")
    replay.add_argument(
        "--as-pad",
        default=None,
        help="topic name to publish under (default: the pad's, with -replay: never the live one)",
    )
    replay.add_argument(
        "--monitors", action="store_true", help="print the monitors' decisions as they come"
    )
    add_api_arguments(replay, default=None)
    replay.add_argument(
        "--paused", action="store_true", help="with --api: start paused at the first moment"
    )
    replay.set_defaults(handler=_replay)

    report = commands.add_parser("report", help="a campaign report: HTML, and PDF")
    _journal_range(report)
    report.add_argument("--pad", type=Path, required=True, help="the pad definition flown")
    report.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    report.add_argument("--pdf", type=Path, default=None, help="also print it to this PDF")
    report.set_defaults(handler=_report)


def _journal_range(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--journal", type=Path, required=True, help="journal directory")
    parser.add_argument(
        "--from", dest="start", default=None, metavar="TIME", help="ISO 8601 (UTC if no zone)"
    )
    parser.add_argument("--to", dest="end", default=None, metavar="TIME", help="ISO 8601")
    _at_t(parser)


def _at_t(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at-t",
        default=None,
        metavar="T",
        help="start where the recorded T-clock read this (T-01:00:00, or seconds: -3600)",
    )


def _range(
    args: argparse.Namespace, events: Callable[[], Iterable[Event]]
) -> tuple[int | None, int | None]:
    """--from/--to as nanoseconds; --at-t found among the recorded countdown events."""
    start, end = parse_time("--from", args.start), parse_time("--to", args.end)
    if args.at_t is None:
        return start, end
    if start is not None:
        raise ConfigError("--at-t", [ConfigProblem(key="", expected="either --at-t or --from")])
    t_s = parse_t("--at-t", args.at_t)
    at = wall_time_at_t(events(), t_s)
    if at is None:
        raise ConfigError(
            "--at-t",
            [
                ConfigProblem(
                    key=args.at_t, expected="a T-time the recorded clock read while running"
                )
            ],
        )
    return at, end


class _Progress:
    """Progress on stderr: rewritten in place on a terminal, a line every 5 s otherwise."""

    def __init__(self, what: str, total: int) -> None:
        self.terminal = sys.stderr.isatty()
        self.line = ProgressLine(
            what, total, started_s=time.monotonic(), every_s=1.0 if self.terminal else 5.0
        )

    def __call__(self, done: int) -> None:
        self._show(self.line.update(done, time.monotonic()), final=False)

    def finish(self, done: int) -> None:
        self._show(self.line.update(done, time.monotonic(), final=True), final=True)

    def _show(self, text: str | None, *, final: bool) -> None:
        if text is None:
            return
        if self.terminal:
            sys.stderr.write(f"\r\033[K{text}" + ("\n" if final else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _export(args: argparse.Namespace) -> int:
    form: ExportFormat = args.format or ("parquet" if args.out.suffix == ".parquet" else "csv")
    start, end = _range(args, lambda: _journal_events(args.journal))
    show = _Progress(
        "samples", JournalReader(args.journal).sample_count(start_ns=start, end_ns=end)
    )
    try:
        summary = export_samples(
            args.journal,
            args.out,
            channels=args.channels,
            start_ns=start,
            end_ns=end,
            file_format=form,
            progress=show,
        )
    except KeyboardInterrupt:
        print("\ngroundseg: export interrupted; nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED
    show.finish(summary.rows)
    print(f"{summary.rows} samples of {len(summary.channels)} channels -> {summary.path}")
    return 0


def _rerun(args: argparse.Namespace) -> int:
    flown = load_pad(args.pad)
    changed = load_pad(args.changed) if args.changed is not None else None
    start, end = _range(args, lambda: _journal_events(args.journal))
    if args.warm_up < 0:
        raise ConfigError("--warm-up", [ConfigProblem(key="", expected="seconds, 0 or more")])
    reader = JournalReader(args.journal)
    names = reader.channel_names()
    # Every event up to the end: a re-run from mid-count starts in its context.
    events = [e for _, e in reader.events(end_ns=end)]
    contexts = contexts_from_events(events)
    # From mid-record the rules read the record before --from first, silently: started
    # empty they would see every channel unknown, then trip anew what was already acting.
    warm = None if start is None else start - round(args.warm_up * 1e9)
    total = reader.sample_count(start_ns=warm, end_ns=end)
    try:
        show = _Progress("samples", total * (2 if changed else 1))
        done = [0]

        def batches() -> Iterator[SampleBatch]:
            for _, batch in reader.samples(start_ns=warm, end_ns=end):
                done[0] += len(batch)
                show(done[0])
                yield batch

        def runs() -> Iterator[SampleRun]:
            for run in reader.runs(start_ns=warm, end_ns=end):
                done[0] += run.samples
                show(done[0])
                yield run

        def decide(pad: PadDefinition) -> list[Decision]:
            if args.monitors_only:
                decided = rerun(pad, names, runs(), contexts, stale_periods=args.stale_periods)
            else:
                decided = resequence(
                    pad, names, batches(), events, stale_periods=args.stale_periods
                )
            return [d for d in decided if start is None or d.time_ns >= start]

        decided = decide(flown)
        other = decide(changed) if changed is not None else None
    except KeyboardInterrupt:
        print("\ngroundseg: re-run interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    show.finish(done[0])
    if other is None:
        for decision in decided:
            _print(decision, "", json_lines=args.json)
        return 0
    found = differences(decided, other)
    for difference in found:
        _print(difference.decision, difference.only_in, json_lines=args.json)
    if not args.json:
        print(f"{len(found)} decisions differ ({len(decided)} flown, {len(other)} changed)")
    return 0


def _print(decision: Decision, only_in: str, *, json_lines: bool) -> None:
    if json_lines:
        document: dict[str, object] = {
            "time_ns": decision.time_ns,
            "rule": decision.rule,
            "active": decision.active,
            "reaction": decision.reaction,
            "message": decision.message,
        }
        if decision.t_s is not None:
            document["t_s"] = decision.t_s
        if only_in:
            document["only_in"] = only_in
        print(json.dumps(document))
        return
    stamp = datetime.datetime.fromtimestamp(decision.time_ns / 1e9, tz=datetime.UTC)
    edge = "seq  " if decision.reaction == "sequence" else "TRIP " if decision.active else "clear"
    where = {"baseline": "  flown only", "changed": "changed only"}.get(only_in, "")
    at_t = "" if decision.t_s is None else f" at T{decision.t_s:+.1f} s"
    print(
        f"{stamp.isoformat(timespec='milliseconds')} {where} {edge} {decision.rule} "
        f"({decision.reaction}){at_t}: {decision.message}".replace("  ", " ")
    )


def _report(args: argparse.Namespace) -> int:
    pad = load_pad(args.pad)
    start, end = _range(args, lambda: _journal_events(args.journal))
    reader = JournalReader(args.journal)
    show = _Progress("samples", reader.sample_count(start_ns=start, end_ns=end))
    try:
        facts = campaign_facts(
            pad,
            reader.channel_names(),
            (b for _, b in reader.samples(start_ns=start, end_ns=end)),
            (e for _, e in reader.events(start_ns=start, end_ns=end)),
            progress=show,
        )
    except KeyboardInterrupt:
        print("\ngroundseg: report interrupted; nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED
    show.finish(facts.samples)
    replace_file(args.out, render_html(facts))
    print(f"report -> {args.out}")
    if args.pdf is not None:
        write_pdf(args.out, args.pdf)
        print(f"report -> {args.pdf}")
    return 0


def _source(args: argparse.Namespace, pad: PadDefinition) -> ReplaySource:
    given = [x for x in (args.journal, args.influx_v1, args.victoria_metrics) if x is not None]
    if len(given) != 1:
        raise ConfigError(
            "--journal",
            [ConfigProblem(key="", expected="one of --journal, --influx-v1 or --victoria-metrics")],
        )
    if args.journal is not None:
        return JournalSource(args.journal)
    if args.victoria_metrics is not None:
        return VictoriaMetricsSource(
            url=args.victoria_metrics,
            pad=pad_slug(pad.name),
            channel_names=[c.id for c in pad.channels],
        )
    return InfluxV1Source(
        url=args.influx_v1,
        database=args.database,
        pad=pad_slug(pad.name),
        channel_names=[c.id for c in pad.channels],
        username=os.environ.get("GROUNDSEG_INFLUX_USERNAME"),
        password=os.environ.get("GROUNDSEG_INFLUX_PASSWORD"),
    )


def _replay(args: argparse.Namespace) -> int:
    pad = load_pad(args.pad)
    source = _source(args, pad)
    start, end = _range(args, lambda: source.events(None, None))
    if args.api:
        return _replay_console(args, pad, source, start, end)
    name = args.as_pad or f"{pad_slug(pad.name)}-replay"
    if name == pad_slug(pad.name):
        raise ConfigError(
            "--as-pad", [ConfigProblem(key=name, expected="not the live pad's own topics")]
        )
    speed = None if args.fast or args.step else args.speed
    played: list[int] = []

    async def main() -> None:
        played.append(await _play(args, pad, source, Topics(pad_slug(name)), start, end, speed))

    run_until_stopped(main())
    if not played:
        print("\ngroundseg: replay stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{played[0]} samples replayed")
    return 0


def _replay_console(
    args: argparse.Namespace,
    pad: PadDefinition,
    source: ReplaySource,
    start: int | None,
    end: int | None,
) -> int:
    """The replay on the console, with time controls, until Ctrl-C."""
    # The API's libraries load only for a console: a replay into MQTT starts without them.
    from groundseg.api import UserStore  # noqa: PLC0415
    from groundseg.replay.serve import ANALYST, ReplayConsole, one_time_account  # noqa: PLC0415

    others = [
        name
        for name, given in (
            ("--mqtt", mqtt_settings(args) is not None),
            ("--monitors", args.monitors),
            ("--fast", args.fast),
            ("--step", args.step),
        )
        if given
    ]
    if others:
        raise ConfigError(
            "--api",
            [
                ConfigProblem(
                    key=", ".join(others),
                    expected="a replay console takes --speed, --paused, --from/--at-t and --to",
                )
            ],
        )
    settings = api_settings(args, users_required=False)
    assert settings is not None
    span = source.span()
    if start is not None and end is not None:
        span = (start, end - 1)
    elif span is not None:
        span = (span[0], span[1] if end is None else min(span[1], end - 1))
    if span is None or span[1] < span[0]:
        raise ConfigError(
            "--from/--to",
            [ConfigProblem(key="", expected="a range that holds samples (give --from and --to)")],
        )
    if settings.users_file is not None:
        users, password = UserStore.load(settings.users_file), None
    else:
        users, password = one_time_account()
    console = ReplayConsole(
        pad=pad,
        source=source,
        span=span,
        settings=settings,
        users=users,
        speed=args.speed,
        start_ns=start if start is not None and span[0] <= start <= span[1] else None,
        paused=args.paused,
    )

    def ready(url: str) -> None:
        login = "" if password is None else f"  (log in as {ANALYST}, password {password})"
        print(f"replay console: {url}{login}", flush=True)

    run_until_stopped(console.run(ready))
    return 0


async def _play(  # noqa: PLR0917  the command's parts, once
    args: argparse.Namespace,
    pad: PadDefinition,
    source: ReplaySource,
    topics: Topics,
    start: int | None,
    end: int | None,
    speed: float | None,
) -> int:
    step: asyncio.Queue[int] | None = asyncio.Queue() if args.step else None
    runner = (
        # Every event up to the end: a replay from mid-count starts in its context.
        Rerunner(pad, source.channel_names, contexts_from_events(source.events(None, end)))
        if args.monitors
        else None
    )
    show = _Progress("samples", source.estimate(start, end))
    renumbered = renumbering(source.channel_names, pad)
    done = 0
    async with contextlib.AsyncExitStack() as stack:
        client = None
        mqtt = mqtt_settings(args)
        if mqtt is not None:
            client = await stack.enter_async_context(
                make_client(mqtt, client_id=f"replay-{topics.pad}")
            )
        if step is not None:
            stack.enter_context(_stepping(step))
        # Frames go out with up to IN_FLIGHT awaiting their PUBACK (in order on the wire):
        # one at a time, each would wait a broker round trip.
        publishing = await stack.enter_async_context(asyncio.TaskGroup())
        in_flight = asyncio.Semaphore(IN_FLIGHT)
        record = 0

        async def publish(topic: str, frame: bytes) -> None:
            assert client is not None
            try:
                await client.publish(topic, frame, qos=1)
            finally:
                in_flight.release()

        # As fast as possible, poll cycles go out joined (a frame per ~1000 samples).
        joined = Coalescer(COALESCE_SAMPLES if speed is None and step is None else 1)

        async def send(batch: SampleBatch) -> None:
            nonlocal record
            await in_flight.acquire()
            publishing.create_task(
                publish(topics.telemetry(batch.source), encode_frame(batch, record=record))
            )
            record += 1

        async def deliver(batch: SampleBatch) -> None:
            nonlocal done
            ours = renumbered(batch) if client is not None else None
            frame = joined.add(ours) if ours is not None else None
            if frame is not None:
                await send(frame)
            done += len(batch)
            show(done)
            if runner is not None:
                _decide(runner, batch)

        samples = await play(
            source.batches(start, end),
            deliver,
            pacing=Pacing(speed=speed, step=step),
            clock=SystemClock(),
        )
        for frame in joined.rest():
            await send(frame)
    show.finish(samples)
    return samples


def _decide(runner: Rerunner, batch: SampleBatch) -> None:
    """The replayed batch through the monitors with its recorded quality: a replay's own
    monitors judge the record (REPLAYED data never reaches a live one)."""
    recorded = dataclasses.replace(
        batch,
        quality=np.where(batch.quality == Quality.REPLAYED, Quality.GOOD, batch.quality).astype(
            batch.quality.dtype
        ),
    )
    for decision in runner.take(recorded):
        _print(decision, "", json_lines=False)


@contextlib.contextmanager
def _stepping(step: asyncio.Queue[int]) -> Iterator[None]:
    """Each line on stdin releases batches: empty for one, a number for that many."""
    loop = asyncio.get_running_loop()

    def line() -> None:
        text = sys.stdin.readline()
        if not text:
            loop.remove_reader(sys.stdin)
            step.put_nowait(1 << 62)  # stdin closed: play the rest
            return
        step.put_nowait(int(text) if text.strip().isdigit() else 1)

    loop.add_reader(sys.stdin, line)
    try:
        yield
    finally:
        loop.remove_reader(sys.stdin)


def _journal_events(journal: Path) -> Iterator[Event]:
    for _, event in JournalReader(journal).events():
        yield event
