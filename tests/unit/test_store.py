"""The audit store: what the dashboard and the CLI read back is what the engine wrote, a batch and
its cursor commit together or not at all, and concurrent readers/writers (threads or processes,
even a writer killed with -9) never see a lock error or half a batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from sync_engine import queries
from sync_engine import store as store_mod
from sync_engine.budget import Quota, day_start
from sync_engine.errors import RetriableError
from sync_engine.loops import SyncWrite, detect_loops
from sync_engine.matching import Candidate, clusters_of
from sync_engine.models import Direction, Rule, System
from sync_engine.store import (
    SCHEMA_VERSION,
    TABLES,
    ApiUsage,
    AuditStore,
    Columns,
    Conflict,
    Duplicate,
    FieldChange,
    FieldWrite,
    Link,
    SecretLeakError,
    StoreBusyError,
    SyncedValue,
    SyncError,
    find_secret,
)

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEAD = "00Q5g00000AbCdEFGH"
CONTACT = "0035g00000AbCdEFGH"


class FakeClock:
    """Store time under the test's control (the engine passes the sandbox clock the same way)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> AuditStore:
    return AuditStore(tmp_path / "sync.duckdb", clock=clock)


def count(store: AuditStore, table: str) -> int:
    with store.read() as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def error(**overrides: object) -> SyncError:
    row = {
        "system": "salesforce",
        "object": "contact",
        "category": "property_value",
        "code": "STRING_TOO_LONG",
        "message": "Title: data value too large (max length=128)",
        "record_id": LEAD,
        "field": "Title",
    }
    row.update(overrides)
    return SyncError(**row)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Reading a store that does not exist yet


def test_reading_a_store_that_does_not_exist_gives_empty_results(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "nowhere" / "sync.duckdb")
    summary = queries.status_summary(store)
    assert summary["last_run"] is None
    assert summary["open_errors"] == {}
    assert summary["api_usage_today"] == {}
    assert summary["links"] == 0
    assert summary["engine"]["paused"] is False
    errors = queries.errors_frame(store)
    assert errors.empty and {"error_id", "category", "suggested_fix"} <= set(errors.columns)
    assert queries.runs_frame(store).empty
    assert queries.record_timeline(store, email="nobody@example.com").empty
    assert not store.path.exists(), "reading must not create the database"


def test_a_file_never_initialised_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "sync.duckdb"
    duckdb.connect(str(path)).close()  # a writer that died before creating the schema
    assert queries.status_summary(AuditStore(path))["links"] == 0


# --------------------------------------------------------------------------------------------
# Every table written and read back


def test_a_run_with_every_kind_of_row_reads_back(store: AuditStore, clock: FakeClock) -> None:
    with store.write() as tx:
        run_id = tx.start_run("scheduled", triggered_by="scheduler")
        tx.link("contact", "101", "Lead", LEAD, match_key="ada@example.com")
        tx.record_changes(
            [
                FieldChange(
                    "contact",
                    "hubspot_to_salesforce",
                    "Phone",
                    None,
                    "+1 555 0100",
                    hs_id="101",
                    sf_id=LEAD,
                    reason="changed in hubspot",
                ),
                {
                    "object": "contact",
                    "direction": "salesforce_to_hubspot",
                    "field": "numemployees",
                    "old_value": 10,
                    "new_value": 250,
                    "hs_id": "101",
                    "sf_id": LEAD,
                },
            ]
        )
        tx.record_conflicts(
            [
                Conflict(
                    "contact",
                    "lifecyclestage",
                    "lead",
                    "marketingqualifiedlead",
                    "Working",
                    rule=Rule.PREFER_SALESFORCE_UNLESS_BLANK,  # enums are stored as their values
                    winner=System.SALESFORCE,
                    hs_id="101",
                    sf_id=LEAD,
                )
            ]
        )
        tx.record_errors(
            [
                error(
                    value="x" * 200, suggested_fix="Shorten the title", payload={"Title": "x" * 200}
                )
            ]
        )
        tx.record_api_usage(
            [ApiUsage("salesforce", "composite/sobjects", 2, used_today=120, daily_limit=15000)]
        )
        tx.record_duplicates(
            [Duplicate("hubspot", "contact", ["101", "202"], "ada@example.com", "same email")]
        )
        tx.set_cursor("salesforce", "Lead", modstamp=T0 - timedelta(minutes=5), last_id=LEAD)
        tx.set_synced_values([SyncedValue("contact", "101", LEAD, "phone", "+1 555 0100")])
        tx.record_field_history([FieldWrite("contact", "101", LEAD, "phone", "hubspot", "555")])
        tx.add_run_counts(run_id, records_read=40, records_written=2, sf_api_calls=2)
        tx.heartbeat(next_cycle_at=T0 + timedelta(minutes=1))
    clock.tick(seconds=30)
    with store.write(run_id=run_id) as tx:
        tx.add_run_counts(run_id, records_read=10, hs_api_calls=3)
        tx.finish_run(run_id, status="partial")

    summary = queries.status_summary(store, now=T0)
    run = summary["last_run"]
    assert (run["run_id"], run["kind"], run["status"]) == (run_id, "scheduled", "partial")
    assert (run["records_read"], run["records_written"], run["error_count"]) == (50, 2, 1)
    assert (run["sf_api_calls"], run["hs_api_calls"]) == (2, 3)
    assert run["started_at"] == T0 and run["finished_at"] == T0 + timedelta(seconds=30)
    assert run["started_at"].utcoffset() == timedelta(0)
    assert summary["open_errors"] == {"property_value": 1}
    assert summary["open_duplicates"] == 1
    assert summary["api_usage_today"] == {
        "salesforce": {"calls": 2, "used_today": 120, "daily_limit": 15000, "reported_at": T0}
    }
    assert summary["links"] == 1
    assert summary["engine"]["heartbeat_at"] == T0
    assert summary["engine"]["next_cycle_at"] == T0 + timedelta(minutes=1)
    assert summary["engine"]["current_run_id"] is None, "finish_run clears the run in progress"

    changes = queries.changes_frame(store, run_id=run_id).sort_values("field")
    assert list(changes["field"]) == ["Phone", "numemployees"]
    assert list(changes["new_value"]) == ["+1 555 0100", "250"], "values are stored as text"
    assert changes["old_value"].iloc[0] is None or changes["old_value"].isna().iloc[0]

    conflict = queries.conflicts_frame(store).iloc[0]
    assert (conflict["base_value"], conflict["hs_value"], conflict["sf_value"]) == (
        "lead",
        "marketingqualifiedlead",
        "Working",
    )
    assert conflict["winner"] == "salesforce" and conflict["run_id"] == run_id
    assert conflict["rule"] == "prefer_salesforce_unless_blank"

    err = queries.errors_frame(store, category="property_value").iloc[0]
    assert err["suggested_fix"] == "Shorten the title" and err["value"] == "x" * 200
    assert err["status"] == "open" and err["attempts"] == 1

    dup = queries.duplicates_frame(store).iloc[0]
    assert list(dup["record_ids"]) == ["101", "202"] and dup["size"] == 2

    usage = queries.api_usage_frame(store, bucket="hour")
    assert usage[["system", "calls"]].values.tolist() == [["salesforce", 2]]

    with store.read() as conn:
        cursor = queries.get_cursor(conn, "salesforce", "Lead")
        assert cursor is not None
        assert (cursor.modstamp, cursor.last_id) == (T0 - timedelta(minutes=5), LEAD)
        assert queries.synced_values_for(conn, "contact", [("101", LEAD), ("999", CONTACT)]) == {
            ("101", LEAD): {"phone": "+1 555 0100"},
            ("999", CONTACT): {},
        }
        [written] = queries.recent_field_writes(conn, min_cycle=run_id)
        assert (written.hs_id, written.value, written.system_written) == ("101", "555", "hubspot")
        assert (written.cycle, written.at) == (run_id, T0)
        payload = conn.execute("SELECT payload->>'Title' FROM sync_errors").fetchone()[0]
        assert payload == "x" * 200


