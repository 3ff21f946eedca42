"""Benchmark plumbing: repeated trials, medians and ratios, results into bench/README.md.

These machines are noisy, so every figure is the median of several trials, and every
target that compares against a baseline runs the baseline in the same invocation,
alternating with the measured code.
"""

from __future__ import annotations

import json
import platform
import re
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["BENCH_DIR", "Result", "median", "percentile", "write_results"]

BENCH_DIR = Path(__file__).resolve().parent
README = BENCH_DIR / "README.md"
BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """One benchmark figure against its target."""

    name: str
    value: float
    unit: str
    target: str
    passed: bool
    detail: str = ""
    trials: Sequence[float] = field(default_factory=tuple)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], percent: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * percent / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def write_results(results: Sequence[Result], *, quick: bool, merge: bool = False) -> str:
    """Record the results as JSON and in the README's results table; returns the table.
    With `merge`, these replace the rows of the same name in the README's table and the rest
    stay (a re-run of some groups). The README is the record: it is in every checkout,
    where results/latest.json is this machine's last run only."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine = (
        f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )
    text = README.read_text() if README.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    fresh = {
        r.name: f"| {r.name} | {r.value:.3g} {r.unit} | {r.target} |"
        f" {'yes' if r.passed else '**no**'} | {r.detail} |"
        for r in results
    }
    since, recorded = _recorded(text) if merge else (stamp, {})
    rows = [fresh.pop(name, line) for name, line in recorded.items()] + list(fresh.values())
    kept = len(rows) > len(results)
    when = f"{since} to {stamp} (rows re-run separately)" if kept else stamp
    lines = [
        f"Last run: {when} on {machine}{' (quick run: shorter trials)' if quick else ''}.",
        "",
        "| benchmark | result | target | met | how it was measured |",
        "|---|---|---|---|---|",
        *rows,
    ]
    table = "\n".join(lines)
    (BENCH_DIR / "results").mkdir(exist_ok=True)
    payload = {
        "when": stamp,
        "machine": machine,
        "quick": quick,
        "results": [asdict(r) for r in results],
    }
    (BENCH_DIR / "results" / "latest.json").write_text(
        json.dumps(payload, indent=2, default=_plain) + "\n"
    )
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        README.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")
    return table


def _recorded(text: str) -> tuple[str, dict[str, str]]:
    """The README table's earliest run time and its rows by benchmark name."""
    if BEGIN not in text or END not in text:
        return "", {}
    body = text.split(BEGIN, 1)[1].split(END, 1)[0]
    stamps = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", body.split("|", 1)[0])
    rows = {
        line.split(" | ", 1)[0].removeprefix("| "): line
        for line in body.splitlines()
        if line.startswith("| ") and not line.startswith("| benchmark |")
    }
    return min(stamps, default="an earlier run"), rows


def _plain(value: object) -> object:
    """numpy scalars and tuples as JSON."""
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    if isinstance(value, tuple | list):
        return list(value)
    raise TypeError(f"cannot record {value!r} as JSON")
