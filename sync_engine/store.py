"""The DuckDB audit store: everything the engine did, refused and decided, plus its own state.

Why it looks like this:

- DuckDB lets one process open a file read-write, or several processes read-only, never both. The
  engine and the dashboard may be different processes, so nobody holds the file across a wait:
  `AuditStore.write()` attaches it, runs one transaction (one batch) and commits; the read-write
  attachment lingers for `LINGER_SECONDS` (a writer committing batch after batch pays DuckDB's
  checkpoint-on-detach once, not per batch) and is dropped at once when another process queues
  for the file or the engine calls `release()` before waiting;
  `AuditStore.read()` attaches it read-only for a few queries and detaches. Both retry with
  backoff while another process holds the file (up to `lock_timeout`), and a party that has waited
  a while is let in before newcomers (the `<db>.waiters` sidecar file), so a writer committing in a
  tight loop cannot starve the dashboard, nor a busy dashboard the engine. Callers see
  `StoreBusyError` (a `RetriableError`) only when the file stays locked past the bound.
- Files are ATTACHed to one in-memory DuckDB per process rather than opened with `connect()`:
  attaching costs ~2 ms where a new database instance costs ~15 (DuckDB builds its function
  catalog per instance), and DuckDB refuses to mix read-only and read-write opens of one file in
  one process. A per-file gate keeps the attachment in one mode: readers attach read-only while no
  writer is active here, and share the writer's read-write attachment while one is, each on its
  own cursor in a READ ONLY transaction that sees committed data only. Writers are serialised per
  process. Code in the same process must go through the store, not `duckdb.connect()` the file.
- A transaction either commits its whole batch with the cursor that covers it, or nothing: DuckDB's
  write-ahead log makes a committed batch survive `kill -9`, and an uncommitted one vanish.
- The schema is data (`TABLES`): it is created, and missing columns added, on the first write
  (`schema_version` records the level); a reader of a file that does not exist yet (or was never
  initialised) gets the same tables, empty, in memory.

Conventions: every timestamp is a timezone-aware UTC `TIMESTAMPTZ` (naive datetimes are refused);
record values (old/new/base/synced values) are stored as text (`to_text`); `duplicates.record_ids`
is a `VARCHAR[]` list; `payload`/`details` columns are JSON. The column `at` is a reserved word in
DuckDB 2: outside queries must quote it (`"at"`). The store has no column for credentials, and a
store built with `secrets=settings.secrets` refuses any batch containing one of them.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import itertools
import json
import os
import random
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import duckdb
import orjson
import pyarrow as pa

from sync_engine.errors import RetriableError

try:  # advisory locks for the waiting queue; without them (Windows) only the retry remains
    import fcntl
except ImportError:  # pragma: no cover - not on Linux/macOS
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 6
# 2: records (the engine's mirror); field_history like SyncWrite; 3: pending_creates;
# 4: records.payload and pending_creates.write stored uncompressed (tables rebuilt);
# 5: sync_cursors.settled; 6: synced_values (a row per field) became synced_bases (a row per
# pair) and a view of it

SYSTEMS = ("hubspot", "salesforce")
RUN_KINDS = ("scheduled", "segment", "dry_run", "initial")
RUN_STATUSES = ("running", "succeeded", "partial", "failed", "interrupted")
DIRECTIONS = ("hubspot_to_salesforce", "salesforce_to_hubspot")
ERROR_CATEGORIES = (
    "property_value",
    "permissions",
    "duplicates",
    "associations",
    "custom_code",
    "api_limit",
    "transient",
)
ERROR_STATUSES = ("open", "retrying", "resolved", "ignored")
DUPLICATE_STATUSES = ("open", "resolved", "ignored")


# --------------------------------------------------------------------------------------------
# Schema, as data


@dataclass(frozen=True)
class Column:
    """One column: name, DuckDB type, optional SQL default and storage compression (None:
    DuckDB picks one per segment at each checkpoint)."""

    name: str
    type: str
    default: str | None = None
    compression: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _cols(spec: str) -> tuple[Column, ...]:
    """Parse "name TYPE [DEFAULT expr] [USING COMPRESSION method]" lines: compact, and still
    plain data."""
    out = []
    for line in spec.strip().splitlines():
        name, _, rest = line.strip().rstrip(",").partition(" ")
        rest, _, compression = rest.partition(" USING COMPRESSION ")
        sqltype, _, default = rest.partition(" DEFAULT ")
        out.append(
            Column(name, sqltype.strip(), default.strip() or None, compression.strip() or None)
        )
    return tuple(out)


SEQUENCES = ("run_id_seq", "error_id_seq", "audit_id_seq")

TABLES: tuple[Table, ...] = (
    Table("schema_version", _cols("version INTEGER\napplied_at TIMESTAMPTZ")),
    Table(
        "sync_runs",
        _cols("""
            run_id BIGINT DEFAULT nextval('run_id_seq')
            kind VARCHAR
            started_at TIMESTAMPTZ
            finished_at TIMESTAMPTZ
            status VARCHAR
            records_read BIGINT DEFAULT 0
            records_written BIGINT DEFAULT 0
            error_count BIGINT DEFAULT 0
            sf_api_calls BIGINT DEFAULT 0
            hs_api_calls BIGINT DEFAULT 0
            message VARCHAR
            triggered_by VARCHAR
        """),
    ),
    Table(
        "field_changes",
        _cols("""
            run_id BIGINT
            object VARCHAR
            direction VARCHAR
            hs_id VARCHAR
            sf_id VARCHAR
            field VARCHAR
            old_value VARCHAR
            new_value VARCHAR
            reason VARCHAR
            at TIMESTAMPTZ
            sf_object VARCHAR
            source_field VARCHAR
            applied BOOLEAN DEFAULT true
        """),
    ),
    Table(
        "conflicts",
        _cols("""
            run_id BIGINT
            object VARCHAR
            hs_id VARCHAR
            sf_id VARCHAR
            field VARCHAR
            base_value VARCHAR
            hs_value VARCHAR
            sf_value VARCHAR
            rule VARCHAR
            winner VARCHAR
            at TIMESTAMPTZ
            sf_object VARCHAR
            sf_field VARCHAR
            hs_changed_at TIMESTAMPTZ
            sf_changed_at TIMESTAMPTZ
        """),
    ),
    Table(
        "duplicates",
        _cols("""
            cluster_id VARCHAR
            system VARCHAR
            object VARCHAR
            record_ids VARCHAR[]
            match_key VARCHAR
            reason VARCHAR
            status VARCHAR
            detected_at TIMESTAMPTZ
            last_seen TIMESTAMPTZ
            kept_id VARCHAR
            run_id BIGINT
            resolved_at TIMESTAMPTZ
            resolved_by VARCHAR
        """),
    ),
    Table(
        "sync_errors",
        _cols("""
            error_id BIGINT DEFAULT nextval('error_id_seq')
            run_id BIGINT
            system VARCHAR
            object VARCHAR
            record_id VARCHAR
            category VARCHAR
            code VARCHAR
            message VARCHAR
            field VARCHAR
            status VARCHAR
            attempts INTEGER DEFAULT 1
            first_seen TIMESTAMPTZ
            last_seen TIMESTAMPTZ
            value VARCHAR
            suggested_fix VARCHAR
            sf_object VARCHAR
            hs_object VARCHAR
            payload JSON
            resolved_at TIMESTAMPTZ
            resolved_by VARCHAR
        """),
    ),
    Table(
        "api_usage",
        _cols("""
            at TIMESTAMPTZ
            system VARCHAR
            endpoint VARCHAR
            calls BIGINT
            used_today BIGINT
            daily_limit BIGINT
            run_id BIGINT
        """),
    ),
    Table(
        "id_links",
        _cols("""
            object VARCHAR
            hs_id VARCHAR
            sf_object VARCHAR
            sf_id VARCHAR
            linked_at TIMESTAMPTZ
            match_key VARCHAR
            run_id BIGINT
            updated_at TIMESTAMPTZ
            previous_sf_object VARCHAR
            previous_sf_id VARCHAR
        """),
    ),
    Table(
        "sync_cursors",
        _cols("""
            system VARCHAR
            object VARCHAR
            modstamp TIMESTAMPTZ
            last_id VARCHAR
            updated_at TIMESTAMPTZ
            run_id BIGINT
            settled BOOLEAN DEFAULT false
        """),
    ),
    # The base of each linked pair's three-way merge, a row per pair: {mapping key: value} as
    # JSON text (read field by field through the view `synced_values`). A row per field was
    # twelve rows a pair, half of every row an initial sync stored, and replacing a batch's
    # rows scanned them all (30 ms a batch at 100,000 contacts). Rewritten as pairs are
    # synced, so left uncompressed, as the mirror's payloads are.
    Table(
        "synced_bases",
        _cols("""
            object VARCHAR
            hs_id VARCHAR
            sf_id VARCHAR
            base VARCHAR USING COMPRESSION uncompressed
            synced_at TIMESTAMPTZ
            run_id BIGINT
        """),
    ),
    Table(
        "field_history",
        _cols("""
            object VARCHAR
            hs_id VARCHAR
            sf_id VARCHAR
            field VARCHAR
            system_written VARCHAR
            value VARCHAR
            at TIMESTAMPTZ
            cycle BIGINT
            origin VARCHAR
            sf_object VARCHAR
            run_id BIGINT
        """),
    ),
    # The engine's copy of both systems' records: its durable queue (sync_engine/mirror.py).
    # Payloads are rewritten as values are written and read back, and DuckDB compresses an
    # updated column again at every checkpoint: 0.8 s per checkpoint at 100,000 contacts, where
    # uncompressed payloads take 0.1 s (and scans of them half as long). The initial sync's CPU
    # fell by 15 % at that size (79.4 -> 67.7 s in-process), for a file twice as large.
    Table(
        "records",
        _cols("""
            system VARCHAR
            object VARCHAR
            id VARCHAR
            key VARCHAR
            modified_at TIMESTAMPTZ
            modified_by VARCHAR
            created VARCHAR
            deleted BOOLEAN DEFAULT false
            dirty BOOLEAN DEFAULT true
            payload JSON USING COMPRESSION uncompressed
            read_at TIMESTAMPTZ
        """),
    ),
    Table(
        "engine_state",
        _cols("""
            id INTEGER
            paused BOOLEAN DEFAULT false
            paused_reason VARCHAR
            changed_by VARCHAR
            changed_at TIMESTAMPTZ
            heartbeat_at TIMESTAMPTZ
            next_cycle_at TIMESTAMPTZ
            current_run_id BIGINT
            pid INTEGER
            host VARCHAR
        """),
    ),
    Table(
        "audit_log",
        _cols("""
            audit_id BIGINT DEFAULT nextval('audit_id_seq')
            at TIMESTAMPTZ
            actor VARCHAR
            action VARCHAR
            object VARCHAR
            record_id VARCHAR
            error_id BIGINT
            details JSON
        """),
    ),
    # Creates sent but not yet committed: what a restart records if the record exists. Rows
    # live for one commit group of batches: compressing their writes at a checkpoint would be
    # work thrown away.
    Table(
        "pending_creates",
        _cols("""
            object VARCHAR
            system VARCHAR
            source_id VARCHAR
            key VARCHAR
            write JSON USING COMPRESSION uncompressed
            run_id BIGINT
            at TIMESTAMPTZ
        """),
    ),
    Table(  # the activity sync's queue: every activity, its Task, and why it waits (activities.py)
        "activity_queue",
        _cols("""
            key VARCHAR
            type VARCHAR
            direction VARCHAR
            source_id VARCHAR
            contact_id VARCHAR
            occurred_at TIMESTAMPTZ
            payload JSON
            task JSON
            status VARCHAR
            reason VARCHAR
            sf_id VARCHAR
            created_day DATE
            first_seen TIMESTAMPTZ
            updated_at TIMESTAMPTZ
            run_id BIGINT
        """),
    ),
)
TABLE = {t.name: t for t in TABLES}

# ART indexes on ids were measured (benchmarks/bench_store.py, 1M field_changes) and left out:
# they cut a person's timeline from ~60 to ~35 ms but made every engine batch ~70% slower (69 ->
# 117 ms: each checkpoint rewrites them), and the engine writes far more often than people look.
# Zone maps already prune by time, since rows arrive in time order. Declared here if that changes.
INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

VIEWS = {
    # The bases field by field: (object, hs_id, sf_id, field, value, synced_at, run_id).
    "synced_values": (
        "SELECT object, hs_id, sf_id, unnest(map_keys(m)) AS field, "
        "unnest(map_values(m)) AS value, synced_at, run_id FROM "
        "(SELECT *, json_transform(base, '\"MAP(VARCHAR, VARCHAR)\"') AS m FROM synced_bases)"
    ),
    # Every fix or status change made to an error, by whom and when (rows of audit_log).
    "error_fixes": (
        'SELECT audit_id, "at", actor, action, error_id, object, record_id, details '
        "FROM audit_log WHERE error_id IS NOT NULL"
    ),
}

# Allowed values, checked before anything is written so a typo never lands in the store.
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("sync_runs", "kind"): RUN_KINDS,
    ("sync_runs", "status"): RUN_STATUSES,
    ("field_changes", "direction"): DIRECTIONS,
    ("conflicts", "winner"): SYSTEMS,
    ("duplicates", "system"): SYSTEMS,
    ("duplicates", "status"): DUPLICATE_STATUSES,
    ("sync_errors", "system"): SYSTEMS,
    ("sync_errors", "category"): ERROR_CATEGORIES,
    ("sync_errors", "status"): ERROR_STATUSES,
    ("api_usage", "system"): SYSTEMS,
    ("sync_cursors", "system"): SYSTEMS,
    ("field_history", "system_written"): SYSTEMS,
}

_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "VARCHAR[]": pa.list_(pa.string()),
}


def _q(name: str) -> str:
    """Quote an identifier from our own schema (never user input): `at` is reserved."""
    return '"' + name.replace('"', '""') + '"'


def schema_ddl() -> list[str]:
    """Statements that create the whole schema (idempotent)."""
    stmts = [f"CREATE SEQUENCE IF NOT EXISTS {s}" for s in SEQUENCES]
    for t in TABLES:
        stmts.append(f"CREATE TABLE IF NOT EXISTS {t.name} ({_column_ddl(t)})")
    stmts += [
        f"CREATE INDEX IF NOT EXISTS {n} ON {t} ({', '.join(_q(c) for c in cols)})"
        for n, t, cols in INDEXES
    ]
    stmts += [f"CREATE OR REPLACE VIEW {n} AS {sql}" for n, sql in VIEWS.items()]
    return stmts


def _column_ddl(table: Table) -> str:
    return ", ".join(
        f"{_q(c.name)} {c.type}"
        + (f" DEFAULT {c.default}" if c.default else "")
        + (f" USING COMPRESSION {c.compression}" if c.compression else "")
        for c in table.columns
    )


def _recompressed(conn: duckdb.DuckDBPyConnection) -> list[Table]:
    """Tables of the file created before one of their columns had its compression set: only a
    table created anew stores the column so (DuckDB has no ALTER for it)."""
    found = dict(
        conn.execute(
            "SELECT table_name, sql FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
    )
    return [
        t
        for t in TABLES
        if t.name in found
        and any(
            c.compression
            and not re.search(
                rf'(^|[(,\s"]){re.escape(c.name)}"?\s[^,]*USING COMPRESSION {c.compression}\b',
                found[t.name],
                re.IGNORECASE,
            )
            for c in t.columns
        )
    ]


def _rebuild(conn: duckdb.DuckDBPyConnection, table: Table) -> None:
    """Create table anew, with its rows: the columns the old one had are copied, the others
    take their defaults."""
    old = f"{table.name}__before_v{SCHEMA_VERSION}"
    had = {c for t, c in _present(conn) if t == table.name}
    cols = ", ".join(_q(c.name) for c in table.columns if c.name in had)
    conn.execute(f"ALTER TABLE {table.name} RENAME TO {old}")
    conn.execute(f"CREATE TABLE {table.name} ({_column_ddl(table)})")
    conn.execute(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {old}")
    conn.execute(f"DROP TABLE {old}")


def _present(conn: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(table, column) pairs of the attached database."""
    return set(
        conn.execute(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
    )


def _missing(have: set[tuple[str, str]]) -> list[tuple[Table, Column]]:
    return [(t, c) for t in TABLES for c in t.columns if (t.name, c.name) not in have]


def _missing_columns(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """ALTER statements for columns a newer schema added to tables an older one created."""
    return [
        f"ALTER TABLE {t.name} ADD COLUMN {_q(c.name)} {c.type}"
        + (f" DEFAULT {c.default}" if c.default else "")
        for t, c in _missing(_present(conn))
    ]


def _bases_by_pair(conn: duckdb.DuckDBPyConnection) -> None:
    """Version 6: the bases of a file kept a row per field (table synced_values) move to a row
    per pair (synced_bases); the view of that name then shows them as before."""
    found = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'synced_values'"
    ).fetchone()
    if not found or not found[0]:
        return
    conn.execute(f"CREATE TABLE IF NOT EXISTS synced_bases ({_column_ddl(TABLE['synced_bases'])})")
    conn.execute(
        "INSERT INTO synced_bases (object, hs_id, sf_id, base, synced_at, run_id) "
        "SELECT object, hs_id, sf_id, json_group_object(field, value)::VARCHAR, max(synced_at), "
        "max(run_id) FROM (SELECT * FROM synced_values QUALIFY row_number() OVER "
        "(PARTITION BY object, hs_id, sf_id, field ORDER BY synced_at DESC) = 1) GROUP BY ALL"
    )
    conn.execute("DROP TABLE synced_values")


def schema_level(conn: duckdb.DuckDBPyConnection) -> int:
    """The schema version recorded in the database, 0 when it was never initialised."""
    found = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' "
        "AND table_name = 'schema_version'"
    ).fetchone()
    if not found or not found[0]:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def ensure_schema(conn: duckdb.DuckDBPyConnection, *, now: datetime) -> bool:
    """Create or upgrade the schema in its own transaction; True when something was changed.

    The file is compared with TABLES, so a table or column added to TABLES is created even if
    SCHEMA_VERSION was not bumped (bump it anyway: it records when a file was upgraded)."""
    if (
        schema_level(conn) >= SCHEMA_VERSION
        and not _missing(_present(conn))
        and not _recompressed(conn)
    ):
        return False
    conn.execute("BEGIN TRANSACTION")
    try:
        for table in _recompressed(conn):
            _rebuild(conn, table)
        _bases_by_pair(conn)
        for stmt in schema_ddl():
            conn.execute(stmt)
        for stmt in _missing_columns(conn):
            conn.execute(stmt)
        conn.execute(
            "INSERT INTO engine_state (id, paused) SELECT 1, false "
            "WHERE NOT EXISTS (SELECT 1 FROM engine_state)"
        )
        conn.execute("INSERT INTO schema_version VALUES (?, ?)", [SCHEMA_VERSION, now])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return True


