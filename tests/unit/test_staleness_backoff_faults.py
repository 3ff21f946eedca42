"""Three small pure pieces: the staleness watchdog, reconnect backoff and fault specs.

Time is an argument to the watchdog, and the backoff takes a seeded random generator, so
every test here is exact and repeatable.
"""

from __future__ import annotations

import math
import random

import numpy as np
import numpy.typing as npt
import pytest

from groundseg.drivers.backoff import Backoff
from groundseg.telemetry.staleness import StalenessWatchdog
from hw_sim.faults import Fault, FaultKind, FaultSpecError, parse_fault

# -- staleness ------------------------------------------------------------------------

PERIODS = [0.5, 0.1, 1.0]
"""Channel 0 at 2 Hz, channel 1 at 10 Hz, channel 2 at 1 Hz."""
K = 3.0
START = 100.0


def idx(*channels: int) -> npt.NDArray[np.intp]:
    return np.array(channels, dtype=np.intp)


def watchdog() -> StalenessWatchdog:
    return StalenessWatchdog(PERIODS, stale_after_periods=K, now=START)


def test_observed_channel_goes_stale_k_periods_after_its_sample() -> None:
    dog = watchdog()
    dog.observe(idx(0, 1, 2), now=110.0)
    assert dog.expire(110.0 + K * 0.5 - 0.001).tolist() == [1]
    assert dog.expire(110.0 + K * 0.5).tolist() == [0]
    assert dog.stale.tolist() == [True, True, False]


def test_stale_channel_is_reported_once() -> None:
    dog = watchdog()
    dog.observe(idx(0, 1, 2), now=110.0)
    assert dog.expire(115.0).tolist() == [0, 1, 2]
    assert dog.expire(116.0).tolist() == []
    assert dog.expire(200.0).tolist() == []


def test_never_observed_channel_goes_stale_k_periods_after_construction() -> None:
    dog = watchdog()
    assert dog.expire(START + K * 0.1 - 0.001).tolist() == []
    assert dog.expire(START + K * 0.1).tolist() == [1]
    assert dog.expire(START + K * 0.5).tolist() == [0]
    assert dog.expire(START + K * 1.0).tolist() == [2]


def test_observing_a_stale_channel_revives_it() -> None:
    dog = watchdog()
    assert dog.expire(START + 10.0).tolist() == [0, 1, 2]
    dog.observe(idx(2), now=120.0)
    assert dog.stale.tolist() == [True, True, False]
    assert dog.expire(120.0 + K * 1.0 - 0.001).tolist() == []
    assert dog.expire(120.0 + K * 1.0).tolist() == [2]


def test_a_good_sample_pushes_the_deadline_back() -> None:
    dog = watchdog()
    dog.observe(idx(2), now=START + 2.0)
    assert dog.expire(START + K * 1.0).tolist() == [0, 1]
    assert dog.expire(START + 2.0 + K * 1.0).tolist() == [2]


def test_next_deadline_is_the_earliest_fresh_deadline() -> None:
    dog = watchdog()
    assert dog.next_deadline() == START + K * 0.1
    dog.observe(idx(1), now=START + 1.0)
    assert dog.next_deadline() == START + 1.0 + K * 0.1
    assert dog.expire(START + 1.0 + K * 0.1).tolist() == [1]
    assert dog.next_deadline() == START + K * 0.5


def test_next_deadline_skips_stale_channels() -> None:
    dog = watchdog()
    dog.expire(START + K * 0.5)
    assert dog.next_deadline() == START + K * 1.0


def test_next_deadline_is_inf_when_all_are_stale() -> None:
    dog = watchdog()
    dog.expire(START + K * 1.0)
    assert math.isinf(dog.next_deadline())
    assert dog.next_deadline() > 0


def test_mark_stale_returns_only_channels_not_already_stale() -> None:
    dog = watchdog()
    dog.expire(START + K * 0.1)
    assert dog.mark_stale(idx(0, 1)).tolist() == [0]
    assert dog.mark_stale(idx(0, 1, 2)).tolist() == [2]
    assert dog.mark_stale(idx(0, 1, 2)).tolist() == []
    assert dog.stale.tolist() == [True, True, True]


def test_marked_stale_channel_is_not_reported_again_by_expire() -> None:
    dog = watchdog()
    dog.mark_stale(idx(0))
    assert dog.expire(START + K * 1.0).tolist() == [1, 2]


