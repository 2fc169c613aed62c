"""The sandbox clock on a hand-driven wall: speed, freezing, and pacing up to a hold point."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.sandbox_exchange.clock import SandboxClock, UntilBeforeNowError

START = datetime(2023, 3, 12, 6, 30, tzinfo=UTC)


class Wall:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.s = 1000.0

    def __call__(self) -> float:
        return self.s


def test_an_unpaced_clock_runs_speed_times_faster_than_the_wall() -> None:
    wall = Wall()
    clock = SandboxClock(START, speed=60, wall=wall)
    wall.s += 2
    assert clock.now() == START + timedelta(minutes=2)
    assert clock.state().until is None


def test_a_paced_clock_holds_at_its_start_until_released() -> None:
    wall = Wall()
    clock = SandboxClock(START, speed=60, wall=wall, paced=True)
    wall.s += 3600
    assert clock.now() == START
    assert clock.state().until == START


def test_a_released_clock_runs_to_until_then_holds_there() -> None:
    wall = Wall()
    clock = SandboxClock(START, speed=60, wall=wall, paced=True)
    clock.release(START + timedelta(minutes=3))
    wall.s += 1
    assert clock.now() == START + timedelta(minutes=1)
    wall.s += 500
    assert clock.now() == START + timedelta(minutes=3)


def test_a_clock_released_again_continues_from_its_hold_not_from_the_wall() -> None:
    wall = Wall()
    clock = SandboxClock(START, speed=60, wall=wall, paced=True)
    clock.release(START + timedelta(minutes=1))
    wall.s += 7200  # held for two wall hours
    clock.release(START + timedelta(minutes=5))
    assert clock.now() == START + timedelta(minutes=1)
    wall.s += 0.5
    assert clock.now() == START + timedelta(minutes=1, seconds=30)


def test_a_release_before_the_hold_point_is_reached_extends_it_from_now() -> None:
    wall = Wall()
    clock = SandboxClock(START, speed=60, wall=wall, paced=True)
    clock.release(START + timedelta(minutes=10))
    wall.s += 2
    clock.release(START + timedelta(minutes=4))
    wall.s += 1
    assert clock.now() == START + timedelta(minutes=3)


def test_a_release_earlier_than_now_is_refused_naming_both_times_and_changes_nothing() -> None:
    wall = Wall()
    clock = SandboxClock(START, speed=60, wall=wall, paced=True)
    clock.release(START + timedelta(minutes=2))
    wall.s += 600
    with pytest.raises(UntilBeforeNowError) as refused:
        clock.release(START + timedelta(minutes=1))
    assert "2023-03-12T06:31:00+00:00" in str(refused.value)
    assert "2023-03-12T06:32:00+00:00" in str(refused.value)
    assert clock.state().until == START + timedelta(minutes=2)


def test_releasing_to_none_lets_the_clock_run_freely_from_its_hold() -> None:
    wall = Wall()
    clock = SandboxClock(START, speed=60, wall=wall, paced=True)
    wall.s += 100
    clock.release(None)
    wall.s += 1
    assert clock.now() == START + timedelta(minutes=1)


def test_a_jump_past_the_hold_point_holds_at_the_new_time() -> None:
    wall = Wall()
    clock = SandboxClock(START, speed=60, wall=wall, paced=True)
    clock.set(START + timedelta(hours=1))
    wall.s += 10
    assert clock.now() == START + timedelta(hours=1)


def test_a_frozen_clock_is_unfrozen_by_a_release() -> None:
    wall = Wall()
    clock = SandboxClock(START, speed=60, wall=wall)
    clock.set(START, frozen=True)
    wall.s += 5
    clock.release(START + timedelta(minutes=1))
    wall.s += 10
    assert clock.now() == START + timedelta(minutes=1)
    assert not clock.state().is_frozen