# --------------------------------------------------------------------------------------------
# Values


def to_text(value: Any) -> str | None:
    """How a record value is stored: None stays NULL, booleans are `true`/`false`, datetimes
    ISO 8601 in UTC, lists/dicts JSON, everything else `str()` (HubSpot's own representation is
    already text)."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, str):  # a StrEnum (Rule, System, ...) is stored as its value
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, list | tuple | dict):
        return _JSON.encode(value)
    return str(value)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the store only takes timezone-aware times")
    return value.astimezone(UTC)


# json.dumps(value, sort_keys=True, default=str), without building an encoder per call.
_JSON = json.JSONEncoder(sort_keys=True, default=str)


def _compact_encoder() -> Callable[[Any], str]:
    """json.dumps(values, default=str, ensure_ascii=False, separators=(",", ":")), by a C
    encoder made once where this Python has one (`JSONEncoder.encode` makes one per call). It
    skips the check for circular references: what the engine stores is decoded JSON and values
    written from it, never cyclic."""
    encoder = json.JSONEncoder(default=str, ensure_ascii=False, separators=(",", ":"))
    make = json.encoder.c_make_encoder
    if make is None:
        return encoder.encode
    encode = make(None, str, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    return lambda values: "".join(encode(values, 0))


_COMPACT = _compact_encoder()
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME  # datetimes through default=str, as json does


def compact_json(value: Any) -> str:
    """The text `_COMPACT` makes, by orjson: the same for what APIs return and the engine
    writes (strings, numbers, booleans, null, lists and dicts, in their order), six times
    faster (3.6 -> 0.6 us a mirrored record, measured on 20,000 seeded payloads; every record
    read is encoded, and every staged create). What orjson refuses (an integer beyond 64 bits,
    a key that is not a string) goes through `_COMPACT`; NaN and the infinities, which are not
    JSON, become null."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return _COMPACT(value)


