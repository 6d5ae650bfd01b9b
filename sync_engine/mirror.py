"""The engine's copy of both systems' records, in the audit store: a durable queue of changes.

Reading and deciding are decoupled through it. A cycle first reads what changed since its cursors
and upserts those rows here, marked dirty, in the same transaction that moves the cursors; the
decisions then work off the dirty rows and the rows they need to compare with (partners, records
sharing a match key), and mark each row processed in the transaction that records its writes. So a
crash between the two loses nothing (the rows stay dirty), a budget-limited cycle leaves the rest
for the next one, and matching by email or domain costs no API call. It is also what the
dashboard's inclusion preview evaluates, without touching HubSpot.

A record the engine creates is mirrored at once, as it was written (`expect`): its echo then
reads as unchanged unless the system added something the engine did not write, as the echo of
an update does once its values are folded in (`apply_written`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from sync_engine.models import System
from sync_engine.plan import Record
from sync_engine.store import BATCH, compact_json, decode_json, execute_with

_COLUMNS = (
    "system",
    "object",
    "id",
    "key",
    "modified_at",
    "modified_by",
    "created",
    "deleted",
    "dirty",
    "payload",
    "read_at",
)


_to_json = compact_json  # payload text: see store.compact_json


# A row read again is a change when its deletion or any value other than these stamps (and the
# creation date, `CREATED_FIELDS`) differs; a field absent and a field null hold the same.
# The stamp alone is no change: the echo of the engine's own write (already folded in by
# `apply_written`) need not be decided again; and the stamp is not enough either, because
# Salesforce stamps whole seconds, so two saves within one second share one.
STAMP_FIELDS = frozenset(
    {"SystemModstamp", "LastModifiedDate", "LastModifiedById", "lastmodifieddate",
     "hs_lastmodifieddate", "updatedAt"}
)  # fmt: skip


# Set by the system when it creates a record, so unknown to a row mirrored as created
# (`expect`); they never change afterwards.
CREATED_FIELDS = frozenset({"CreatedDate", "createdate"})
_NOT_CONTENT = STAMP_FIELDS | CREATED_FIELDS


def _differs(old: Mapping[str, Any], new: Mapping[str, Any], *, expected: bool) -> bool:
    """Whether a row read again holds a value other than the mirrored one, stamps aside; a
    field absent on one side is empty (null) there.

    An expected row (mirrored as created, never read: `expect`) holds what the engine wrote,
    which may name fields no read asks for (an external id): only the fields read count. A
    row read before is compared both ways, so a field a read no longer returns is a change."""
    keys = new.keys() if expected else new.keys() | old.keys()
    return any(k not in _NOT_CONTENT and new.get(k) != old.get(k) for k in keys)


@dataclass(frozen=True, slots=True)
class _Known:
    """What upsert needs of a mirrored row: its deletion, payload text, and whether it was
    ever read (a row mirrored as created by `expect` was not)."""

    deleted: bool
    payload: str | None
    expected: bool
    dirty: bool


def _known(
    conn: duckdb.DuckDBPyConnection, latest: Mapping[tuple[System, str], Record]
) -> dict[tuple[str, str], _Known]:
    """The mirrored rows of those of these records the mirror has."""
    ids: dict[str, list[str]] = {}
    for system, rid in latest:
        ids.setdefault(str(system), []).append(rid)
    known: dict[tuple[str, str], _Known] = {}
    for system, wanted in ids.items():
        rows = conn.execute(
            "SELECT id, deleted, payload, read_at IS NULL, dirty FROM records WHERE system = ? "
            "AND id IN (SELECT unnest(?::VARCHAR[]))",
            [system, wanted],
        ).fetchall()
        known.update(
            ((system, rid), _Known(bool(deleted), payload, bool(expected), bool(dirty)))
            for rid, deleted, payload, expected, dirty in rows
        )
    return known


def _changed(rows: Sequence[_Row], known: Sequence[_Known]) -> list[bool]:
    """Per row read again: its deletion or content differs from the mirrored row.

    The same payload text is the same content, stamps and all (a row read again untouched), so
    only the other rows are decoded, all in one `decode_json` (a call per row cost half as much
    again) and compared without their stamps."""
    suspect = [
        old.deleted == row.record.deleted and old.payload != row.payload
        for row, old in zip(rows, known, strict=True)
    ]
    olds = iter(_decode([old.payload for old, s in zip(known, suspect, strict=True) if s]))
    return [
        old.deleted != row.record.deleted
        or (s and _differs(next(olds), row.record.values, expected=old.expected))
        for row, old, s in zip(rows, known, suspect, strict=True)
    ]


def _decode(texts: Sequence[str | None]) -> list[dict[str, Any]]:
    """Payload texts decoded by one call: json shares each field name's string across an array
    (memo) and the call overhead is paid once."""
    if not texts:
        return []
    return decode_json("[" + ",".join(text or "{}" for text in texts) + "]")


@dataclass(frozen=True, slots=True)
class _Row:
    """A record about to be stored, with its payload text."""

    record: Record
    payload: str


def _frame(rows: Sequence[_Row], dirty: Sequence[bool]) -> pa.Table:
    records = [row.record for row in rows]
    return pa.table(
        {
            "system": [str(r.system) for r in records],
            "object": [r.object for r in records],
            "id": [r.id for r in records],
            "key": [r.key for r in records],
            "modified_at": pa.array(
                [r.modified_at for r in records], type=pa.timestamp("us", tz="UTC")
            ),
            "modified_by": [r.modified_by for r in records],
            "created": [r.created for r in records],
            "deleted": [r.deleted for r in records],
            "payload": [row.payload for row in rows],
            "dirty": pa.array(dirty, type=pa.bool_()),
        }
    )


def _payload(values: Mapping[str, Any]) -> str:
    return _to_json(values if isinstance(values, dict) else dict(values))


def upsert(conn: duckdb.DuckDBPyConnection, records: Sequence[Record], *, now: datetime) -> int:
    """Store what was read, marking a row dirty when it changed since the last read; returns
    how many rows were new or changed (a boundary row or an echo read again unchanged is not).

    The mirror is asked once which rows it has. A known row is deleted and inserted again
    rather than updated: DuckDB holds an UPDATE's values outside its block cache until the
    next checkpoint, so an echo read of every record at 100,000 contacts (266,000 rows
    rewritten, 2,000 a transaction) ran the engine's DuckDB out of memory after ~45,000; an
    appended row is a block the cache may write out. It costs no more CPU (1.9-2.4 against
    2.5-2.8 s for 36,000 rows)."""
    if not records:
        return 0
    latest = {(r.system, r.id): r for r in records}
    known = _known(conn, latest)
    new: list[_Row] = []
    again: list[_Row] = []
    olds: list[_Known] = []
    for (system, rid), record in latest.items():
        row = _Row(record, _payload(record.values))
        old = known.get((str(system), rid))
        if old is None:
            new.append(row)
        else:
            again.append(row)
            olds.append(old)
    changed = _changed(again, olds)
    if again:  # replaced, not updated (see above): its dirty flag carried over
        keys = pa.table(
            {"system": [str(r.record.system) for r in again], "id": [r.record.id for r in again]}
        )
        execute_with(
            conn,
            f"DELETE FROM records WHERE (system, id) IN (SELECT system, id FROM {BATCH})",
            keys,
        )
    dirty = [True] * len(new) + [old.dirty or c for old, c in zip(olds, changed, strict=True)]
    execute_with(
        conn,
        f"INSERT INTO records ({', '.join(_COLUMNS)}) "
        "SELECT system, object, id, key, modified_at, modified_by, created, deleted, dirty, "
        f"payload::JSON, ? FROM {BATCH}",
        _frame([*new, *again], dirty),
        [now],
    )
    return len(new) + sum(changed)


def expect(conn: duckdb.DuckDBPyConnection, records: Sequence[Record]) -> None:
    """Mirror records the engine has just created, holding what it wrote: not dirty, and never
    read (read_at null) until their echo is. The echo is then a change only where the system
    holds something else (a default it set, a value it normalised, an automation's edit), and
    only then is the record decided again; before, an initial sync decided every record it
    created a second time, a tenth to a sixth of its CPU (measured at 10,000 and 20,000
    contacts). Until the echo is read, later decisions see the record as written (a record
    sharing its match key finds it).

    Their ids were minted by the very calls that created them, so no row has them yet."""
    if records:
        rows = [_Row(r, _payload(r.values)) for r in records]
        execute_with(
            conn,
            f"INSERT INTO records ({', '.join(_COLUMNS)}) "
            "SELECT system, object, id, key, modified_at, modified_by, created, deleted, false, "
            f"payload::JSON, NULL FROM {BATCH}",
            _frame(rows, [False] * len(rows)),
        )


_SYSTEMS = {s.value: s for s in System}  # System(value) per row called into enum machinery
_FETCH = 1000  # rows fetched and decoded at a time


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _record(row: tuple[Any, ...], values: dict[str, Any]) -> Record:
    system, obj, rid, key, modified_us, modified_by, created, deleted, _payload = row
    return Record(
        system=_SYSTEMS.get(system) or System(system),
        object=obj,
        id=rid,
        key=key,
        modified_at=None if modified_us is None else _EPOCH + timedelta(microseconds=modified_us),
        modified_by=modified_by,
        created=created or "",
        deleted=bool(deleted),
        values=values,
    )


def _rows(conn: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any]) -> list[Record]:
    # modified_at comes as microseconds since the epoch: DuckDB's conversion of a TIMESTAMPTZ to
    # a datetime (in its time zone, then astimezone(UTC) here) was half the cost of the fetch.
    result = conn.execute(
        "SELECT system, object, id, key, epoch_us(modified_at) AS modified_us, modified_by, "
        f"created, deleted, payload FROM records WHERE {where}",
        list(params),
    )
    out: list[Record] = []
    while rows := result.fetchmany(_FETCH):
        # One decode per slice (see `_decode`), where a decode per row would also give every
        # record its own copies of the field names; slices keep the raw text of only a thousand
        # rows beside the records (a chunk's text was its peak).
        payloads = _decode([row[8] for row in rows])
        out += [_record(row, values) for row, values in zip(rows, payloads, strict=True)]
    return out


Position = tuple[datetime, str]  # (modified_at, id) of the last dirty row taken
_NEVER = datetime(1, 1, 1, tzinfo=UTC)  # where rows without a stamp sort (first)
_ORDER_KEY = "coalesce(modified_at, TIMESTAMPTZ '0001-01-01 00:00:00+00')"


def position(record: Record) -> Position:
    return (record.modified_at or _NEVER, record.id)


def dirty(
    conn: duckdb.DuckDBPyConnection,
    system: System,
    objects: Sequence[str],
    *,
    after: Position | None = None,
    limit: int | None = None,
) -> list[Record]:
    """Rows read but not yet decided, oldest change first (ties by id); with `after` and
    `limit`, the next page of them (keyset paging: rows decided meanwhile drop out, the rest
    keep their place).

    The page's ids are picked first and its rows fetched after: a LIMIT over whole rows made
    DuckDB carry every dirty row's payload through the sort (0.44 s against 0.17 s for a page
    of 12,000 among 113,000 dirty rows; a micro-benchmark, too small to see in a whole run)."""
    page = "SELECT id FROM records WHERE system = ? AND object IN (SELECT unnest(?)) AND dirty"
    params: list[Any] = [str(system), list(objects)]
    if after is not None:
        page += f" AND ({_ORDER_KEY} > ? OR ({_ORDER_KEY} = ? AND id > ?))"
        params += [after[0], after[0], after[1]]
    page += f" ORDER BY {_ORDER_KEY}, id"
    if limit is not None:
        page += f" LIMIT {int(limit)}"
    where = (
        f"system = ? AND object IN (SELECT unnest(?)) AND id IN ({page}) ORDER BY {_ORDER_KEY}, id"
    )
    return _rows(conn, where, [str(system), list(objects), *params])


def undecided_objects(conn: duckdb.DuckDBPyConnection) -> frozenset[tuple[str, str]]:
    """The (system, object) pairs, as cursors name them, with rows read but not yet decided,
    by one scan: a cycle skips the objects with none instead of asking `dirty` of each side
    (two scans each, the largest part of an idle cycle's CPU after the calls)."""
    rows = conn.execute("SELECT DISTINCT system, object FROM records WHERE dirty").fetchall()
    return frozenset((system, obj) for system, obj in rows)


def dirty_among(conn: duckdb.DuckDBPyConnection, system: System, ids: Iterable[str]) -> set[str]:
    """Which of ids are read but not yet decided."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    rows = conn.execute(
        "SELECT id FROM records WHERE system = ? AND dirty AND id IN (SELECT unnest(?))",
        [str(system), wanted],
    ).fetchall()
    return {rid for (rid,) in rows}


def by_ids(conn: duckdb.DuckDBPyConnection, system: System, ids: Iterable[str]) -> list[Record]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return _rows(conn, "system = ? AND id IN (SELECT unnest(?))", [str(system), wanted])


def by_keys(
    conn: duckdb.DuckDBPyConnection,
    system: System,
    objects: Sequence[str],
    keys: Iterable[str],
    *,
    exclude: Iterable[str] = (),
) -> list[Record]:
    """Rows sharing a match key with `keys`, except the ids in `exclude` (already loaded)."""
    wanted = sorted({k for k in keys if k})
    if not wanted:
        return []
    return _rows(
        conn,
        "system = ? AND object IN (SELECT unnest(?)) AND key IN (SELECT unnest(?)) "
        "AND id NOT IN (SELECT unnest(?::VARCHAR[]))",
        [str(system), list(objects), wanted, sorted(set(exclude))],
    )


def all_of(conn: duckdb.DuckDBPyConnection, system: System, objects: Sequence[str]) -> list[Record]:
    return _rows(
        conn,
        "system = ? AND object IN (SELECT unnest(?)) AND NOT deleted",
        [str(system), list(objects)],
    )


class Stamped(Protocol):
    """A record as far as marking it decided goes (a `Record`, or the engine's lighter note)."""

    @property
    def id(self) -> str: ...

    @property
    def modified_at(self) -> datetime | None: ...


def mark_processed(
    conn: duckdb.DuckDBPyConnection, system: System, records: Iterable[Stamped]
) -> int:
    """Clear the dirty flag of rows decided this cycle, unless a newer read changed them since."""
    stamps = [(r.id, r.modified_at) for r in records]
    if not stamps:
        return 0
    frame = pa.table(
        {
            "id": [i for i, _ in stamps],
            "modified_at": pa.array([m for _, m in stamps], type=pa.timestamp("us", tz="UTC")),
        }
    )
    execute_with(
        conn,
        f"UPDATE records SET dirty = false FROM {BATCH} d "
        "WHERE records.system = ? AND records.id = d.id "
        "AND records.modified_at IS NOT DISTINCT FROM d.modified_at",
        frame,
        [str(system)],
    )
    return len(stamps)


def has_live(conn: duckdb.DuckDBPyConnection, system: System, obj: str) -> bool:
    """Whether any record of obj is mirrored and not deleted (one a deletion could concern)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM records WHERE system = ? AND object = ? AND NOT deleted)",
        [str(system), obj],
    ).fetchone()
    return bool(row and row[0])


def mark_deleted(
    conn: duckdb.DuckDBPyConnection,
    system: System,
    obj: str,
    deleted: Mapping[str, datetime | None],
    *,
    now: datetime,
) -> int:
    """Mirrored rows of obj found deleted by a read of their own (HubSpot's archived list: its
    search never returns them), with when (modified_at, where known): marked deleted and dirty,
    so the deletion policy decides their partners. Returns how many were live; the values stay,
    for the messages that name the record."""
    if not deleted:
        return 0
    frame = pa.table(
        {
            "id": pa.array(list(deleted), type=pa.string()),
            "at": pa.array(list(deleted.values()), type=pa.timestamp("us", tz="UTC")),
        }
    )
    marked = execute_with(
        conn,
        "UPDATE records SET deleted = true, dirty = true, read_at = ?, "
        f"modified_at = coalesce(d.at, records.modified_at) FROM {BATCH} d "
        "WHERE records.system = ? AND records.object = ? AND records.id = d.id "
        "AND NOT records.deleted RETURNING records.id",
        frame,
        [now, str(system), obj],
    ).fetchall()
    return len(marked)


def mark_dirty(conn: duckdb.DuckDBPyConnection, system: System, ids: Iterable[str]) -> None:
    """Queue records for another decision (a retried error, a fixed value map)."""
    wanted = sorted(set(ids))
    if wanted:
        conn.execute(
            "UPDATE records SET dirty = true WHERE system = ? AND id IN (SELECT unnest(?))",
            [str(system), wanted],
        )


def apply_written(
    conn: duckdb.DuckDBPyConnection,
    system: System,
    written: Sequence[tuple[str, Mapping[str, Any]]],
) -> None:
    """Fold values just written into the mirrored rows, so later decisions see them. A record
    written twice gets both, the later value of a field winning (an UPDATE takes one source row
    per target row)."""
    if not written:
        return
    patches: dict[str, dict[str, Any]] = {}
    for rid, values in written:
        patches.setdefault(rid, {}).update(values)
    frame = pa.table({"id": list(patches), "patch": [_to_json(v) for v in patches.values()]})
    execute_with(
        conn,
        "UPDATE records SET payload = json_merge_patch(records.payload, w.patch::JSON) "
        f"FROM {BATCH} w WHERE records.system = ? AND records.id = w.id",
        frame,
        [str(system)],
    )
