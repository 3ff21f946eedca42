"""`python -m bench` (or `make bench`): run every benchmark, print and record the results."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench.analysis import run_analysis_benchmarks
from bench.backbone import run_backbone_benchmarks
from bench.console import run_console_benchmarks
from bench.decisions import run_decision_benchmarks
from bench.harness import Result, write_results
from bench.journal import run_journal_benchmarks
from bench.modbus import run_modbus_benchmarks
from bench.monitors import run_monitor_benchmarks
from bench.soak import run_soak
from groundseg.logs import configure_logging

GROUPS = (
    "modbus",
    "journal",
    "backbone",
    "monitors",
    "decisions",
    "console",
    "analysis",
    "soak",
)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="groundseg benchmarks")
    parser.add_argument(
        "--quick", action="store_true", help="shorter trials (a smoke run, not the record)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=GROUPS,
        default=None,
        help="run these groups; their rows replace the recorded ones, the others stay",
    )
    args = parser.parse_args()
    configure_logging("warning")
    chosen = set(args.only or GROUPS)
    quick = args.quick
    results: list[Result] = []
    if "modbus" in chosen:
        results += asyncio.run(run_modbus_benchmarks(quick=quick))
    if "journal" in chosen:
        results += run_journal_benchmarks(quick=quick)
    if "backbone" in chosen:
        results += asyncio.run(run_backbone_benchmarks(quick=quick))
    if "monitors" in chosen:
        results += run_monitor_benchmarks(quick=quick)
    if "decisions" in chosen:
        results += asyncio.run(run_decision_benchmarks(quick=quick))
    if "console" in chosen:
        results += asyncio.run(run_console_benchmarks(quick=quick))
    if "analysis" in chosen:
        results += run_analysis_benchmarks(quick=quick)
    if "soak" in chosen:
        results += (
            run_soak(seconds=60.0, outage_s=15.0)
            if quick
            else run_soak(seconds=600.0, outage_s=120.0)
        )
    print(write_results(results, quick=quick, merge=args.only is not None))
    return 0 if all(r.passed for r in results) else 1


sys.exit(main())
