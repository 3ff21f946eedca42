"""A controller as a procedure sees it: await telemetry, send and assert, count events.

    async with Bench.connect(url, user="conductor", password=...) as bench:
        await bench.send_and_assert(
            "lox.s1.fill_valve.open", expect="lox.s1.fill_valve.open_switch == ON", within=3
        )
        await bench.await_telemetry("lox.line.temp.a < -170", within=600)

The bench talks to the controller's operator API, as a console does, whether the controller
runs a real pad, a bench PLC or the simulator: it logs in, reads the pad's channels and
commands, and follows the live stream (latest values at display rate, every event; missed
events are fetched again). Commands go through the controller's command gate, with its
interlocks, audit and readback verification, so a procedure can do nothing a pad operator
with the same account could not. Every wait has a deadline, and a failure says what was
expected, what was seen and when (`ExpectationFailed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import websockets

from groundseg.rules.conditions import Condition, Truth
from groundseg.testing.expect import (
    ChannelTable,
    ExpectationFailed,
    Latest,
    ProcedureError,
    clock_text,
    expectation,
    seen_text,
)

__all__ = ["Bench", "CommandFailed", "Seen", "Sent", "login"]

Event = dict[str, Any]


class CommandFailed(AssertionError):
    """The controller refused a command, or it was not verified by readback."""

    def __init__(self, command: str, status: int, detail: str) -> None:
        self.command = command
        self.status = status
        self.detail = detail
        super().__init__(f"command {command}: {detail} (HTTP {status})")


@dataclass(frozen=True, slots=True)
class Seen:
    """An expectation came true: at this controller time, this long after the wait began."""

    condition: str
    time_ns: int
    after_s: float


@dataclass(frozen=True, slots=True)
class Sent:
    command: str
    argument: float | None
    verified_after_s: float
    """From the write to the readback that confirmed it, as the gate measured it."""


class Bench:
    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        pad: Mapping[str, Any],
        *,
        approver: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.pad = pad
        self.table = ChannelTable.of(pad["channels"])
        self.commands: dict[str, Mapping[str, Any]] = {c["id"]: c for c in pad["commands"]}
        self.latest = Latest(self.table)
        self.events: list[Event] = []
        """Every event since the bench connected, in the controller's order."""
        self.state: Mapping[str, Any] = {}
        self.now_ns = 0
        """The controller's time at its latest update."""
        self.sent: list[Sent] = []
        self.touched: dict[str, list[tuple[float, float | None]]] = {}
        """The channels the procedure's expectations and commands touched, each with the
        (time s, value) it was seen at from then on: what a report plots."""
        self.log: list[tuple[float, str]] = []
        """(controller time s, what the procedure did and saw), for the report."""
        self._valves = {v["id"]: v for v in pad.get("valves", [])}
        self._http = http
        self._approver = approver
        self._last_seq = 0
        self._changed = asyncio.Event()

    # -- connecting ------------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls,
        url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        approver: tuple[str, str] | None = None,
        approver_token: str | None = None,
        timeout_s: float = 10.0,
    ) -> AsyncIterator[Bench]:
        """Log in (or use a session `token` from `login`), read the pad, follow the stream;
        `approver` (user, password) or `approver_token`: the second person for two-person
        commands."""
        url = url.rstrip("/")
        async with contextlib.AsyncExitStack() as stack:
            http = await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=timeout_s)
            )
            if token is None:
                if user is None or password is None:
                    raise ProcedureError("connect needs a token, or a user and a password")
                token = await login(http, user, password)
            http.headers["Authorization"] = f"Bearer {token}"
            second = None
            if approver is not None or approver_token is not None:
                second = await stack.enter_async_context(
                    httpx.AsyncClient(base_url=url, timeout=timeout_s)
                )
                if approver_token is None:
                    assert approver is not None
                    approver_token = await login(second, *approver)
                second.headers["Authorization"] = f"Bearer {approver_token}"
            pad = (await http.get("/api/pad")).raise_for_status().json()
            bench = cls(url, http, pad, approver=second)
            socket = await stack.enter_async_context(
                websockets.connect(url.replace("http", "ws", 1) + "/api/stream", max_size=None)
            )
            await socket.send(json.dumps({"token": token}))
            async with asyncio.TaskGroup() as tasks:
                follow = tasks.create_task(bench._follow(socket), name="bench-stream")
                await bench._first_update(timeout_s)
                try:
                    yield bench
                finally:
                    follow.cancel()

    async def _first_update(self, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                while not self.now_ns:
                    await self._next_change()
        except TimeoutError:
            raise ProcedureError(
                f"{self.url}: no update from the stream in {timeout_s:g} s"
            ) from None

    async def _follow(self, socket: websockets.ClientConnection) -> None:
        async for message in socket:
            update = json.loads(message)
            if update.get("type") not in ("snapshot", "update"):
                continue
            values = update.get("values", {})
            self.latest.update(values)
            at_s = float(update["time"])
            for channel, trace in self.touched.items():
                if channel in values:
                    trace.append((at_s, values[channel][0]))
            self.state = update.get("state", self.state)
            await self._take_events(update.get("events", []))
            self.now_ns = round(float(update["time"]) * 1e9)
            self._changed.set()

    async def _take_events(self, events: Sequence[Event]) -> None:
        fresh = [e for e in events if int(e["seq"]) > self._last_seq]
        if fresh and int(fresh[0]["seq"]) > self._last_seq + 1 and self._last_seq:
            # A dropped update (a slow procedure): what it carried is in the event log.
            missed = await self._http.get(
                "/api/events", params={"after": self._last_seq, "limit": 5000}
            )
            fresh = [e for e in missed.raise_for_status().json() if int(e["seq"]) > self._last_seq]
        for event in fresh:
            self.events.append(event)
            self._last_seq = int(event["seq"])

    async def _next_change(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    # -- telemetry -------------------------------------------------------------------------

    def expectation(self, condition: str) -> Condition:
        parsed = expectation(condition, self.table)
        self.touch(*(self.table.ids[c] for c in parsed.channels))
        return parsed

    def touch(self, *channels: str) -> None:
        """Follow these channels for the report from now on."""
        for channel in channels:
            if channel not in self.touched:
                self.touched[channel] = [(self.now_ns / 1e9, self.value(channel))]

    def note(self, text: str) -> None:
        self.log.append((self.now_ns / 1e9, text))

    def value(self, channel: str) -> float | None:
        """A channel's latest value (None before any, or without a number)."""
        k = self.table.channel_index(channel)
        value = float(self.latest.value[k])
        return None if math.isnan(value) else value

    async def await_telemetry(self, condition: str, *, within: float) -> Seen:
        """Wait until the condition is TRUE (stale or unknown data never is); fail with what
        was seen once `within` seconds pass."""
        return (await self.await_sequence([condition], within=within))[0]

    async def await_sequence(self, conditions: Sequence[str], *, within: float) -> list[Seen]:
        """Wait for each condition in turn, each after the one before, all within `within`
        seconds; the failure names the first that did not come and what had."""
        parsed = [self.expectation(c) for c in conditions]
        started_ns, started = self.now_ns, time.monotonic()
        seen: list[Seen] = []
        try:
            async with asyncio.timeout(within):
                for text, condition in zip(conditions, parsed, strict=True):
                    while condition.evaluate(self.latest, self.now_ns) is not Truth.TRUE:
                        await self._next_change()
                    seen.append(Seen(text, self.now_ns, time.monotonic() - started))
                    self.note(f"{text}: came true after {seen[-1].after_s:.2f} s")
        except TimeoutError:
            self.note(f"{conditions[len(seen)]}: not seen within {within:g} s")
            failed = parsed[len(seen)]
            done = "".join(
                f"\n  {s.condition}: came true at {clock_text(s.time_ns)} (+{s.after_s:.2f} s)"
                for s in seen
            )
            order = f" (step {len(seen) + 1} of {len(conditions)})" if len(conditions) > 1 else ""
            raise ExpectationFailed(
                expected=f"{conditions[len(seen)]}{order} within {within:g} s",
                seen=seen_text(failed, self.latest, self.now_ns) + done,
                when=f"waited from {clock_text(started_ns)} to {clock_text(self.now_ns)}",
            ) from None
        return seen

    async def assert_telemetry_count(
        self,
        condition: str,
        *,
        during: float,
        count: int | None = None,
        at_least: int = 0,
        at_most: int | None = None,
    ) -> int:
        """Watch `during` seconds and count the times the condition became TRUE (a valve
        that opened twice: 2). Fails as soon as `at_most` is exceeded."""
        parsed = self.expectation(condition)
        low, high = (count, count) if count is not None else (at_least, at_most)
        started_ns = self.now_ns
        was = parsed.evaluate(self.latest, self.now_ns) is Truth.TRUE
        became = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(during):
                while high is None or became <= high:
                    await self._next_change()
                    now = parsed.evaluate(self.latest, self.now_ns) is Truth.TRUE
                    became += now and not was
                    was = now
        if became < low or (high is not None and became > high):
            most = high if high is not None else "any"
            wanted = f"exactly {low}" if low == high else f"{low} to {most}"
            raise ExpectationFailed(
                expected=f"{condition} to come true {wanted} times in {during:g} s",
                seen=f"  {became} times; now:\n" + seen_text(parsed, self.latest, self.now_ns),
                when=f"counted from {clock_text(started_ns)} to {clock_text(self.now_ns)}",
            )
        return became

    # -- commands --------------------------------------------------------------------------

    async def send(self, command: str, argument: float | None = None) -> Sent:
        """Through the command gate (interlocks, audit, write, readback); arm, approve and
        execute for a hazardous command. CommandFailed with the controller's reason."""
        spec = self.commands.get(command)
        if spec is None:
            raise ProcedureError(f"the pad has no command {command!r}")
        valve = self._valves.get(command.rsplit(".", 1)[0])
        if valve is not None:
            self.touch(valve["command"], valve["open_switch"], valve["closed_switch"])
        body = {"argument": argument}
        if not spec["hazardous"]:
            answer = await self._post(command, f"/api/commands/{command}", body)
        else:
            armed = await self._post(command, f"/api/commands/{command}/arm", body)
            if spec["two_person"]:
                if self._approver is None:
                    raise ProcedureError(f"{command} needs a second person: connect an approver")
                await self._post(
                    command, f"/api/armings/{armed['token']}/approve", {}, self._approver
                )
            answer = await self._post(command, f"/api/armings/{armed['token']}/execute", {})
        sent = Sent(command, argument, float(answer["verified_after_s"]))
        self.sent.append(sent)
        shown = command if argument is None else f"{command}({argument:g})"
        self.note(f"sent {shown}: verified by readback in {sent.verified_after_s:.3f} s")
        return sent

    async def check(self, command: str) -> list[dict[str, Any]]:
        """The interlocks withholding the command now (empty: permitted); nothing is sent."""
        if command not in self.commands:
            raise ProcedureError(f"the pad has no command {command!r}")
        answer = await self._http.get(f"/api/commands/{command}/check")
        vetoes: list[dict[str, Any]] = answer.raise_for_status().json()["vetoes"]
        return vetoes

    async def send_and_assert(
        self, command: str, *, expect: str, within: float, argument: float | None = None
    ) -> Seen:
        """Send, then wait for what the command should bring about (its own readback is
        the gate's; `expect` is the plant's answer: a limit switch, a pressure)."""
        self.expectation(expect)  # a typo fails before anything is sent
        await self.send(command, argument)
        return await self.await_telemetry(expect, within=within)

    async def _post(
        self,
        command: str,
        path: str,
        body: Mapping[str, object],
        http: httpx.AsyncClient | None = None,
    ) -> dict[str, Any]:
        answer = await (http or self._http).post(path, json=body)
        if answer.status_code != 200:
            try:
                detail = str(answer.json().get("detail", answer.text))
            except ValueError:
                detail = answer.text
            self.note(f"{command}: refused ({detail})")
            raise CommandFailed(command, answer.status_code, detail)
        result: dict[str, Any] = answer.json()
        return result

    # -- events ----------------------------------------------------------------------------

    def mark(self) -> int:
        """The events so far: pass it as `after` to look only at what follows."""
        return len(self.events)

    def events_of(
        self, kind: str, *, after: int = 0, where: Callable[[Event], bool] | None = None
    ) -> list[Event]:
        return [
            e
            for e in self.events[after:]
            if (e["kind"] == kind or (kind.endswith("*") and e["kind"].startswith(kind[:-1])))
            and (where is None or where(e))
        ]

    async def await_event(
        self,
        kind: str,
        *,
        within: float,
        after: int | None = None,
        where: Callable[[Event], bool] | None = None,
    ) -> Event:
        """The first event of this kind (`alarm.*` for any alarm event) after the mark
        (default: from now) that `where` accepts."""
        start = self.mark() if after is None else after
        started_ns = self.now_ns
        try:
            async with asyncio.timeout(within):
                while not (found := self.events_of(kind, after=start, where=where)):
                    await self._next_change()
        except TimeoutError:
            recent = self.events[start:][-8:]
            raise ExpectationFailed(
                expected=f"an event {kind}{' (with the condition given)' if where else ''}"
                f" within {within:g} s",
                seen="\n".join(_event_text(e) for e in recent) or "  no event at all",
                when=f"waited from {clock_text(started_ns)} to {clock_text(self.now_ns)}",
            ) from None
        return found[0]

    async def assert_event_count(
        self,
        kind: str,
        *,
        during: float,
        count: int | None = None,
        at_least: int = 0,
        at_most: int | None = None,
        after: int | None = None,
        where: Callable[[Event], bool] | None = None,
    ) -> list[Event]:
        """Watch `during` seconds and count the events of this kind: exactly `count`, or
        between `at_least` and `at_most`. Fails as soon as `at_most` is exceeded."""
        low, high = (count, count) if count is not None else (at_least, at_most)
        start = self.mark() if after is None else after
        started_ns = self.now_ns
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(during):
                while high is None or len(self.events_of(kind, after=start, where=where)) <= high:
                    await self._next_change()
        found = self.events_of(kind, after=start, where=where)
        if len(found) < low or (high is not None and len(found) > high):
            wanted = (
                f"exactly {low}"
                if low == high
                else f"{low} to {high if high is not None else 'any'}"
            )
            raise ExpectationFailed(
                expected=f"{wanted} events {kind} in {during:g} s",
                seen=f"  {len(found)}:\n" + "\n".join(_event_text(e) for e in found[:20]),
                when=f"counted from {clock_text(started_ns)} to {clock_text(self.now_ns)}",
            )
        return found


async def login(http: httpx.AsyncClient, user: str, password: str) -> str:
    """A session token (the controller limits logins per address: log in once, connect
    often)."""
    answer = await http.post("/api/login", json={"username": user, "password": password})
    if answer.status_code != 200:
        raise ProcedureError(f"{http.base_url}: login as {user!r} refused: {answer.text[:200]}")
    return str(answer.json()["token"])


def _event_text(event: Event) -> str:
    at = clock_text(round(float(event["time"]) * 1e9))
    return f"  {at} {event['kind']}: {event.get('message', '')}"