def test_every_spec_table_has_its_contract_columns(store: AuditStore) -> None:
    contract = {
        "sync_runs": "run_id kind started_at finished_at status records_read records_written "
        "error_count sf_api_calls hs_api_calls",
        "field_changes": "run_id object direction hs_id sf_id field old_value new_value reason at",
        "conflicts": "run_id object hs_id sf_id field base_value hs_value sf_value rule winner at",
        "duplicates": "cluster_id system object record_ids match_key reason status detected_at",
        "sync_errors": "error_id run_id system object record_id category code message field "
        "status attempts first_seen last_seen",
        "api_usage": "at system endpoint calls used_today daily_limit",
        "id_links": "object hs_id sf_object sf_id linked_at",
        # the engine's own state
        "sync_cursors": "system object modstamp last_id updated_at",
        "synced_values": "object hs_id sf_id field value synced_at",
        "engine_state": "paused paused_reason changed_by changed_at heartbeat_at next_cycle_at",
        "field_history": "object hs_id sf_id field system_written value at cycle origin",
        "audit_log": "audit_id at actor action object record_id error_id details",
        "error_fixes": "audit_id at actor action error_id details",
        "records": "system object id key modified_at modified_by created deleted dirty payload",
    }
    store.ensure_schema()
    with store.read() as conn:
        for table, columns in contract.items():
            found = {r[0] for r in conn.execute(f"DESCRIBE {table}").fetchall()}
            assert set(columns.split()) <= found, table


def test_timestamps_are_stored_in_utc_whatever_zone_they_arrive_in(store: AuditStore) -> None:
    paris = timezone(timedelta(hours=1))
    with store.write() as tx:
        tx.set_cursor(
            "hubspot", "contacts", modstamp=datetime(2026, 3, 1, 13, 0, tzinfo=paris), last_id="7"
        )
    with store.read() as conn:
        cursor = queries.get_cursor(conn, "hubspot", "contacts")
    assert cursor is not None and cursor.modstamp == T0
    assert cursor.modstamp.utcoffset() == timedelta(0)


def test_a_cursor_is_one_row_per_system_and_object_moved_by_each_batch(
    store: AuditStore, clock: FakeClock
) -> None:
    for n in range(3):
        with store.write(run_id=n + 1) as tx:
            tx.set_cursor("hubspot", "contacts", modstamp=T0 + timedelta(minutes=n), last_id=str(n))
            tx.set_cursor("hubspot", "deals", modstamp=T0, last_id=f"d{n}")
        clock.tick(seconds=1)
    rows = _table_rows(store, "sync_cursors")
    assert [(r[0], r[1], r[3], r[5]) for r in rows] == [
        ("hubspot", "contacts", "2", 3),
        ("hubspot", "deals", "d2", 3),
    ]
    assert rows[0][2] == T0 + timedelta(minutes=2) and rows[0][4] == T0 + timedelta(seconds=2)


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda tx: tx.start_run("nightly"), "kind"),
        (lambda tx: tx.record_errors([error(category="oops")]), "category"),
        (lambda tx: tx.record_errors([error(system="pipedrive")]), "system"),
        (
            lambda tx: tx.record_changes([FieldChange("contact", "both", "Phone", 1, 2)]),
            "direction",
        ),
        (
            lambda tx: tx.set_cursor(
                "hubspot", "contacts", modstamp=datetime(2026, 1, 1), last_id=None
            ),
            "naive datetime",
        ),
        (lambda tx: tx.record_changes([{"object": "contact", "colour": "red"}]), "colour"),
    ],
)
def test_bad_rows_are_refused_and_nothing_of_the_batch_is_kept(
    store: AuditStore, write: object, message: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=message), store.write() as tx:
        tx.link("contact", "1", "Lead", LEAD)
        write(tx)  # type: ignore[operator]
    assert count(store, "id_links") == 0


def test_secrets_are_never_written(tmp_path: Path) -> None:
    token = "pat-na1-0123456789abcdef"
    store = AuditStore(tmp_path / "sync.duckdb", secrets=[token])
    with pytest.raises(SecretLeakError) as raised, store.write() as tx:
        tx.record_errors([error(message=f"401 for Bearer {token}")])
    assert token not in str(raised.value)
    with pytest.raises(SecretLeakError), store.write() as tx:
        tx.audit("admin@example.com", "config_change", details={"token": token})
    assert count(store, "sync_errors") == 0 and count(store, "audit_log") == 0
    assert token.encode() not in store.path.read_bytes()


def test_a_secret_is_found_in_one_value_never_across_two() -> None:
    secret = "pat-na1-0123456789"
    assert find_secret(["a", None, f"Bearer {secret}!"], [secret])
    assert not find_secret(["pat-na1-", "0123456789"], [secret]), "split over two values"
    assert not find_secret(["anything"], ["short"]), "short strings are not secrets"
    assert find_secret(["x", "a\x00secret-b"], ["a\x00secret-b"]), "a secret with a NUL"
    assert not find_secret(["a", "secret-b"], ["a\x00secret-b"])


