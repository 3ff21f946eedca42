"""`python -m bench` (or `make bench`): run every benchmark, print and record the results."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench.backbone import run_backbone_benchmarks
from bench.harness import write_results
from bench.journal import run_journal_benchmarks
from bench.modbus import run_modbus_benchmarks
from bench.soak import run_soak
from groundseg.logs import configure_logging


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="groundseg benchmarks")
    parser.add_argument(
        "--quick", action="store_true", help="shorter trials (a smoke run, not the record)"
    )
    args = parser.parse_args()
    configure_logging("warning")
    results = asyncio.run(run_modbus_benchmarks(quick=args.quick))
    results += run_journal_benchmarks(quick=args.quick)
    results += asyncio.run(run_backbone_benchmarks(quick=args.quick))
    results += (
        run_soak(seconds=60.0, outage_s=15.0)
        if args.quick
        else run_soak(seconds=600.0, outage_s=120.0)
    )
    print(write_results(results, quick=args.quick))
    return 0 if all(r.passed for r in results) else 1


sys.exit(main())