# Every digit a "0", everything else a space: an integer of 19 digits or more (one that may
# not fit in 64 bits) is then a run of zeros, found in C (a regular expression took 20 times as
# long as the translation).
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_NUMBER = b"0" * 19


def decode_json(text: str) -> Any:
    """json.loads(text), by orjson where that gives the same values (2.5 times faster on a
    thousand mirrored payloads, which every decided record is read from): orjson reads an
    integer beyond 64 bits as a float, so a text holding 19 digits in a row goes through json,
    as does what orjson refuses (NaN and the infinities, which json accepts)."""
    raw = text.encode()
    if _LONG_NUMBER in raw.translate(_DIGITS_AS_ZERO):
        return json.loads(text)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _json(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return _JSON.encode(value)


def cluster_id(system: str, object: str, match_key: str) -> str:
    """Stable id of a duplicate cluster, so re-detecting it updates the same row."""
    digest = hashlib.sha1(f"{system}\x1f{object}\x1f{match_key}".encode(), usedforsecurity=False)
    return digest.hexdigest()[:16]


class SecretLeakError(ValueError):
    """A batch carried a credential; nothing of it was written."""


def find_secret(values: Iterable[str | None], secrets: Sequence[str]) -> bool:
    """True when any value contains any of the secrets (short strings are not secrets).

    The values are searched joined by NUL, once per secret rather than once per value and
    secret: a secret without a NUL can only be found within one value."""
    real = [s for s in secrets if s and len(s) >= 8]
    if not real:
        return False
    texts = [v for v in values if v]
    joined = "\x00".join(texts)
    return any(s in joined if "\x00" not in s else any(s in v for v in texts) for s in real)


# --------------------------------------------------------------------------------------------
# Rows the engine hands to the writer (plain mappings with the same keys are accepted too)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field written (or, with applied=False, that a dry run would write).

    field is the name in the target system, source_field the name it came from."""

    TABLE: ClassVar[str] = "field_changes"
    object: str
    direction: str
    field: str
    old_value: Any
    new_value: Any
    hs_id: str | None = None
    sf_id: str | None = None
    reason: str | None = None
    sf_object: str | None = None
    source_field: str | None = None
    applied: bool = True
    run_id: int | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Conflict:
    """A field changed on both sides since the last sync, and how the rule settled it."""

    TABLE: ClassVar[str] = "conflicts"
    object: str
    field: str
    base_value: Any
    hs_value: Any
    sf_value: Any
    rule: str
    winner: str
    hs_id: str | None = None
    sf_id: str | None = None
    sf_object: str | None = None
    sf_field: str | None = None
    hs_changed_at: datetime | None = None
    sf_changed_at: datetime | None = None
    run_id: int | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SyncError:
    """A record (or call) a system refused. (system, object, record_id, code, field) identify it:
    seeing it again bumps attempts/last_seen on the same row. payload is what a retry sends."""

    TABLE: ClassVar[str] = "sync_errors"
    system: str
    object: str
    category: str
    code: str
    message: str
    record_id: str | None = None
    field: str | None = None
    status: str = "open"
    value: Any = None
    suggested_fix: str | None = None
    sf_object: str | None = None
    hs_object: str | None = None
    payload: Any = None
    run_id: int | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Records of one system that look like the same entity (same match_key)."""

    TABLE: ClassVar[str] = "duplicates"
    system: str
    object: str
    record_ids: Sequence[str]
    match_key: str
    reason: str
    status: str = "open"
    kept_id: str | None = None
    run_id: int | None = None
    at: datetime | None = None

    @property
    def cluster_id(self) -> str:
        return cluster_id(self.system, self.object, self.match_key)

    @classmethod
    def from_cluster(cls, cluster: Any, *, object: str) -> Duplicate:
        """From a `matching.Cluster`: the kept record first, then the others."""
        ids = [cluster.kept.id, *(c.id for c in cluster.others)]
        return cls(
            system=cluster.system,
            object=object,
            record_ids=ids,
            match_key=cluster.key,
            reason=cluster.reason,
            kept_id=cluster.kept.id,
        )


@dataclass(frozen=True, slots=True)
class ApiUsage:
    """Calls made to one endpoint (aggregate per batch), with the system's own daily counter."""

    TABLE: ClassVar[str] = "api_usage"
    system: str
    endpoint: str
    calls: int
    used_today: int | None = None
    daily_limit: int | None = None
    run_id: int | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """A HubSpot record and the Salesforce record it is synced with."""

    TABLE: ClassVar[str] = "id_links"
    object: str
    hs_id: str
    sf_object: str
    sf_id: str
    match_key: str | None = None
    run_id: int | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SyncedValue:
    """The value both sides agreed on after a sync: the base of the next three-way merge.
    Stored a row per pair (`StoreWriter.set_bases`), read a row per field (view synced_values)."""

    object: str
    hs_id: str
    sf_id: str
    field: str
    value: Any
    run_id: int | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FieldWrite:
    """A value the sync wrote to one field of a linked pair, kept a few cycles for loop detection.

    Same fields as `loops.SyncWrite` (which can be passed as is): system_written is the system
    written to, origin who made the change on the source side, cycle the engine's cycle (defaults
    to the run id)."""

    TABLE: ClassVar[str] = "field_history"
    object: str
    hs_id: str
    sf_id: str
    field: str
    system_written: str
    value: Any
    at: datetime | None = None
    cycle: int | None = None
    origin: str = "unknown"
    sf_object: str = ""
    run_id: int | None = None


Row = TypeVar("Row")

# Row attribute -> table column where they differ (every row's `at` lands in the table's time).
_RENAMES: dict[str, dict[str, str]] = {
    "duplicates": {"at": "detected_at"},
    "id_links": {"at": "linked_at"},
    "sync_errors": {"at": "last_seen"},
}


def _coerce(rows: Iterable[Any], cls: type[Row]) -> list[Row]:
    """Rows of cls as given; mappings with its keys (an unknown key is an error); or any object
    with its attributes (e.g. `loops.SyncWrite` for FieldWrite)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return [
        r
        if isinstance(r, cls)
        else cls(**r)
        if isinstance(r, Mapping)
        else cls(**{n: getattr(r, n) for n in names if hasattr(r, n)})
        for r in rows
    ]


@dataclass(frozen=True)
class Columns:
    """Rows of one table given column by column, as the engine builds a batch of thousands: a
    list per column costs a fraction of a row object per row (`FieldChange`...), which the store
    would only take apart into columns again.

    `row` is the row class whose fields name the columns; `columns` holds one value per row for
    each column given so; `same` one value for every row (the object, the system); a field in
    neither takes the row class's default. Validated as rows are: enums, aware datetimes, no
    secrets."""

    row: type
    columns: Mapping[str, Sequence[Any]]
    same: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = {f.name for f in fields(self.row)}
        unknown = sorted((set(self.columns) | set(self.same)) - known)
        if unknown:
            raise TypeError(f"{self.row.__name__} has no field(s) {unknown}")
        if not self.columns:
            raise ValueError("Columns needs at least one column with a value per row")
        if len({len(v) for v in self.columns.values()}) > 1:
            raise ValueError(f"{self.row.__name__} columns of different lengths")

    @classmethod
    def of(
        cls,
        row: type,
        names: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        same: Mapping[str, Any],
    ) -> Columns:
        """From rows as tuples of values in the order of names (transposed in one pass)."""
        values = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        return cls(row, dict(zip(names, values, strict=True)), same=same)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def values(self, name: str) -> Sequence[Any]:
        """The column's value per row, whichever way it was given."""
        if name in self.columns:
            return self.columns[name]
        return [self._constant(name)] * len(self)

    def _constant(self, name: str) -> Any:
        if name in self.same:
            return self.same[name]
        return _default(next(f for f in fields(self.row) if f.name == name), self.row)

    def take(self, indices: Sequence[int]) -> Columns:
        """Only these rows, in this order."""
        return replace(self, columns={k: [v[i] for i in indices] for k, v in self.columns.items()})


def _default(f: Field[Any], cls: type) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise TypeError(f"{cls.__name__} needs a value for {f.name!r}")


def _columns_of(rows: Iterable[Any] | Columns, cls: type) -> Columns | None:
    """A batch as Columns of cls, from Columns or rows (see `_coerce`); None when empty."""
    if isinstance(rows, Columns):
        if rows.row is not cls:
            raise TypeError(f"expected {cls.__name__} columns, got {rows.row.__name__}")
        return rows if len(rows) else None
    batch = _coerce(rows, cls)
    if not batch:
        return None
    return Columns(cls, {f.name: [getattr(r, f.name) for r in batch] for f in fields(cls)})


# --------------------------------------------------------------------------------------------
# Locking: one in-memory host per process, the file attached in one mode at a time


class StoreBusyError(RetriableError):
    """Another process kept the audit database locked longer than the store waits; try later."""


_LOCK_MARKERS = ("Could not set lock", "Conflicting lock")


def is_lock_error(exc: BaseException) -> bool:
    """DuckDB's refusal because another process has the file open."""
    return isinstance(exc, duckdb.Error) and any(m in str(exc) for m in _LOCK_MARKERS)


_HOST: tuple[int, duckdb.DuckDBPyConnection] | None = None
_HOST_LOCK = threading.Lock()


def _cursor() -> duckdb.DuckDBPyConnection:
    """A new cursor (own transaction context, one thread) on the process's in-memory DuckDB,
    through which audit files are ATTACHed and DETACHed.

    Attaching a file costs a few milliseconds where opening a database costs ~15 (DuckDB builds
    its whole function catalog per database instance), and one host lets every thread of the
    process share one attachment with a cursor each. Recreated after a fork."""
    global _HOST
    with _HOST_LOCK:
        if _HOST is None or _HOST[0] != os.getpid():
            conn = duckdb.connect(":memory:")
            conn.execute("SET GLOBAL TimeZone = 'UTC'")
            conn.execute(
                "SET GLOBAL temp_directory = ?",
                [str(Path(tempfile.gettempdir()) / f"leadbridge-duckdb-{os.getpid()}")],
            )
            _apply(conn, _PROFILE)
            _HOST = (os.getpid(), conn)
        return _HOST[1].cursor()


@dataclass(frozen=True)
class HostProfile:
    """How much of the machine this process's DuckDB may use.

    DuckDB's default is 80 % of the machine and a thread per core. The store caches no more
    than `memory_limit` of the files' blocks (larger sorts and joins spill to the temporary
    directory), and `threads` bounds its workers (each keeps its own allocator caches).
    `checkpoint_threshold` is how much write-ahead log DuckDB lets grow before it checkpoints:
    what the log holds stays in the block cache until then."""

    memory_limit: str = "256MB"
    threads: int | None = None  # None: one per core
    checkpoint_threshold: str = "16MB"  # DuckDB's default


# The engine process runs many small statements, one at a time: a worker per core buys it
# nothing but allocator caches, and a small block cache keeps its peak memory flat as the
# mirror grows (measured by `python -m sync_engine bench`). A checkpoint's cost grows with the
# store (the largest took 0.3-0.6 s at 100,000 contacts, and the mirror's payload updates are
# not what makes it: without them COMMIT cost as much): a 32 MB log halves their number (at
# 100,000, COMMIT 11.1 -> 9.2 s of CPU, peak 381 -> 386 MB; 64 MB ran out of the 96 MB cache).
# The dashboard keeps the defaults.
ENGINE_PROFILE = HostProfile(memory_limit="96MB", threads=1, checkpoint_threshold="32MB")
_PROFILE = HostProfile()


def _apply(conn: duckdb.DuckDBPyConnection, profile: HostProfile) -> None:
    conn.execute(f"SET GLOBAL memory_limit = '{profile.memory_limit}'")
    if profile.threads is None:
        conn.execute("RESET GLOBAL threads")
    else:
        conn.execute(f"SET GLOBAL threads = {int(profile.threads)}")
    conn.execute(f"SET GLOBAL checkpoint_threshold = '{profile.checkpoint_threshold}'")


def use_profile(profile: HostProfile) -> None:
    """Size this process's DuckDB (now, and after a fork) for what the process does."""
    global _PROFILE
    with _HOST_LOCK:
        _PROFILE = profile
        if _HOST is not None and _HOST[0] == os.getpid():
            _apply(_HOST[1], profile)


def host_memory_mb() -> float:
    """What DuckDB holds in this process (buffers of attached files, hash tables...), in MB."""
    cursor = _cursor()
    try:
        row = cursor.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()
    finally:
        cursor.close()
    return round(float(row[0] or 0) / 1e6, 1) if row else 0.0


def _run(sql: str, params: Sequence[Any] = ()) -> None:
    """One statement on a throwaway cursor (ATTACH/DETACH act on the whole host)."""
    cursor = _cursor()
    try:
        cursor.execute(sql, list(params))
    finally:
        cursor.close()


class _Gate:
    """Per file, per process: the mode the file is attached in ("ro"/"rw"), and by how many."""

    def __init__(self, path: Path) -> None:
        self.path = path
        digest = hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()
        self.alias = f"audit_{digest[:12]}"
        self.cond = threading.Condition()
        self.mode: str | None = None
        self.users = 0
        self.writers_waiting = 0
        self.writer = threading.Lock()
        self.rng = random.Random()
        self.schema_checked = False  # ensure_schema ran on this attachment
        self.idle_since: float | None = None  # a read-write attachment kept with no user
        self.reaper: threading.Thread | None = None
        self.queue = _WaitQueue(path)  # probed only: who else waits for the file


_GATES: dict[Path, _Gate] = {}
_GATES_LOCK = threading.Lock()
_HELD = threading.local()  # per thread: the sessions ("read"/"write") it holds, per file


def _forget_after_fork() -> None:
    """A forked child starts with no attachment: the parent's host, gates and locks are not its
    own (the old host is kept referenced, never closed, so its threads are not joined)."""
    global _HOST, _GATES_LOCK, _HOST_LOCK
    if _HOST is not None:
        _ORPHANED.append(_HOST[1])
    _HOST = None
    _HOST_LOCK = threading.Lock()
    _GATES_LOCK = threading.Lock()
    _GATES.clear()
    _HELD.__dict__.clear()


_ORPHANED: list[duckdb.DuckDBPyConnection] = []
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _gate(path: Path) -> _Gate:
    with _GATES_LOCK:
        gate = _GATES.get(path)
        if gate is None:  # a gate seeds its own random generator: not one per call
            gate = _GATES[path] = _Gate(path)
        return gate


def _held() -> dict[Path, list[str]]:
    if not hasattr(_HELD, "modes"):
        _HELD.modes = {}
    return _HELD.modes


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


@contextlib.contextmanager
def _session(gate: _Gate, *, write: bool, deadline: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on the host whose default database is the attached file.

    The first user attaches the file (writers read-write, readers read-only), later users of a
    compatible mode share it, the last one detaches it, releasing DuckDB's file lock for other
    processes. A writer waits for read-only users to drain; readers arriving meanwhile wait for
    it, then share its read-write attachment."""
    mine = _held().setdefault(gate.path, [])
    with gate.cond:
        if write:
            gate.writers_waiting += 1
            try:
                ok = gate.cond.wait_for(lambda: gate.mode != "ro", _left(deadline))
            finally:
                gate.writers_waiting -= 1
        else:  # a thread already holding a session never waits (it would wait on itself)
            ok = bool(mine) or gate.cond.wait_for(
                lambda: not (gate.mode == "ro" and gate.writers_waiting), _left(deadline)
            )
        if not ok:
            raise StoreBusyError(f"{gate.path} stayed busy in this process; try again")
        if gate.mode is None:
            mode = "rw" if write else "ro"
            _attach(gate, read_only=mode == "ro", deadline=deadline)
            gate.mode = mode
        gate.users += 1
        gate.idle_since = None
        mine.append("write" if write else "read")
        cursor = _cursor()
    try:
        cursor.execute(f"USE {gate.alias}")
        yield cursor
    finally:
        cursor.close()
        mine.pop()
        with gate.cond:
            gate.users -= 1
            if not gate.users:
                if gate.mode == "rw" and LINGER_SECONDS > 0 and not _others_waiting(gate):
                    gate.idle_since = time.monotonic()
                    _ensure_reaper(gate)
                else:
                    _detach(gate)
            gate.cond.notify_all()


# A read-write attachment outlives its session this long: a writer committing batch after batch
# keeps one attachment instead of paying DuckDB's checkpoint on every DETACH, while another
# process that wants the file (it queues on the `.waiters` file) gets it at the end of the session
# in progress, or within _REAP_POLL while the attachment lingers unused. Long enough to span an
# API call between two batches (a read page takes seconds): each DETACH checkpoints, and a
# checkpoint rewrites every row group a batch touched, so at 0.5 s the 10,000-contact initial sync
# detached ~18 times (0.7 s of CPU) where it now detaches once; DuckDB still checkpoints on its
# own every 16 MB of log, and `release()` ends the attachment before the engine waits.
LINGER_SECONDS = 5.0
_REAP_POLL = 0.2


def _others_waiting(gate: _Gate) -> bool:
    return gate.queue.others_waiting()


def _detach(gate: _Gate) -> None:
    """Release the file (caller holds gate.cond and no session is open)."""
    gate.mode = None
    gate.idle_since = None
    gate.schema_checked = False
    _run(f"DETACH DATABASE IF EXISTS {gate.alias}")


def _ensure_reaper(gate: _Gate) -> None:
    """Start the thread that detaches a lingering attachment once idle or wanted elsewhere."""
    if gate.reaper is None or not gate.reaper.is_alive():
        gate.reaper = threading.Thread(
            target=_reap, args=(gate,), name=f"store-reaper-{gate.alias}", daemon=True
        )
        gate.reaper.start()


def _reap(gate: _Gate) -> None:
    """While sessions are open, sleep until the last one ends (it notifies); while the
    attachment lingers, wake at its deadline, and every _REAP_POLL to see whether another
    process queued for the file (a probe of the `.waiters` lock: no cheaper signal crosses
    processes)."""
    with gate.cond:
        while gate.mode == "rw":
            idle = gate.idle_since
            if gate.users or idle is None:
                gate.cond.wait()
                continue
            left = idle + LINGER_SECONDS - time.monotonic()
            if left <= 0 or _others_waiting(gate):
                _detach(gate)
                gate.cond.notify_all()
                break
            gate.cond.wait(min(left, _REAP_POLL))


def _release_all() -> None:
    """At exit: detach every lingering file before DuckDB's host is torn down (an attachment
    left to interpreter shutdown aborts the process)."""
    for gate in list(_GATES.values()):
        with gate.cond:
            if gate.mode is not None and not gate.users:
                _detach(gate)
                gate.cond.notify_all()


atexit.register(_release_all)


def release(path: Path) -> None:
    """Detach `path` now if no session uses it (a lingering attachment ends at once)."""
    gate = _gate(Path(path).expanduser().resolve())
    with gate.cond:
        if gate.mode is not None and not gate.users:
            _detach(gate)
            gate.cond.notify_all()


class _WaitQueue:
    """Cross-process politeness: a party that has waited a while for the file holds a shared
    flock on `<db>.waiters` while it keeps retrying; a newcomer that sees such a lock stands back
    briefly, so that a writer committing in a tight loop cannot starve the dashboard (nor a busy
    dashboard the engine)."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".waiters")
        self._fd: int | None = None

    def others_waiting(self) -> bool:
        if fcntl is None or not self.path.exists():
            return False
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # closing releases the probe's own lock
        return False

    def join(self) -> None:
        if fcntl is None or self._fd is not None:
            return
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_SH)
        except OSError:  # a read-only directory: retry without the queue
            self.leave()

    def leave(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_POLITE_WAIT = 1.0  # at most this long a newcomer lets earlier waiters go first
_QUEUE_AFTER = 0.01  # a party queues (and newcomers stand back) once it has waited this long

# Rows per row group in the files (DuckDB's default is 122,880). Each checkpoint compresses
# again the whole of a table's last, partly filled row group, so while batches are appended a
# large group is compressed many times over: at 16,384 rows a store of 20 checkpointed appends
# of 30,000 audit rows spent half the CPU in checkpoints, for a file 19 % larger. A setting of
# the attachment, not of the file: every attachment uses it, or a checkpoint would merge the
# small groups back.
ROW_GROUP_SIZE = 16_384
_ROW_GROUPS = f"ROW_GROUP_SIZE {ROW_GROUP_SIZE}"


def _attach(gate: _Gate, *, read_only: bool, deadline: float) -> None:
    """ATTACH the file, retrying with jittered backoff while another process has it locked."""
    queue = _WaitQueue(gate.path)
    polite_until = min(deadline, time.monotonic() + _POLITE_WAIT)
    while queue.others_waiting() and time.monotonic() < polite_until:
        time.sleep(0.002)
    sql = f"ATTACH ? AS {gate.alias} ({'READ_ONLY, ' if read_only else ''}{_ROW_GROUPS})"
    _run(f"DETACH DATABASE IF EXISTS {gate.alias}")  # left over if a detach ever failed
    started, delay = time.monotonic(), 0.002
    try:
        while True:
            try:
                _run(sql, [str(gate.path)])
                return
            except duckdb.Error as exc:
                if not is_lock_error(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusyError(
                        f"{gate.path} is locked by another process; the store will retry later"
                    ) from exc
            if time.monotonic() - started >= _QUEUE_AFTER:
                queue.join()
            time.sleep(min(_left(deadline), delay * gate.rng.uniform(0.5, 1.0)))
            delay = min(delay * 1.5, 0.01)
    finally:
        queue.leave()


_EMPTY_IDS = itertools.count()


@contextlib.contextmanager
def _empty_database() -> Iterator[duckdb.DuckDBPyConnection]:
    """The full schema, empty, in memory: what a reader sees before the first write."""
    alias = f"empty_{next(_EMPTY_IDS)}"
    _run(f"ATTACH ':memory:' AS {alias}")
    cursor = _cursor()
    try:
        cursor.execute(f"USE {alias}")
        ensure_schema(cursor, now=_utcnow())
        cursor.execute("BEGIN TRANSACTION READ ONLY")
        yield cursor
    finally:
        cursor.close()
        _run(f"DETACH DATABASE IF EXISTS {alias}")


# --------------------------------------------------------------------------------------------
# The store


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AuditStore:
    """The audit database at `path`; holds no connection between calls (see the module doc)."""

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout: float = 10.0,
        clock: Callable[[], datetime] = _utcnow,
        secrets: Sequence[str] = (),
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        self.lock_timeout = lock_timeout
        self.clock = clock
        self.secrets = tuple(secrets)

    def __repr__(self) -> str:  # secrets never shown
        return f"AuditStore({str(self.path)!r})"

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @contextlib.contextmanager
    def write(self, *, run_id: int | None = None) -> Iterator[StoreWriter]:
        """One transaction: commits when the block ends, rolls everything back if it raises.

        run_id, when given, is the default for every row written in the block."""
        held = _held().get(self.path, ())
        if held:
            raise RuntimeError(
                f"write() inside {held[-1]}() on one thread: it would wait on itself"
            )
        gate = _gate(self.path)
        deadline = time.monotonic() + self.lock_timeout
        if not gate.writer.acquire(timeout=self.lock_timeout):
            raise StoreBusyError(f"another thread kept writing to {self.path}; try again")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _session(gate, write=True, deadline=deadline) as conn:
                if not gate.schema_checked:
                    ensure_schema(conn, now=_utc(self.clock()))
                    gate.schema_checked = True
                conn.execute("BEGIN TRANSACTION")
                try:
                    yield StoreWriter(
                        conn, now=_utc(self.clock()), run_id=run_id, secrets=self.secrets
                    )
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        finally:
            gate.writer.release()

    @contextlib.contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection in a READ ONLY transaction (one consistent snapshot), closed afterwards.

        A database that does not exist yet (or was never initialised) reads as the full schema,
        empty."""
        if not self.path.exists():
            with _empty_database() as conn:
                yield conn
            return
        deadline = time.monotonic() + self.lock_timeout
        gate = _gate(self.path)
        with _session(gate, write=False, deadline=deadline) as conn:
            # A writer of this process made sure of the schema on this attachment: no need to
            # ask again (two statements per read, a read per engine step).
            if not gate.schema_checked and schema_level(conn) == 0:
                with _empty_database() as empty:
                    yield empty
                return
            conn.execute("BEGIN TRANSACTION READ ONLY")
            try:
                yield conn
            finally:
                conn.execute("ROLLBACK")

    def ensure_schema(self) -> None:
        """Create the file and its schema now (otherwise the first write does it)."""
        with self.write():
            pass

    def release(self) -> None:
        """Let go of the file now rather than after the linger (end of a cycle, before a wait)."""
        release(self.path)


class StoreWriter:
    """What can be written inside `AuditStore.write()`. Every method runs in the open transaction;
    `conn` is that transaction's connection, for the lookups in `sync_engine.queries`."""

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        *,
        now: datetime,
        run_id: int | None,
        secrets: Sequence[str],
    ) -> None:
        self.conn = conn
        self.now = now
        self.run_id = run_id
        self._secrets = secrets

    # -- runs -------------------------------------------------------------------------------

    def start_run(self, kind: str, *, triggered_by: str | None = None) -> int:
        """Open a run (status `running`); later rows in this block default to its id."""
        kind = _check("sync_runs", "kind", kind)
        row = self.conn.execute(
            "INSERT INTO sync_runs (kind, started_at, status, triggered_by) "
            "VALUES (?, ?, 'running', ?) RETURNING run_id",
            [kind, self.now, triggered_by],
        ).fetchone()
        assert row is not None
        self.run_id = int(row[0])
        self.conn.execute("UPDATE engine_state SET current_run_id = ? WHERE id = 1", [self.run_id])
        return self.run_id

    def add_run_counts(
        self,
        run_id: int,
        *,
        records_read: int = 0,
        records_written: int = 0,
        sf_api_calls: int = 0,
        hs_api_calls: int = 0,
        error_count: int = 0,
    ) -> None:
        """Add one batch's counts to a run, so the dashboard sees a long run progress."""
        self.conn.execute(
            "UPDATE sync_runs SET records_read = records_read + ?, "
            "records_written = records_written + ?, sf_api_calls = sf_api_calls + ?, "
            "hs_api_calls = hs_api_calls + ?, error_count = error_count + ? WHERE run_id = ?",
            [records_read, records_written, sf_api_calls, hs_api_calls, error_count, run_id],
        )

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        message: str | None = None,
        records_read: int | None = None,
        records_written: int | None = None,
        sf_api_calls: int | None = None,
        hs_api_calls: int | None = None,
        error_count: int | None = None,
    ) -> None:
        """Close a run. Counts given here are totals that replace the accumulated ones; an
        error_count left None becomes the number of distinct errors this run recorded."""
        status = _check("sync_runs", "status", status)
        if error_count is None:
            found = self.conn.execute(
                "SELECT count(*) FROM sync_errors WHERE run_id = ?", [run_id]
            ).fetchone()
            error_count = int(found[0]) if found else 0
        self.conn.execute(
            "UPDATE sync_runs SET status = ?, finished_at = ?, message = ?, "
            "records_read = coalesce(?, records_read), "
            "records_written = coalesce(?, records_written), "
            "sf_api_calls = coalesce(?, sf_api_calls), hs_api_calls = coalesce(?, hs_api_calls), "
            "error_count = ? WHERE run_id = ?",
            [
                status,
                self.now,
                message,
                records_read,
                records_written,
                sf_api_calls,
                hs_api_calls,
                error_count,
                run_id,
            ],
        )
        self.conn.execute(
            "UPDATE engine_state SET current_run_id = NULL WHERE id = 1 AND current_run_id = ?",
            [run_id],
        )

    def close_interrupted_runs(self, *, started_before: datetime) -> int:
        """Mark runs still `running` that began before a crash as `interrupted`."""
        found = self.conn.execute(
            "UPDATE sync_runs SET status = 'interrupted', finished_at = ? "
            "WHERE status = 'running' AND started_at < ? RETURNING run_id",
            [self.now, _utc(started_before)],
        ).fetchall()
        return len(found)

    # -- audit rows -------------------------------------------------------------------------

    def record_changes(self, rows: Iterable[FieldChange | Mapping[str, Any]] | Columns) -> int:
        return self._insert(_columns_of(rows, FieldChange))

    def record_conflicts(self, rows: Iterable[Conflict | Mapping[str, Any]] | Columns) -> int:
        return self._insert(_columns_of(rows, Conflict))

    def record_api_usage(self, rows: Iterable[ApiUsage | Mapping[str, Any]] | Columns) -> int:
        return self._insert(_columns_of(rows, ApiUsage))

    def record_field_history(self, rows: Iterable[Any] | Columns) -> int:
        """Values written this batch (FieldWrite, loops.SyncWrite, mappings or FieldWrite
        Columns); cycle defaults to the row's run id."""
        batch = _columns_of(rows, FieldWrite)
        if batch is not None and None in batch.values("cycle"):
            cycles = [
                cycle if cycle is not None else run_id or self.run_id
                for cycle, run_id in zip(batch.values("cycle"), batch.values("run_id"), strict=True)
            ]
            batch = replace(batch, columns={**batch.columns, "cycle": cycles})
        return self._insert(batch)

    def stage_creates(
        self, object: str, system: str, rows: Iterable[tuple[str, str | None, Any]]
    ) -> None:
        """Before a create batch is sent: (source id, match key, write as JSON-able data) per
        record, so that a crash between the call and its commit cannot lose the creation's audit
        rows (the engine records them on restart when the record turns up)."""
        batch = [(source, key, compact_json(write)) for source, key, write in rows]
        if find_secret((w for _s, _k, w in batch), self._secrets):
            raise SecretLeakError("refusing to store a secret in pending_creates")
        if not batch:
            return
        frame = pa.table(  # one columnar insert: executemany goes row by row
            {
                "source_id": pa.array([src for src, _k, _w in batch], type=pa.string()),
                "key": pa.array([key for _s, key, _w in batch], type=pa.string()),
                "write": pa.array([w for _s, _k, w in batch], type=pa.string()),
            }
        )
        execute_with(
            self.conn,
            "INSERT INTO pending_creates (object, system, source_id, key, write, run_id, "
            f'"at") SELECT ?, ?, source_id, key, write::JSON, ?, ? FROM {BATCH}',
            frame,
            [object, system, self.run_id, self.now],
        )

    def settle_creates(self, object: str, system: str, source_ids: Iterable[str]) -> None:
        """The creates of these source records are committed (or known not to have happened)."""
        ids = sorted({i for i in source_ids if i})
        if ids:
            execute_with(
                self.conn,
                "DELETE FROM pending_creates WHERE object = ? AND system = ? "
                f"AND source_id IN (SELECT id FROM {BATCH})",
                _ids_frame(ids),
                [object, system],
            )

    def prune_field_history(self, *, before_cycle: int) -> int:
        """Loop detection looks back a few cycles; older history is dropped."""
        found = self.conn.execute(
            "DELETE FROM field_history WHERE cycle < ? RETURNING 1", [before_cycle]
        ).fetchall()
        return len(found)

    def record_errors(self, rows: Iterable[SyncError | Mapping[str, Any]]) -> int:
        """Upsert errors by (system, object, record_id, code, field). A recurring error bumps
        attempts and last_seen; a resolved one reopens; an ignored one stays ignored."""
        batch = _last_per_key(
            _columns_of(rows, SyncError), ("system", "object", "record_id", "code", "field")
        )
        if batch is None:
            return 0
        frame = self._frame(batch, extra={"first_seen": "last_seen"})
        execute_with(self.conn, _ERROR_MERGE.format(src=BATCH), frame)
        return len(batch)

    def resolve_errors(
        self,
        *,
        system: str,
        object: str,
        record_id: str,
        code: str | None = None,
        by: str = "engine",
    ) -> int:
        """The record synced cleanly: close its open/retrying errors (all, or one code's)."""
        found = self.conn.execute(
            "UPDATE sync_errors SET status = 'resolved', resolved_at = ?, resolved_by = ? "
            "WHERE system = ? AND object = ? AND record_id = ? AND status IN ('open', 'retrying') "
            "AND (? IS NULL OR code = ?) RETURNING error_id",
            [self.now, by, system, object, record_id, code, code],
        ).fetchall()
        return len(found)

    def resolve_api_limits(self, *, by: str = "engine") -> int:
        """A cycle may call both systems again: close the open api_limit errors of the cycles
        a daily limit or budget stopped (Sync Health shows what is wrong now)."""
        found = self.conn.execute(
            "UPDATE sync_errors SET status = 'resolved', resolved_at = ?, resolved_by = ? "
            "WHERE object = 'api' AND category = 'api_limit' AND status IN ('open', 'retrying') "
            "RETURNING error_id",
            [self.now, by],
        ).fetchall()
        return len(found)

    def resolve_records(
        self,
        *,
        system: str,
        record_ids: Iterable[str],
        by: str = "engine",
        keep_codes: Sequence[str] = (),
        still_refused: Iterable[tuple[str, str]] = (),
    ) -> int:
        """Many records synced (or decided) cleanly: close their open/retrying errors in one
        statement, except those whose code is in keep_codes and the (record id, field) pairs
        still refused.

        The ids go in as an Arrow column rather than a list parameter, and the count is the
        UPDATE's own rather than a RETURNING: a batch's statement costs about half as much."""
        ids = sorted({r for r in record_ids if r})
        if not ids:
            return 0
        kept = sorted({f"{rid}\x1f{fld or ''}" for rid, fld in still_refused})
        sql = (
            "UPDATE sync_errors SET status = 'resolved', resolved_at = ?, resolved_by = ? "
            f"WHERE system = ? AND record_id IN (SELECT id FROM {BATCH}) "
            "AND status IN ('open', 'retrying')"
        )
        params: list[Any] = [self.now, by, system]
        if keep_codes:  # each condition only when it can exclude something: cheaper to run
            sql += " AND NOT list_contains(?::VARCHAR[], code)"
            params.append(list(keep_codes))
        if kept:
            sql += (
                " AND NOT list_contains(?::VARCHAR[], record_id || chr(31) || coalesce(field, ''))"
            )
            params.append(kept)
        found = execute_with(self.conn, sql, _ids_frame(ids), params).fetchone()
        return int(found[0]) if found else 0

    def set_error_status(
        self, error_id: int, status: str, *, actor: str, note: str | None = None
    ) -> None:
        """A person (or the engine) changes an error's status; the change is audited."""
        status = _check("sync_errors", "status", status)
        before = self.conn.execute(
            "SELECT status, object, record_id FROM sync_errors WHERE error_id = ?", [error_id]
        ).fetchone()
        if before is None:
            raise KeyError(f"no sync error with id {error_id}")
        closed = status in ("resolved", "ignored")
        self.conn.execute(
            "UPDATE sync_errors SET status = ?, resolved_at = ?, resolved_by = ? "
            "WHERE error_id = ?",
            [status, self.now if closed else None, actor if closed else None, error_id],
        )
        self.audit(
            actor,
            f"error_{status}",
            object=before[1],
            record_id=before[2],
            error_id=error_id,
            details={"from": before[0], "to": status, "note": note},
        )

    def record_duplicates(self, rows: Iterable[Duplicate | Mapping[str, Any]]) -> list[str]:
        """Upsert clusters by (system, object, match_key); returns their cluster ids."""
        rows = _last_per_key_rows(_coerce(rows, Duplicate), lambda d: d.cluster_id)
        batch = _columns_of(rows, Duplicate)
        if batch is None:
            return []
        frame = self._frame(batch, extra={"last_seen": "detected_at"})
        ids = pa.array([d.cluster_id for d in rows], pa.string())
        frame = frame.append_column("cluster_id", ids)
        execute_with(self.conn, _DUPLICATE_MERGE.format(src=BATCH), frame)
        return [d.cluster_id for d in rows]

    def set_duplicate_status(self, cluster: str, status: str, *, actor: str) -> None:
        status = _check("duplicates", "status", status)
        closed = status != "open"
        self.conn.execute(
            "UPDATE duplicates SET status = ?, resolved_at = ?, resolved_by = ? "
            "WHERE cluster_id = ?",
            [status, self.now if closed else None, actor if closed else None, cluster],
        )
        self.audit(actor, f"duplicate_{status}", record_id=cluster)

    def audit(
        self,
        actor: str,
        action: str,
        *,
        object: str | None = None,
        record_id: str | None = None,
        error_id: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Record who did what (a fix, a pause, a config change); returns the audit id."""
        text = _json(details)
        if find_secret([actor, action, record_id, text], self._secrets):
            raise SecretLeakError("refusing to store a secret in audit_log")
        row = self.conn.execute(
            'INSERT INTO audit_log ("at", actor, action, object, record_id, error_id, details) '
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING audit_id",
            [self.now, actor, action, object, record_id, error_id, text],
        ).fetchone()
        assert row is not None
        return int(row[0])

    # -- engine state -----------------------------------------------------------------------

    def link(
        self,
        object: str,
        hs_id: str,
        sf_object: str,
        sf_id: str,
        *,
        match_key: str | None = None,
    ) -> None:
        self.link_many([Link(object, hs_id, sf_object, sf_id, match_key=match_key)])

    def link_many(
        self, rows: Iterable[Link | Mapping[str, Any]] | Columns, *, new: bool = False
    ) -> int:
        """Upsert links by (object, hs_id). Re-linking (a Lead converted to a Contact) keeps the
        previous Salesforce record in previous_sf_object/previous_sf_id.

        new: the HubSpot records were created just now, so none has a link yet: the rows are
        appended. (Without an index a MERGE scans every link of the store, once per batch.)"""
        batch = _last_per_key(_columns_of(rows, Link), ("object", "hs_id"))
        if batch is None:
            return 0
        if new:
            frame = self._frame(batch, extra={"updated_at": "linked_at"})
            execute_with(self.conn, _insert_sql("id_links", frame), frame)
        else:
            execute_with(self.conn, _LINK_MERGE.format(src=BATCH), self._frame(batch))
        return len(batch)

    def unlink(self, object: str, *, hs_id: str) -> int:
        found = self.conn.execute(
            "DELETE FROM id_links WHERE object = ? AND hs_id = ? RETURNING 1", [object, hs_id]
        ).fetchall()
        return len(found)

    def set_cursor(
        self,
        system: str,
        object: str,
        *,
        modstamp: datetime,
        last_id: str | None,
        settled: bool = False,
    ) -> None:
        """Move the incremental-read cursor; it commits with (and only with) this batch.
        settled: see `queries.CursorPosition`."""
        system = _check("sync_cursors", "system", system)
        values = [_utc(modstamp), last_id, self.now, self.run_id, settled]
        updated = self.conn.execute(  # an UPDATE plans in half the time of a MERGE
            "UPDATE sync_cursors SET modstamp = ?, last_id = ?, updated_at = ?, run_id = ?, "
            "settled = ? WHERE system = ? AND object = ?",
            [*values, system, object],
        ).fetchone()
        if not (updated and updated[0]):
            self.conn.execute(
                "INSERT INTO sync_cursors "
                "(system, object, modstamp, last_id, updated_at, run_id, settled) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [system, object, *values],
            )

    def set_synced_values(
        self, rows: Iterable[SyncedValue | Mapping[str, Any]] | Columns, *, new: bool = False
    ) -> int:
        """Upsert the agreed value per (object, hs_id, sf_id, field), the last of the batch
        winning: field by field, as `set_bases` keeps them per pair. Returns the fields set."""
        batch = _columns_of(rows, SyncedValue)
        if batch is None:
            return 0
        keys = [batch.values(name) for name in ("object", "hs_id", "sf_id", "field", "value")]
        by_pair: dict[tuple[str, str, str], dict[str, Any]] = {}
        for obj, hs_id, sf_id, name, value in zip(*keys, strict=True):
            by_pair.setdefault((obj, hs_id, sf_id), {})[name] = value
        for obj in {o for o, _h, _s in by_pair}:
            self.set_bases(
                obj,
                [(h, s, base) for (o, h, s), base in by_pair.items() if o == obj],
                new=new,
            )
        return len({(*pair, name) for pair, base in by_pair.items() for name in base})

    def set_bases(
        self,
        object: str,
        bases: Iterable[tuple[str, str | None, Mapping[str, Any]]],
        *,
        new: bool = False,
    ) -> int:
        """Set these fields of each pair's base (hs_id, sf_id, {field: value}); the pair's
        other fields keep theirs. Returns the pairs written.

        The pairs' rows are deleted and appended again, merged (DuckDB updates rows scattered
        over a table several times slower than it deletes and appends them). new: each pair has
        a record created just now, so no row yet: appended without the DELETE, which scans
        every pair's row (no index)."""
        merged: dict[tuple[str, str | None], dict[str, str | None]] = {}
        for hs_id, sf_id, values in bases:
            merged.setdefault((hs_id, sf_id), {}).update(
                {k: v if v is None or type(v) is str else to_text(v) for k, v in values.items()}
            )
        if not merged:
            return 0
        if not new:
            for pair, old in self._take_bases(object, merged).items():
                merged[pair] = {**old, **merged[pair]}
        texts = [compact_json(base) for base in merged.values()]
        if find_secret(texts, self._secrets):
            raise SecretLeakError("refusing to store a secret in synced_bases.base")
        frame = pa.table(
            {
                "hs_id": pa.array([h for h, _s in merged], type=pa.string()),
                "sf_id": pa.array([s for _h, s in merged], type=pa.string()),
                "base": pa.array(texts, type=pa.string()),
            }
        )
        execute_with(
            self.conn,
            "INSERT INTO synced_bases (object, hs_id, sf_id, base, synced_at, run_id) "
            f"SELECT ?, hs_id, sf_id, base, ?, ? FROM {BATCH}",
            frame,
            [object, self.now, self.run_id],
        )
        return len(merged)

    def _take_bases(
        self, object: str, pairs: Iterable[tuple[str, str | None]]
    ) -> dict[tuple[str, str | None], dict[str, str | None]]:
        """Delete the rows of these pairs, returning each pair's base. A pair may have two
        rows (a write's first bases appended beside a row the same plan wrote): the later
        row's fields win. A pair with no Salesforce id matches no row, as NULL equals nothing."""
        keys = [(h, s) for h, s in pairs if s is not None]
        if not keys:
            return {}
        frame = pa.table(
            {
                "hs_id": pa.array([h for h, _s in keys], type=pa.string()),
                "sf_id": pa.array([s for _h, s in keys], type=pa.string()),
            }
        )
        rows = execute_with(self.conn, _BASES_TAKE, frame, [object]).fetchall()
        rows.sort(key=lambda r: r[2])
        found: dict[tuple[str, str | None], dict[str, str | None]] = {}
        for (hs_id, sf_id, _at, _text), base in zip(
            rows, decode_json(json_array(rows)), strict=True
        ):
            found.setdefault((hs_id, sf_id), {}).update(base)
        return found

    def set_paused(self, paused: bool, *, actor: str, reason: str | None = None) -> None:
        """Pause or resume the engine (the dashboard's switch); audited."""
        self.conn.execute(
            "UPDATE engine_state SET paused = ?, paused_reason = ?, changed_by = ?, "
            "changed_at = ? WHERE id = 1",
            [paused, reason, actor, self.now],
        )
        self.audit(actor, "pause" if paused else "resume", details={"reason": reason})

    def heartbeat(self, *, next_cycle_at: datetime | None = None) -> None:
        """The engine is alive (and when it will next run), with its pid and host."""
        self.conn.execute(
            "UPDATE engine_state SET heartbeat_at = ?, next_cycle_at = ?, pid = ?, host = ? "
            "WHERE id = 1",
            [
                self.now,
                _utc(next_cycle_at) if next_cycle_at else None,
                os.getpid(),
                socket.gethostname(),
            ],
        )

    # -- bulk insert machinery --------------------------------------------------------------

    def _insert(self, batch: Columns | None) -> int:
        if batch is None:
            return 0
        frame = self._frame(batch)
        execute_with(self.conn, _insert_sql(TABLE[batch.row.TABLE].name, frame), frame)
        return len(batch)

    def _frame(self, batch: Columns, *, extra: Mapping[str, str] | None = None) -> pa.Table:
        """An Arrow table of the rows, columns typed from the schema; validated: enums, aware
        datetimes, no secrets. A column with one value for every row is validated once. extra
        copies one column under another name (first_seen)."""
        cls = batch.row
        table = TABLE[cls.TABLE]
        renames = _RENAMES.get(table.name, {})
        arrays: dict[str, pa.Array] = {}
        for f in fields(cls):
            name = renames.get(f.name, f.name)
            column = table.column(name)
            if f.name in batch.columns:
                arrays[name] = self._column(table, column, batch.columns[f.name])
            else:
                one = self._column(table, column, [batch._constant(f.name)])
                arrays[name] = pa.repeat(one[0], len(batch))
        for target, source in (extra or {}).items():
            arrays[target] = arrays[source]
        return pa.table(arrays)

    def _column(self, table: Table, column: Column, values: Sequence[Any]) -> pa.Array:
        kind = column.type
        if column.name == "run_id":
            values = [self.run_id if v is None else v for v in values]
        elif kind == "TIMESTAMPTZ":
            values = [self.now if v is None else _utc(v) for v in values]
        elif kind == "VARCHAR":  # to_text, without a call for what is text already
            values = [v if v is None or type(v) is str else to_text(v) for v in values]
        elif kind == "JSON":
            values = [_json(v) for v in values]
        elif kind == "VARCHAR[]":
            values = [None if v is None else [to_text(x) for x in v] for v in values]
        allowed = ENUMS.get((table.name, column.name))
        if allowed:
            distinct = set(values)
            bad = sorted({str(v) for v in distinct if v not in allowed})
            if bad:
                raise ValueError(f"{table.name}.{column.name}: {bad} not in {list(allowed)}")
            if any(type(v) is not str for v in distinct):  # a StrEnum is stored as its value
                values = [str(v) for v in values]
        if kind in ("VARCHAR", "JSON") and find_secret(values, self._secrets):
            raise SecretLeakError(f"refusing to store a secret in {table.name}.{column.name}")
        if kind == "VARCHAR[]" and find_secret((x for v in values if v for x in v), self._secrets):
            raise SecretLeakError(f"refusing to store a secret in {table.name}.{column.name}")
        return pa.array(values, type=_ARROW_TYPES[kind])


