"""The pad definition loader: the shipped pad, a table of bad files, and `check-config`.

Bad files are made from one small valid pad (`VALID_PAD`, one device of each link kind) by
changing one thing, so each case shows the one mistake it is about and nothing else.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from groundseg.config import (
    Check,
    GroupSource,
    PadDefinition,
    RegisterSource,
    WordOrder,
    Write,
    parse_pad,
)
from groundseg.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PAD_FILE = ROOT / "pads" / "baiterek.toml"

DEVICES = {"plc", "gas_panel", "umbilical", "weather"}
STAGE_TANKS = ("lox.s1", "lox.s2", "ker.s1", "ker.s2")
DOTTED_LOWERCASE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")

# One device of each link kind; every channel on one line so the locator can find it.
VALID_PAD = """\
schema = 1

[pad]
name = "Test stand"
site = "Bench"
vehicle = "Mock-1"

[devices.plc]
link = "modbus_tcp"
host = "127.0.0.1"
port = 1502
rate_hz = 10.0
map = { coils = 8, discrete_inputs = 8, input_registers = 16, holding_registers = 4 }

[devices.gas_panel]
link = "modbus_rtu"
path = "/dev/ttyUSB0"
unit_id = 7
map = { coils = 0, discrete_inputs = 0, input_registers = 8, holding_registers = 0 }

[devices.umbilical]
link = "umbilical_serial"
path = "/dev/ttyUSB1"
groups = { "1" = 4 }

[devices.weather]
link = "weather_serial"
path = "/dev/ttyUSB2"

[channels]
plc = [
  { id = "lox.vent.cmd", unit = "", table = "coil", address = 0, type = "bool" },
  { id = "lox.vent.open_ls", unit = "", table = "discrete_input", address = 0, type = "bool" },
  { id = "lox.vent.closed_ls", unit = "", table = "discrete_input", address = 1, type = "bool" },
  { id = "lox.tank.pressure", unit = "bar", table = "input_register", address = 0, type = "uint16", scale = 0.001, range = [0.0, 10.0] },
  { id = "plc.status.healthy", unit = "", table = "input_register", address = 1, type = "bool", bit = 0 },
  { id = "plc.status.local", unit = "", table = "input_register", address = 1, type = "bool", bit = 1 },
  { id = "lox.tank.mass", unit = "t", table = "input_register", address = 2, type = "float32" },
  { id = "lox.pump.speed_sp", unit = "rpm", table = "holding_register", address = 0, type = "uint16", range = [0.0, 3000.0] },
  # more plc channels
]
gas_panel = [
  { id = "ghe.supply.temp", unit = "K", table = "input_register", address = 0, type = "uint16", scale = 0.01 },
]
umbilical = [
  { id = "umb.power.source", unit = "", type = "uint16", group = 1, word = 0 },
  { id = "umb.power.transfer_cmd", unit = "", type = "uint16", group = 1, word = 1, point = 512, range = [0.0, 1.0] },
]
weather = [
  { id = "wx.wind.m10.mean", unit = "m/s", sentence = "WND", sensor = "M10", field = "mean" },
]
# more channel lists

[[valves]]
id = "lox.vent"
command = "lox.vent.cmd"
open_switch = "lox.vent.open_ls"
closed_switch = "lox.vent.closed_ls"
window_ms = 2000

