"""Where a Salesforce read starts: the whole cursor second until Salesforce has left it, then
past the cursor's id (pure helpers of the engine's read)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_engine.engine import _final_cursors, _sf_after, _sf_settled
from sync_engine.queries import CursorPosition

X = datetime(2026, 11, 29, 12, 0, 5, tzinfo=UTC)
LEAD = "00Q000000000123AAA"
SF = ("salesforce", "Lead")
HS = ("hubspot", "contacts")


@pytest.mark.parametrize(
    ("cursor", "condition"),
    [
        (None, "SystemModstamp >= 2000-01-01T00:00:00Z"),
        (CursorPosition(X, None), "SystemModstamp >= 2026-11-29T12:00:05Z"),
        (CursorPosition(X, LEAD), "SystemModstamp >= 2026-11-29T12:00:05Z"),
        (CursorPosition(X, None, settled=True), "SystemModstamp >= 2026-11-29T12:00:05Z"),
        (
            CursorPosition(X, LEAD, settled=True),
            "(SystemModstamp > 2026-11-29T12:00:05Z OR "
            f"(SystemModstamp = 2026-11-29T12:00:05Z AND Id > '{LEAD}'))",
        ),
    ],
)
def test_only_a_settled_cursor_with_an_id_skips_its_second(cursor, condition):
    assert _sf_after(cursor) == condition


@pytest.mark.parametrize(
    ("sent_after", "settled"),
    [
        (None, False),  # no dated answer yet: nothing is known of Salesforce's clock
        (X, False),
        (X + timedelta(seconds=1, milliseconds=999), False),
        (X + timedelta(seconds=2), True),
        (X + timedelta(hours=1), True),
    ],
)
def test_a_second_is_settled_two_seconds_after_it_began_on_salesforces_clock(sent_after, settled):
    assert _sf_settled(X, sent_after) is settled


def test_a_read_moves_each_cursor_to_the_newest_record_settled_by_salesforces_clock():
    moved = _final_cursors(
        {},
        {SF: (X, LEAD), HS: (X, "901")},
        sent_after=X + timedelta(seconds=3),
    )

    assert moved == {
        SF: CursorPosition(X, LEAD, settled=True),
        HS: CursorPosition(X, "901", settled=False),  # HubSpot ages its stamps by TIE_BREAK_AFTER
    }


def test_a_read_of_nothing_settles_an_unsettled_cursor_once_its_second_is_over():
    before = {SF: CursorPosition(X, LEAD), ("salesforce", "Contact"): CursorPosition(X, None)}

    early = _final_cursors(before, {}, sent_after=X + timedelta(seconds=1))
    late = _final_cursors(before, {}, sent_after=X + timedelta(seconds=2))

    assert early == {}
    assert late == {SF: CursorPosition(X, LEAD, settled=True)}  # without an id, nothing to skip


def test_an_unsettled_read_leaves_the_cursor_unsettled():
    moved = _final_cursors(
        {SF: CursorPosition(X - timedelta(minutes=1), LEAD, settled=True)},
        {SF: (X, LEAD)},
        sent_after=X + timedelta(milliseconds=400),
    )

    assert moved == {SF: CursorPosition(X, LEAD, settled=False)}