# --------------------------------------------------------------------------------------------
# Columns: a batch given column by column is the same rows as row objects


def _table_rows(store: AuditStore, table: str) -> list[tuple[object, ...]]:
    with store.read() as conn:
        return sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def test_columns_write_the_same_rows_as_row_objects(tmp_path: Path, clock: FakeClock) -> None:
    changes = [
        FieldChange("contact", "hubspot_to_salesforce", "Phone", None, 5, hs_id="1", sf_id=LEAD),
        FieldChange("contact", "hubspot_to_salesforce", "Title", "CTO", "CEO", hs_id="2"),
    ]
    bases = [SyncedValue("contact", "1", LEAD, "phone", "5")] * 2 + [
        SyncedValue("contact", "2", CONTACT, "jobtitle", None, run_id=7, at=T0)
    ]
    history = [FieldWrite("contact", "1", LEAD, "phone", System.SALESFORCE, "5", origin="sync")]
    links = [Link("contact", "1", "Lead", LEAD), Link("contact", "1", "Contact", CONTACT, "k")]
    by_rows, by_columns = (AuditStore(tmp_path / f"{n}.duckdb", clock=clock) for n in "ab")
    with by_rows.write() as tx:
        tx.start_run("initial")
        assert tx.record_changes(changes) == 2
        assert tx.set_synced_values(bases) == 2
        assert tx.record_field_history(history) == 1
        assert tx.link_many(links) == 1
    with by_columns.write() as tx:
        tx.start_run("initial")
        columns = Columns(
            FieldChange,
            {
                "field": ["Phone", "Title"],
                "old_value": [None, "CTO"],
                "new_value": [5, "CEO"],
                "hs_id": ["1", "2"],
                "sf_id": [LEAD, None],
            },
            same={"object": "contact", "direction": Direction.HUBSPOT_TO_SALESFORCE},
        )
        assert tx.record_changes(columns) == 2
        assert (
            tx.set_synced_values(
                Columns(
                    SyncedValue,
                    {
                        "hs_id": ["1", "1", "2"],
                        "sf_id": [LEAD, LEAD, CONTACT],
                        "field": ["phone", "phone", "jobtitle"],
                        "value": ["5", "5", None],
                        "run_id": [None, None, 7],
                        "at": [None, None, T0],
                    },
                    same={"object": "contact"},
                )
            )
            == 2
        )
        history_columns = Columns(
            FieldWrite,
            {"hs_id": ["1"], "sf_id": [LEAD], "field": ["phone"], "value": ["5"]},
            same={"object": "contact", "system_written": System.SALESFORCE, "origin": "sync"},
        )
        assert tx.record_field_history(history_columns) == 1
        link_columns = Columns(
            Link,
            {
                "hs_id": ["1", "1"],
                "sf_object": ["Lead", "Contact"],
                "sf_id": [LEAD, CONTACT],
                "match_key": [None, "k"],
            },
            same={"object": "contact"},
        )
        assert tx.link_many(link_columns) == 1
    for table in ("field_changes", "synced_values", "field_history", "id_links"):
        assert _table_rows(by_columns, table) == _table_rows(by_rows, table), table
    assert _table_rows(by_columns, "field_history")[0][7] == 1, "cycle defaults to the run id"


