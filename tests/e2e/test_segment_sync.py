"""A test-segment sync (the dashboard's) writes through the engine's batch writer: what it
writes must leave the engine's own state as a scheduled cycle's writes do."""

from __future__ import annotations

import pytest

from sync_engine.access import Identity
from sync_engine.segment import apply_segment

pytestmark = pytest.mark.e2e

ADMIN = Identity(name="admin", admin=True, via="local")


def test_a_segment_sync_folds_what_it_wrote_into_the_mirror(small_pair):
    """The values a segment sync writes are in the engine's copy of the records afterwards, so
    their echoes read as unchanged, as after a scheduled cycle's writes."""
    engine = small_pair.engine()
    engine.run_once(dry_run=True)  # both systems read into the mirror, nothing written
    with engine.store.read() as conn:
        hs_ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM records WHERE system = 'hubspot' AND object = 'contacts' "
                "ORDER BY id LIMIT 300"
            ).fetchall()
        ]
    report = apply_segment(engine, hs_ids, actor=ADMIN)
    with engine.store.read() as conn:
        rows = conn.execute(
            """
            SELECT c.sf_id, c.field, c.new_value, r.payload ->> c.field FROM field_changes c
            JOIN records r ON r.system = 'salesforce' AND r.id = c.sf_id
            WHERE c.run_id = ? AND c.direction = 'hubspot_to_salesforce'
                AND c.reason <> 'created'
            """,
            [report.run_id],
        ).fetchall()
    assert rows, "the segment updated linked Salesforce records"
    stale = [row for row in rows if (row[3] or "") != (row[2] or "")]
    assert not stale, stale[:5]
