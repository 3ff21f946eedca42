"""Partial integration: a bench with only the gas panel. The pad definition marks the
other devices simulated; the gas panel is a separately started hw_sim instance standing in
for the real one, and the controller starts its own simulator for the rest."""

from __future__ import annotations

from pathlib import Path

from groundseg.config import load_pad
from groundseg.testing import Bench, controller_process, hw_sim_process
from tests.conftest import PAD_FILE

OTHERS = ("plc", "umbilical", "weather")


def gas_panel_bench(directory: Path) -> Path:
    """The shipped pad with every device but the gas panel marked simulated."""
    text = PAD_FILE.read_text()
    for device in OTHERS:
        marked = text.replace(f"[devices.{device}]\n", f"[devices.{device}]\nsimulated = true\n")
        assert marked != text, device
        text = marked
    path = directory / "gas-panel-bench.toml"
    path.write_text(text)
    return path


def test_a_pad_definition_marks_devices_simulated(tmp_path: Path) -> None:
    pad = load_pad(gas_panel_bench(tmp_path))
    assert {d.id for d in pad.devices.values() if d.simulated} == set(OTHERS)
    assert not pad.devices["gas_panel"].simulated


async def test_a_bench_with_only_the_gas_panel_runs_the_rest_on_hw_sim(tmp_path: Path) -> None:
    pad = gas_panel_bench(tmp_path)
    with hw_sim_process(pad, tmp_path / "gas-panel", devices=["gas_panel"]) as (real, faults):
        assert list(real) == ["gas_panel"]
        with controller_process(pad, tmp_path / "controller", endpoints=real) as rig:
            async with Bench.connect(
                rig.url, user="conductor", password=rig.accounts["conductor"]
            ) as bench:
                # Every device answers: the simulated ones from the controller's simulator.
                await bench.await_telemetry(
                    "wx.wind.m10.mean >= 0 and umb.plate.s1_lox.mated == MATED"
                    " and gn2.purge.s1_engine_bay.flow >= 0",
                    within=20,
                )
                # The gas panel is the instance started here: what is done to it is seen.
                await faults.inject("stuck:gn2.purge.s1_engine_bay.flow:value=12.5")
                await bench.await_telemetry("gn2.purge.s1_engine_bay.flow == 12.5", within=10)
                # Commands reach both, each verified by its own readback.
                await bench.send_and_assert(
                    "gn2.purge.s1_engine_bay.valve.open",
                    expect="gn2.purge.s1_engine_bay.valve.open_ls == ON",
                    within=10,
                )
                await bench.send_and_assert(
                    "lox.s1.fill_valve.open", expect="lox.s1.fill_valve.open_ls == ON", within=10
                )
