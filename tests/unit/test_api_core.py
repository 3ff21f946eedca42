"""The operator API's pure parts: sessions, accounts, rate limits, the console stream's
queues and snapshots, display history, and the terms that explain a condition."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from groundseg.api.access import ACCESS, ANYONE, may
from groundseg.api.history import History
from groundseg.api.limits import RateLimiter
from groundseg.api.sessions import SessionRefused, Sessions
from groundseg.api.stream import StreamClient, StreamHub
from groundseg.api.users import UserStore
from groundseg.config import PadDefinition
from groundseg.errors import ConfigError
from groundseg.gate.authority import Role, User
from groundseg.quality import Quality
from groundseg.rules.condition_syntax import PadChannels
from groundseg.rules.conditions import Truth, parse_condition
from groundseg.telemetry.batch import SampleBatch
from groundseg.telemetry.bus import Bus
from groundseg.telemetry.events import Event
from groundseg.telemetry.latest import LatestValues

DIRECTOR = User(name="director", roles=frozenset({Role.DIRECTOR}))


# -- sessions -------------------------------------------------------------------------------


def test_a_session_opens_with_its_token_until_it_expires() -> None:
    sessions = Sessions(lifetime_s=60)
    token, session = sessions.start(DIRECTOR, now=100.0)
    assert sessions.check(token, now=159.9).user == DIRECTOR
    assert session.remaining(130.0) == 30.0
    with pytest.raises(SessionRefused, match="expired"):
        sessions.check(token, now=160.0)
    with pytest.raises(SessionRefused, match="unknown"):
        sessions.check(token, now=100.0)  # an expired session is gone for good


def test_unknown_empty_and_ended_tokens_are_refused() -> None:
    sessions = Sessions()
    token, _ = sessions.start(DIRECTOR, now=0.0)
    for forged in ("", "x", token + "x", token.upper()):
        with pytest.raises(SessionRefused):
            sessions.check(forged, now=1.0)
    sessions.end(token)
    with pytest.raises(SessionRefused, match="unknown"):
        sessions.check(token, now=1.0)


def test_revoking_a_user_ends_all_of_their_sessions_only() -> None:
    sessions = Sessions()
    other = User(name="operator", roles=frozenset({Role.OPERATOR}))
    mine = [sessions.start(DIRECTOR, now=float(n))[0] for n in range(3)]
    theirs, _ = sessions.start(other, now=0.0)
    assert sessions.revoke_user("director") == 3
    for token in mine:
        with pytest.raises(SessionRefused):
            sessions.check(token, now=5.0)
    assert sessions.check(theirs, now=5.0).user == other


def test_a_user_s_oldest_session_ends_beyond_the_limit() -> None:
    sessions = Sessions(max_per_user=2)
    first, _ = sessions.start(DIRECTOR, now=0.0)
    second, _ = sessions.start(DIRECTOR, now=1.0)
    third, _ = sessions.start(DIRECTOR, now=2.0)
    with pytest.raises(SessionRefused):
        sessions.check(first, now=3.0)
    assert sessions.check(second, now=3.0)
    assert sessions.check(third, now=3.0)


def test_tokens_are_random_and_only_their_digest_is_kept() -> None:
    sessions = Sessions()
    tokens = {sessions.start(DIRECTOR, now=0.0)[0] for _ in range(5)}
    assert len(tokens) == 5
    assert all(len(t) >= 40 for t in tokens)
    assert not any(t in repr(sessions.__dict__) for t in tokens)


# -- accounts -------------------------------------------------------------------------------


def test_a_password_checks_against_its_hash_and_nothing_else(tmp_path: Path) -> None:
    store = UserStore.with_passwords({"director": ("right horse", [Role.DIRECTOR])})
    store.save(tmp_path / "users.json")
    text = (tmp_path / "users.json").read_text()
    assert "right horse" not in text
    assert "$argon2id$" in text
    assert (tmp_path / "users.json").stat().st_mode & 0o777 == 0o600
    loaded = UserStore.load(tmp_path / "users.json")
    assert loaded.authenticate("director", "right horse") == DIRECTOR
    assert loaded.authenticate("director", "wrong horse") is None
    assert loaded.authenticate("nobody", "right horse") is None


def test_a_bad_users_file_names_the_entry_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(
        json.dumps({"users": [{"name": "x", "roles": ["pilot"], "password": "$argon2id$v"}]})
    )
    with pytest.raises(ConfigError) as wrong:
        UserStore.load(path)
    assert wrong.value.key == "users.0.roles.0"
    assert str(path) in str(wrong.value)
    path.write_text(json.dumps({"users": [{"name": "x", "roles": [], "password": "plain"}]}))
    with pytest.raises(ConfigError, match="password"):
        UserStore.load(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="JSON"):
        UserStore.load(path)


# -- the matrix -----------------------------------------------------------------------------


def test_stopping_the_count_is_open_to_every_role_with_authority_over_the_pad() -> None:
    for endpoint in ("countdown_hold", "countdown_abort"):
        assert ACCESS[endpoint] == {Role.OPERATOR, Role.DIRECTOR, Role.SAFETY}


def test_viewers_and_admins_send_nothing_to_the_pad() -> None:
    commanding = [e for e in ACCESS if e.startswith(("countdown_", "command_", "arming_"))]
    assert commanding
    for endpoint in commanding:
        assert not may(frozenset({Role.VIEWER}), endpoint), endpoint
        assert not may(frozenset({Role.ADMIN}), endpoint), endpoint
    assert ACCESS["state"] == ANYONE


# -- rate limits ----------------------------------------------------------------------------


def test_a_bucket_allows_a_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.take("u", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("u", now=0.0) == pytest.approx(0.5)
    assert limiter.take("u", now=0.5) == 0.0
    assert limiter.take("other", now=0.5) == 0.0, "buckets are per key"


def test_a_limiter_forgets_full_buckets_instead_of_growing() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_keys=10)
    for n in range(100):
        limiter.take(f"address-{n}", now=float(n) * 2)
    assert len(limiter._buckets) <= 10


# -- history --------------------------------------------------------------------------------


def test_history_keeps_the_span_and_shows_unusable_values_as_gaps() -> None:
    history = History(2, period_s=1.0, span_s=3.0)
    for t in range(5):
        quality = np.array([Quality.GOOD, Quality.STALE if t == 3 else Quality.GOOD], np.uint8)
        history.record(float(t), np.array([float(t), 10.0 + t]), quality)
    times, values = history.channel(1, seconds=100, now_unix=4.0)
    assert times == [2.0, 3.0, 4.0]
    assert values == [12.0, None, 14.0]
    assert history.channel(0, seconds=1.5, now_unix=4.0) == ([3.0, 4.0], [3.0, 4.0])


# -- the stream -----------------------------------------------------------------------------


def test_a_slow_client_loses_its_oldest_updates_then_gets_a_snapshot() -> None:
    client = StreamClient("c", channels=None, capacity=3)
    client.replace("snapshot-0")
    for n in range(5):
        client.offer(f"update-{n}")
    assert client.dropped == 3
    assert client.resync
    assert list(client._queue) == ["update-2", "update-3", "update-4"]
    client.replace("snapshot-1")
    assert list(client._queue) == ["snapshot-1"]
    assert not client.resync


def _hub(channels: list[str], client_queue: int = 4) -> tuple[StreamHub, Bus]:
    bus = Bus()
    hub = StreamHub(channels, bus=bus, desk=_QuietDesk(), client_queue=client_queue)
    return hub, bus


class _QuietDesk:
    def state(self) -> dict[str, object]:
        return {"state": "ready"}

    def alarms(self) -> list[dict[str, object]]:
        return []

    def armings(self) -> list[dict[str, object]]:
        return []

    def permissives(self) -> dict[str, object]:
        return {"step": None, "rows": []}


def _batch(channels: list[int], values: list[float], time_ns: int, seq: int = 0) -> SampleBatch:
    n = len(channels)
    return SampleBatch(
        source="plc",
        seq=seq,
        channel=np.array(channels, np.uint32),
        time_ns=np.full(n, time_ns, np.int64),
        value=np.array(values),
        quality=np.zeros(n, np.uint8),
    )


def test_updates_carry_only_what_changed_and_each_client_s_choice() -> None:
    hub, _ = _hub(["lox.a", "lox.b", "ker.a"])
    everything = hub.connect()
    lox = hub.connect(hub.select(["lox.*"]))
    assert json.loads(everything._queue.popleft())["type"] == "snapshot"
    lox._queue.clear()
    hub._take(_batch([0, 2], [1.5, float("nan")], 10**18))
    hub._take(Event(kind="link.up", source="plc", time_ns=10**18, message="up"))
    hub.tick()
    update = json.loads(everything._queue.popleft())
    assert update["type"] == "update"
    assert update["values"] == {"lox.a": [1.5, 0, 1e9], "ker.a": [None, 0, 1e9]}
    assert [e["kind"] for e in update["events"]] == ["link.up"]
    assert json.loads(lox._queue.popleft())["values"] == {"lox.a": [1.5, 0, 1e9]}
    hub.tick()
    assert json.loads(everything._queue.popleft())["values"] == {}, "nothing changed since"


def test_a_hub_never_waits_for_a_stalled_client() -> None:
    hub, _ = _hub(["a"], client_queue=2)
    stalled = hub.connect()
    live = hub.connect()
    for n in range(50):
        hub._take(_batch([0], [float(n)], 10**18 + n))
        hub.tick()
        json.loads(live._queue.popleft())  # the live client reads every update
    assert stalled.dropped > 0
    assert hub.statistics().updates_dropped == stalled.dropped
    hub.tick()
    resync = json.loads(stalled._queue.popleft())
    assert resync["type"] == "snapshot"
    assert resync["values"]["a"][0] == 49.0


# -- conditions explained -------------------------------------------------------------------


def test_terms_say_which_comparison_is_not_true_and_what_was_read(pad: PadDefinition) -> None:
    condition = parse_condition(
        "lox.line.temp.1 < -170 and lox.s1.vent_valve.open_ls == ON", PadChannels(pad)
    )
    latest = LatestValues(len(pad.channels))
    temp = pad.channel("lox.line.temp.1").index
    latest.value[temp] = -150.0
    latest.time_ns[temp] = 0
    latest.quality[temp] = Quality.GOOD
    terms = condition.terms(latest, now_ns=0)
    assert [(t.text, t.truth) for t in terms] == [
        ("lox.line.temp.1 < -170", Truth.FALSE),
        ("lox.s1.vent_valve.open_ls == 1", Truth.UNKNOWN),
    ]
    assert terms[0].seen == "lox.line.temp.1 = -150"
    assert terms[1].seen == "lox.s1.vent_valve.open_ls = stale or unknown"


def test_peeking_at_a_condition_leaves_its_for_timer_alone(pad: PadDefinition) -> None:
    condition = parse_condition("lox.line.temp.1 < -170 for 2 s", PadChannels(pad))
    latest = LatestValues(len(pad.channels))
    temp = pad.channel("lox.line.temp.1").index
    latest.value[temp], latest.time_ns[temp], latest.quality[temp] = -180.0, 0, Quality.GOOD
    assert condition.peek(latest, now_ns=0) is Truth.FALSE
    assert condition.next_deadline_ns() is None, "a display started no timer"
    assert condition.evaluate(latest, now_ns=0) is Truth.FALSE
    assert condition.peek(latest, now_ns=3 * 10**9) is Truth.TRUE
    assert condition.next_deadline_ns() == 2 * 10**9, "the sequencer's timer is untouched"
