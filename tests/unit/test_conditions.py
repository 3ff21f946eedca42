"""The condition language: parsed once with errors that point at the text, evaluated in
three values so that stale or unknown data never satisfies anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from groundseg.config import PadDefinition
from groundseg.quality import Quality
from groundseg.rules.conditions import ConditionError, PadChannels, Truth, parse_condition

CHANNELS = ["lox.line.temp.a", "lox.vent.position", "p.a", "p.b", "p.c", "wx.gust"]
STATES = {"lox.vent.position": {0: "CLOSED", 1: "OPEN", 2: "TRANSIT"}}
SECOND = 1_000_000_000
T = 1_000 * SECOND


class Pad:
    def has_channel(self, channel_id: str) -> bool:
        return channel_id in CHANNELS

    def channel_index(self, channel_id: str) -> int:
        return CHANNELS.index(channel_id)

    def channel_states(self, channel_id: str) -> dict[int, str]:
        return STATES.get(channel_id, {})


@dataclass
class Latest:
    value: np.ndarray = field(default_factory=lambda: np.zeros(len(CHANNELS)))
    time_ns: np.ndarray = field(default_factory=lambda: np.full(len(CHANNELS), T, np.int64))
    quality: np.ndarray = field(default_factory=lambda: np.zeros(len(CHANNELS), np.uint8))

    def set(self, channel_id: str, value: float, quality: Quality = Quality.GOOD) -> Latest:
        i = CHANNELS.index(channel_id)
        self.value[i] = value
        self.quality[i] = quality
        return self


def truth(text: str, latest: Latest, now: int = T) -> Truth:
    return parse_condition(text, Pad()).evaluate(latest, now)


def test_comparisons_read_the_latest_values() -> None:
    latest = Latest().set("lox.line.temp.a", -175.0)
    assert truth("lox.line.temp.a < -170", latest) is Truth.TRUE
    assert truth("-170 > lox.line.temp.a", latest) is Truth.TRUE
    assert truth("lox.line.temp.a >= -170", latest) is Truth.FALSE
    assert truth("lox.line.temp.a == -175", latest) is Truth.TRUE
    assert truth("lox.line.temp.a != -175.0", latest) is Truth.FALSE
    assert truth("lox.line.temp.a < p.a", latest.set("p.a", 0.0)) is Truth.TRUE


def test_and_binds_tighter_than_or_and_not_tighter_than_both() -> None:
    latest = Latest().set("p.a", 1).set("p.b", 0).set("p.c", 0)
    assert truth("p.a > 0 or p.b > 0 and p.c > 0", latest) is Truth.TRUE
    assert truth("(p.a > 0 or p.b > 0) and p.c > 0", latest) is Truth.FALSE
    assert truth("not p.b > 0 and p.a > 0", latest) is Truth.TRUE
    assert truth("not (p.a > 0 and p.b > 0)", latest) is Truth.TRUE


def test_state_names_compare_with_the_channel_s_states() -> None:
    latest = Latest().set("lox.vent.position", 1)
    assert truth("lox.vent.position == OPEN", latest) is Truth.TRUE
    assert truth("OPEN == lox.vent.position", latest) is Truth.TRUE
    assert truth("lox.vent.position != CLOSED", latest) is Truth.TRUE
    assert truth("lox.vent.position == TRANSIT", latest) is Truth.FALSE


def test_k_of_n_votes_redundant_sensors() -> None:
    vote = "2 of (p.a > 3.2, p.b > 3.2, p.c > 3.2)"
    assert truth(vote, Latest().set("p.a", 3.3).set("p.b", 3.4)) is Truth.TRUE
    assert truth(vote, Latest().set("p.a", 3.3)) is Truth.FALSE


@pytest.mark.parametrize("quality", [Quality.STALE, Quality.INVALID, Quality.REPLAYED])
def test_a_value_that_cannot_be_trusted_is_unknown(quality: Quality) -> None:
    latest = Latest().set("lox.line.temp.a", -175.0, quality)
    assert truth("lox.line.temp.a < -170", latest) is Truth.UNKNOWN
    assert truth("not lox.line.temp.a < -170", latest) is Truth.UNKNOWN, "not unknown is unknown"


def test_simulated_data_counts_like_good_data() -> None:
    latest = Latest().set("lox.line.temp.a", -175.0, Quality.SIMULATED)
    assert truth("lox.line.temp.a < -170", latest) is Truth.TRUE


def test_a_value_older_than_its_channel_allows_is_unknown() -> None:
    condition = parse_condition("p.a > 1", Pad())
    latest = Latest().set("p.a", 2.0)
    limits = np.full(len(CHANNELS), 3 * SECOND, np.int64)
    assert condition.evaluate(latest, T + 2 * SECOND, limits) is Truth.TRUE
    assert condition.evaluate(latest, T + 4 * SECOND, limits) is Truth.UNKNOWN


def test_a_value_that_is_not_a_number_is_unknown() -> None:
    assert truth("p.a > 1", Latest().set("p.a", float("nan"))) is Truth.UNKNOWN


def test_unknown_follows_kleene_logic() -> None:
    latest = Latest().set("p.a", 5).set("p.b", 0, Quality.STALE)
    assert truth("p.a < 1 and p.b > 1", latest) is Truth.FALSE, "false and unknown"
    assert truth("p.a > 1 and p.b > 1", latest) is Truth.UNKNOWN, "true and unknown"
    assert truth("p.a > 1 or p.b > 1", latest) is Truth.TRUE, "true or unknown"
    assert truth("p.a < 1 or p.b > 1", latest) is Truth.UNKNOWN, "false or unknown"
    assert truth("2 of (p.a > 1, p.b > 1, p.c > 1)", latest) is Truth.UNKNOWN, "one vote unknown"
    assert truth("2 of (p.a < 1, p.b > 1, p.c > 1)", latest) is Truth.FALSE, "cannot reach 2"


def test_for_holds_only_after_the_duration_and_says_when_to_look_again() -> None:
    condition = parse_condition("wx.gust > 15 for 2 s", Pad())
    gusty = Latest().set("wx.gust", 17)
    assert condition.evaluate(gusty, T) is Truth.FALSE
    assert condition.next_deadline_ns() == T + 2 * SECOND
    assert condition.evaluate(gusty, T + SECOND) is Truth.FALSE
    assert condition.evaluate(gusty, T + 2 * SECOND) is Truth.TRUE
    assert condition.next_deadline_ns() is None, "done: nothing left to wait for"
    assert condition.evaluate(gusty, T + 3 * SECOND) is Truth.TRUE
    assert condition.next_deadline_ns() is None
    calm = Latest().set("wx.gust", 10)
    assert condition.evaluate(calm, T + 4 * SECOND) is Truth.FALSE
    assert condition.next_deadline_ns() is None
    assert condition.evaluate(gusty, T + 5 * SECOND) is Truth.FALSE, "the timer started again"
    assert condition.next_deadline_ns() == T + 7 * SECOND


def test_for_restarts_when_the_data_goes_unknown() -> None:
    condition = parse_condition("wx.gust > 15 for 500 ms", Pad())
    assert condition.evaluate(Latest().set("wx.gust", 17), T) is Truth.FALSE
    stale = Latest().set("wx.gust", 17, Quality.STALE)
    assert condition.evaluate(stale, T + SECOND // 4) is Truth.UNKNOWN
    assert condition.evaluate(Latest().set("wx.gust", 17), T + SECOND) is Truth.FALSE


def test_durations_take_ms_s_and_min() -> None:
    for text, deadline in (
        ("150 ms", 150_000_000),
        ("2.5 s", 2_500_000_000),
        ("1 min", 60 * SECOND),
    ):
        condition = parse_condition(f"p.a > 0 for {text}", Pad())
        condition.evaluate(Latest().set("p.a", 1), T)
        assert condition.next_deadline_ns() == T + deadline


def test_a_condition_knows_the_channels_it_reads() -> None:
    condition = parse_condition("p.c > 1 and (p.a > p.b or lox.vent.position == OPEN)", Pad())
    assert condition.channels == (1, 2, 3, 4)


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("lox.line.temp.z < -170", 0, "unknown channel 'lox.line.temp.z'"),
        ("lox.vent.position == AJAR", 21, "AJAR is not a state of lox.vent.position"),
        ("lox.vent.position > OPEN", 20, "a state compares only with == or !="),
        ("p.a 3", 4, "expected a comparison"),
        ("(p.a > 3", 8, "expected ')'"),
        ("p.a > 3)", 7, "expected 'and', 'or' or the end"),
        ("", 0, "expected a condition"),
        ("p.a > 3 ; drop", 8, "unexpected character ';'"),
        ("p.a > 3 for 2", 13, "expected a unit of time"),
        ("p.a > 3 for 2 h", 14, "expected a unit of time"),
        ("p.a > 3 for -1 s", 12, "expected a positive duration"),
        ("1 < 2", 0, "a comparison needs at least one channel"),
        ("3 of (p.a > 1, p.b > 1)", 0, "3 of 2 condition(s) can never hold"),
        ("0 of (p.a > 1)", 0, "expected a whole number of conditions"),
        ("p.a > > 3", 6, "expected a channel, a number or a state name"),
        ("__import__('os') > 1", 11, "unexpected character"),
    ],
)
def test_a_bad_condition_gets_an_error_that_points_at_the_text(
    text: str, position: int, message: str
) -> None:
    with pytest.raises(ConditionError) as error:
        parse_condition(text, Pad())
    assert message in error.value.expected
    assert error.value.position == position
    assert str(error.value).endswith(text + "\n    " + " " * position + "^")


@given(
    st.lists(
        st.sampled_from(
            [
                "p.a",
                "p.b",
                "lox.vent.position",
                "OPEN",
                "AJAR",
                "3",
                "-1.5",
                "2",
                "and",
                "or",
                "not",
                "of",
                "for",
                "s",
                "ms",
                "(",
                ")",
                ",",
                "<",
                ">=",
                "==",
                "!=",
                "x.y",
                "@",
            ]
        ),
        max_size=12,
    )
)
def test_any_token_soup_parses_or_fails_with_a_condition_error(words: list[str]) -> None:
    try:
        condition = parse_condition(" ".join(words), Pad())
    except ConditionError:
        return
    assert condition.evaluate(Latest(), T) in set(Truth)


def test_conditions_parse_against_the_reference_pad(pad: PadDefinition) -> None:
    """The pad's own channel ids and state names, as an interlock would use them."""
    condition = parse_condition(
        "lox.line.temp.1 < 100 and lox.chilldown_valve.cmd == OPEN", PadChannels(pad)
    )
    assert condition.channels == tuple(
        sorted((pad.channel("lox.line.temp.1").index, pad.channel("lox.chilldown_valve.cmd").index))
    )
    with pytest.raises(ConditionError, match=r"AJAR is not a state of lox\.chilldown_valve\.cmd"):
        parse_condition("lox.chilldown_valve.cmd == AJAR", PadChannels(pad))


def test_the_examples_in_the_rules_document_parse_against_the_reference_pad(
    pad: PadDefinition,
) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text()
    examples = text.split("```text\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(examples) == 4
    for example in examples:
        parse_condition(example, PadChannels(pad))