@pytest.mark.parametrize(
    ("columns", "error", "message"),
    [
        (lambda: Columns(FieldChange, {"field": ["a", "b"], "hs_id": ["1"]}), ValueError, "lengt"),
        (lambda: Columns(FieldChange, {"colour": ["red"]}), TypeError, "colour"),
        (lambda: Columns(FieldChange, {}, same={"field": "a"}), ValueError, "at least one"),
    ],
)
def test_malformed_columns_are_refused(columns: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        columns()  # type: ignore[operator]


def test_columns_are_validated_as_rows_are_and_nothing_of_the_batch_is_kept(
    tmp_path: Path,
) -> None:
    token = "pat-na1-0123456789abcdef"
    store = AuditStore(tmp_path / "sync.duckdb", secrets=[token])
    given = {"field": ["Phone"], "old_value": [None], "new_value": ["1"]}
    same = {"object": "contact", "direction": "hubspot_to_salesforce"}
    bad = [
        (Columns(FieldChange, given, same={**same, "direction": "up"}), "up"),
        (Columns(FieldChange, {**given, "direction": ["sideways"]}, same={"object": "c"}), "side"),
        (Columns(FieldChange, given, same={"direction": "hubspot_to_salesforce"}), "object"),
        (Columns(FieldChange, {**given, "at": [datetime(2026, 1, 1)]}, same=same), "naive"),
        (Columns(FieldChange, given, same={**same, "reason": f"Bearer {token}"}), "secret"),
        (Columns(FieldChange, {**given, "new_value": [token]}, same=same), "secret"),
    ]
    for columns, message in bad:
        with pytest.raises((ValueError, TypeError), match=message), store.write() as tx:
            tx.link("contact", "1", "Lead", LEAD)
            tx.record_changes(columns)
    assert count(store, "id_links") == 0 and count(store, "field_changes") == 0
    assert token.encode() not in store.path.read_bytes()


def test_a_synced_value_is_replaced_per_key_and_a_blank_key_never_matches(
    store: AuditStore,
) -> None:
    with store.write() as tx:
        tx.set_synced_values(
            [
                SyncedValue("contact", "1", LEAD, "phone", "1"),
                SyncedValue("contact", "1", LEAD, "email", "a@example.com"),
                SyncedValue("contact", "2", None, "phone", "2"),  # type: ignore[arg-type]
            ]
        )
    with store.write() as tx:
        tx.set_synced_values(
            [
                SyncedValue("contact", "1", LEAD, "phone", "3"),
                SyncedValue("contact", "1", LEAD, "phone", "4"),  # the last of a batch wins
                SyncedValue("contact", "2", None, "phone", "5"),  # type: ignore[arg-type]
            ]
        )
    rows = _table_rows(store, "synced_values")
    assert sorted((r[1], r[2], r[3], r[4]) for r in rows) == sorted(
        [
            ("1", LEAD, "email", "a@example.com"),
            ("1", LEAD, "phone", "4"),
            ("2", None, "phone", "2"),  # NULL equals nothing, as in a MERGE: a second row
            ("2", None, "phone", "5"),
        ],
        key=repr,
    )


Bases = dict[tuple[str, str], dict[str, str | None]]


def _bases(store: AuditStore, *pairs: tuple[str, str]) -> Bases:
    with store.read() as conn:
        return queries.synced_values_for(conn, "contact", pairs)


def test_a_pair_keeps_one_row_and_setting_some_fields_keeps_the_others(store: AuditStore) -> None:
    with store.write() as tx:
        tx.set_bases("contact", [("1", LEAD, {"phone": "1", "email": "a@example.com"})], new=True)
    with store.write() as tx:
        tx.set_bases("contact", [("1", LEAD, {"phone": None, "city": 7})])
    assert _bases(store, ("1", LEAD)) == {
        ("1", LEAD): {"phone": None, "email": "a@example.com", "city": "7"}  # None: synced blank
    }
    assert count(store, "synced_bases") == 1


def test_first_bases_appended_beside_a_pairs_row_are_read_merged_the_later_winning(
    store: AuditStore,
) -> None:
    """A write's first bases are appended without looking for a row (the pair had none when
    decided), so a row the same plan wrote may sit beside them: read together, the later
    row's fields win, and the next write of the pair leaves one row."""
    with store.write() as tx:
        tx.set_bases("contact", [("1", LEAD, {"phone": "1", "city": "Paris"})])
    with store.write() as tx:
        tx.set_bases("contact", [("1", LEAD, {"phone": "2", "email": "a@example.com"})], new=True)
    merged = {"phone": "2", "city": "Paris", "email": "a@example.com"}
    assert _bases(store, ("1", LEAD)) == {("1", LEAD): merged}
    with store.write() as tx:
        tx.set_bases("contact", [("1", LEAD, {"jobtitle": "CTO"})])
    assert _bases(store, ("1", LEAD)) == {("1", LEAD): {**merged, "jobtitle": "CTO"}}
    assert count(store, "synced_bases") == 1


def test_a_pairs_later_row_wins_whichever_row_is_read_first(
    store: AuditStore, clock: FakeClock
) -> None:
    clock.tick(minutes=5)
    with store.write() as tx:
        tx.set_bases("contact", [("1", LEAD, {"phone": "later", "city": "Paris"})])
    clock.now = T0  # the row stored second holds the earlier values
    with store.write() as tx:
        tx.set_bases("contact", [("1", LEAD, {"phone": "earlier", "email": "a@x.io"})], new=True)
    merged = {"phone": "later", "city": "Paris", "email": "a@x.io"}
    assert _bases(store, ("1", LEAD)) == {("1", LEAD): merged}
    with store.write() as tx:
        tx.set_bases("contact", [("1", LEAD, {"jobtitle": "CTO"})])
    assert _bases(store, ("1", LEAD)) == {("1", LEAD): {**merged, "jobtitle": "CTO"}}


def test_bases_stored_a_row_per_field_move_to_a_row_per_pair(store: AuditStore) -> None:
    """A file of schema 5 kept a row per field (table synced_values), a field written twice
    possibly in two rows: the upgrade keeps the latest value of each field, blanks too."""
    store.ensure_schema()
    store.release()
    with duckdb.connect(str(store.path)) as conn:
        conn.execute("DROP VIEW synced_values")
        conn.execute("DROP TABLE synced_bases")
        conn.execute(
            "CREATE TABLE synced_values (object VARCHAR, hs_id VARCHAR, sf_id VARCHAR, "
            "field VARCHAR, value VARCHAR, synced_at TIMESTAMPTZ, run_id BIGINT)"
        )
        conn.executemany(
            "INSERT INTO synced_values VALUES ('contact', ?, ?, ?, ?, ?, 3)",
            [
                ("1", LEAD, "phone", "1", T0),
                ("1", LEAD, "phone", "2", T0 + timedelta(minutes=1)),
                ("1", LEAD, "jobtitle", None, T0),
                ("2", CONTACT, "@company", "9001", T0),
            ],
        )
        conn.execute("UPDATE schema_version SET version = 5")
    store.ensure_schema()
    assert _bases(store, ("1", LEAD), ("2", CONTACT), ("3", LEAD)) == {
        ("1", LEAD): {"phone": "2", "jobtitle": None},
        ("2", CONTACT): {"@company": "9001"},
        ("3", LEAD): {},
    }
    rows = _table_rows(store, "synced_values")
    assert sorted((r[1], r[3], r[4]) for r in rows) == sorted(
        [("1", "phone", "2"), ("1", "jobtitle", None), ("2", "@company", "9001")], key=repr
    )
    assert count(store, "synced_bases") == 2


# --------------------------------------------------------------------------------------------
# Upserts: errors, duplicates, links


def test_a_recurring_error_is_one_row_with_more_attempts(
    store: AuditStore, clock: FakeClock
) -> None:
    with store.write() as tx:
        first_run = tx.start_run("scheduled")
        tx.record_errors([error(), error(field=None, code="INVALID_EMAIL_ADDRESS")])
    clock.tick(minutes=5)
    with store.write() as tx:
        second_run = tx.start_run("scheduled")
        tx.record_errors(
            [error(message="still too long"), error(field=None, code="INVALID_EMAIL_ADDRESS")]
        )
        tx.record_errors([error(field="Company")])  # another field: another error
        tx.finish_run(second_run, status="partial")

    frame = queries.errors_frame(store).sort_values("error_id")
    assert len(frame) == 3
    title = frame[frame["field"] == "Title"].iloc[0]
    assert title["attempts"] == 2 and title["message"] == "still too long"
    assert title["first_seen"] == T0 and title["last_seen"] == T0 + timedelta(minutes=5)
    assert title["run_id"] == second_run != first_run
    no_field = frame[frame["code"] == "INVALID_EMAIL_ADDRESS"].iloc[0]
    assert no_field["attempts"] == 2, "a NULL field still identifies the same error"
    assert queries.runs_frame(store).set_index("run_id").loc[second_run, "error_count"] == 3


def test_a_resolved_error_reopens_when_it_recurs_but_an_ignored_one_stays_ignored(
    store: AuditStore,
) -> None:
    with store.write() as tx:
        tx.record_errors([error(), error(record_id=CONTACT)])
    with store.write() as tx:
        assert tx.resolve_errors(system="salesforce", object="contact", record_id=LEAD) == 1
        ignored_id = tx.conn.execute(
            "SELECT error_id FROM sync_errors WHERE record_id = ?", [CONTACT]
        ).fetchone()[0]
        tx.set_error_status(ignored_id, "ignored", actor="ops@example.com", note="known gap")
    assert queries.status_summary(store)["open_errors"] == {}

    with store.write() as tx:
        tx.record_errors([error(), error(record_id=CONTACT)])
    by_record = queries.errors_frame(store).set_index("record_id")
    assert by_record.loc[LEAD, "status"] == "open" and by_record.loc[LEAD, "attempts"] == 2
    assert by_record.loc[CONTACT, "status"] == "ignored"
    assert by_record.loc[CONTACT, "attempts"] == 2
    with store.read() as conn:
        fixes = conn.execute("SELECT actor, action, error_id, details FROM error_fixes").fetchall()
    assert [(a, act, e) for a, act, e, _ in fixes] == [
        ("ops@example.com", "error_ignored", ignored_id)
    ]
    assert '"known gap"' in fixes[0][3]


def test_duplicates_are_one_cluster_per_match_key(store: AuditStore, clock: FakeClock) -> None:
    with store.write() as tx:
        [cluster] = tx.record_duplicates(
            [Duplicate("salesforce", "account", ["001A", "001B"], "acme.com", "same domain")]
        )
    clock.tick(hours=1)
    with store.write() as tx:
        tx.record_duplicates(
            [
                Duplicate(
                    "salesforce", "account", ["001A", "001B", "001C"], "acme.com", "same domain"
                )
            ]
        )
    frame = queries.duplicates_frame(store)
    assert len(frame) == 1 and frame.iloc[0]["cluster_id"] == cluster
    assert list(frame.iloc[0]["record_ids"]) == ["001A", "001B", "001C"]
    assert frame.iloc[0]["detected_at"] == T0
    with store.write() as tx:
        tx.set_duplicate_status(cluster, "resolved", actor="admin@example.com")
    assert queries.status_summary(store)["open_duplicates"] == 0


def test_a_converted_lead_relinks_and_keeps_its_history(store: AuditStore) -> None:
    with store.write() as tx:
        tx.link("contact", "101", "Lead", LEAD, match_key="ada@example.com")
        tx.record_changes(
            [
                FieldChange(
                    "contact", "hubspot_to_salesforce", "Phone", None, "1", hs_id="101", sf_id=LEAD
                )
            ]
        )
        tx.record_errors([error()])
    with store.write() as tx:
        tx.link("contact", "101", "Contact", CONTACT)  # the rep converted the lead
        tx.record_changes(
            [
                FieldChange(
                    "contact", "salesforce_to_hubspot", "jobtitle", None, "CTO", sf_id=CONTACT
                )
            ]
        )
        # the same hs id on another object is another record
        tx.record_changes(
            [
                FieldChange(
                    "company",
                    "hubspot_to_salesforce",
                    "Name",
                    None,
                    "Acme",
                    hs_id="101",
                    sf_id="001xx",
                )
            ]
        )
    with store.read() as conn:
        [link] = queries.find_links(conn, "contact", sf_ids=[LEAD])
    assert (link.sf_object, link.sf_id, link.match_key) == ("Contact", CONTACT, "ada@example.com")

    timeline = queries.record_timeline(store, email="  Ada@Example.com ")
    assert sorted(timeline["field"]) == ["Phone", "Title", "jobtitle"]
    assert set(timeline["kind"]) == {"change", "error"}
    assert list(queries.changes_for_email(store, "ada@example.com")["field"]) == [
        "Phone",
        "jobtitle",
    ]
    assert len(queries.record_timeline(store, hs_id="101", object="company")) == 1


def test_a_duplicate_cluster_from_matching_keeps_the_chosen_record_first(
    store: AuditStore,
) -> None:
    lead = Candidate("salesforce", "Lead", LEAD, "ada@example.com", created="2025-01-01")
    contact = Candidate("salesforce", "Contact", CONTACT, "ada@example.com", created="2026-01-01")
    [cluster] = clusters_of([lead, contact], linked=frozenset())
    with store.write() as tx:
        tx.record_duplicates([Duplicate.from_cluster(cluster, object="contact")])
    row = queries.duplicates_frame(store, system="salesforce").iloc[0]
    assert row["kept_id"] == CONTACT, "a Contact beats a Lead"
    assert list(row["record_ids"]) == [CONTACT, LEAD]
    assert row["reason"] == "same person as Lead and Contact"


def test_a_flipping_field_read_back_from_history_is_found_by_loop_detection(
    store: AuditStore, clock: FakeClock
) -> None:
    values = {"hubspot": "IN_PROGRESS", "salesforce": "OPEN"}
    for cycle, side in enumerate(["salesforce", "hubspot", "salesforce", "hubspot"], start=1):
        with store.write() as tx:
            run_id = tx.start_run("scheduled")
            assert run_id == cycle
            tx.record_field_history(
                [
                    SyncWrite(
                        "contact",
                        "101",
                        LEAD,
                        "hs_lead_status",
                        side,
                        values[side],
                        at=clock.now,
                        cycle=run_id,
                        origin="automation",
                    )
                ]
            )
        clock.tick(minutes=1)
    with store.read() as conn:
        history = queries.recent_field_writes(conn, min_cycle=2)
    assert [w.cycle for w in history] == [2, 3, 4]
    [finding] = detect_loops(history)
    assert (finding.hs_id, finding.field, finding.flips) == ("101", "hs_lead_status", 2)
    with store.write() as tx:
        assert tx.prune_field_history(before_cycle=3) == 2
    with store.read() as conn:
        assert len(queries.recent_field_writes(conn, min_cycle=0)) == 2


def test_the_fields_of_the_latest_salesforce_update_are_what_an_echo_may_hold(
    store: AuditStore, clock: FakeClock
) -> None:
    """Only the latest update to each Salesforce record counts (not HubSpot writes, not older
    updates): the plan reads those fields of a record the integration user modified last as
    the last synced value, and the others as whoever changed them meant them."""
    batches = [  # (record, field, system written), one batch a minute
        [(LEAD, "industry", "salesforce"), (LEAD, "lead_source", "salesforce")],
        [(LEAD, "jobtitle", "hubspot"), (CONTACT, "phone", "salesforce")],
        [(LEAD, "hs_lead_status", "salesforce")],
    ]
    for batch in batches:
        with store.write(run_id=None) as tx:
            tx.record_field_history(
                FieldWrite("contact", "101", sf_id, name, system, "x", at=clock.now, cycle=1)
                for sf_id, name, system in batch
            )
        clock.tick(minutes=1)
    with store.read() as conn:
        found = queries.last_salesforce_writes(conn, "contact", [LEAD, CONTACT, "00Qnever"])
        assert queries.last_salesforce_writes(conn, "deal", [LEAD]) == {}
    assert found == {LEAD: frozenset({"hs_lead_status"}), CONTACT: frozenset({"phone"})}


def test_the_budget_gets_todays_calls_and_the_latest_quota(
    store: AuditStore, clock: FakeClock
) -> None:
    with store.write() as tx:
        tx.record_api_usage(
            [
                ApiUsage(
                    "hubspot",
                    "crm/v3/objects/contacts/search",
                    40,
                    used_today=900,
                    daily_limit=250_000,
                )
            ]
        )
    clock.tick(days=1)
    with store.write() as tx:
        tx.record_api_usage([ApiUsage("hubspot", "crm/v3/objects/contacts/batch/update", 3)])
        tx.record_api_usage(
            [ApiUsage("salesforce", "limits", 1, used_today=70, daily_limit=15_000)]
        )
    with store.read() as conn:
        spent = queries.api_calls_since(conn, day_start(clock.now))
        quotas = queries.latest_quotas(conn)
    assert spent == {"hubspot": 3, "salesforce": 1}
    assert quotas["hubspot"] == Quota(used_today=900, daily_limit=250_000, reported_at=T0)
    assert quotas["salesforce"].reported_at == clock.now
    usage = queries.api_usage_frame(store, system="hubspot", bucket="day")
    assert usage["calls"].tolist() == [40, 3]


def test_pausing_is_recorded_with_who_and_why(store: AuditStore, clock: FakeClock) -> None:
    with store.write() as tx:
        tx.set_paused(True, actor="ops@example.com", reason="Salesforce maintenance")
    state = queries.status_summary(store)["engine"]
    assert state["paused"] is True
    assert (state["changed_by"], state["paused_reason"]) == (
        "ops@example.com",
        "Salesforce maintenance",
    )
    clock.tick(minutes=10)
    with store.write() as tx:
        tx.set_paused(False, actor="ops@example.com")
    with store.read() as conn:
        log = conn.execute('SELECT action, "at" FROM audit_log ORDER BY audit_id').fetchall()
    assert log == [("pause", T0), ("resume", T0 + timedelta(minutes=10))]


def test_interrupted_runs_are_closed(store: AuditStore, clock: FakeClock) -> None:
    with store.write() as tx:
        crashed = tx.start_run("initial")
    clock.tick(hours=1)
    with store.write() as tx:
        assert tx.close_interrupted_runs(started_before=clock.now) == 1
    assert queries.runs_frame(store).set_index("run_id").loc[crashed, "status"] == "interrupted"


# --------------------------------------------------------------------------------------------
# Transactions: a batch and its cursor commit together or not at all


def test_a_failed_batch_rolls_back_its_rows_and_its_cursor(store: AuditStore) -> None:
    change = FieldChange("contact", "salesforce_to_hubspot", "phone", None, "1", hs_id="101")
    with store.write() as tx:
        tx.record_changes([change] * 3)
        tx.set_cursor("salesforce", "Lead", modstamp=T0, last_id="A")
        tx.set_synced_values([SyncedValue("contact", "101", LEAD, "phone", "1")])

    with pytest.raises(RuntimeError, match="connector blew up"), store.write() as tx:
        tx.record_changes([change] * 5)
        tx.set_synced_values([SyncedValue("contact", "101", LEAD, "phone", "2")])
        tx.set_cursor("salesforce", "Lead", modstamp=T0 + timedelta(hours=1), last_id="B")
        raise RuntimeError("connector blew up")

    assert count(store, "field_changes") == 3
    with store.read() as conn:
        cursor = queries.get_cursor(conn, "salesforce", "Lead")
        assert cursor is not None and (cursor.modstamp, cursor.last_id) == (T0, "A")
        assert queries.synced_values_for(conn, "contact", [("101", LEAD)]) == {
            ("101", LEAD): {"phone": "1"}
        }


def test_reads_inside_a_write_see_only_committed_rows(store: AuditStore) -> None:
    with store.write() as tx:
        tx.link("contact", "1", "Lead", LEAD)
        assert len(queries.find_links(tx.conn, "contact")) == 1, "the open transaction sees it"
        with store.read() as conn:
            assert queries.find_links(conn, "contact") == [], "other readers do not, yet"
    assert queries.status_summary(store)["links"] == 1


def test_write_inside_read_on_one_thread_is_refused_not_deadlocked(store: AuditStore) -> None:
    store.ensure_schema()
    with store.read(), pytest.raises(RuntimeError, match="inside read"), store.write():
        pass
    with store.write(), pytest.raises(RuntimeError, match="inside write"), store.write():
        pass


def test_an_older_schema_is_upgraded_in_place(store: AuditStore) -> None:
    store.ensure_schema()
    store.release()  # the writer's attachment lingers; a raw connection needs the file free
    with duckdb.connect(str(store.path)) as conn:
        conn.execute("ALTER TABLE sync_errors DROP COLUMN suggested_fix")
        conn.execute("DROP TABLE field_history")
        conn.execute("UPDATE schema_version SET version = 1")
    with store.write() as tx:
        tx.record_errors([error(suggested_fix="Shorten it")])
        tx.record_field_history([FieldWrite("contact", "1", LEAD, "phone", "hubspot", "2")])
    assert queries.errors_frame(store).iloc[0]["suggested_fix"] == "Shorten it"
    assert count(store, "field_history") == 1
    with store.read() as conn:
        versions = conn.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
        assert versions == [(1,), (SCHEMA_VERSION,)], "the upgrade is recorded"
        tables = {r[0] for r in conn.execute("SHOW TABLES").fetchall()}
    assert {t.name for t in TABLES} <= tables


@pytest.mark.parametrize("level", [3, SCHEMA_VERSION])
def test_a_mirror_from_before_uncompressed_payloads_is_rebuilt_with_its_rows(
    store: AuditStore, level: int
) -> None:
    """Level 3 stored payloads compressed; DuckDB cannot alter that, so the table is created
    anew, every mirrored record (and its dirty flag) kept. A file already at the current level
    whose table lacks the setting (made while it was being introduced) is rebuilt too."""
    store.ensure_schema()
    store.release()
    with duckdb.connect(str(store.path)) as conn:
        conn.execute("DROP TABLE records")
        conn.execute(
            "CREATE TABLE records (system VARCHAR, object VARCHAR, id VARCHAR, key VARCHAR, "
            "modified_at TIMESTAMPTZ, modified_by VARCHAR, created VARCHAR, "
            "deleted BOOLEAN DEFAULT false, dirty BOOLEAN DEFAULT true, payload JSON)"
        )
        conn.execute(
            "INSERT INTO records (system, object, id, key, payload) "
            "SELECT 'hubspot', 'contacts', i::VARCHAR, 'p' || i || '@example.com', "
            "json_object('email', 'p' || i || '@example.com') FROM range(5000) r(i)"
        )
        conn.execute("UPDATE records SET dirty = false WHERE id = '7'")
        conn.execute("UPDATE schema_version SET version = ?", [level])
    with store.write() as tx:
        assert store_mod.schema_level(tx.conn) == SCHEMA_VERSION
        rows = tx.conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE dirty), count(read_at) FROM records"
        ).fetchone()
        assert rows == (5000, 4999, 0), "rows and flags kept; the added column is empty"
        assert tx.conn.execute(
            "SELECT payload->>'email' FROM records WHERE id = '42'"
        ).fetchone() == ("p42@example.com",)
        (sql,) = tx.conn.execute(
            "SELECT sql FROM duckdb_tables() WHERE table_name = 'records'"
        ).fetchone()
        assert "payload JSON USING COMPRESSION Uncompressed" in sql
        assert store_mod._recompressed(tx.conn) == [], "a later open rebuilds nothing"
    store.release()
    with duckdb.connect(str(store.path)) as conn:
        conn.execute("CHECKPOINT")
        stored = conn.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('records') "
            "WHERE column_name = 'payload' AND segment_type = 'JSON'"
        ).fetchall()
    assert stored == [("Uncompressed",)]


