"""The console attached to a replay (`groundseg replay --api`): the recorded count, values
and alarms as they stood, time controls (pause, speed, step, seek by wall time or T-time),
and nothing that commands. The replay runs as its own process, as an analyst starts it;
the browser test drives Debian's Chromium through Playwright."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from playwright.async_api import Browser, expect

from groundseg.journal.reader import JournalReader
from groundseg.quality import Quality
from groundseg.replay.desk import LEAD_IN_NS
from groundseg.replay.tclock import wall_time_at_t
from tests.helpers import eventually
from tests.integration.api_rig import password, rig_users
from tests.integration.recording import RULE, Recording
from tests.integration.test_console_browser import Shots, browser

__all__ = ["browser"]

READY = re.compile(r"replay console: (\S+?)/?(?:\s+\(log in as (\S+), password (\S+)\))?$")


@dataclass
class Replay:
    url: str
    user: str
    password: str
    process: asyncio.subprocess.Process

    @contextlib.asynccontextmanager
    async def client(self, user: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
        name = user or self.user
        secret = self.password if user is None else password(user)
        async with httpx.AsyncClient(base_url=self.url, timeout=10.0) as client:
            answer = await client.post("/api/login", json={"username": name, "password": secret})
            assert answer.status_code == 200, answer.text
            client.headers["Authorization"] = f"Bearer {answer.json()['token']}"
            yield client


@contextlib.asynccontextmanager
async def replaying(recording: Recording, *options: str) -> AsyncIterator[Replay]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "groundseg", "replay",
        "--journal", str(recording.journal), "--pad", str(recording.pad.source),
        "--api", "127.0.0.1:0", *options,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
        found = READY.search(line)
        assert found, f"the replay said {line!r}"
        url, user, secret = found.groups()
        yield Replay(url=url, user=user or "", password=secret or "", process=process)
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 20)
    assert process.returncode == 0, (await process.stderr.read()).decode()[-2000:]  # type: ignore[union-attr]


async def test_a_paused_replay_shows_the_recorded_count_alarms_and_values_at_any_moment(
    recording: Recording,
) -> None:
    hold = recording.hold()
    reader = JournalReader(recording.journal)
    names = reader.channel_names()
    async with replaying(recording, "--paused") as replay, replay.client() as client:
        where = (await client.get("/api/replay")).json()
        assert where["paused"]
        assert where["generation"] == 0
        first = where["first"]
        state = (await client.get("/api/state")).json()
        assert state["replay"]["position"] == first
        assert state["state"] in ("ready", "counting")

        # The moment the count held: the header, the alarm board and the rule acting.
        at_hold = {"time": _iso(hold.time_ns + 50_000_000)}
        assert (await client.post("/api/replay/seek", json=at_hold)).status_code == 200
        state = (await client.get("/api/state")).json()
        assert state["state"] == "holding"
        assert hold.message.removeprefix("hold: ") in state["hold_reason"]
        assert state["t_s"] == round(float(hold.fields["t_s"]), 3)
        alarms = (await client.get("/api/alarms")).json()
        assert RULE in [a["id"] for a in alarms]

        async def shown() -> dict[str, tuple[float | None, int]]:
            rows = (await client.get("/api/channels")).json()
            return {r["id"]: (r["value"], r["quality"]) for r in rows if r["value"] is not None}

        async def showing(expected: dict[str, float]) -> bool:
            return {c: v for c, (v, _) in (await shown()).items()} == expected

        # Paused at the hold, the displays hold every channel's last recorded value (the
        # seconds before are played at once), flagged REPLAYED.
        at = hold.time_ns + 50_000_000
        before = _latest(reader, names, at - LEAD_IN_NS, at, batches=0)
        await eventually(lambda: showing(before), within=10.0, what="the values at the hold")
        qualities = {q for _, q in (await shown()).values()}
        assert Quality.GOOD not in qualities
        assert Quality.REPLAYED in qualities

        # Each step releases the next recorded poll cycle.
        step = await client.post("/api/replay/step", json={"batches": 40})
        assert step.status_code == 200
        after = _latest(reader, names, at - LEAD_IN_NS, at, batches=40)
        assert after != before
        await eventually(lambda: showing(after), within=10.0, what="the stepped values")
        position = (await client.get("/api/replay")).json()["position"]
        assert hold.time_ns / 1e9 < position < hold.time_ns / 1e9 + 5


async def test_time_controls_pause_play_speed_and_seek_by_t_time(recording: Recording) -> None:
    hold = recording.hold()
    async with replaying(recording, "--speed", "0.2") as replay, replay.client() as client:
        playing = (await client.get("/api/replay")).json()
        await eventually(
            lambda: _moved_past(client, playing["position"] + 0.05),
            within=10.0,
            what="the replay to play on",
        )
        paused = (await client.post("/api/replay/pause")).json()
        later = (await client.get("/api/replay")).json()
        assert later["paused"]
        assert later["position"] == paused["position"]

        sped = (await client.post("/api/replay/speed", json={"speed": 20})).json()
        assert sped["speed"] == 20
        assert sped["paused"]
        await client.post("/api/replay/play")
        # 20x: to the end of this short record (or a second of it) in well under the wait.
        ahead = min(paused["position"] + 1.0, paused["last"])
        await eventually(
            lambda: _moved_past(client, ahead - 1e-3), within=5.0, what="20x to move on"
        )

        t = float(hold.fields["t_s"]) - 0.2
        found = wall_time_at_t(recording.events, t)
        assert found is not None
        await client.post("/api/replay/pause")
        moved = await client.post("/api/replay/seek", json={"t": f"{t}"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["generation"] == 1
        assert abs(moved.json()["position"] - found / 1e9) < 1e-6
        state = (await client.get("/api/state")).json()
        assert state["state"] == "counting"
        assert abs(state["t_s"] - t) < 0.25


async def test_a_replay_refuses_bad_controls_and_commands_nothing(
    recording: Recording, tmp_path: Path
) -> None:
    users = tmp_path / "users.json"
    rig_users().save(users)
    async with (
        replaying(recording, "--paused", "--users", str(users)) as replay,
        replay.client("director") as director,
    ):
        refused = await director.post("/api/countdown/hold", json={"reason": "replay test"})
        assert refused.status_code == 409
        assert "replay" in refused.json()["detail"]
        command = await director.post("/api/commands/lox.s1.vent_valve.open", json={})
        assert command.status_code == 409
        outside = await director.post("/api/replay/seek", json={"time": "2001-01-01T00:00:00Z"})
        assert outside.status_code == 422
        assert "outside the record" in outside.json()["detail"]
        never = await director.post("/api/replay/seek", json={"t": "T+09:00:00"})
        assert never.status_code == 422
        assert "never read" in never.json()["detail"]
        both = await director.post("/api/replay/seek", json={"t": "-3600", "time": "x"})
        assert both.status_code == 422
        fast = await director.post("/api/replay/speed", json={"speed": 0})
        assert fast.status_code == 422
        assert (await director.post("/api/replay/play")).status_code == 200
        playing = await director.post("/api/replay/step", json={"batches": 1})
        assert playing.status_code == 409
        assert "pause" in playing.json()["detail"]
        async with httpx.AsyncClient(base_url=replay.url) as anonymous:
            assert (await anonymous.post("/api/replay/pause")).status_code == 401


async def test_the_console_attaches_to_a_replay_with_its_time_controls(
    recording: Recording, browser: Browser
) -> None:
    shots = Shots("replay")
    hold = recording.hold()
    async with replaying(recording, "--paused") as replay:
        context = await browser.new_context(viewport={"width": 1920, "height": 1080})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(replay.url + "/")
        await page.fill("#login-username", replay.user)
        await page.fill("#login-password", replay.password)
        await page.click("#login-submit")
        bar = page.locator("#replay-bar")
        await expect(bar).to_be_visible(timeout=15_000)
        # A replay sends nothing: no HOLD/ABORT, no command panel.
        await expect(page.locator("#hold-button")).to_be_hidden()
        await expect(page.locator(".command-panel")).to_be_hidden()
        await shots.take(page, "paused-at-start")

        t = float(hold.fields["t_s"])
        await page.fill("#replay-seek-to", f"{t - 0.2:.3f}")
        await page.press("#replay-seek-to", "Enter")
        await expect(page.locator("#replay-seek-to")).to_have_value("")  # taken
        await page.click("#replay-toggle")  # play
        await expect(page.locator("#count-state")).to_contain_text(
            re.compile("HOLD", re.I), timeout=15_000
        )
        await expect(page.locator("#data-mode")).to_have_text("REPLAYED DATA")
        await expect(page.locator("#link-status")).to_contain_text("replay")
        await expect(page.locator("#alarms")).to_contain_text(RULE)
        await page.click("#replay-toggle")  # pause
        await expect(bar).to_have_attribute("data-paused", "true")
        await page.fill("#replay-seek-to", f"{t - 0.1:.3f}")  # back before the hold, paused
        await page.press("#replay-seek-to", "Enter")
        await expect(page.locator("#replay-seek-to")).to_have_value("")
        await expect(page.locator("#count-state")).to_contain_text(re.compile("COUNT", re.I))
        shown = await page.locator("#replay-position").text_content()
        for _ in range(5):  # five poll cycles: past any sharing the paused millisecond
            await page.click("#replay-step")
        await expect(page.locator("#replay-position")).not_to_have_text(shown or "")
        await shots.take(page, "held")
        assert errors == []
        await context.close()


async def _moved_past(client: httpx.AsyncClient, position: float) -> bool:
    return bool((await client.get("/api/replay")).json()["position"] > position)


def _latest(
    reader: JournalReader, names: list[str], start_ns: int, at_ns: int, *, batches: int
) -> dict[str, float]:
    """Each channel's last recorded value from `start_ns` up to `at_ns`, and in the
    `batches` batches after."""
    latest: dict[str, float] = {}
    earlier = (b for _, b in reader.samples(start_ns=start_ns, end_ns=at_ns))
    later = itertools.islice((b for _, b in reader.samples(start_ns=at_ns)), batches)
    for batch in itertools.chain(earlier, later):
        for channel, value in zip(batch.channel, batch.value, strict=True):
            if not np.isnan(value):
                latest[names[int(channel)]] = float(value)
    return latest


def _iso(time_ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(time_ns / 1e9, tz=datetime.UTC)
    return moment.isoformat(timespec="microseconds")
