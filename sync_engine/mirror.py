"""The engine's copy of both systems' records, in the audit store: a durable queue of changes.

Reading and deciding are decoupled through it. A cycle first reads what changed since its cursors
and upserts those rows here, marked dirty, in the same transaction that moves the cursors; the
decisions then work off the dirty rows and the rows they need to compare with (partners, records
sharing a match key), and mark each row processed in the transaction that records its writes. So a
crash between the two loses nothing (the rows stay dirty), a budget-limited cycle leaves the rest
for the next one, and matching by email or domain costs no API call. It is also what the
dashboard's inclusion preview evaluates, without touching HubSpot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from sync_engine.models import System
from sync_engine.plan import Record
from sync_engine.store import BATCH, execute_with

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


# json.dumps(values, default=str, ensure_ascii=False, separators=(",", ":")), without building an
# encoder per call.
_JSON = json.JSONEncoder(default=str, ensure_ascii=False, separators=(",", ":"))


def _to_json(values: Any) -> str:
    return _JSON.encode(values)


# A row read again is a change when its deletion or any value other than these stamps differs.
# The stamp alone is no change: the echo of the engine's own write (already folded in by
# `apply_written`) need not be decided again; and the stamp is not enough either, because
# Salesforce stamps whole seconds, so two saves within one second share one.
STAMP_FIELDS = frozenset(
    {"SystemModstamp", "LastModifiedDate", "LastModifiedById", "lastmodifieddate",
     "hs_lastmodifieddate", "updatedAt"}
)  # fmt: skip


def _content(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in STAMP_FIELDS}


def _changed(
    conn: duckdb.DuckDBPyConnection, latest: Mapping[tuple[str, str], Record]
) -> list[bool]:
    """Per record: new to the mirror, or its deletion or content differs from the mirrored row."""
    ids: dict[str, list[str]] = {}
    for system, rid in latest:
        ids.setdefault(str(system), []).append(rid)
    known: dict[tuple[str, str], tuple[bool, str | None]] = {}
    for system, wanted in ids.items():
        rows = conn.execute(
            "SELECT id, deleted, payload FROM records WHERE system = ? "
            "AND id IN (SELECT unnest(?::VARCHAR[]))",
            [system, wanted],
        ).fetchall()
        known.update(((system, rid), (bool(deleted), payload)) for rid, deleted, payload in rows)
    out = []
    for (system, rid), record in latest.items():
        old = known.get((str(system), rid))
        out.append(
            old is None
            or old[0] != record.deleted
            or _content(json.loads(old[1]) if old[1] else {}) != _content(record.values)
        )
    return out


def upsert(conn: duckdb.DuckDBPyConnection, records: Sequence[Record], *, now: datetime) -> int:
    """Store what was read, marking a row dirty when it changed since the last read; returns
    how many rows were new or changed (a boundary row or an echo read again unchanged is not)."""
    if not records:
        return 0
    latest = {(r.system, r.id): r for r in records}
    changed = _changed(conn, latest)
    frame = pa.table(
        {
            "system": [str(r.system) for r in latest.values()],
            "object": [r.object for r in latest.values()],
            "id": [r.id for r in latest.values()],
            "key": [r.key for r in latest.values()],
            "modified_at": pa.array(
                [r.modified_at for r in latest.values()], type=pa.timestamp("us", tz="UTC")
            ),
            "modified_by": [r.modified_by for r in latest.values()],
            "created": [r.created for r in latest.values()],
            "deleted": [r.deleted for r in latest.values()],
            "payload": [_to_json(dict(r.values)) for r in latest.values()],
            "changed": changed,
        }
    )
    conn.register("__mirror_batch", frame)
    try:
        conn.execute(
            """
            MERGE INTO records t USING __mirror_batch s
            ON t.system = s.system AND t.id = s.id
            WHEN MATCHED THEN UPDATE SET
                object = s.object, key = s.key, modified_by = s.modified_by,
                created = s.created, deleted = s.deleted, read_at = ?,
                dirty = t.dirty OR s.changed,
                payload = s.payload::JSON, modified_at = s.modified_at
            WHEN NOT MATCHED THEN INSERT
                (system, object, id, key, modified_at, modified_by, created, deleted, dirty,
                 payload, read_at)
            VALUES (s.system, s.object, s.id, s.key, s.modified_at, s.modified_by, s.created,
                    s.deleted, true, s.payload::JSON, ?)
            """,
            [now, now],
        )
    finally:
        conn.unregister("__mirror_batch")
    return sum(changed)


_SYSTEMS = {s.value: s for s in System}  # System(value) per row called into enum machinery
_FETCH = 1000  # rows fetched and decoded at a time


def _record(row: tuple[Any, ...], values: dict[str, Any]) -> Record:
    system, obj, rid, key, modified_at, modified_by, created, deleted, _payload = row
    return Record(
        system=_SYSTEMS.get(system) or System(system),
        object=obj,
        id=rid,
        key=key,
        modified_at=modified_at.astimezone(UTC) if modified_at else None,
        modified_by=modified_by,
        created=created or "",
        deleted=bool(deleted),
        values=values,
    )


def _rows(conn: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any]) -> list[Record]:
    result = conn.execute(
        "SELECT system, object, id, key, modified_at, modified_by, created, deleted, payload "
        f"FROM records WHERE {where}",
        list(params),
    )
    out: list[Record] = []
    while rows := result.fetchmany(_FETCH):
        # One decode per slice: json shares each field name's string across an array (memo),
        # where a decode per row would give every record its own copies; slices keep the raw
        # text of only a thousand rows beside the records (a chunk's text was its peak).
        payloads = json.loads("[" + ",".join(row[8] or "{}" for row in rows) + "]")
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
    keep their place)."""
    where = "system = ? AND object IN (SELECT unnest(?)) AND dirty"
    params: list[Any] = [str(system), list(objects)]
    if after is not None:
        where += f" AND ({_ORDER_KEY} > ? OR ({_ORDER_KEY} = ? AND id > ?))"
        params += [after[0], after[0], after[1]]
    where += f" ORDER BY {_ORDER_KEY}, id"
    if limit is not None:
        where += f" LIMIT {int(limit)}"
    return _rows(conn, where, params)


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
    conn.register("__mirror_done", frame)
    try:
        conn.execute(
            "UPDATE records SET dirty = false FROM __mirror_done d "
            "WHERE records.system = ? AND records.id = d.id "
            "AND records.modified_at IS NOT DISTINCT FROM d.modified_at",
            [str(system)],
        )
    finally:
        conn.unregister("__mirror_done")
    return len(stamps)


def mark_dirty(conn: duckdb.DuckDBPyConnection, system: System, ids: Iterable[str]) -> None:
    """Queue records for another decision (a retried error, a fixed value map)."""
    wanted = sorted(set(ids))
    if wanted:
        conn.execute(
            "UPDATE records SET dirty = true WHERE system = ? AND id IN (SELECT unnest(?))",
            [str(system), wanted],
        )


def apply_written(
    conn: duckdb.DuckDBPyConnection, system: System, written: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    """Fold values just written into the mirrored rows, so later decisions see them."""
    if not written:
        return
    frame = pa.table(
        {"id": [rid for rid, _ in written], "patch": [_to_json(v) for _, v in written]}
    )
    execute_with(
        conn,
        "UPDATE records SET payload = json_merge_patch(records.payload, w.patch::JSON) "
        f"FROM {BATCH} w WHERE records.system = ? AND records.id = w.id",
        frame,
        [str(system)],
    )