def test_a_column_added_without_a_version_bump_is_still_created(store: AuditStore) -> None:
    store.ensure_schema()
    store.release()  # the writer's attachment lingers; a raw connection needs the file free
    with duckdb.connect(str(store.path)) as conn:
        conn.execute("ALTER TABLE id_links DROP COLUMN match_key")
    with store.write() as tx:
        tx.link("contact", "1", "Lead", LEAD, match_key="ada@example.com")
    with store.read() as conn:
        assert queries.find_links(conn, match_key="ada@example.com")[0].hs_id == "1"


# --------------------------------------------------------------------------------------------
# Concurrency: threads, processes, kill -9

BATCH = 25

WRITER = textwrap.dedent(
    """
    import os, sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from sync_engine.store import AuditStore, FieldChange

    store = AuditStore(Path(sys.argv[1]))
    stop, mode = Path(sys.argv[2]), sys.argv[3]
    batch = int(sys.argv[4])
    n = 0
    while not stop.exists():
        n += 1
        rows = [FieldChange("contact", "hubspot_to_salesforce", "Phone", None, str(i),
                            hs_id=str(n), reason=f"batch {n}") for i in range(batch)]
        if mode == "die-mid-transaction" and n == 4:
            with store.write() as tx:
                tx.record_changes(rows * 40)
                tx.set_cursor("hubspot", "contacts", modstamp=datetime.now(UTC), last_id="dead")
                print("in-transaction", flush=True)
                time.sleep(60)
        with store.write() as tx:
            tx.record_changes(rows)
            tx.set_cursor("hubspot", "contacts", modstamp=datetime.now(UTC), last_id=str(n))
        print(f"committed {n}", flush=True)
    """
)