[[commands]]
id = "lox.pump.set_speed"
writes = [{ channel = "lox.pump.speed_sp", value = "$argument" }]
verify = [{ channel = "lox.pump.speed_sp", equals = "$argument", tolerance = 1.0 }]
window_ms = 2000
parameter = { name = "speed", unit = "rpm", low = 0.0, high = 3000.0 }
"""

MORE_PLC = "  # more plc channels\n"
"""Insertion point for an extra PLC channel: it becomes `channels.plc[8]`."""


def mutate(old: str, new: str, text: str = VALID_PAD) -> str:
    """`text` with the one occurrence of `old` replaced by `new`."""
    assert text.count(old) == 1, f"{old!r} must occur exactly once in the pad text"
    return text.replace(old, new)


def add_plc_channel(line: str) -> str:
    return mutate(MORE_PLC, f"  {line}\n{MORE_PLC}")


def line_of(text: str, fragment: str) -> int:
    """1-based line number of the one line containing `fragment`."""
    numbers = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(numbers) == 1, f"{fragment!r} must be on exactly one line"
    return numbers[0]


def config_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_pad(text, source="bad.toml")
    return caught.value


# -- the shipped pad ------------------------------------------------------------------


def test_valid_pad_text_parses() -> None:
    """The base of the bad-file table is itself valid, so each case tests only its change."""
    pad = parse_pad(VALID_PAD, source="valid.toml")
    assert {c.device for c in pad.channels} == DEVICES
    assert set(pad.commands) == {"lox.vent.open", "lox.vent.close", "lox.pump.set_speed"}


def test_shipped_pad_has_300_channels_over_the_four_devices(pad: PadDefinition) -> None:
    assert len(pad.channels) >= 300
    assert set(pad.devices) == DEVICES
    assert {c.device for c in pad.channels} == DEVICES


def test_shipped_pad_channel_ids_are_unique(pad: PadDefinition) -> None:
    ids = [c.id for c in pad.channels]
    assert len(set(ids)) == len(ids)


def test_shipped_pad_channel_ids_are_dotted_lowercase_by_subsystem(pad: PadDefinition) -> None:
    badly_named = [c.id for c in pad.channels if not DOTTED_LOWERCASE.match(c.id)]
    assert badly_named == []


def test_shipped_pad_channel_index_is_its_position(pad: PadDefinition) -> None:
    assert [c.index for c in pad.channels] == list(range(len(pad.channels)))


@pytest.mark.parametrize("tank", STAGE_TANKS)
def test_each_stage_tank_has_three_ullage_transmitters_on_one_signal(
    pad: PadDefinition, tank: str
) -> None:
    transmitters = [c for c in pad.channels if c.id.startswith(f"{tank}.ullage_pressure.")]
    assert sorted(c.id for c in transmitters) == [
        f"{tank}.ullage_pressure.{letter}" for letter in "abc"
    ]
    assert {c.sim for c in transmitters} == {f"{tank}.ullage_pressure"}
    assert {c.unit for c in transmitters} == {"bar"}


def test_every_valve_yields_open_and_close_verified_by_its_limit_switches(
    pad: PadDefinition,
) -> None:
    assert len(pad.valves) >= 30
    for valve in pad.valves.values():
        for verb, value in (("open", 1.0), ("close", 0.0)):
            command = pad.commands[f"{valve.id}.{verb}"]
            assert command.writes == (Write(channel=valve.command, value=value),)
            assert set(command.verify) == {
                Check(channel=valve.open_switch, equals=value),
                Check(channel=valve.closed_switch, equals=1.0 - value),
            }
            assert command.window_s == valve.window_s
            assert pad.channel(valve.command).writable


def test_pad_channel_lookup_names_a_missing_channel(pad: PadDefinition) -> None:
    with pytest.raises(KeyError, match=r"no channel 'lox\.nothing'"):
        pad.channel("lox.nothing")


@pytest.mark.parametrize(
    ("what", "attribute"),
    [
        ("pad", "name"),
        ("channel", "id"),
        ("source", "address"),
        ("device", "rate_hz"),
        ("valve", "command"),
        ("command", "window_s"),
    ],
)
def test_pad_objects_are_frozen(pad: PadDefinition, what: str, attribute: str) -> None:
    objects: dict[str, object] = {
        "pad": pad,
        "channel": pad.channel("lox.s1.ullage_pressure.a"),
        "source": pad.channel("lox.s1.ullage_pressure.a").source,
        "device": pad.devices["plc"],
        "valve": pad.valves["lox.s1.fill_valve"],
        "command": pad.commands["lox.s1.fill_valve.open"],
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(objects[what], attribute, 0)


def test_pad_mappings_are_read_only(pad: PadDefinition) -> None:
    with pytest.raises(TypeError):
        pad.devices["spare"] = pad.devices["plc"]  # type: ignore[index]


def test_channel_without_word_order_takes_the_devices_word_order() -> None:
    """`word_order` on a Modbus device is the default for its channels."""
    text = mutate("rate_hz = 10.0\nmap = {", 'rate_hz = 10.0\nword_order = "little"\nmap = {')
    source = parse_pad(text, source="little.toml").channel("lox.tank.mass").source
    assert isinstance(source, RegisterSource)
    assert source.word_order is WordOrder.LITTLE


def test_umbilical_device_has_the_heartbeat_group() -> None:
    pad = parse_pad(VALID_PAD, source="valid.toml")
    assert dict(pad.devices["umbilical"].groups) == {0: 2, 1: 4}
    source = pad.channel("umb.power.transfer_cmd").source
    assert isinstance(source, GroupSource)
    assert source.point == 512


# -- bad pad files --------------------------------------------------------------------

PRESSURE = '{ id = "lox.tank.pressure", unit = "bar", table = "input_register", address = 0'

# (case id, bad text, dotted key in the message (None: no key), phrases in the message)
BAD_PADS: list[tuple[str, str, str | None, tuple[str, ...]]] = [
    (
        "duplicate-channel-id",
        add_plc_channel(
            '{ id = "lox.tank.pressure", unit = "bar", table = "input_register", address = 9 },'
        ),
        "channels.plc[8].id",
        ("duplicate channel id 'lox.tank.pressure'", "first defined at channels.plc[3]"),
    ),
    (
        "overlapping-registers",
        add_plc_channel(
            '{ id = "lox.tank.temp", unit = "K", table = "input_register", address = 0 },'
        ),
        "channels.plc[8].address",
        ("input_register 0 overlaps channel 'lox.tank.pressure'", "channels.plc[3]"),
    ),
    (
        "float32-overlaps-next-register",
        add_plc_channel(
            '{ id = "lox.tank.temp", unit = "K", table = "input_register", address = 3, type = "float32" },'
        ),
        "channels.plc[8].address",
        ("overlaps channel 'lox.tank.mass'",),
    ),
    (
        "two-bit-fields-on-one-bit",
        add_plc_channel(
            '{ id = "plc.status.remote", unit = "", table = "input_register", address = 1, type = "bool", bit = 1 },'
        ),
        "channels.plc[8].address",
        ("bit 1 of input_register 1 overlaps channel 'plc.status.local'",),
    ),
    (
        "whole-register-over-bit-fields",
        add_plc_channel(
            '{ id = "plc.status.word", unit = "", table = "input_register", address = 1 },'
        ),
        "channels.plc[8].address",
        ("input_register 1 overlaps channel 'plc.status.healthy'",),
    ),
    (
        "unknown-device",
        mutate(
            "# more channel lists\n",
            'pump_skid = [\n  { id = "lox.skid.temp", unit = "K", table = "input_register", address = 0 },\n]\n',
        ),
        "channels.pump_skid",
        ("unknown device 'pump_skid'", "gas_panel"),
    ),
    (
        "low-limit-above-high",
        mutate(PRESSURE, f"{PRESSURE}, limits = {{ low = 5.0, high = 1.0 }}"),
        "channels.plc[3].limits",
        ("low limit 5 is above high limit 1",),
    ),
    (
        "unknown-unit",
        mutate('unit = "bar", table', 'unit = "Bar", table'),
        "channels.plc[3].unit",
        ("unknown unit 'Bar'", "expected one of", "'bar'", "'K'", "'%'"),
    ),
    (
        "register-past-map",
        mutate(PRESSURE, PRESSURE.replace("address = 0", "address = 16")),
        "channels.plc[3].address",
        ("input_register address 16 is past the device's map", "map.input_registers = 16"),
    ),
    (
        "float32-past-map",
        mutate(
            'address = 2, type = "float32"',
            'address = 15, type = "float32"',
        ),
        "channels.plc[6].address",
        ("address 16 is past the device's map", "map.input_registers"),
    ),
    (
        "umbilical-word-past-group",
        mutate("group = 1, word = 0", "group = 1, word = 4"),
        "channels.umbilical[0].word",
        ("past group 1's 4 words",),
    ),
    (
        "unknown-umbilical-group",
        mutate("group = 1, word = 0", "group = 3, word = 0"),
        "channels.umbilical[0].group",
        ("unknown group 3", "groups 0, 1"),
    ),
    (
        "unknown-key-with-suggestion",
        mutate(PRESSURE, PRESSURE.replace("address", "adress")),
        "channels.plc[3].adress",
        ("unknown key 'adress'", "did you mean 'address'?"),
    ),
    (
        "unknown-device-key-with-suggestion",
        mutate('host = "127.0.0.1"', 'host = "127.0.0.1"\nprot = 1503'),
        "devices.plc.prot",
        ("unknown key 'prot'", "did you mean 'port'?"),
    ),
    (
        "missing-required-key",
        mutate('host = "127.0.0.1"\n', ""),
        "devices.plc.host",
        ("required key is missing",),
    ),
    (
        "missing-channel-unit",
        mutate('{ id = "ghe.supply.temp", unit = "K", ', '{ id = "ghe.supply.temp", '),
        "channels.gas_panel[0].unit",
        ("required key is missing",),
    ),
    (
        "string-where-number-expected",
        mutate("rate_hz = 10.0", 'rate_hz = "fast"'),
        "devices.plc.rate_hz",
        ("number", "'fast'"),
    ),
    (
        "string-address",
        mutate(PRESSURE, PRESSURE.replace("address = 0", 'address = "0"')),
        "channels.plc[3].address",
        ("integer", "'0'"),
    ),
    (
        "unknown-link-kind",
        mutate('link = "modbus_rtu"', 'link = "profibus"'),
        "devices.gas_panel",
        ("unknown link 'profibus'", "expected one of", "modbus_tcp", "weather_serial"),
    ),
    (
        "toml-syntax-error",
        mutate('site = "Bench"', 'site = "Bench'),
        None,
        ("not valid TOML", f"bad.toml:{line_of(VALID_PAD, 'site = ')}:"),
    ),
    (
        "valve-command-channel-missing",
        mutate('command = "lox.vent.cmd"', 'command = "lox.vent.command"'),
        "valves[0].command",
        ("unknown channel 'lox.vent.command'",),
    ),
    (
        "valve-switch-channel-missing",
        mutate('open_switch = "lox.vent.open_ls"', 'open_switch = "lox.vent.opened"'),
        "valves[0].open_switch",
        ("unknown channel 'lox.vent.opened'",),
    ),
    (
        "command-writes-discrete-input",
        mutate(
            '[{ channel = "lox.pump.speed_sp", value = "$argument" }]',
            '[{ channel = "lox.pump.speed_sp", value = "$argument" }, { channel = "lox.vent.open_ls", value = 1.0 }]',
        ),
        "commands[0].writes[1].channel",
        ("'lox.vent.open_ls' is not writable",),
    ),
    (
        "argument-without-parameter",
        mutate('parameter = { name = "speed", unit = "rpm", low = 0.0, high = 3000.0 }\n', ""),
        "commands[0].parameter",
        ('"$argument"', "required"),
    ),
    (
        "command-value-outside-channel",
        mutate('value = "$argument" }', "value = 5000.0 }"),
        "commands[0].writes[0].value",
        ("5000 is outside what channel 'lox.pump.speed_sp' can take",),
    ),
    (
        "range-not-carried-by-type-and-scale",
        mutate("scale = 0.001, range = [0.0, 10.0]", "scale = 0.001, range = [0.0, 100.0]"),
        "channels.plc[3].range",
        ("range [0, 100] cannot be carried by uint16 with scale 0.001", "0 to 65.535"),
    ),
    (
        "holding-register-bit-field",
        add_plc_channel(
            '{ id = "lox.pump.mode", unit = "", table = "holding_register", address = 1, type = "bool", bit = 2 },'
        ),
        "channels.plc[8].bit",
        ("a bit of a holding register cannot be written",),
    ),
    (
        "weather-field-not-in-sentence",
        mutate('field = "mean"', 'field = "speed"'),
        "channels.weather[0]",
        ("sentence WND has no field 'speed'", "mean, gust, direction"),
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "phrases"),
    [pytest.param(text, key, phrases, id=case) for case, text, key, phrases in BAD_PADS],
)
def test_bad_pad_is_refused_naming_key_and_problem(
    text: str, key: str | None, phrases: tuple[str, ...]
) -> None:
    error = config_error(text)
    message = str(error)
    if key is not None:
        assert f": {key}: " in message, message
        assert key in [p.key for p in error.problems]
    for phrase in phrases:
        assert phrase in message, message
    assert all(line.startswith("bad.toml") for line in message.splitlines())


def test_every_channel_problem_in_a_file_is_reported_together() -> None:
    text = mutate('unit = "bar", table', 'unit = "Bar", table')
    text = mutate('field = "mean"', 'field = "speed"', text)
    text = mutate('address = 0, type = "uint16", scale = 0.01', "adress = 0, scale = 0.01", text)
    error = config_error(text)
    assert {
        "channels.plc[3].unit",
        "channels.weather[0]",
        "channels.gas_panel[0].adress",
        "channels.gas_panel[0].address",
    } <= {p.key for p in error.problems}
    assert len(str(error).splitlines()) == len(error.problems)


def test_every_device_problem_in_a_file_is_reported_together() -> None:
    text = mutate('link = "modbus_rtu"', 'link = "profibus"')
    text = mutate('host = "127.0.0.1"\n', "", text)
    text = mutate('path = "/dev/ttyUSB2"', "path = 2", text)
    error = config_error(text)
    assert len(error.problems) >= 3
    assert {"devices.gas_panel", "devices.plc.host", "devices.weather.path"} <= {
        p.key for p in error.problems
    }


def test_every_layout_problem_is_reported_together() -> None:
    text = add_plc_channel(
        '{ id = "lox.tank.temp", unit = "K", table = "input_register", address = 0 },'
    )
    text = mutate("group = 1, word = 0", "group = 3, word = 0", text)
    error = config_error(text)
    assert len(error.problems) >= 2
    assert {"channels.plc[8].address", "channels.umbilical[0].group"} <= {
        p.key for p in error.problems
    }


def test_layout_error_carries_the_line_of_the_offending_channel() -> None:
    text = add_plc_channel(
        '{ id = "lox.tank.temp", unit = "K", table = "input_register", address = 0 },'
    )
    line = line_of(text, '"lox.tank.temp"')
    error = config_error(text)
    assert [p.line for p in error.problems] == [line]
    assert f"bad.toml:{line}: channels.plc[8].address: " in str(error)


def test_schema_error_carries_the_line_of_the_offending_channel() -> None:
    text = mutate('unit = "bar", table', 'unit = "Bar", table')
    error = config_error(text)
    assert [p.line for p in error.problems] == [line_of(text, '"lox.tank.pressure"')]


def test_duplicate_id_error_carries_the_line_of_the_second_definition() -> None:
    text = add_plc_channel(
        '{ id = "lox.tank.pressure", unit = "bar", table = "input_register", address = 9 },'
    )
    second = [n for n, s in enumerate(text.splitlines(), 1) if '"lox.tank.pressure"' in s][1]
    error = config_error(text)
    assert [p.line for p in error.problems] == [second]


def test_valve_and_command_errors_carry_the_line_of_their_id() -> None:
    text = mutate('command = "lox.vent.cmd"', 'command = "lox.vent.nope"')
    text = mutate(
        'writes = [{ channel = "lox.pump.speed_sp"', 'writes = [{ channel = "lox.pump.nope"', text
    )
    error = config_error(text)
    lines = {p.key: p.line for p in error.problems}
    assert lines["valves[0].command"] == line_of(text, 'id = "lox.vent"')
    assert lines["commands[0].writes[0].channel"] == line_of(text, 'id = "lox.pump.set_speed"')


def test_toml_error_carries_its_line() -> None:
    text = mutate('site = "Bench"', 'site = "Bench')
    error = config_error(text)
    assert [p.line for p in error.problems] == [line_of(text, "site = ")]


# -- groundseg check-config -----------------------------------------------------------


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groundseg", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def test_check_config_accepts_the_shipped_pad_and_counts_channels(pad: PadDefinition) -> None:
    result = check_config(PAD_FILE)
    assert result.returncode == 0, result.stderr
    assert f"{len(pad.channels)} channels" in result.stdout
    assert "is valid" in result.stdout


def test_check_config_refuses_a_bad_file_with_status_2_and_no_traceback(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad_pad.toml"
    bad.write_text(mutate('unit = "bar", table', 'unit = "Bar", table'), encoding="utf-8")
    result = check_config(bad)
    assert result.returncode == 2
    line = line_of(bad.read_text(encoding="utf-8"), '"lox.tank.pressure"')
    assert f"{bad}:{line}: channels.plc[3].unit: unknown unit 'Bar'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_check_config_reports_a_missing_file_without_traceback(tmp_path: Path) -> None:
    result = check_config(tmp_path / "absent.toml")
    assert result.returncode == 2
    assert "absent.toml" in result.stderr
    assert "cannot read file" in result.stderr
    assert "Traceback" not in result.stderr
