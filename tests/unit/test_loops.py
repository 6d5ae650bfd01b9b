"""Loop detection: automations fighting through the sync are found, held and explained; people
editing normally are left alone."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from sync_engine.loops import (
    LOOP_ERROR_CATEGORY,
    SyncWrite,
    detect_loops,
    held_fields,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
LEAD = "00Q5e00000AbCdEFGH"


def write(
    cycle: int,
    to: str,
    value: str | None,
    *,
    origin: str = "automation",
    field: str = "hs_lead_status",
    hs_id: str = "51",
    sf_id: str = LEAD,
    second: int = 0,
) -> SyncWrite:
    return SyncWrite(
        object="contact",
        hs_id=hs_id,
        sf_id=sf_id,
        field=field,
        system_written=to,
        value=value,
        at=T0 + timedelta(minutes=cycle, seconds=second),
        cycle=cycle,
        origin=origin,
        sf_object="Lead",
    )


# ---------------------------------------------------------------- the planted automation pair


class AutomationPair:
    """Two records of one person and the seeded rules: the HubSpot workflow turns OPEN into
    IN_PROGRESS, the Salesforce flow turns IN_PROGRESS back into OPEN (in HubSpot spelling)."""

    def __init__(self) -> None:
        self.hubspot = "IN_PROGRESS"  # the workflow already fired on the primed contact
        self.salesforce = "OPEN"
        self.last_synced = "OPEN"

    def sync_cycle(self, cycle: int, held: frozenset) -> list[SyncWrite]:
        """One cycle: carry the side that changed since the last sync, then let automations run."""
        if ("contact", "51", "hs_lead_status") in held:
            return []
        writes = []
        if self.hubspot != self.last_synced:
            self.salesforce = self.last_synced = self.hubspot
            writes.append(write(cycle, "salesforce", self.hubspot))
        elif self.salesforce != self.last_synced:
            self.hubspot = self.last_synced = self.salesforce
            writes.append(write(cycle, "hubspot", self.salesforce))
        if self.salesforce == "IN_PROGRESS":
            self.salesforce = "OPEN"
        if self.hubspot == "OPEN":
            self.hubspot = "IN_PROGRESS"
        return writes


def run_pair(*, cycles: int, detection: bool) -> tuple[list[SyncWrite], int | None]:
    """Run the pair; return every write and the cycle in which the loop was first found."""
    pair, history, held, found_at = AutomationPair(), [], frozenset(), None
    for cycle in range(1, cycles + 1):
        history += pair.sync_cycle(cycle, held)
        if detection:
            findings = detect_loops(history, current_cycle=cycle)
            held = held | held_fields(findings)
            if findings and found_at is None:
                found_at = cycle
    return history, found_at


def test_planted_pair_is_stopped_within_three_cycles():
    history, found_at = run_pair(cycles=10, detection=True)
    assert found_at is not None
    assert found_at <= 3
    assert max(w.cycle for w in history) == found_at  # no write after the hold


def test_without_detection_the_pair_keeps_writing():
    history, found_at = run_pair(cycles=10, detection=False)
    assert found_at is None
    assert [w.cycle for w in history] == list(range(1, 11))


def test_finding_explains_field_values_and_both_writers():
    history = [
        write(1, "salesforce", "IN_PROGRESS"),
        write(2, "hubspot", "OPEN"),
        write(3, "salesforce", "IN_PROGRESS"),
    ]
    (finding,) = detect_loops(history)
    assert finding.key == ("contact", "51", "hs_lead_status")
    assert finding.values == ("IN_PROGRESS", "OPEN", "IN_PROGRESS")
    assert finding.cycles == (1, 2, 3)
    assert [(w.system, w.value) for w in finding.writers] == [
        ("hubspot", "IN_PROGRESS"),
        ("salesforce", "OPEN"),
    ]
    assert finding.message == (
        f"Field hs_lead_status of contact 51 / Lead {LEAD} flipped IN_PROGRESS → OPEN → "
        "IN_PROGRESS over 3 cycles: a HubSpot workflow sets it to IN_PROGRESS after each sync "
        "and a Salesforce automation (flow, process or trigger) sets it back to OPEN. Its sync "
        "is held; turn one of the automations off or make the field one-way in sync.toml, "
        "then release the hold."
    )
    assert LOOP_ERROR_CATEGORY == "custom_code"


def test_people_reverting_each_other_get_advice_for_people():
    history = [
        write(1, "salesforce", "555-0100", origin="human", field="phone"),
        write(2, "hubspot", "555-0199", origin="human", field="phone"),
        write(3, "salesforce", "555-0100", origin="human", field="phone"),
    ]
    (finding,) = detect_loops(history)
    assert "a HubSpot user sets it to 555-0100" in finding.message
    assert "a Salesforce user sets it back to 555-0199" in finding.message
    assert "agree on one value" in finding.message


def test_blank_values_are_shown_as_blank():
    history = [
        write(1, "salesforce", None),
        write(2, "hubspot", "Hot"),
        write(3, "salesforce", None),
    ]
    (finding,) = detect_loops(history)
    assert "(blank) → Hot → (blank)" in finding.message


# ---------------------------------------------------------------- what is not a loop


NOT_LOOPS = {
    "one conflict settled once": [write(1, "hubspot", "OPEN", origin="human")],
    "a person edits A->B then B->C": [
        write(1, "salesforce", "555-0101", origin="human", field="phone"),
        write(2, "salesforce", "555-0102", origin="human", field="phone"),
    ],
    "a person flips a value back on one side": [
        write(1, "salesforce", "B", origin="human"),
        write(2, "salesforce", "A", origin="human"),
        write(3, "salesforce", "B", origin="human"),
    ],
    "both sides edit, values move on": [
        write(1, "salesforce", "B", origin="human"),
        write(2, "hubspot", "C", origin="human"),
        write(3, "salesforce", "D", origin="human"),
    ],
    "a retry repeats a write": [
        write(1, "salesforce", "B"),
        write(1, "salesforce", "B", second=5),
        write(2, "salesforce", "B"),
    ],
    "the flips are further apart than the window": [
        write(1, "salesforce", "IN_PROGRESS"),
        write(4, "hubspot", "OPEN"),
        write(7, "salesforce", "IN_PROGRESS"),
    ],
    "different records never form one loop": [
        write(1, "salesforce", "IN_PROGRESS", hs_id="51"),
        write(2, "hubspot", "OPEN", hs_id="52"),
        write(3, "salesforce", "IN_PROGRESS", hs_id="53"),
    ],
    "different fields never form one loop": [
        write(1, "salesforce", "IN_PROGRESS", field="hs_lead_status"),
        write(2, "hubspot", "OPEN", field="lifecyclestage"),
        write(3, "salesforce", "IN_PROGRESS", field="hs_lead_status"),
    ],
}


@pytest.mark.parametrize("history", NOT_LOOPS.values(), ids=NOT_LOOPS.keys())
def test_legitimate_sequences_are_not_loops(history):
    assert detect_loops(history) == []


def test_a_loop_that_ended_before_the_window_is_not_reported():
    history = [
        write(1, "salesforce", "IN_PROGRESS"),
        write(2, "hubspot", "OPEN"),
        write(3, "salesforce", "IN_PROGRESS"),
    ]
    assert detect_loops(history, current_cycle=3)
    assert detect_loops(history, current_cycle=5) == []


# ---------------------------------------------------------------- thresholds and shapes


PING_PONG = [
    write(c, ("salesforce", "hubspot")[c % 2 == 0], ("A", "B")[c % 2 == 0]) for c in (1, 2, 3, 4, 5)
]


@pytest.mark.parametrize(
    ("min_flips", "window", "expected_flips"),
    [(2, 3, 2), (2, 5, 4), (3, 4, 3), (4, 5, 4), (5, 5, None), (3, 3, None)],
)
def test_flip_threshold_and_window(min_flips, window, expected_flips):
    findings = detect_loops(PING_PONG, window_cycles=window, min_flips=min_flips)
    assert [f.flips for f in findings] == ([] if expected_flips is None else [expected_flips])


def test_a_loop_after_legitimate_edits_is_still_found():
    history = [
        write(1, "salesforce", "NEW", origin="human"),
        write(2, "salesforce", "OPEN", origin="human"),
        write(3, "salesforce", "IN_PROGRESS"),
        write(3, "salesforce", "IN_PROGRESS", second=10),  # retried
        write(4, "hubspot", "OPEN"),
        write(5, "salesforce", "IN_PROGRESS"),
    ]
    (finding,) = detect_loops(history, window_cycles=5)
    assert finding.values == ("IN_PROGRESS", "OPEN", "IN_PROGRESS")
    assert finding.cycles == (3, 4, 5)


def test_order_of_history_does_not_matter():
    history = [*PING_PONG, *NOT_LOOPS["a person edits A->B then B->C"]]
    shuffled = history[:]
    random.Random(7).shuffle(shuffled)
    assert detect_loops(shuffled, window_cycles=5) == detect_loops(history, window_cycles=5)


@pytest.mark.parametrize(("window", "flips"), [(0, 2), (3, 0)])
def test_nonsense_thresholds_are_refused(window, flips):
    with pytest.raises(ValueError):
        detect_loops(PING_PONG, window_cycles=window, min_flips=flips)


# ---------------------------------------------------------------- holds


LOOP = [
    write(1, "salesforce", "IN_PROGRESS"),
    write(2, "hubspot", "OPEN"),
    write(3, "salesforce", "IN_PROGRESS"),
]


@pytest.mark.parametrize(
    ("released", "held"),
    [
        ({}, {("contact", "51", "hs_lead_status")}),
        ({("contact", "51", "hs_lead_status"): 3}, set()),
        ({("contact", "51", "hs_lead_status"): 2}, {("contact", "51", "hs_lead_status")}),
        ({("contact", "99", "hs_lead_status"): 3}, {("contact", "51", "hs_lead_status")}),
    ],
    ids=["held", "released", "released-before-last-flip", "other-record-released"],
)
def test_held_fields(released, held):
    assert held_fields(detect_loops(LOOP), released) == held


def test_a_flip_after_release_holds_the_field_again():
    released = {("contact", "51", "hs_lead_status"): 3}
    again = [*LOOP, write(4, "hubspot", "OPEN")]
    assert held_fields(detect_loops(again, window_cycles=4), released) == {
        ("contact", "51", "hs_lead_status")
    }


# ---------------------------------------------------------------- scale


def test_hundred_thousand_rows_are_checked_fast():
    rng = random.Random(3)
    history = []
    for _ in range(100_000):
        record = str(rng.randrange(100, 20_100))  # never 51
        cycle = rng.randrange(1, 4)
        side = rng.choice(("hubspot", "salesforce"))
        history.append(write(cycle, side, f"v{rng.randrange(1000)}", hs_id=record, origin="human"))
    history += LOOP  # one planted loop, on record 51
    started = time.perf_counter()
    findings = detect_loops(history)
    elapsed = time.perf_counter() - started
    print(f"\ndetect_loops over {len(history):,} rows: {elapsed * 1000:.0f} ms")
    assert ("contact", "51", "hs_lead_status") in held_fields(findings)
    assert elapsed < 2.0
