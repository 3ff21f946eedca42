"""The benchmark record: a re-run of some groups replaces their rows in bench/README.md and
keeps every other row, even in a checkout without results/latest.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import harness
from bench.harness import BEGIN, END, Result, write_results

RECORDED = f"""# Benchmarks

{BEGIN}
Last run: 2026-11-28 14:31 UTC on x86_64, CPython 3.11.7.

| benchmark | result | target | met | how it was measured |
|---|---|---|---|---|
| Journal append | 3.18 M samples/s | >= 2M samples/s | yes | five runs |
| Decision latency | 1.2 ms p99 | p99 <= 1 ms | **no** | old |
{END}
after the table
"""


def test_a_rerun_replaces_its_rows_and_keeps_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(RECORDED)
    monkeypatch.setattr(harness, "README", readme)
    monkeypatch.setattr(harness, "BENCH_DIR", tmp_path)
    fresh = Result(
        name="Decision latency", value=0.774, unit="ms p99", target="p99 <= 1 ms", passed=True
    )
    write_results([fresh], quick=False, merge=True)
    text = readme.read_text()
    assert "| Journal append | 3.18 M samples/s | >= 2M samples/s | yes | five runs |" in text
    assert "| Decision latency | 0.774 ms p99 | p99 <= 1 ms | yes |  |" in text
    assert "1.2 ms p99" not in text
    assert text.index("Journal append") < text.index("Decision latency")
    assert "Last run: 2026-11-28 14:31 UTC to " in text
    assert text.endswith(f"{END}\nafter the table\n")
    assert (tmp_path / "results" / "latest.json").exists()


def test_a_full_run_rewrites_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(RECORDED)
    monkeypatch.setattr(harness, "README", readme)
    monkeypatch.setattr(harness, "BENCH_DIR", tmp_path)
    only = Result(name="Journal read", value=6.19, unit="M samples/s", target=">= 5M", passed=True)
    write_results([only], quick=False)
    text = readme.read_text()
    assert "Journal append" not in text
    assert "| Journal read | 6.19 M samples/s | >= 5M | yes |  |" in text
