"""The mirror's read side: what `upsert` stores and which rows it marks dirty (a row is dirty when
its deletion or content changed since the last read; a new stamp alone is no change), and that
the rows read back are the records stored."""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from seeded import SHIPPED

from sync_engine import mirror
from sync_engine import store as store_mod
from sync_engine.engine import _as_created
from sync_engine.models import System
from sync_engine.plan import Record, Write
from sync_engine.store import AuditStore

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _hs(rid: str, stamp: datetime | None = T0, *, deleted: bool = False, **values: Any) -> Record:
    props = {"email": f"{rid}@x.io", "lastmodifieddate": str(stamp), **values}
    return Record(
        system=System.HUBSPOT,
        object="contacts",
        id=rid,
        values=props,
        key=f"{rid}@x.io",
        modified_at=stamp,
        created="2026-01-01T00:00:00Z",
        deleted=deleted,
    )


def _sf(rid: str, stamp: datetime | None = T0, **values: Any) -> Record:
    return Record(
        system=System.SALESFORCE,
        object="Lead",
        id=rid,
        values={"Id": rid, "SystemModstamp": str(stamp), **values},
        modified_at=stamp,
        modified_by="005A",
    )


@pytest.fixture
def store(tmp_path: Path) -> AuditStore:
    return AuditStore(tmp_path / "audit.duckdb")


def _upsert(store: AuditStore, *records: Record, now: datetime = T0) -> int:
    with store.write() as tx:
        return mirror.upsert(tx.conn, records, now=now)


def _dirty_ids(store: AuditStore) -> set[str]:
    with store.read() as conn:
        return {r[0] for r in conn.execute("SELECT id FROM records WHERE dirty").fetchall()}


def _decide(store: AuditStore, *records: Record) -> None:
    with store.write() as tx:
        mirror.mark_processed(tx.conn, records[0].system, records)


def _stored(store: AuditStore) -> list[tuple[Any, ...]]:
    with store.read() as conn:
        return conn.execute(
            "SELECT system, object, id, key, modified_at, modified_by, created, deleted, dirty, "
            "payload::VARCHAR, read_at FROM records ORDER BY system, id"
        ).fetchall()


def test_new_rows_are_stored_dirty_with_their_payload(store: AuditStore) -> None:
    assert _upsert(store, _hs("1", firstname="Kläre"), _sf("00Q1", Phone=None)) == 2
    rows = _stored(store)
    assert [(r[0], r[2], r[8]) for r in rows] == [
        ("hubspot", "1", True),
        ("salesforce", "00Q1", True),
    ]
    assert rows[0][9] == (
        '{"email":"1@x.io","lastmodifieddate":"2026-03-01 12:00:00+00:00","firstname":"Kläre"}'
    )
    assert rows[1][4] == T0 and rows[1][5] == "005A" and rows[1][10] == T0


def test_a_new_stamp_alone_is_no_change(store: AuditStore) -> None:
    first = _hs("1", firstname="Jo")
    _upsert(store, first)
    _decide(store, first)
    later = T0 + timedelta(seconds=5)
    assert _upsert(store, _hs("1", later, firstname="Jo"), now=later) == 0
    assert _dirty_ids(store) == set()
    (row,) = _stored(store)
    assert row[4] == later and row[10] == later
    assert '"lastmodifieddate":"2026-03-01 12:00:05' in row[9]


def test_the_same_row_read_again_is_no_change(store: AuditStore) -> None:
    first = _sf("00Q1", Phone="1")
    _upsert(store, first)
    _decide(store, first)
    assert _upsert(store, _sf("00Q1", Phone="1")) == 0
    assert _dirty_ids(store) == set()


@pytest.mark.parametrize(
    "again",
    [
        _hs("1", firstname="Joe"),  # a value changed
        _hs("1", firstname="Jo", phone="2"),  # a field appeared
        _hs("1"),  # a field went
        _hs("1", firstname=None),  # a value was cleared
        _hs("1", firstname="Jo", deleted=True),  # deleted
    ],
)
def test_a_changed_row_turns_dirty(store: AuditStore, again: Record) -> None:
    first = _hs("1", firstname="Jo")
    _upsert(store, first)
    _decide(store, first)
    assert _upsert(store, again) == 1
    assert _dirty_ids(store) == {"1"}