def _check(table: str, column: str, value: str) -> str:
    """The value as a plain string, when it is one the column allows (a StrEnum is fine)."""
    allowed = ENUMS[(table, column)]
    if value not in allowed:
        raise ValueError(f"{table}.{column}: {value!r} not in {list(allowed)}")
    return str(value)


def _last_per_key_rows(rows: Sequence[Row], key: Callable[[Row], Any]) -> list[Row]:
    """One row per key, the last one winning: a MERGE may not touch a target row twice."""
    return list({key(r): r for r in rows}.values())


def _last_per_key(batch: Columns | None, key: Sequence[str]) -> Columns | None:
    """One row per key (in the order keys first appear), the last one winning, as
    `_last_per_key_rows` does for rows. A key column with one value for all rows is no part
    of what tells rows apart."""
    if batch is None:
        return None
    varying = [batch.columns[name] for name in key if name in batch.columns]
    if not varying:
        return batch.take([len(batch) - 1]) if len(batch) > 1 else batch
    last = {k: i for i, k in enumerate(zip(*varying, strict=True))}
    if len(last) == len(batch):
        return batch
    return batch.take(list(last.values()))


BATCH = "_arrow_batch"  # the name by which `execute_with`'s SQL reads its Arrow table


def execute_with(
    conn: duckdb.DuckDBPyConnection, sql: str, frame: pa.Table, params: Sequence[Any] = ()
) -> duckdb.DuckDBPyConnection:
    """Run sql, which reads the Arrow table `frame` as `_arrow_batch` (`BATCH`).

    DuckDB finds a table the catalog lacks among the calling Python function's variables (a
    replacement scan): registering the table as a view and dropping it again costs about as
    much as a whole statement of the engine's (~0.5 ms each, several per batch)."""
    _arrow_batch = frame  # read by DuckDB, by this name
    return conn.execute(sql, list(params))


