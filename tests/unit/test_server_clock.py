"""The lower bound on Salesforce's clock that decides when a cursor's second is over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_engine.connectors.server_clock import ServerClock

NOON = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
DATED = "Sun, 29 Nov 2026 12:00:00 GMT"


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_known_before_a_dated_answer():
    assert ServerClock().floor() is None


def test_the_bound_is_carried_forward_by_the_local_monotonic_clock():
    ticks = Ticks()
    clock = ServerClock(monotonic=ticks)
    clock.note(DATED)
    ticks.now += 2.5

    assert clock.floor() == NOON + timedelta(seconds=2.5)


def test_an_older_date_never_moves_the_bound_back():
    """Dates are whole seconds: an answer dated the same second, seen later, is older news than
    the bound carried forward since the first one."""
    ticks = Ticks()
    clock = ServerClock(monotonic=ticks)
    clock.note("Sun, 29 Nov 2026 12:00:01 GMT")
    ticks.now += 0.8
    clock.note(DATED)

    assert clock.floor() == NOON + timedelta(seconds=1.8)


def test_a_later_date_moves_the_bound_forward():
    ticks = Ticks()
    clock = ServerClock(monotonic=ticks)
    clock.note(DATED)
    ticks.now += 0.5
    clock.note("Sun, 29 Nov 2026 12:00:05 GMT")

    assert clock.floor() == NOON + timedelta(seconds=5)


@pytest.mark.parametrize("header", [None, "", "yesterday", "Sun, 29 Nov 2026 12:00:00 -0000"])
def test_a_missing_or_malformed_date_teaches_nothing(header):
    clock = ServerClock()
    clock.note(header)

    assert clock.floor() is None