def test_an_empty_field_appearing_in_a_read_is_no_change(store: AuditStore) -> None:
    """A property a read did not return and one it returns empty hold the same: nothing."""
    first = _hs("1", firstname="Jo")
    _upsert(store, first)
    _decide(store, first)
    assert _upsert(store, _hs("1", firstname="Jo", jobtitle=None)) == 0
    assert _dirty_ids(store) == set()


def _created_lead(rid: str = "00Q9", **values: Any) -> Record:
    """A Lead as the engine mirrors one it has just created: what it wrote, unread."""
    written = {"Email": "ann@x.io", "LastName": "Lee", "HubSpot_Contact_Id__c": "77", **values}
    return Record(
        system=System.SALESFORCE,
        object="Lead",
        id=rid,
        values={**written, "IsDeleted": False, "IsConverted": False, "Id": rid},
        key="ann@x.io",
        modified_by="005A",
    )


def _echo(rid: str = "00Q9", **values: Any) -> Record:
    """Its first read: stamps, creation date and empty fields the engine never wrote, but not
    the external id it upserted on (no read asks for it)."""
    read = {
        "Id": rid,
        "Email": "ann@x.io",
        "LastName": "Lee",
        "IsDeleted": False,
        "IsConverted": False,
        "ConvertedContactId": None,
        "Phone": None,
        "CreatedDate": "2026-03-01T12:00:00.000+0000",
        "SystemModstamp": "2026-03-01T12:00:00.000+0000",
        "LastModifiedById": "005A",
        **values,
    }
    return Record(
        system=System.SALESFORCE,
        object="Lead",
        id=rid,
        values=read,
        key="ann@x.io",
        modified_at=T0,
        modified_by="005A",
        created="2026-03-01T12:00:00.000+0000",
    )


def test_a_created_record_is_mirrored_as_written_unread_and_not_queued(store: AuditStore) -> None:
    with store.write() as tx:
        mirror.expect(tx.conn, [_created_lead()])
    (row,) = _stored(store)
    assert (row[2], row[3], row[5], row[8], row[10]) == ("00Q9", "ann@x.io", "005A", False, None)
    with store.read() as conn:
        assert mirror.by_keys(conn, System.SALESFORCE, ["Lead"], ["ann@x.io"]) == [_created_lead()]


@pytest.mark.parametrize(
    ("echo", "changed"),
    [
        (_echo(), False),
        (_echo(OwnerId="005B"), True),  # a value the system set itself (an assignment rule)
        (_echo(LastName="LEE"), True),  # a value it normalised
        (_echo(Phone="555"), True),  # an automation's edit
        (_echo(Email=None), True),  # or a value it cleared
    ],
)
def test_a_created_record_is_queued_when_its_echo_differs_from_what_was_written(
    store: AuditStore, echo: Record, changed: bool
) -> None:
    with store.write() as tx:
        mirror.expect(tx.conn, [_created_lead()])
    assert _upsert(store, echo) == int(changed)
    assert _dirty_ids(store) == ({"00Q9"} if changed else set())
    (row,) = _stored(store)
    assert row[10] == T0 and row[4] == T0  # read now: the read's payload and stamp are kept
    assert json.loads(row[9]) == echo.values


@pytest.mark.parametrize(
    ("sent", "owner", "changed"),
    [
        ({}, "005A", False),  # no owner sent: Salesforce makes the sync's own user the owner
        ({}, "005B", True),  # no owner sent, and an assignment rule routed the Lead to a rep
        ({"OwnerId": "005C"}, "005C", False),  # the owner sent, kept
        ({"OwnerId": "005C"}, "005B", True),  # the owner sent, overruled by a rule
    ],
)
def test_the_owner_of_a_lead_the_sync_created_is_a_change_only_when_salesforce_chose_it(
    store: AuditStore, sent: dict[str, str], owner: str, changed: bool
) -> None:
    """Salesforce gives a record created without an owner to the user who created it: that
    echo is no change, so the initial sync does not decide again every Lead it created for a
    contact without an owner. An owner an assignment rule picked is one (it goes to HubSpot)."""
    values = {"Email": "ann@x.io", "LastName": "Lee", "Phone": None, **sent}
    write = Write(System.SALESFORCE, "create", "Lead", None, values, (), "77", "Lead", None, {})
    with store.write() as tx:
        mirror.expect(tx.conn, [_as_created(SHIPPED.object("contact"), write, "00Q9", by="005A")])
    assert _upsert(store, _echo(OwnerId=owner)) == int(changed)
    assert _dirty_ids(store) == ({"00Q9"} if changed else set())