def _ids_frame(ids: Sequence[str]) -> pa.Table:
    """Ids as a one-column Arrow table (`id`) for `execute_with`: DuckDB converts a list
    parameter value by value, an Arrow column in one go."""
    return pa.table({"id": pa.array(ids, type=pa.string())})


def _insert_sql(table: str, frame: pa.Table) -> str:
    cols = ", ".join(_q(c) for c in frame.column_names)
    return f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {BATCH}"


_ERROR_MERGE = """
MERGE INTO sync_errors t USING {src} s
ON t.system = s.system AND t.object = s.object AND t.code = s.code
   AND t.record_id IS NOT DISTINCT FROM s.record_id AND t.field IS NOT DISTINCT FROM s.field
WHEN MATCHED THEN UPDATE SET
    run_id = s.run_id, category = s.category, message = s.message, value = s.value,
    suggested_fix = s.suggested_fix, sf_object = s.sf_object, hs_object = s.hs_object,
    payload = s.payload, attempts = t.attempts + 1, last_seen = s.last_seen,
    status = CASE WHEN t.status = 'ignored' THEN 'ignored' ELSE s.status END,
    resolved_at = CASE WHEN t.status = 'ignored' THEN t.resolved_at END,
    resolved_by = CASE WHEN t.status = 'ignored' THEN t.resolved_by END
WHEN NOT MATCHED THEN INSERT
    (run_id, system, object, record_id, category, code, message, field, status, attempts,
     first_seen, last_seen, value, suggested_fix, sf_object, hs_object, payload)
VALUES
    (s.run_id, s.system, s.object, s.record_id, s.category, s.code, s.message, s.field,
     s.status, 1, s.first_seen, s.last_seen, s.value, s.suggested_fix, s.sf_object,
     s.hs_object, s.payload)
"""