def start_writer(db: Path, stop: Path, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), str(stop), mode, str(BATCH)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_line(proc: subprocess.Popen[str], prefix: str) -> list[str]:
    seen = []
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        assert line, f"writer ended early: {proc.stderr.read() if proc.stderr else ''}"
        seen.append(line.strip())
        if line.startswith(prefix):
            return seen


def test_reads_and_writes_here_while_another_process_writes_in_a_loop(tmp_path: Path) -> None:
    db, stop = tmp_path / "sync.duckdb", tmp_path / "stop"
    writer = start_writer(db, stop, "loop")
    try:
        wait_for_line(writer, "committed")
        store = AuditStore(db)
        counts = []
        for _ in range(200):
            counts.append(count(store, "field_changes"))
            assert counts[-1] % BATCH == 0, "a reader saw half a batch"
        assert counts == sorted(counts) and counts[-1] > counts[0], "the writer kept committing"
        for n in range(20):  # the dashboard writes too (the pause switch) while the engine runs
            with store.write() as tx:
                tx.set_paused(n % 2 == 0, actor="ops@example.com")
        assert queries.status_summary(store)["engine"]["paused"] is False
    finally:
        stop.touch()
        _, err = writer.communicate(timeout=30)
    assert writer.returncode == 0, err
    assert "Error" not in err


