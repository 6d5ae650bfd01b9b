"""The benchmark's arithmetic: minimum calls from metered work, quantiles, fitted exponents."""

from __future__ import annotations

import pytest

from sync_engine.bench import (
    Work,
    cpu_by_pass,
    deletion_check_calls_per_day,
    fit_exponent,
    minimum_calls,
    percentile,
)

pytestmark = pytest.mark.unit


def test_minimum_counts_full_batches_and_pages_per_pass() -> None:
    work = [
        Work("salesforce", "read", "Lead", "query", 1, 4_500),  # 3 pages: 1 composite + 2 more
        Work("salesforce", "read", "Account", "query", 1, 10),  # rides in the same composite
        Work("hubspot", "read", "contacts", "search", 1, 401),  # 3 pages of 200
        Work("hubspot", "read", "deals", "search", 1, 0),  # an empty search still costs a call
        Work("salesforce", "write", "Lead", "upsert", 1, 200),
        Work("salesforce", "write", "Lead", "upsert", 1, 1),  # 201 records: 2 collections
        Work("hubspot", "write", "contacts", "update", 1, 100),
        Work("hubspot", "write", "contacts->companies", "associate", 1, 1_001),
        Work("salesforce", "read", "Lead", "query", 2, 0),  # the echo pass
    ]
    assert minimum_calls(work) == {"salesforce": 1 + 2 + 2 + 1, "hubspot": 3 + 1 + 1 + 2}


def test_lead_and_contact_updates_share_collections_in_the_minimum() -> None:
    """An update collection may mix types: 250 Lead and 150 Contact updates fit in two calls.
    An upsert names its one type in its URL; Account updates are another sync object's."""
    work = [
        Work("salesforce", "write", "Lead", "update", 1, 250),
        Work("salesforce", "write", "Contact", "update", 1, 150),
        Work("salesforce", "write", "Lead", "upsert", 1, 10),
        Work("salesforce", "write", "Account", "update", 1, 10),
        Work("salesforce", "write", "Contact", "update", 2, 1),  # another pass: its own call
    ]
    assert minimum_calls(work)["salesforce"] == 2 + 1 + 1 + 1


def test_single_pass_minimum_folds_the_echo_pass_into_the_first() -> None:
    work = [
        Work("salesforce", "read", "Lead", "query", 1, 10),
        Work("salesforce", "read", "Lead", "query", 2, 10),
        Work("hubspot", "read", "contacts", "search", 1, 150),
        Work("hubspot", "read", "contacts", "search", 2, 100),
    ]
    assert minimum_calls(work) == {"salesforce": 2, "hubspot": 2}
    assert minimum_calls(work, single_pass=True) == {"salesforce": 1, "hubspot": 2}


def test_percentile_interpolates() -> None:
    assert percentile([], 0.95) is None
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    assert percentile(list(map(float, range(1, 21))), 0.95) == pytest.approx(19.05)


@pytest.mark.parametrize(("power", "expected"), [(1.0, 1.0), (2.0, 2.0), (0.5, 0.5)])
def test_fit_exponent_recovers_the_power(power: float, expected: float) -> None:
    sizes = [10_000, 20_000, 40_000, 80_000]
    assert fit_exponent(sizes, [3 * s**power for s in sizes]) == pytest.approx(expected)


def test_fit_exponent_needs_two_points() -> None:
    assert fit_exponent([10_000], [5.0]) is None


@pytest.mark.parametrize(
    ("start", "passes", "end", "expected"),
    [
        (10.0, [10.5, 14.0], 15.25, [4.0, 1.25]),  # setup counts with the first pass
        (10.0, [10.2], 12.0, [2.0]),
        (10.0, [], 10.1, []),  # a cycle paused before reading
    ],
)
def test_cpu_by_pass_splits_the_cycle_at_each_read(
    start: float, passes: list[float], end: float, expected: list[float]
) -> None:
    assert cpu_by_pass(start, passes, end) == expected


@pytest.mark.parametrize(
    ("minutes", "objects", "calls"),
    [(60, 3, 72), (7, 3, 3 * 206), (60, 1, 24), (0, 3, 0)],  # 0: every idle cycle counts them
)
def test_deletion_checks_per_day(minutes: int, objects: int, calls: int) -> None:
    assert deletion_check_calls_per_day(minutes=minutes, objects=objects) == calls