_DUPLICATE_MERGE = """
MERGE INTO duplicates t USING {src} s ON t.cluster_id = s.cluster_id
WHEN MATCHED THEN UPDATE SET
    record_ids = s.record_ids, reason = s.reason, last_seen = s.last_seen, run_id = s.run_id,
    kept_id = s.kept_id,
    status = CASE WHEN t.status = 'ignored' THEN 'ignored' ELSE s.status END,
    resolved_at = CASE WHEN t.status = 'ignored' THEN t.resolved_at END,
    resolved_by = CASE WHEN t.status = 'ignored' THEN t.resolved_by END
WHEN NOT MATCHED THEN INSERT
    (cluster_id, system, object, record_ids, match_key, reason, status, detected_at,
     last_seen, run_id, kept_id)
VALUES
    (s.cluster_id, s.system, s.object, s.record_ids, s.match_key, s.reason, s.status,
     s.detected_at, s.last_seen, s.run_id, s.kept_id)
"""

# A link that stays gets its match key only when that changes it: DuckDB rewrites every row an
# UPDATE names, and rows scattered over the table cost several times a contiguous append.
_LINK_MERGE = """
MERGE INTO id_links t USING {src} s ON t.object = s.object AND t.hs_id = s.hs_id
WHEN MATCHED AND (t.sf_id IS DISTINCT FROM s.sf_id OR t.sf_object IS DISTINCT FROM s.sf_object)
THEN UPDATE SET
    previous_sf_object = t.sf_object, previous_sf_id = t.sf_id, sf_object = s.sf_object,
    sf_id = s.sf_id, updated_at = s.linked_at, run_id = s.run_id,
    match_key = coalesce(s.match_key, t.match_key)
WHEN MATCHED AND t.match_key IS DISTINCT FROM coalesce(s.match_key, t.match_key)
THEN UPDATE SET match_key = s.match_key
WHEN NOT MATCHED THEN INSERT
    (object, hs_id, sf_object, sf_id, linked_at, match_key, run_id, updated_at)
VALUES (s.object, s.hs_id, s.sf_object, s.sf_id, s.linked_at, s.match_key, s.run_id, s.linked_at)
"""