def test_one_thread_writes_while_another_reads(store: AuditStore) -> None:
    store.ensure_schema()
    failures: list[BaseException] = []
    done = threading.Event()

    def write_batches() -> None:
        try:
            for n in range(30):
                with store.write() as tx:
                    tx.record_changes(
                        [
                            FieldChange(
                                "contact",
                                "salesforce_to_hubspot",
                                "phone",
                                None,
                                str(i),
                                hs_id=str(n),
                            )
                            for i in range(BATCH)
                        ]
                    )
                    tx.set_cursor("salesforce", "Lead", modstamp=T0, last_id=str(n))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=write_batches)
    thread.start()
    reads = 0
    while not done.is_set() or reads < 50:
        seen = count(store, "field_changes")
        assert seen % BATCH == 0
        summary = queries.status_summary(store)
        assert summary["engine"]["paused"] is False
        reads += 1
    thread.join()
    assert not failures, failures
    assert count(store, "field_changes") == 30 * BATCH


def test_in_process_readers_do_not_wait_for_an_open_write(store: AuditStore) -> None:
    store.ensure_schema()
    inside, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with store.write() as tx:
            tx.link("contact", "1", "Lead", LEAD)
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert inside.wait(10)
        started = time.monotonic()
        assert queries.status_summary(store)["links"] == 0
        assert time.monotonic() - started < 2
    finally:
        release.set()
        thread.join()
    assert queries.status_summary(store)["links"] == 1