def test_once_read_a_created_record_is_compared_with_what_was_read(store: AuditStore) -> None:
    """The written external id is forgotten by the first read: the next read, without it
    again, is no change; a field it no longer returns is (the row is compared both ways)."""
    with store.write() as tx:
        mirror.expect(tx.conn, [_created_lead()])
    _upsert(store, _echo())
    assert _upsert(store, _echo()) == 0
    without = _echo()
    values = {k: v for k, v in without.values.items() if k != "LastName"}
    assert _upsert(store, Record(**{**_fields(without), "values": values})) == 1


def _fields(record: Record) -> dict[str, Any]:
    return {name: getattr(record, name) for name in Record.__dataclass_fields__}


def test_a_dirty_row_read_again_unchanged_stays_dirty(store: AuditStore) -> None:
    _upsert(store, _hs("1", firstname="Jo"))
    assert _upsert(store, _hs("1", T0 + timedelta(seconds=1), firstname="Jo")) == 0
    assert _dirty_ids(store) == {"1"}


def test_content_is_compared_decoded_not_as_text(store: AuditStore) -> None:
    """A payload patched by the store (key order, spacing of json_merge_patch) still compares
    by its values: the echo of the engine's own write is no change."""
    first = _hs("1", firstname="Jo", phone="1")
    _upsert(store, first)
    with store.write() as tx:
        mirror.apply_written(tx.conn, System.HUBSPOT, [("1", {"phone": "2", "city": "Oslo"})])
    _decide(store, first)
    echo = _hs("1", T0 + timedelta(seconds=2), city="Oslo", firstname="Jo", phone="2")
    assert _upsert(store, echo) == 0
    assert _dirty_ids(store) == set()
    assert _upsert(store, _hs("1", T0 + timedelta(seconds=3), firstname="Jo", phone="2")) == 1


def test_values_written_twice_in_one_fold_keep_the_later_value(store: AuditStore) -> None:
    """The engine folds a whole chunk's writes at once: a record written twice gets both
    patches, in order."""
    first = _hs("1", firstname="Jo", phone="1")
    _upsert(store, first)
    written = [("1", {"phone": "2", "city": "Oslo"}), ("1", {"phone": "3"})]
    with store.write() as tx:
        mirror.apply_written(tx.conn, System.HUBSPOT, written)
    _decide(store, first)
    echo = _hs("1", T0 + timedelta(seconds=2), city="Oslo", firstname="Jo", phone="3")
    assert _upsert(store, echo) == 0


def test_a_batch_of_new_and_known_rows(store: AuditStore) -> None:
    a, b = _sf("00Q1", Phone="1"), _sf("00Q2", Phone="1")
    _upsert(store, a, b)
    _decide(store, a, b)
    # 00Q2 twice in the batch: the last one read is stored
    batch = [_sf("00Q2", Phone="9"), _sf("00Q1", Phone="1"), _sf("00Q3"), _sf("00Q2", Phone="1")]
    assert _upsert(store, *batch) == 1
    assert _dirty_ids(store) == {"00Q3"}
    assert [r[2] for r in _stored(store)] == ["00Q1", "00Q2", "00Q3"]


def test_values_of_any_mapping_are_stored(store: AuditStore) -> None:
    record = _sf("00Q1")
    ordered = Record(
        system=record.system, object=record.object, id=record.id, values=OrderedDict(record.values)
    )
    _upsert(store, ordered)
    assert _stored(store)[0][9] == '{"Id":"00Q1","SystemModstamp":"2026-03-01 12:00:00+00:00"}'