# The rows of the batch's pairs. The first IN is redundant but cheap: on one column DuckDB
# filters the scan with a Bloom filter before the three-column match.
_BASES_TAKE = f"""
DELETE FROM synced_bases
WHERE hs_id IN (SELECT hs_id FROM {BATCH})
  AND object = ? AND (hs_id, sf_id) IN (SELECT hs_id, sf_id FROM {BATCH})
RETURNING hs_id, sf_id, synced_at, base
"""


def json_array(rows: Sequence[tuple[Any, ...]]) -> str:
    """The JSON texts last in each row, as one array text: decoded by one call."""
    return "[" + ",".join(row[-1] or "{}" for row in rows) + "]"


__all__ = [
    "DIRECTIONS",
    "DUPLICATE_STATUSES",
    "ERROR_CATEGORIES",
    "ERROR_STATUSES",
    "RUN_KINDS",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "SYSTEMS",
    "TABLES",
    "ApiUsage",
    "AuditStore",
    "Columns",
    "Conflict",
    "Duplicate",
    "FieldChange",
    "FieldWrite",
    "Link",
    "SecretLeakError",
    "StoreBusyError",
    "StoreWriter",
    "SyncError",
    "SyncedValue",
    "cluster_id",
    "compact_json",
    "decode_json",
    "execute_with",
    "find_secret",
    "is_lock_error",
    "json_array",
    "schema_ddl",
    "to_text",
]
