"""The campaign report of a recorded count: its figures equal those computed directly
from the journal, it renders in headless Chromium, and its PDF converts to page images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import async_playwright

from groundseg.journal.reader import JournalReader
from groundseg.quality import Quality
from tests.integration.recording import RULE, STUCK_AT, TRANSMITTERS, Recording
from tests.integration.test_console_browser import CHROMIUM_FLAGS


@pytest.fixture(scope="module")
def report(recording: Recording, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("report")
    html, pdf = out / "report.html", out / "report.pdf"
    subprocess.run(
        [
            sys.executable, "-m", "groundseg", "report",
            "--journal", str(recording.journal),
            "--pad", str(recording.pad.source),
            "--out", str(html), "--pdf", str(pdf),
        ],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    return html, pdf


def highest_good(recording: Recording, channels: list[str]) -> float:
    reader = JournalReader(recording.journal)
    names = reader.channel_names()
    wanted = [names.index(c) for c in channels]
    best = -np.inf
    for _, batch in reader.samples():
        mine = np.isin(batch.channel, wanted) & (batch.quality == Quality.GOOD)
        if mine.any():
            best = max(best, float(batch.value[mine].max()))
    return best


def good_share(recording: Recording, device: str) -> tuple[int, int]:
    good = total = 0
    for _, batch in JournalReader(recording.journal).samples():
        if batch.source == device:
            total += len(batch)
            good += int((batch.quality == Quality.GOOD).sum())
    return good, total


async def test_the_report_renders_and_its_figures_match_the_journal(
    recording: Recording, report: tuple[Path, Path]
) -> None:
    html, _ = report
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
        )
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(html.as_uri())
            assert await page.title() == "Baiterek campaign report"
            hold = page.locator(f"#holds tr.hold[data-by='{RULE}']")
            assert await hold.count() == 1
            assert float(await hold.get_attribute("data-t") or "nan") == pytest.approx(
                float(recording.hold().fields["t_s"])
            )
            margin = page.locator(f"#margins tr[data-redline='{RULE}']")
            closest = float(await margin.get_attribute("data-closest") or "nan")
            assert closest == highest_good(recording, TRANSMITTERS)
            assert closest >= STUCK_AT - 0.01
            assert "crossed" in (await margin.get_attribute("class") or "")
            for device in recording.pad.devices:
                row = page.locator(f"#links tr[data-device='{device}']")
                counted = (
                    int(await row.get_attribute("data-good") or -1),
                    int(await row.get_attribute("data-samples") or -1),
                )
                assert counted == good_share(recording, device), device
            vent = page.locator("#commands tr[data-command='ker.s1.vent_valve.open']")
            assert await vent.get_attribute("data-outcome") == "verified"
            assert float(await vent.get_attribute("data-ms") or "nan") >= 0
            assert await page.locator(f"#alarms tr[data-alarm='{RULE}']").count() == 1
            assert await page.locator("#curves figure").count() >= 4, "a curve per tank"
            assert errors == []
        finally:
            await browser.close()


def test_the_pdf_converts_to_page_images(report: tuple[Path, Path], tmp_path: Path) -> None:
    _, pdf = report
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / "page")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    pages = sorted(tmp_path.glob("page-*.png"))
    assert pages, "at least one page"
    assert all(p.stat().st_size > 1000 for p in pages), "pages with something on them"