def test_stale_property_is_a_copy() -> None:
    dog = watchdog()
    snapshot = dog.stale
    snapshot[:] = True
    assert dog.stale.tolist() == [False, False, False]


# -- backoff --------------------------------------------------------------------------


def test_backoff_bound_doubles_from_initial_and_delay_stays_in_upper_half() -> None:
    backoff = Backoff(initial_s=0.05, cap_s=2.0, rng=random.Random(1))
    for attempt in range(5):
        bound = 0.05 * 2.0**attempt
        delay = backoff.next_delay()
        assert bound / 2.0 <= delay <= bound, (attempt, delay)


def test_backoff_grows_exponentially() -> None:
    """Two attempts on, the shortest possible delay exceeds the longest possible one before."""
    backoff = Backoff(initial_s=0.05, cap_s=100.0, rng=random.Random(2))
    delays = [backoff.next_delay() for _ in range(10)]
    assert all(later > earlier for earlier, later in zip(delays, delays[2:], strict=False))
    assert delays[9] >= 0.05 * 2.0**9 / 2.0


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_backoff_never_exceeds_the_cap_and_stays_above_half_of_it(seed: int) -> None:
    backoff = Backoff(rng=random.Random(seed))
    delays = [backoff.next_delay() for _ in range(100)]
    assert max(delays) <= 2.0
    assert min(delays[10:]) >= 1.0
    assert backoff.cap_s == 2.0


def test_backoff_jitter_spreads_delays() -> None:
    """Two drivers with different generators do not reconnect in lockstep."""
    first = Backoff(rng=random.Random(1))
    second = Backoff(rng=random.Random(2))
    assert [first.next_delay() for _ in range(5)] != [second.next_delay() for _ in range(5)]


def test_backoff_reset_starts_over_from_initial() -> None:
    backoff = Backoff(initial_s=0.05, rng=random.Random(3))
    for _ in range(20):
        backoff.next_delay()
    assert backoff.attempts == 20
    backoff.reset()
    assert backoff.attempts == 0
    assert 0.025 <= backoff.next_delay() <= 0.05


@pytest.mark.parametrize(("initial", "cap"), [(0.0, 2.0), (-1.0, 2.0), (3.0, 2.0)])
def test_backoff_refuses_an_initial_delay_outside_zero_to_cap(initial: float, cap: float) -> None:
    with pytest.raises(ValueError, match="backoff needs 0 < initial"):
        Backoff(initial_s=initial, cap_s=cap)


# -- fault specifications -------------------------------------------------------------

# (spec, kind, target, parameters as given, layer)
DOCUMENTED: list[tuple[str, FaultKind, str, dict[str, float], str]] = [
    ("stuck:lox.s1.ullage_pressure.a", FaultKind.STUCK, "lox.s1.ullage_pressure.a", {}, "sensor"),
    ("stuck:x.y:value=3.5", FaultKind.STUCK, "x.y", {"value": 3.5}, "sensor"),
    ("noise:a.b:sigma=2", FaultKind.NOISE, "a.b", {"sigma": 2.0}, "sensor"),
    ("drift:a.b:rate=0.1", FaultKind.DRIFT, "a.b", {"rate": 0.1}, "sensor"),
    ("stuck_valve:lox.s1.fill_valve", FaultKind.STUCK_VALVE, "lox.s1.fill_valve", {}, "plant"),
    ("leak:lox.s1:rate=0.02", FaultKind.LEAK, "lox.s1", {"rate": 0.02}, "plant"),
    ("overpressure:lox.s1", FaultKind.OVERPRESSURE, "lox.s1", {}, "plant"),
    ("force:pad.area_clear:value=0", FaultKind.FORCE, "pad.area_clear", {"value": 0.0}, "plant"),
    ("dropout:plc", FaultKind.DROPOUT, "plc", {}, "link"),
    ("disconnect:plc", FaultKind.DISCONNECT, "plc", {}, "link"),
    ("slow:gas_panel:delay_ms=150", FaultKind.SLOW, "gas_panel", {"delay_ms": 150.0}, "link"),
    (
        "late:gas_panel:delay_ms=400,count=2",
        FaultKind.LATE,
        "gas_panel",
        {"delay_ms": 400.0, "count": 2.0},
        "link",
    ),
    ("corrupt:umbilical:rate=0.5", FaultKind.CORRUPT, "umbilical", {"rate": 0.5}, "link"),
    (
        "garbage:weather:rate=1,bytes=9",
        FaultKind.GARBAGE,
        "weather",
        {"rate": 1.0, "bytes": 9.0},
        "link",
    ),
]


