"""Memory soak: the controller side and the ingest, each its own process, for ten minutes
at the end-to-end target rate; then the database is stopped for two minutes under the same
load and comes back. Resident memory must stay flat in the steady run and bounded by one
write's working set (not by the backlog) through the outage and the drain; nothing lost.

The controller side is what carries the load in the controller: the journal and the
telemetry publisher (the drivers of a real pad produce a few thousand samples/s; here a
synthetic source offers 250k). RSS is sampled every few seconds from /proc. "Flat": the
median of the last fifth of the steady run within 10% of the median of its second quarter
(the first quarter is warm-up). "Bounded": the peak from the outage to the end within 1.5x
that settled median, while a backlog of two minutes (30M samples) waits in the spool.

    python -m bench.soak --seconds 600 --outage 120   # `python -m bench` includes it
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.backbone import CHANNELS, ingest_process, produce, stored_rows
from bench.harness import Result
from groundseg.logs import configure_logging
from tests.services import InfluxDB1, Mosquitto

__all__ = ["run_soak"]

RATE = 250_000
SAMPLE_EVERY_S = 5.0
FLAT = 0.10


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for {pid}")


BOUNDED = 1.5


def settled_and_final(readings: list[tuple[float, float]], steady_s: float) -> tuple[float, float]:
    """Medians of the steady run's second quarter and last fifth, from (seconds, MB)."""
    settled = statistics.median(mb for at, mb in readings if 0.25 <= at / steady_s < 0.5)
    final = statistics.median(mb for at, mb in readings if 0.8 <= at / steady_s < 1.0)
    return settled, final


def run_soak(*, seconds: float, outage_s: float) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="groundseg-soak-") as temporary:
        directory = Path(temporary)
        with (
            Mosquitto.running(directory / "mosquitto") as broker,
            InfluxDB1.running(directory / "influx") as influx,
            ingest_process(directory, broker, influx) as ingest,
        ):
            producer = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.soak",
                    "--produce",
                    str(directory / "controller"),
                    "--port",
                    str(broker.port),
                    "--seconds",
                    str(seconds + 2 * outage_s),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            controller_rss: list[tuple[float, float]] = []
            ingest_rss: list[tuple[float, float]] = []
            start = time.monotonic()
            database_up = True
            while producer.poll() is None:
                at = time.monotonic() - start
                if database_up and seconds <= at < seconds + outage_s:
                    influx.stop()
                    database_up = False
                elif not database_up and at >= seconds + outage_s:
                    influx.start()
                    database_up = True
                try:
                    controller_rss.append((at, rss_mb(producer.pid)))
                    ingest_rss.append((at, rss_mb(ingest.pid)))
                except (OSError, ValueError):
                    break  # the producer just finished
                time.sleep(SAMPLE_EVERY_S)  # the sampling period, not a wait
            if not database_up:
                influx.start()
            out, _ = producer.communicate(timeout=180)
            produced = int(json.loads(out.strip().splitlines()[-1])["produced"])
            deadline = time.monotonic() + 300
            while (stored := stored_rows(influx)) < produced and time.monotonic() < deadline:
                time.sleep(0.5)
    results = []
    lost = produced - stored
    for name, series in (("controller side", controller_rss), ("ingest", ingest_rss)):
        settled, final = settled_and_final(series, seconds)
        peak = max(mb for at, mb in series if at >= seconds)
        grew = (final - settled) / settled
        results.append(
            Result(
                name=f"Memory soak: {name} RSS growth over {seconds / 60:g} min at 250k samples/s",
                value=grew * 100,
                unit="%",
                target=f"flat (<= {FLAT:.0%} after warm-up)",
                passed=grew <= FLAT,
                detail=(
                    f"RSS settled {settled:.0f} MB, at the end {final:.0f} MB"
                    f" ({sum(1 for at, _ in series if at < seconds)} readings)"
                ),
                trials=tuple(mb for _, mb in series),
            )
        )
        results.append(
            Result(
                name=(
                    f"Memory soak: {name} peak RSS / steady, database down {outage_s:.0f} s"
                    " under load, then the backlog drained"
                ),
                value=peak / settled,
                unit="x",
                target=f"bounded (<= {BOUNDED:g}x), zero loss",
                passed=peak / settled <= BOUNDED and lost == 0,
                detail=(
                    f"peak {peak:.0f} MB against {settled:.0f} MB steady; {produced} batches of"
                    f" {CHANNELS} samples produced in all, {stored} rows stored ({lost} missing)"
                ),
            )
        )
    return results


def _produce(directory: Path, port: int, seconds: float) -> None:
    configure_logging("warning")
    produced, _ = asyncio.run(produce(directory, port, rate=RATE, seconds=seconds))
    print(json.dumps({"produced": produced}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0, help="the steady run")
    parser.add_argument("--outage", type=float, default=120.0, help="database down, seconds")
    parser.add_argument("--produce", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce is not None:
        _produce(args.produce, args.port, args.seconds)
        return 0
    results = run_soak(seconds=args.seconds, outage_s=args.outage)
    for result in results:
        print(f"{result.name}: {result.value:.1f}{result.unit} ({result.detail})")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
