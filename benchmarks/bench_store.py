"""Benchmark of the audit store: bulk writes, and the dashboard's queries over 1,000,000 changes.

Run: `.venv/bin/python -m benchmarks.bench_store [--rows N] [--keep PATH]` (prints figures; not
collected by pytest). Builds a store in a temporary directory through the public writer API:
N field_changes (default 1,000,000) in 500 runs for 50,000 linked contacts, with 5,000 conflicts,
2,500 errors, 25,000 api_usage rows and 500,000 synced values; then times what the engine does
per batch and what the dashboard and the CLI ask, without and with candidate ART indexes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sync_engine import queries
from sync_engine.store import (
    ApiUsage,
    AuditStore,
    Conflict,
    FieldChange,
    Link,
    SyncedValue,
    SyncError,
)

CONTACTS = 50_000
RUNS = 500
# Indexes that were candidates for the store's INDEXES; measured here against none.
CANDIDATE_INDEXES = {
    "bench_changes_hs": "field_changes (hs_id)",
    "bench_changes_sf": "field_changes (sf_id)",
    "bench_links_hs": "id_links (hs_id)",
    "bench_links_key": "id_links (match_key)",
}
FIELDS = ("phone", "jobtitle", "lifecyclestage", "hs_lead_status", "company", "city")
START = datetime(2026, 1, 1, tzinfo=UTC)


def _sf_id(n: int) -> str:
    return f"00Q{n:015d}"


def _changes(rng: random.Random, n: int, *, run_id: int, at: datetime) -> list[FieldChange]:
    out = []
    for _ in range(n):
        contact = rng.randrange(CONTACTS)
        to_sf = rng.random() < 0.5
        out.append(
            FieldChange(
                object="contact",
                direction="hubspot_to_salesforce" if to_sf else "salesforce_to_hubspot",
                field=rng.choice(FIELDS),
                old_value=f"old {rng.randrange(1000)}",
                new_value=f"new {rng.randrange(1000)}",
                hs_id=str(contact),
                sf_id=_sf_id(contact),
                reason="hubspot_changed" if to_sf else "salesforce_changed",
                run_id=run_id,
                at=at,
            )
        )
    return out


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and max wall time in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def _report(label: str, fn: Callable[[], Any], repeat: int = 20) -> None:
    median, worst = _timed(fn, repeat)
    print(f"  {label:<58} median {median:8.1f} ms   max {worst:8.1f} ms")


def bulk_insert_figures(store: AuditStore) -> None:
    rng = random.Random(1)
    rows = _changes(rng, 10_000, run_id=0, at=START)

    def record_only() -> None:
        with store.write() as tx:
            started = time.perf_counter()
            tx.record_changes(rows)
            record_ms.append((time.perf_counter() - started) * 1000)

    record_ms: list[float] = []
    print("bulk insert (10,000 field_changes per transaction)")
    _report("whole write(): attach, insert, commit, detach", record_only, repeat=10)
    print(f"  {'record_changes() alone':<58} median {statistics.median(record_ms):8.1f} ms")


def build(store: AuditStore, rows: int) -> None:
    rng = random.Random(7)
    started = time.perf_counter()
    with store.write() as tx:
        tx.link_many(
            Link("contact", str(n), "Lead", _sf_id(n), match_key=f"person{n}@example.com")
            for n in range(CONTACTS)
        )
        tx.set_synced_values(
            SyncedValue(
                "contact", str(n % CONTACTS), _sf_id(n % CONTACTS), f"f{n // CONTACTS}", "v"
            )
            for n in range(500_000)
        )
    runs, per_run = RUNS, rows // RUNS
    for r in range(runs):
        at = START + timedelta(minutes=5 * r)
        with store.write() as tx:
            run_id = tx.start_run("scheduled")
            tx.record_changes(_changes(rng, per_run, run_id=run_id, at=at))
            tx.record_conflicts(
                Conflict(
                    "contact",
                    "lifecyclestage",
                    "lead",
                    "customer",
                    "Working",
                    rule="most_recent",
                    winner="hubspot",
                    hs_id=str(c),
                    sf_id=_sf_id(c),
                    at=at,
                )
                for c in (rng.randrange(CONTACTS) for _ in range(10))
            )
            tx.record_errors(
                SyncError(
                    "salesforce",
                    "contact",
                    "property_value",
                    "STRING_TOO_LONG",
                    "too long",
                    record_id=_sf_id(c),
                    field="Title",
                    at=at,
                )
                for c in (rng.randrange(CONTACTS) for _ in range(5))
            )
            tx.record_api_usage(
                ApiUsage(
                    rng.choice(("salesforce", "hubspot")),
                    "batch",
                    rng.randrange(1, 5),
                    used_today=r * 10,
                    daily_limit=100_000,
                    at=at,
                )
                for _ in range(50)
            )
            tx.finish_run(run_id, status="succeeded", records_read=per_run)
    elapsed = time.perf_counter() - started
    print(f"built {rows:,} field_changes in {runs:,} runs in {elapsed:.1f} s")


def query_figures(store: AuditStore, label: str) -> None:
    rng = random.Random(3)
    now = START + timedelta(days=7)
    print(f"queries ({label})")
    _report(
        "record_timeline(email=...)",
        lambda: queries.record_timeline(
            store, email=f"person{rng.randrange(CONTACTS)}@example.com"
        ),
    )
    _report(
        "record_timeline(sf_id=...)",
        lambda: queries.record_timeline(store, sf_id=_sf_id(rng.randrange(CONTACTS))),
    )
    _report("status_summary()", lambda: queries.status_summary(store, now=now))
    _report("errors_frame(status=open)", lambda: queries.errors_frame(store, status="open"))
    _report("runs_frame(since=last day)", lambda: queries.runs_frame(store, since=now))
    _report("changes_frame(run_id=...)", lambda: queries.changes_frame(store, run_id=1000))
    _report("api_usage_frame(bucket=hour)", lambda: queries.api_usage_frame(store, bucket="hour"))

    def engine_batch() -> None:
        with store.write() as tx:
            contacts = [rng.randrange(CONTACTS) for _ in range(200)]
            pairs = [(str(c), _sf_id(c)) for c in contacts]
            queries.find_links(tx.conn, "contact", hs_ids=[h for h, _ in pairs])
            queries.synced_values_for(tx.conn, "contact", pairs)
            tx.record_changes(_changes(rng, 400, run_id=1, at=now))
            tx.set_synced_values(SyncedValue("contact", h, s, "phone", "x") for h, s in pairs)
            tx.set_cursor("hubspot", "contacts", modstamp=now, last_id="1")

    _report("engine batch: lookups + 400 changes + 200 merges + cursor", engine_batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="build the store here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.duckdb"
        bulk_insert_figures(AuditStore(Path(tmp) / "bulk.duckdb"))
        store = AuditStore(path)
        build(store, args.rows)
        print(f"database file: {path.stat().st_size / 1e6:.0f} MB")
        query_figures(store, "as shipped: no ART index")
        with store.write() as tx:
            for name, target in CANDIDATE_INDEXES.items():
                tx.conn.execute(f"CREATE INDEX {name} ON {target}")
        query_figures(store, "with candidate ART indexes on ids")


if __name__ == "__main__":
    main()
