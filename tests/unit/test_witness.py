"""Witnesses: values that make a condition true or false, checked by evaluating the
condition on them (so a wrong witness fails here, not in a proof test on the pad)."""

from __future__ import annotations

import numpy as np
import pytest

from groundseg.config import PadDefinition
from groundseg.quality import Quality
from groundseg.rules.conditions import PadChannels, Truth, parse_condition
from groundseg.rules.witness import NoWitness, condition_witness, limit_witness
from groundseg.telemetry.latest import LatestValues

CONDITIONS = [
    "lox.line.temp.6 < 120 and lox.s1.vent_valve.open_ls == ON",
    "wx.wind.m10.gust > 15",
    "2 of (lox.s1.ullage_pressure.a > 3.2, lox.s1.ullage_pressure.b > 3.2, lox.s1.ullage_pressure.c > 3.2)",
    "not (umb.power.source == GROUND)",
    "pad.area_clear == CLEAR or pad.estop == STOP",
    "wx.gas.p1.o2 < 19.5 or wx.gas.p1.o2 > 23.5",
    "lox.s1.level.a >= lox.s1.level.b",
]


def evaluate(pad: PadDefinition, text: str, values: dict[str, float]) -> Truth:
    latest = LatestValues(len(pad.channels))
    for channel_id, value in values.items():
        index = pad.channel(channel_id).index
        latest.value[index] = value
        latest.time_ns[index] = 1
        latest.quality[index] = Quality.GOOD
    return parse_condition(text, PadChannels(pad)).evaluate(latest, now_ns=1)


@pytest.mark.parametrize("text", CONDITIONS)
@pytest.mark.parametrize("want", [True, False])
def test_a_witness_makes_its_condition_what_was_asked(
    pad: PadDefinition, text: str, want: bool
) -> None:
    values = condition_witness(parse_condition(text, PadChannels(pad)), pad, want=want)
    for channel_id, value in values.items():
        low, high = pad.channel(channel_id).valid_range or (-np.inf, np.inf)
        assert low <= value <= high, f"{channel_id}={value} outside its valid range"
    assert evaluate(pad, text, values) is (Truth.TRUE if want else Truth.FALSE)


def test_a_contradiction_has_no_witness(pad: PadDefinition) -> None:
    text = "pad.area_clear == CLEAR and pad.area_clear == OCCUPIED"
    with pytest.raises(NoWitness, match="no values make"):
        condition_witness(parse_condition(text, PadChannels(pad)), pad, want=True)


def test_a_limit_witness_lies_beyond_the_limit_inside_the_range(pad: PadDefinition) -> None:
    value = limit_witness(pad, "lox.s1.ullage_pressure.a", above=3.2, below=None)
    assert 3.2 < value <= 10.0
    assert limit_witness(pad, "wx.lightning.distance", above=None, below=10.0) < 10.0
