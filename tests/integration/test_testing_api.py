"""The test-bench kit against hw_sim: a controller started by the plugin's fixture, driven
through its operator API as a bench procedure drives it, and its failure messages."""

from __future__ import annotations

import asyncio

import pytest

from groundseg.testing import Bench, CommandFailed, ExpectationFailed, Faults, ProcedureError

VALVE = "gn2.purge.s1_engine_bay.valve"
OPENED = f"{VALVE}.open_ls == ON"
CLOSED = f"{VALVE}.closed_ls == ON"


async def closed(bench: Bench) -> None:
    await bench.send_and_assert(f"{VALVE}.close", expect=CLOSED, within=10)


async def test_a_command_s_effect_is_awaited_on_the_plant_s_own_switch(bench: Bench) -> None:
    await closed(bench)
    seen = await bench.send_and_assert(f"{VALVE}.open", expect=OPENED, within=10)
    assert seen.condition == OPENED
    assert bench.value(f"{VALVE}.open_ls") == 1.0
    assert bench.sent[-1].command == f"{VALVE}.open"
    assert bench.sent[-1].verified_after_s > 0
    await closed(bench)


async def test_a_wrong_expectation_says_what_was_expected_what_was_seen_and_when(
    bench: Bench,
) -> None:
    await closed(bench)
    with pytest.raises(ExpectationFailed) as failed:
        await bench.await_telemetry(OPENED, within=0.5)
    text = str(failed.value)
    assert text.startswith(f"expected {OPENED} within 0.5 s"), text
    assert f"{VALVE}.open_ls == 1: FALSE" in text, text
    assert f"{VALVE}.open_ls = 0 (OFF), GOOD, sampled " in text, text
    assert "waited from " in text
    assert failed.value.expected == f"{OPENED} within 0.5 s"


async def test_a_sequence_is_awaited_in_order_and_its_failure_names_the_step(
    bench: Bench,
) -> None:
    await closed(bench)
    await bench.send(f"{VALVE}.open")
    first, second = await bench.await_sequence([f"{VALVE}.closed_ls == OFF", OPENED], within=10)
    assert first.time_ns <= second.time_ns
    with pytest.raises(ExpectationFailed) as failed:
        await bench.await_sequence([OPENED, CLOSED], within=0.5)
    text = str(failed.value)
    assert f"expected {CLOSED} (step 2 of 2) within 0.5 s" in text, text
    assert f"{OPENED}: came true at " in text, text
    await closed(bench)


async def test_events_are_counted_and_a_wrong_count_fails(bench: Bench) -> None:
    await closed(bench)
    mark = bench.mark()
    await bench.send(f"{VALVE}.open")

    def this_valve(event: dict[str, object]) -> bool:
        fields = event.get("fields")
        return isinstance(fields, dict) and fields.get("command") == f"{VALVE}.open"

    verified = await bench.assert_event_count(
        "command.verified", count=1, during=1.0, after=mark, where=this_valve
    )
    assert len(verified) == 1
    with pytest.raises(ExpectationFailed) as failed:
        await bench.assert_event_count(
            "command.verified", count=2, during=0.2, after=mark, where=this_valve
        )
    assert "expected exactly 2 events command.verified in 0.2 s" in str(failed.value)
    assert "  1:" in str(failed.value)
    await closed(bench)


async def test_an_injected_sensor_fault_is_seen_and_cleared(bench: Bench, faults: Faults) -> None:
    await faults.inject("stuck:lox.s1.ullage_pressure.a:value=1.234")
    await bench.await_telemetry("lox.s1.ullage_pressure.a == 1.234", within=10)
    await faults.clear()
    await bench.await_telemetry("lox.s1.ullage_pressure.a != 1.234", within=10)


async def test_a_vetoed_command_fails_with_the_controller_s_reason(bench: Bench) -> None:
    """Fast fill before the line is chilled: the interlock says no, and why."""
    with pytest.raises(CommandFailed) as failed:
        await bench.send("lox.fast_fill_valve.open")
    assert failed.value.command == "lox.fast_fill_valve.open"
    assert failed.value.status == 409, failed.value
    assert "chilled transfer line" in failed.value.detail, failed.value.detail
    assert str(failed.value).startswith("command lox.fast_fill_valve.open: ")


async def test_what_the_pad_does_not_have_is_named_before_anything_is_sent(
    bench: Bench,
) -> None:
    before = len(bench.sent)
    with pytest.raises(ProcedureError, match=r"lox\.nowhere"):
        await bench.send_and_assert(f"{VALVE}.open", expect="lox.nowhere > 1", within=1)
    with pytest.raises(ProcedureError, match=r"no command 'lox\.teleport'"):
        await bench.send("lox.teleport")
    assert len(bench.sent) == before


async def test_a_two_person_command_is_armed_approved_by_the_second_account_and_executed(
    bench: Bench,
) -> None:
    mark = bench.mark()
    await bench.send_and_assert(
        "umb.vehicle.ignition.arm", expect="umb.vehicle.ignition.armed == ARMED", within=10
    )
    approved = await bench.await_event("command.approved", within=5, after=mark)
    assert approved["message"] == "umb.vehicle.ignition.arm approved by approver"
    await bench.send_and_assert(
        "umb.vehicle.ignition.safe", expect="umb.vehicle.ignition.armed == SAFE", within=10
    )


async def test_telemetry_is_counted_by_the_times_a_condition_comes_true(bench: Bench) -> None:
    await closed(bench)

    async def open_and_close_twice() -> None:
        for _ in range(2):
            await bench.send_and_assert(f"{VALVE}.open", expect=OPENED, within=10)
            await closed(bench)

    async with asyncio.TaskGroup() as tasks:
        counted = tasks.create_task(bench.assert_telemetry_count(OPENED, count=2, during=8))
        tasks.create_task(open_and_close_twice())
    assert counted.result() == 2
    counting = asyncio.ensure_future(bench.assert_telemetry_count(OPENED, at_most=0, during=10))
    await bench.send(f"{VALVE}.open")
    with pytest.raises(ExpectationFailed) as failed:
        await counting  # fails as soon as the valve shows open, not after 10 s
    assert f"expected {OPENED} to come true exactly 0 times in 10 s" in str(failed.value)
    await closed(bench)
