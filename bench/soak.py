"""Memory soak: the controller side and the ingest, each its own process, for ten minutes
at the end-to-end target rate; their resident memory must stay flat.

The controller side is what carries the load in the controller: the journal and the
telemetry publisher (the drivers of a real pad produce a few thousand samples/s; here a
synthetic source offers 250k). RSS is sampled every few seconds from /proc; "flat" means
the median of the last quarter of the run is within 10% of the median of the second
quarter (the first quarter is warm-up: caches, allocator arenas, the broker's session).

    python -m bench.soak --seconds 600     # on its own; `python -m bench` includes it
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


def growth(series: list[float]) -> tuple[float, float, float]:
    """(settled MB, final MB, growth fraction): medians of the second and last quarters."""
    quarter = max(len(series) // 4, 1)
    settled = statistics.median(series[quarter : 2 * quarter])
    final = statistics.median(series[-quarter:])
    return settled, final, (final - settled) / settled


def run_soak(*, seconds: float) -> list[Result]:
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
                    str(seconds),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            controller_rss: list[float] = []
            ingest_rss: list[float] = []
            while producer.poll() is None:
                try:
                    controller_rss.append(rss_mb(producer.pid))
                    ingest_rss.append(rss_mb(ingest.pid))
                except (OSError, ValueError):
                    break  # the producer just finished
                time.sleep(SAMPLE_EVERY_S)  # the sampling period, not a wait
            out, _ = producer.communicate(timeout=180)
            produced = int(json.loads(out.strip().splitlines()[-1])["produced"])
            deadline = time.monotonic() + 120
            while (stored := stored_rows(influx)) < produced and time.monotonic() < deadline:
                time.sleep(0.5)
    results = []
    for name, series in (("controller side", controller_rss), ("ingest", ingest_rss)):
        settled, final, grew = growth(series)
        results.append(
            Result(
                name=f"Memory soak: {name} RSS growth over {seconds / 60:g} min at 250k samples/s",
                value=grew * 100,
                unit="%",
                target=f"flat (<= {FLAT:.0%} after warm-up), zero loss",
                passed=grew <= FLAT and stored == produced,
                detail=(
                    f"RSS settled {settled:.0f} MB, final {final:.0f} MB, peak {max(series):.0f}"
                    f" MB ({len(series)} readings); {produced} batches of {CHANNELS} samples"
                    f" produced, {stored} rows stored"
                ),
                trials=tuple(series),
            )
        )
    return results


def _produce(directory: Path, port: int, seconds: float) -> None:
    configure_logging("warning")
    produced, _ = asyncio.run(produce(directory, port, rate=RATE, seconds=seconds))
    print(json.dumps({"produced": produced}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--produce", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce is not None:
        _produce(args.produce, args.port, args.seconds)
        return 0
    results = run_soak(seconds=args.seconds)
    for result in results:
        print(f"{result.name}: {result.value:.1f}{result.unit} ({result.detail})")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