def test_a_writer_killed_mid_transaction_leaves_only_committed_batches(tmp_path: Path) -> None:
    db, stop = tmp_path / "sync.duckdb", tmp_path / "stop"
    writer = start_writer(db, stop, "die-mid-transaction")
    try:
        lines = wait_for_line(writer, "in-transaction")
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.communicate(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    committed = [line for line in lines if line.startswith("committed")]
    assert len(committed) == 3

    store = AuditStore(db)
    assert count(store, "field_changes") == 3 * BATCH
    with store.read() as conn:
        cursor = queries.get_cursor(conn, "hubspot", "contacts")
        reasons = {r[0] for r in conn.execute("SELECT reason FROM field_changes").fetchall()}
    assert cursor is not None and cursor.last_id == "3"
    assert reasons == {"batch 1", "batch 2", "batch 3"}
    with store.write() as tx:  # and the engine can carry on writing
        tx.set_cursor("hubspot", "contacts", modstamp=T0, last_id="4")


LINGERER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sync_engine.store import AuditStore

    store = AuditStore(Path(sys.argv[1]))
    with store.write() as tx:
        tx.start_run("scheduled")
    print("committed", flush=True)
    time.sleep(30)  # the attachment lingers: no release(), no further write
    """
)


def test_an_idle_writers_lingering_attachment_is_handed_over_to_a_waiting_process(
    tmp_path: Path,
) -> None:
    db = tmp_path / "sync.duckdb"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    lingerer = subprocess.Popen(
        [sys.executable, "-c", LINGERER, str(db)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert lingerer.stdout is not None and lingerer.stdout.readline().strip() == "committed"
        started = time.monotonic()
        assert count(AuditStore(db, lock_timeout=5), "sync_runs") == 1
        waited = time.monotonic() - started
        assert waited < store_mod.LINGER_SECONDS / 2, f"waited {waited:.2f} s for the file"
    finally:
        lingerer.kill()
        lingerer.wait()


HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    conn = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.close()
    """
)


def test_a_lock_held_too_long_is_a_retriable_busy_error(store: AuditStore) -> None:
    store.ensure_schema()
    store.release()  # the holder below is a raw connection: it does not queue for the file
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store.path), "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        impatient = AuditStore(store.path, lock_timeout=0.3)
        with pytest.raises(StoreBusyError) as raised, impatient.read():
            pass
        assert isinstance(raised.value, RetriableError)
        assert "locked by another process" in str(raised.value)
    finally:
        holder.kill()
        holder.wait()
    assert count(store, "sync_runs") == 0, "once the holder is gone, reads work again"


def test_engine_profile_sizes_this_process_duckdb() -> None:
    """The engine process runs with a small DuckDB (one worker, a 96 MB block cache, a 32 MB
    log between checkpoints), whether the profile is chosen before the process first uses the
    store (the CLI) or after; the default profile puts DuckDB's own defaults back."""

    def settings() -> tuple[str, str]:
        cursor = store_mod._cursor()
        try:
            row = cursor.execute(
                "SELECT current_setting('threads')::VARCHAR, current_setting('memory_limit'), "
                "current_setting('checkpoint_threshold')"
            ).fetchone()
        finally:
            cursor.close()
        assert row is not None
        return str(row[0]), str(row[1]), str(row[2])

    default = settings()
    try:
        store_mod.use_profile(store_mod.ENGINE_PROFILE)
        threads, limit, checkpoint = settings()
        assert threads == "1"
        assert limit.startswith(("91", "96"))  # DuckDB shows 96 MB as 91.5 MiB
        assert checkpoint.startswith(("30", "32"))  # 32 MB as 30.5 MiB
        script = textwrap.dedent(
            """
            import sys
            from sync_engine import store
            store.use_profile(store.ENGINE_PROFILE)
            cursor = store._cursor()
            print(cursor.execute("SELECT current_setting('threads')").fetchone()[0])
            """
        )
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "1"
    finally:
        store_mod.use_profile(store_mod.HostProfile())
    assert settings() == default


def test_files_keep_small_row_groups_across_attachments(store: AuditStore) -> None:
    """Batches appended to a large table are checkpointed in row groups of ROW_GROUP_SIZE rows,
    and a later attachment does not merge them back into DuckDB's default 122,880 (each
    checkpoint compresses a table's last, partly filled group again: a small one is cheap)."""
    per_batch = store_mod.ROW_GROUP_SIZE // 2 + 1000

    def append(batch: int) -> None:
        with store.write() as tx:
            tx.set_synced_values(
                [
                    SyncedValue("contact", str(batch * per_batch + i), LEAD, "phone", f"+1 {i}")
                    for i in range(per_batch)
                ],
                new=True,
            )

    def groups() -> list[int]:
        store.release()  # detaching checkpoints the log into row groups
        with store.read() as conn:
            return [
                int(n)
                for (n,) in conn.execute(
                    "SELECT max(count) FROM pragma_storage_info('synced_bases') "
                    "GROUP BY row_group_id ORDER BY row_group_id"
                ).fetchall()
            ]

    for batch in range(4):
        append(batch)
    first = groups()
    append(4)
    second = groups()

    full = store_mod.ROW_GROUP_SIZE
    assert sum(second) == count(store, "synced_bases") == 5 * per_batch
    assert first == [full, full, 4 * per_batch - 2 * full]
    assert second == [full, full, 5 * per_batch - 2 * full]  # filled up, not merged


@pytest.mark.parametrize(
    "text",
    [
        '{"Email": "ann@example.com", "NumberOfEmployees": 250, "AnnualRevenue": 1.5e6}',
        '[{"a": null, "b": true}, {"a": "é 漢", "b": [1, 2.25, -0.0]}]',
        '{"big": 123456789012345678901234567890, "neg": -98765432109876543210}',
        '{"phone": "+1 2345678901234567890", "n": 9223372036854775807}',
        '{"not_json_but_accepted": NaN, "inf": Infinity}',
        "[]",
    ],
)
def test_decoded_json_is_what_the_standard_library_reads(text: str) -> None:
    """The mirror decodes every payload it hands the engine with orjson where it can: the
    values must be exactly json's, big integers included (orjson would make them floats)."""
    got, want = store_mod.decode_json(text), json.loads(text)
    assert repr(got) == repr(want)
