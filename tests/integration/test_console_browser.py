"""The web console in Debian's Chromium, driven by Playwright, against a controller on the
simulated pad: log in, watch the clock count, command a valve and see the synoptic follow,
hold the count, and approve a two-person command as a second director.

Screenshots of each step are kept in test-artefacts/console/ (one folder per test).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from groundseg.config import parse_pad
from tests.conftest import PAD_FILE, ROOT
from tests.integration.api_rig import ApiRig, operator_api, password
from tests.integration.launch_rig import tolerant_pad_text

ARTEFACTS = ROOT / "test-artefacts" / "console"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SPEED = 10.0
STALE_PERIODS = 20.0
VALVE = "lox.chilldown_valve"
"""A valve no interlock holds back: an operator may open it at any time."""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[ApiRig]:
    # Chromium shares the two cores with the controller and the simulator; a page load can
    # hold a reply or a poll up past the pad's margins (a link lost, a value stale), which
    # would hold the count (rightly, on the pad). These tests are about the console.
    pad = parse_pad(tolerant_pad_text(PAD_FILE.read_text(), STALE_PERIODS), source="tolerant")
    async with operator_api(pad, tmp_path, speed=SPEED, stale_periods=STALE_PERIODS) as running:
        await running.launch.wait_fresh(within=20.0)
        yield running


async def _start_count(rig: ApiRig) -> None:
    """Start the count once the page has settled (its load competes for the two cores)."""
    await rig.launch.wait_fresh(within=20.0)
    async with rig.as_user("director") as director:
        assert (await director.post("/api/countdown/start", json={})).status_code == 200


class Shots:
    def __init__(self, test: str) -> None:
        self.folder = ARTEFACTS / test
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0

    async def take(self, page: Page, what: str) -> None:
        self.count += 1
        await page.screenshot(path=self.folder / f"{self.count:02d}-{what}.png")


@dataclass
class Console:
    """One operator's browser window, and the script errors it has shown."""

    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)


async def _logged_in(browser: Browser, rig: ApiRig, user: str) -> Console:
    context = await browser.new_context(viewport={"width": 1920, "height": 1080})
    console = Console(context, await context.new_page())
    console.page.on("pageerror", lambda error: console.errors.append(str(error)))
    page = console.page
    await page.goto(rig.url + "/")
    await page.fill("#login-username", user)
    await page.fill("#login-password", password(user))
    await page.click("#login-submit")
    await expect(page.locator("#whoami")).to_contain_text(user, timeout=15_000)
    return console


async def test_an_operator_logs_in_and_sees_the_clock_count(browser: Browser, rig: ApiRig) -> None:
    shots = Shots("clock")
    console = await _logged_in(browser, rig, "operator")
    page = console.page
    await shots.take(page, "logged-in")
    # The server's role matrix greys out what an operator may not do.
    start = page.locator('[data-countdown="start"]')
    await expect(start).to_be_disabled()
    assert "director" in (await start.get_attribute("title") or "")
    await _start_count(rig)
    clock = page.locator("#t-clock")
    await expect(clock).to_have_text(re.compile(r"T-0?5:59:\d\d|T-06:00:00|T-05:5\d:\d\d"))
    first = await clock.text_content()
    await expect(clock).not_to_have_text(first or "", timeout=10_000)
    await expect(page.locator("#count-state")).to_contain_text(re.compile("COUNTING", re.I))
    await shots.take(page, "counting")
    assert console.errors == []
    await console.context.close()


