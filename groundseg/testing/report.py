"""The procedure report: one self-contained HTML page a reviewer can accept or reject.

Per step (a test function of the procedure): its outcome and duration, what it did and saw
(commands with their readback times, expectations with when they came true), the failure
as the procedure's assertion put it, and a plot of every channel the step touched (inline
SVG: no script, no network). The head says what ran against what: the procedure, the
target, the pad definition and its hash, the build, the operator and the date.

Pure: records in, text out.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from groundseg.testing.expect import clock_text

__all__ = ["render_procedure_report"]

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111;background:#fff}
h1{font-size:1.4em}table.head td{padding:0 1em 0 0}
.step{border:1px solid #ccc;border-radius:4px;margin:1em 0;padding:.5em 1em}
.passed{color:#075}.failed,.error{color:#b00}.skipped{color:#666}
pre{background:#f6f6f6;padding:.5em;overflow:auto;white-space:pre-wrap}
svg{background:#fafafa;border:1px solid #ddd;margin:.3em .6em .3em 0}
"""


def render_procedure_report(head: Mapping[str, str], steps: Sequence[Mapping[str, Any]]) -> str:
    passed = sum(1 for s in steps if s.get("outcome") == "passed")
    verdict = "PASSED" if steps and passed == len(steps) else "FAILED"
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in head.items()
    )
    body = "".join(_step(n, step) for n, step in enumerate(steps, 1))
    title = html.escape(head.get("procedure", "procedure"))
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Procedure {title}: <span class={verdict.lower()}>{verdict}</span>"
        f" ({passed} of {len(steps)} steps passed)</h1>"
        f"<table class=head>{rows}</table>{body}</body></html>"
    )


def _step(number: int, step: Mapping[str, Any]) -> str:
    outcome = str(step.get("outcome", "error"))
    log = "\n".join(f"{_clock(at)}  {text}" for at, text in step.get("log", []))
    failure = str(step.get("failure", ""))
    plots = "".join(_plot(name, trace) for name, trace in dict(step.get("touched", {})).items())
    parts = [
        f"<div class=step><h2>{number}. {html.escape(str(step.get('name', '')))}"
        f" <span class={outcome}>{outcome.upper()}</span>"
        f" <small>{float(step.get('duration_s', 0.0)):.2f} s</small></h2>",
    ]
    if step.get("doc"):
        parts.append(f"<p>{html.escape(str(step['doc']))}</p>")
    if log:
        parts.append(f"<pre>{html.escape(log)}</pre>")
    if failure:
        parts.append(f"<pre class=failed>{html.escape(failure)}</pre>")
    if plots:
        parts.append(f"<div>{plots}</div>")
    parts.append("</div>")
    return "".join(parts)


def _plot(name: str, trace: Sequence[Sequence[float | None]], w: int = 420, h: int = 140) -> str:
    points = []
    for t, v in trace:
        if t is not None and v is not None and not math.isnan(v):
            points.append((float(t), float(v)))
    label = f"<text x=6 y=14 font-size=12>{html.escape(name)}</text>"
    if not points:
        return f"<svg width={w} height={h}>{label}<text x=6 y=40>no value</text></svg>"
    t0, t1 = points[0][0], max(points[-1][0], points[0][0] + 1e-3)
    low, high = min(v for _, v in points), max(v for _, v in points)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    pad = 20

    def x(t: float) -> float:
        return pad + (t - t0) / (t1 - t0) * (w - 2 * pad)

    def y(v: float) -> float:
        return h - pad - (v - low) / (high - low) * (h - 2 * pad)

    line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    return (
        f"<svg width={w} height={h} role=img aria-label='{html.escape(name)}'>{label}"
        f"<polyline fill=none stroke='#1565c0' stroke-width=1.5 points='{line}'/>"
        f"<text x=6 y={h - 4} font-size=10>{low:g} .. {high:g} over {t1 - t0:.1f} s</text></svg>"
    )


def _clock(at_s: float) -> str:
    return clock_text(round(at_s * 1e9))
