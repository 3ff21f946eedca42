"""The campaign report as one self-contained HTML file (inline CSS and SVG, no script, no
fetch), and as PDF through headless Chromium's print.

Every figure in the report is also in a `data-` attribute beside it, at full precision, so
a test (or a script) can hold the report to the journal without parsing prose.
"""

from __future__ import annotations

import datetime
import html
import shutil
import subprocess
from pathlib import Path

import numpy as np

from groundseg.errors import GroundsegError
from groundseg.replay.facts import CampaignFacts, Curve
from groundseg.sequencer.countdown import t_text

__all__ = ["ReportError", "render_html", "write_pdf"]

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.6em; margin-bottom: 0; } h2 { border-bottom: 1px solid #999; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #bbb; padding: 2px 8px; text-align: left; vertical-align: top; }
td:first-child { white-space: nowrap; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.crossed { background: #f8d0d0; } .tight { background: #fbeec0; }
.curves { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figcaption { font-size: .9em; }
svg { border: 1px solid #ccc; background: #fcfcfc; }
@media print { h2 { break-after: avoid; } table, figure { break-inside: avoid; } }
"""


class ReportError(GroundsegError):
    pass


def _when(time_ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(time_ns / 1e9, tz=datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _t(t_s: float | None) -> str:
    return "" if t_s is None else t_text(t_s)


def _e(text: object) -> str:
    return html.escape(str(text))


def render_html(facts: CampaignFacts) -> str:
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{_e(facts.pad)} campaign report</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(facts.pad)}: campaign report</h1>",
        f"<p id=span data-samples={facts.samples}>{_when(facts.start_ns)} to "
        f"{_when(facts.end_ns)}, {facts.samples:,} samples recorded.</p>",
        _holds(facts),
        _timeline(facts),
        _curves(facts.curves),
        _margins(facts),
        _alarms(facts),
        _commands(facts),
        _links(facts),
        "</body></html>",
    ]
    return "\n".join(parts)


def _section(title: str, table_id: str, headers: list[str], rows: str, *, intro: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    paragraph = f"<p>{_e(intro)}</p>" if intro else ""
    return f"<h2>{_e(title)}</h2>{paragraph}<table id={table_id}><tr>{head}</tr>{rows}</table>"


def _holds(facts: CampaignFacts) -> str:
    rows = "".join(
        f"<tr class=hold data-by='{_e(h.by)}' data-t='{h.t_s if h.t_s is not None else ''}'>"
        f"<td>{_when(h.time_ns)}</td><td>{_t(h.t_s)}</td><td>{_e(h.by)}</td>"
        f"<td>{_e(h.reason)}</td><td class=n>"
        f"{'' if h.duration_s is None else f'{h.duration_s:.1f} s'}</td></tr>"
        for h in facts.holds
    )
    return _section(
        f"Holds ({len(facts.holds)})", "holds", ["time", "T", "by", "cause", "lasted"], rows
    )


def _timeline(facts: CampaignFacts) -> str:
    rows = "".join(
        f"<tr><td>{_when(e.time_ns)}</td><td>{_t(e.t_s)}</td><td>{_e(e.kind)}</td>"
        f"<td>{_e(e.message)}</td></tr>"
        for e in facts.timeline
    )
    return _section("Countdown timeline", "timeline", ["time", "T", "event", "detail"], rows)


def _curves(curves: list[Curve]) -> str:
    figures = "".join(_plot(curve) for curve in curves)
    return f"<h2>Loading curves</h2><div class=curves id=curves>{figures}</div>"


def _plot(curve: Curve, width: int = 420, height: int = 160) -> str:
    t0, t1 = int(curve.time_ns[0]), int(curve.time_ns[-1])
    low, high = float(np.nanmin(curve.value)), float(np.nanmax(curve.value))
    span_t, span_v = max(t1 - t0, 1), max(high - low, 1e-9)
    xs = (curve.time_ns - t0) / span_t * (width - 10) + 5
    ys = height - 5 - (curve.value - low) / span_v * (height - 10)
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    return (
        f"<figure data-channel='{_e(curve.channel)}' data-points={len(curve.value)}>"
        f"<svg width={width} height={height} role=img aria-label='{_e(curve.channel)}'>"
        f"<polyline fill=none stroke='#1f5fa8' stroke-width=1.5 points='{points}'/></svg>"
        f"<figcaption>{_e(curve.channel)}: {low:.2f} to {high:.2f} {_e(curve.unit)}"
        "</figcaption></figure>"
    )


def _margins(facts: CampaignFacts) -> str:
    rows = []
    for m in sorted(facts.margins, key=lambda m: (m.margin is None, m.margin or 0.0)):
        margin = m.margin
        style = "" if margin is None else " class=crossed" if margin < 0 else ""
        if margin is not None and 0 <= margin < 0.05 * abs(m.limit):
            style = " class=tight"
        rows.append(
            f"<tr{style} data-redline='{_e(m.redline)}' data-side={m.side} "
            f"data-closest='{'' if m.closest is None else repr(m.closest)}'>"
            f"<td>{_e(m.redline)}</td><td>{m.side} {m.limit:g}</td>"
            f"<td class=n>{'no data' if m.closest is None else f'{m.closest:g}'}</td>"
            f"<td class=n>{'' if margin is None else f'{margin:+.4g}'}</td>"
            f"<td>{_e(m.channel or '')}</td></tr>"
        )
    return _section(
        "Redline margins",
        "margins",
        ["redline", "limit", "closest", "margin", "channel"],
        "".join(rows),
        intro="Closest approach of each limit redline's channels (GOOD samples); negative: "
        "the limit was crossed.",
    )


def _alarms(facts: CampaignFacts) -> str:
    rows = "".join(
        f"<tr data-alarm='{_e(a.alarm)}'><td>{_when(a.time_ns)}</td><td>{_e(a.alarm)}</td>"
        f"<td>{_e(a.severity)}</td><td>{_e(a.message)}</td></tr>"
        for a in facts.alarms
    )
    return _section(
        f"Alarms ({len(facts.alarms)})", "alarms", ["time", "alarm", "severity", "message"], rows
    )


def _commands(facts: CampaignFacts) -> str:
    rows = "".join(
        f"<tr data-command='{_e(c.command)}' data-outcome={c.outcome} "
        f"data-ms='{'' if c.verified_ms is None else c.verified_ms}'>"
        f"<td>{_when(c.time_ns)}</td><td>{_e(c.command)}</td><td>{_e(c.by)}</td>"
        f"<td>{_e(c.outcome)}</td><td class=n>"
        f"{'' if c.verified_ms is None else f'{c.verified_ms:.0f} ms'}</td></tr>"
        for c in facts.commands
    )
    return _section(
        f"Commands ({len(facts.commands)})",
        "commands",
        ["issued", "command", "by", "outcome", "verified in"],
        rows,
    )


def _links(facts: CampaignFacts) -> str:
    rows = "".join(
        f"<tr data-device='{_e(q.device)}' data-good='{q.good}' data-samples='{q.samples}'>"
        f"<td>{_e(q.device)}</td><td class=n>{q.losses}</td><td class=n>{q.samples:,}</td>"
        f"<td class=n>{100 * q.good_share:.2f} %</td></tr>"
        for q in facts.links
    )
    return _section("Link quality", "links", ["device", "links lost", "samples", "GOOD"], rows)


def write_pdf(html_file: Path, pdf: Path, *, timeout_s: float = 120.0) -> None:
    """Print the HTML report to PDF with headless Chromium."""
    browser = next((found for name in CHROMIUM if (found := shutil.which(name))), None)
    if browser is None:
        raise ReportError("a PDF needs Chromium (Debian package chromium); the HTML is written")
    # The browser found on PATH, our own file's URI and fixed flags: no outside input.
    result = subprocess.run(  # noqa: S603
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            html_file.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0 or not pdf.exists():
        raise ReportError(f"Chromium could not print the report: {result.stderr.strip()[-500:]}")