@pytest.mark.parametrize(
    ("spec", "kind", "target", "params", "layer"),
    DOCUMENTED,
    ids=[d[0] for d in DOCUMENTED],
)
def test_documented_fault_parses(
    spec: str, kind: FaultKind, target: str, params: dict[str, float], layer: str
) -> None:
    fault = parse_fault(spec)
    assert fault.kind is kind
    assert fault.target == target
    assert dict(fault.params) == params
    assert fault.kind.layer == layer


@pytest.mark.parametrize("spec", [d[0] for d in DOCUMENTED])
def test_fault_spec_round_trips_through_parse_fault(spec: str) -> None:
    fault = parse_fault(spec)
    assert fault.spec == spec
    assert parse_fault(fault.spec) == fault


@pytest.mark.parametrize(
    "spec",
    ["stuck:lox.storage.mass:value=812.3456", "drift:lox.s1.level.a:rate=0.0001234567"],
)
def test_fault_spec_keeps_every_digit_of_its_parameters(spec: str) -> None:
    """The spec names the fault exactly; the simulator keys active faults by it."""
    fault = parse_fault(spec)
    assert parse_fault(fault.spec) == fault


@pytest.mark.parametrize(
    ("spec", "name", "default"),
    [
        ("leak:lox.s1", "rate", 0.05),
        ("overpressure:ker.s2", "rate", 0.05),
        ("slow:plc", "delay_ms", 100.0),
        ("late:plc:delay_ms=300", "count", 1.0),
        ("corrupt:plc", "rate", 1.0),
        ("garbage:weather", "bytes", 7.0),
    ],
)
def test_optional_parameter_takes_its_default(spec: str, name: str, default: float) -> None:
    assert parse_fault(spec).param(name) == default


def test_stuck_without_value_holds_the_last_reading() -> None:
    """`stuck` without a value defaults to NaN: freeze whatever the sensor read last."""
    assert math.isnan(parse_fault("stuck:a.b").param("value"))


def test_fault_spec_ignores_surrounding_whitespace() -> None:
    assert parse_fault("  dropout:plc\n") == Fault(kind=FaultKind.DROPOUT, target="plc")


# (case id, spec, phrases in the message)
BAD_SPECS: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "unknown-kind",
        "explode:plc",
        ("unknown fault kind 'explode'", "known: stuck, noise, drift", "garbage"),
    ),
    ("missing-required-parameter", "noise:a.b", ("parameter 'sigma' is required",)),
    ("missing-one-of-two", "late:plc:count=2", ("parameter 'delay_ms' is required",)),
    (
        "unknown-parameter",
        "leak:lox.s1:speed=3",
        ("unknown parameter 'speed'", "takes: rate"),
    ),
    ("parameter-on-parameterless-kind", "dropout:plc:rate=1", ("takes: none",)),
    ("out-of-range", "corrupt:plc:rate=1.5", ("rate=1.5 is outside 0..1",)),
    ("negative-sigma", "noise:a.b:sigma=-1", ("sigma=-1 is outside",)),
    ("non-numeric", "slow:plc:delay_ms=fast", ("delay_ms='fast' is not a number",)),
    ("not-key-value", "slow:plc:150", ("'150' is not KEY=VALUE",)),
    ("missing-target", "dropout", ("expected KIND:TARGET",)),
    ("empty-target", "dropout:", ("a target is required",)),
    ("too-many-parts", "stuck:a.b:value=1:extra", ("expected KIND:TARGET",)),
    ("nan-value", "stuck:a.b:value=nan", ("value=nan is outside",)),
]


@pytest.mark.parametrize(
    ("spec", "phrases"),
    [pytest.param(spec, phrases, id=case) for case, spec, phrases in BAD_SPECS],
)
def test_bad_fault_spec_is_refused_naming_the_problem(spec: str, phrases: tuple[str, ...]) -> None:
    with pytest.raises(FaultSpecError) as caught:
        parse_fault(spec)
    message = str(caught.value)
    assert message.startswith(repr(spec))
    for phrase in phrases:
        assert phrase in message, message


def test_fault_validates_on_construction() -> None:
    with pytest.raises(FaultSpecError, match="parameter 'rate' is required"):
        Fault(kind=FaultKind.DRIFT, target="a.b")


def test_fault_spec_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        parse_fault("melt:plc")