def test_rows_read_back_are_the_records_stored(store: AuditStore) -> None:
    stamp = datetime(2026, 3, 1, 13, 0, 0, 123456, tzinfo=UTC)
    records = [_hs("1", stamp, firstname="Jo", n=1.5, tags=["a"]), _hs("2", None)]
    _upsert(store, *records)
    with store.read() as conn:
        back = sorted(mirror.all_of(conn, System.HUBSPOT, ["contacts"]), key=lambda r: r.id)
    assert back == records
    assert back[0].modified_at.tzinfo is UTC  # type: ignore[union-attr]
    with store.read() as conn:
        assert mirror.by_ids(conn, System.HUBSPOT, ["2"]) == [records[1]]
        assert mirror.dirty(conn, System.HUBSPOT, ["contacts"]) == [records[1], records[0]]


@pytest.mark.parametrize(
    "values",
    [
        {"a": 1, "b": [1, 2.5, None, True, ()], "c": {"d": 'é\u2028"\\/'}},
        {"nan": float("nan"), "big": 10**30, "e": 1e16, 7: "an int key"},
        {"when": T0, "amount": Decimal("1.10")},  # not JSON: stored as str()
        "text",
        [{"x": "y"}],
    ],
)
def test_payload_text_is_json_dumps(values: Any) -> None:
    expected = json.dumps(values, default=str, ensure_ascii=False, separators=(",", ":"))
    assert mirror._to_json(values) == expected


def test_a_payload_without_json_numbers_stores_them_as_null() -> None:
    """NaN and infinities are not JSON (no API sends them): orjson writes null where json.dumps
    wrote NaN, unless the payload also holds what only json.dumps encodes (above)."""
    values = {"nan": float("nan"), "inf": float("-inf"), "n": 1.5}
    assert mirror._to_json(values) == '{"nan":null,"inf":null,"n":1.5}'


def test_reading_every_row_again_fits_in_the_engine_duckdb_memory(store: AuditStore) -> None:
    """An echo read, or a bulk edit in either CRM, reads most of the mirror again. Rewriting
    the rows must stay within DuckDB's memory limit whatever the volume between checkpoints
    (updated in place, they were held in memory until the next one: the engine ran out of its
    96 MB at 100,000 contacts). Scaled down here: 24 MB, and no checkpoint at all."""
    filler = "x" * 600
    rows = 30_000
    store_mod.use_profile(
        store_mod.HostProfile(memory_limit="24MB", threads=1, checkpoint_threshold="1GB")
    )
    try:
        for stamp, mark in ((T0, ""), (T0 + timedelta(minutes=1), "!")):
            for start in range(0, rows, 2000):
                _upsert(
                    store,
                    *(
                        _hs(str(i), stamp, notes=f"{filler}{i}{mark}")
                        for i in range(start, start + 2000)
                    ),
                    now=stamp,
                )
    finally:
        store_mod.use_profile(store_mod.HostProfile())
    with store.read() as conn:
        found = conn.execute(
            "SELECT count(*), count(DISTINCT id), count(*) FILTER (payload->>'notes' LIKE '%!'), "
            "count(*) FILTER (dirty) FROM records"
        ).fetchone()
    assert found == (rows, rows, rows, rows)


def test_the_objects_left_to_decide_are_those_with_a_row_read_since_its_decision(
    store: AuditStore,
) -> None:
    """What a cycle asks before deciding: an object with no such row (an idle cycle) is skipped."""
    with store.read() as conn:
        assert mirror.undecided_objects(conn) == frozenset()
    contact = _hs("1")
    lead = Record(System.SALESFORCE, "Lead", "00Q1", {"Email": "1@x.io"}, key="1@x.io")
    _upsert(store, contact, lead)
    with store.read() as conn:
        assert mirror.undecided_objects(conn) == {
            (System.HUBSPOT, "contacts"),
            (System.SALESFORCE, "Lead"),
        }
    _decide(store, contact)
    with store.read() as conn:
        assert mirror.undecided_objects(conn) == {(System.SALESFORCE, "Lead")}
    _decide(store, lead)
    with store.read() as conn:
        assert mirror.undecided_objects(conn) == frozenset()
