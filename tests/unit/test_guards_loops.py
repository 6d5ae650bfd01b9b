"""Loop detection as the engine runs it reads only the fields written often enough to have
flipped: the same findings as detect_loops over the whole window's history."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync_engine import guards, queries
from sync_engine.config import Guards, load_config
from sync_engine.loops import SyncWrite, detect_loops
from sync_engine.store import AuditStore

pytestmark = pytest.mark.unit

SHIPPED = load_config(Path(__file__).resolve().parents[2] / "sync.toml")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("seed", range(4))
def test_loop_findings_are_detect_loops_over_the_whole_window(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    now = [T0]
    store = AuditStore(tmp_path / "sync.duckdb", clock=lambda: now[0])
    fields = [("contact", f"{i}", name) for i in range(30) for name in ("Status", "Title")]
    for _ in range(12):
        with store.write() as tx:
            cycle = tx.start_run("scheduled")
            written = rng.sample(fields, rng.randint(0, 25))
            tx.record_field_history(
                SyncWrite(
                    obj,
                    hs_id,
                    f"00Q{hs_id}",
                    field,
                    rng.choice(["hubspot", "salesforce"]),
                    rng.choice(["A", "B", "C", None]),
                    at=now[0] + timedelta(seconds=j),
                    cycle=cycle,
                )
                for j, (obj, hs_id, field) in enumerate(written)
            )
        now[0] += timedelta(minutes=1)
    found = 0
    with store.read() as conn:
        for window, flips in ((6, 2), (3, 1), (12, 3)):
            config = replace(
                SHIPPED, guards=Guards(loop_window_cycles=window, loop_max_flips=flips)
            )
            for cycle in range(1, 13):
                whole = queries.recent_field_writes(conn, min_cycle=cycle - window + 1)
                expected = detect_loops(
                    whole, window_cycles=window, min_flips=flips, current_cycle=cycle
                )
                assert guards.loop_findings(conn, config, cycle=cycle) == expected
                found += len(expected)
    assert found > 0


def test_only_fields_written_often_enough_are_read(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "sync.duckdb", clock=lambda: T0)
    with store.write() as tx:
        cycle = tx.start_run("scheduled")
        tx.record_field_history(
            SyncWrite(
                "contact",
                hs_id,
                "00Q1",
                "Status",
                "hubspot",
                value,
                at=T0 + timedelta(seconds=i),
                cycle=cycle,
            )
            for i, (hs_id, value) in enumerate((("1", "A"), ("1", "B"), ("2", "A"), ("1", "C")))
        )
    with store.read() as conn:
        assert len(queries.recent_field_writes(conn, min_cycle=0)) == 4
        often = queries.recent_field_writes(conn, min_cycle=0, min_writes=3)
    assert [(w.hs_id, w.value) for w in often] == [("1", "A"), ("1", "B"), ("1", "C")]