async def test_a_commanded_valve_moves_on_the_synoptic(browser: Browser, rig: ApiRig) -> None:
    shots = Shots("valve")
    console = await _logged_in(browser, rig, "operator")
    page = console.page
    valve = page.locator(f'[data-valve="{VALVE}"]').first
    await expect(valve).to_have_attribute("data-actual", "CLOSED", timeout=15_000)
    await shots.take(page, "closed")
    await valve.click()
    await page.locator("#valve-panel .vp-open").click()
    await expect(page.locator("#command-select")).to_have_value(f"{VALVE}.open")
    await page.click("#command-send")
    await expect(page.locator("#confirm-dialog")).to_be_visible()
    await expect(page.locator("#confirm-dialog")).to_contain_text(f"{VALVE}.open")
    await shots.take(page, "confirm")
    await page.click("#confirm-yes")
    await expect(valve).to_have_attribute("data-commanded", "OPEN", timeout=15_000)
    await expect(valve).to_have_attribute("data-actual", "OPEN", timeout=30_000)
    await expect(page.locator("#command-result")).to_contain_text("verified", timeout=30_000)
    await shots.take(page, "open")
    assert console.errors == []
    await console.context.close()


async def test_an_operator_holds_the_count_from_the_console(browser: Browser, rig: ApiRig) -> None:
    shots = Shots("hold")
    console = await _logged_in(browser, rig, "operator")
    page = console.page
    await _start_count(rig)
    await expect(page.locator("#count-state")).to_contain_text(re.compile("COUNTING", re.I))
    await page.click("#hold-button")
    await expect(page.locator("#confirm-dialog")).to_be_visible()
    await page.fill("#hold-reason", "weather balloon late")
    await shots.take(page, "hold-asked")
    await page.click("#confirm-yes")
    await expect(page.locator("#count-state")).to_contain_text(
        re.compile("HOLD", re.I), timeout=10_000
    )
    await expect(page.locator("#event-log")).to_contain_text("weather balloon late")
    await shots.take(page, "holding")
    state = rig.launch.sequencer.countdown
    assert state.state.value == "holding"
    assert "weather balloon late" in state.hold_reason
    assert console.errors == []
    await console.context.close()


async def test_a_second_director_approves_a_two_person_command(
    browser: Browser, rig: ApiRig
) -> None:
    shots = Shots("two-person")
    director = await _logged_in(browser, rig, "director")
    director2 = await _logged_in(browser, rig, "director2")
    first, second = director.page, director2.page
    await first.select_option("#command-select", "umb.vehicle.ignition.arm")
    await first.click("#command-arm")
    await expect(first.locator("#confirm-dialog")).to_be_visible()
    await first.click("#confirm-yes")
    arming = first.locator("[data-arming]").first
    await expect(arming).to_contain_text("umb.vehicle.ignition.arm", timeout=10_000)
    await expect(arming.locator(".approve")).to_be_hidden()  # nobody approves their own
    await shots.take(first, "armed")
    theirs = second.locator("[data-arming]").first
    await expect(theirs).to_contain_text("umb.vehicle.ignition.arm", timeout=10_000)
    await theirs.locator(".approve").click()
    if await second.locator("#confirm-dialog").is_visible():
        await second.click("#confirm-yes")
    await expect(first.locator("[data-arming]").first).to_contain_text("director2", timeout=10_000)
    await shots.take(second, "approved-by-second")
    await shots.take(first, "approved-seen-by-first")
    [armed] = rig.launch.controller.gate.authority.armed(  # type: ignore[union-attr]
        rig.launch.controller.clock.monotonic()
    )
    assert armed.approved_by == "director2"
    assert armed.armed_by == "director"
    assert director.errors == []
    assert director2.errors == []
    await director.context.close()
    await director2.context.close()


async def test_hold_and_abort_stay_in_view_on_a_laptop_screen(
    browser: Browser, rig: ApiRig
) -> None:
    shots = Shots("laptop")
    console = await _logged_in(browser, rig, "operator")
    page = console.page
    await page.set_viewport_size({"width": 1366, "height": 768})
    await page.mouse.wheel(0, 5000)  # wherever the operator scrolled to
    for button in ("#hold-button", "#abort-button"):
        await expect(page.locator(button)).to_be_in_viewport()
    for panel in ("#synoptic", "#t-clock", "#alarms", "#event-log"):
        await expect(page.locator(panel)).to_be_visible()
    await shots.take(page, "1366x768")
    await console.context.close()
