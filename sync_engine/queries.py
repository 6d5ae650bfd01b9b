"""Read-side queries over the audit store, for the dashboard, the CLI and the engine.

Two kinds:
- views for people (`status_summary`, `*_frame`, `record_timeline`) take an `AuditStore`, open a
  short read connection (one consistent snapshot) and return plain dicts or pandas DataFrames;
- lookups for the engine (`get_cursor`, `find_links`, `synced_values_for`, ...) take a DuckDB
  connection: `tx.conn` inside `store.write()` (to see the open transaction's own rows), or the
  connection of `store.read()`.

Only parameters carry values into SQL; the only text ever composed is column names from this
module. Timestamps are compared in UTC; "today" is the UTC day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb

from sync_engine.budget import Quota
from sync_engine.loops import SyncWrite
from sync_engine.store import AuditStore, Link, decode_json, json_array

if TYPE_CHECKING:  # the engine process never loads pandas (~50 MB); the dashboard does
    import pandas as pd

BUCKETS = ("minute", "hour", "day")
OPEN_STATUSES = ("open", "retrying")

Filter = str | int | Sequence[str] | None


def _where(
    filters: Mapping[str, Filter], *, since: tuple[str, datetime | None] = ("", None)
) -> tuple[str, list[Any]]:
    """A WHERE clause over our own column names; every value travels as a parameter. A sequence
    value means "any of these"."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in filters.items():
        if value is None:
            continue
        if isinstance(value, str | int):
            clauses.append(f"{column} = ?")
            params.append(value)
        else:
            clauses.append(f"list_contains(?::VARCHAR[], {column})")
            params.append(list(value))
    column, moment = since
    if moment is not None:
        clauses.append(f"{column} >= ?")
        params.append(moment)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _frame(store: AuditStore, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    with store.read() as conn:
        return conn.execute(sql, list(params)).df()


def _day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


# --------------------------------------------------------------------------------------------
# For people: the dashboard and `python -m sync_engine status`


def status_summary(store: AuditStore, *, now: datetime | None = None) -> dict[str, Any]:
    """The health summary: last run, open errors per category, today's API use per system, links
    and duplicates, and the engine's paused/heartbeat state. Works on a store not yet created."""
    today = _day_start(now or datetime.now(UTC))
    with store.read() as conn:
        return {
            "last_run": _one_dict(conn, "SELECT * FROM sync_runs ORDER BY run_id DESC LIMIT 1"),
            "open_errors": dict(
                conn.execute(
                    "SELECT category, count(*) FROM sync_errors "
                    "WHERE list_contains(?::VARCHAR[], status) GROUP BY category ORDER BY 1",
                    [list(OPEN_STATUSES)],
                ).fetchall()
            ),
            "open_duplicates": _scalar(
                conn, "SELECT count(*) FROM duplicates WHERE status = 'open'"
            ),
            "api_usage_today": api_usage_today(conn, since=today),
            "links": _scalar(conn, "SELECT count(*) FROM id_links"),
            "engine": engine_state(conn),
        }


def runs_frame(
    store: AuditStore,
    *,
    since: datetime | None = None,
    kind: Filter = None,
    status: Filter = None,
    limit: int = 500,
) -> pd.DataFrame:
    """Runs, newest first."""
    where, params = _where({"kind": kind, "status": status}, since=("started_at", since))
    sql = f"SELECT * FROM sync_runs{where} ORDER BY run_id DESC LIMIT ?"
    return _frame(store, sql, [*params, limit])


def errors_frame(
    store: AuditStore,
    *,
    category: Filter = None,
    status: Filter = None,
    object: Filter = None,
    system: Filter = None,
    run_id: int | None = None,
    limit: int = 1000,
) -> pd.DataFrame:
    """Sync errors, most recently seen first (status may be a list, e.g. OPEN_STATUSES)."""
    where, params = _where(
        {
            "category": category,
            "status": status,
            "object": object,
            "system": system,
            "run_id": run_id,
        }
    )
    sql = f"SELECT * FROM sync_errors{where} ORDER BY last_seen DESC, error_id DESC LIMIT ?"
    return _frame(store, sql, [*params, limit])


def changes_frame(
    store: AuditStore,
    *,
    run_id: int | None = None,
    object: Filter = None,
    field: Filter = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> pd.DataFrame:
    """Field changes, newest first."""
    where, params = _where(
        {"run_id": run_id, "object": object, "field": field}, since=('"at"', since)
    )
    sql = f'SELECT * FROM field_changes{where} ORDER BY "at" DESC LIMIT ?'
    return _frame(store, sql, [*params, limit])


def conflicts_frame(
    store: AuditStore,
    *,
    since: datetime | None = None,
    object: Filter = None,
    field: Filter = None,
    winner: Filter = None,
    limit: int = 1000,
) -> pd.DataFrame:
    """Conflicts and how they were settled, newest first."""
    where, params = _where(
        {"object": object, "field": field, "winner": winner}, since=('"at"', since)
    )
    sql = f'SELECT * FROM conflicts{where} ORDER BY "at" DESC LIMIT ?'
    return _frame(store, sql, [*params, limit])


def duplicates_frame(
    store: AuditStore,
    *,
    status: Filter = None,
    system: Filter = None,
    object: Filter = None,
    limit: int = 1000,
) -> pd.DataFrame:
    """Duplicate clusters, biggest first (record_ids is a list column)."""
    where, params = _where({"status": status, "system": system, "object": object})
    sql = (
        f"SELECT *, len(record_ids) AS size FROM duplicates{where} "
        "ORDER BY size DESC, last_seen DESC LIMIT ?"
    )
    return _frame(store, sql, [*params, limit])


def api_usage_frame(
    store: AuditStore,
    *,
    since: datetime | None = None,
    system: Filter = None,
    bucket: str = "hour",
) -> pd.DataFrame:
    """Calls per time bucket and system, with the highest daily counter the system reported."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}, got {bucket!r}")
    where, params = _where({"system": system}, since=('"at"', since))
    sql = (
        'SELECT date_trunc(?, "at") AS bucket, system, sum(calls)::BIGINT AS calls, '
        "max(used_today) AS used_today, max(daily_limit) AS daily_limit "
        f"FROM api_usage{where} GROUP BY ALL ORDER BY bucket, system"
    )
    return _frame(store, sql, [bucket, *params])


# Per table: rows matching a Salesforce id, then rows matching an (object, hs id) pair that the
# first branch did not already return. Two hash joins against tiny key lists: ~10 ms at 1M rows,
# where one OR-ed condition over both id columns took 150 ms (benchmarks/bench_store.py).
_TIMELINE_BRANCHES = {
    "change": (
        "field_changes",
        "t.\"at\", 'change', t.run_id, t.object, t.hs_id, t.sf_id, t.direction, t.field, "
        "t.old_value, t.new_value, t.reason",
        "t.hs_id",
        "t.sf_id",
    ),
    "conflict": (
        "conflicts",
        "t.\"at\", 'conflict', t.run_id, t.object, t.hs_id, t.sf_id, NULL, t.field, "
        "t.base_value, CASE t.winner WHEN 'hubspot' THEN t.hs_value ELSE t.sf_value END, "
        "'hubspot=' || coalesce(t.hs_value, '') || ' salesforce=' || coalesce(t.sf_value, '') "
        "|| ' rule=' || t.rule || ' winner=' || t.winner",
        "t.hs_id",
        "t.sf_id",
    ),
    "error": (
        "sync_errors",
        "t.last_seen, 'error', t.run_id, t.object, "
        "CASE t.system WHEN 'hubspot' THEN t.record_id END, "
        "CASE t.system WHEN 'salesforce' THEN t.record_id END, t.system, t.field, NULL, t.value, "
        "t.code || ': ' || t.message",
        "CASE t.system WHEN 'hubspot' THEN t.record_id END",
        "CASE t.system WHEN 'salesforce' THEN t.record_id END",
    ),
}


def _timeline_sql() -> str:
    parts = []
    for table, columns, hs_col, sf_col in _TIMELINE_BRANCHES.values():
        parts.append(f"SELECT {columns} FROM {table} t WHERE {sf_col} IN (SELECT s FROM sf)")
        parts.append(
            f"SELECT {columns} FROM {table} t JOIN hs ON {hs_col} = hs.h "
            "AND t.object = coalesce(hs.o, t.object) "
            f"WHERE {sf_col} IS NULL OR {sf_col} NOT IN (SELECT s FROM sf)"
        )
    return (
        "WITH hs AS (SELECT unnest(?::VARCHAR[]) AS o, unnest(?::VARCHAR[]) AS h), "
        "sf AS (SELECT unnest(?::VARCHAR[]) AS s) "
        "SELECT * FROM ("
        + " UNION ALL ".join(parts)
        + ') AS timeline ("at", kind, run_id, object, hs_id, sf_id, direction, field, '
        'old_value, new_value, detail) ORDER BY "at", kind'
    )


_TIMELINE = _timeline_sql()


def record_timeline(
    store: AuditStore,
    *,
    email: str | None = None,
    hs_id: str | None = None,
    sf_id: str | None = None,
    object: str | None = None,
) -> pd.DataFrame:
    """Everything that happened to one person or record, oldest first: changes, conflicts and
    errors, on both sides, through id_links (a converted Lead's history stays attached).

    email is compared lower-cased and trimmed with the link's match key. hs ids are only
    unique per object type, so pass object with a bare hs_id when several objects are synced."""
    if not (email or hs_id or sf_id):
        raise ValueError("record_timeline needs an email, an hs_id or an sf_id")
    with store.read() as conn:
        links = conn.execute(
            "SELECT object, hs_id, sf_id, previous_sf_id FROM id_links "
            "WHERE (?::VARCHAR IS NULL OR object = ?) AND (hs_id = ? OR sf_id = ? "
            "OR previous_sf_id = ? OR lower(match_key) = ?)",
            [object, object, hs_id, sf_id, sf_id, email.strip().lower() if email else None],
        ).fetchall()
        hs_keys = {(object, hs_id)} if hs_id else set()
        sf_ids = {sf_id} if sf_id else set()
        for linked_object, linked_hs, *linked_sf in links:
            hs_keys.add((linked_object, linked_hs))
            sf_ids.update(i for i in linked_sf if i)
        objects, hs_ids = [o for o, _ in hs_keys], [h for _, h in hs_keys]
        return conn.execute(_TIMELINE, [objects, hs_ids, sorted(sf_ids)]).df()


def changes_for_email(store: AuditStore, email: str) -> pd.DataFrame:
    """The field changes made to the person with this email, in either system, oldest first."""
    timeline = record_timeline(store, email=email)
    return timeline[timeline["kind"] == "change"].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# For the engine: lookups over a connection (tx.conn, or store.read())


@dataclass(frozen=True)
class CursorPosition:
    """Where the last committed incremental read stopped: records stamped after modstamp, or at
    it with an id after last_id. settled: that read was sent once the system's clock had left
    modstamp's second, so no record it did not see can still be saved at modstamp with a lower
    id (only then may a read skip the records at modstamp up to last_id)."""

    modstamp: datetime
    last_id: str | None
    updated_at: datetime | None = None
    settled: bool = False


def get_cursor(conn: duckdb.DuckDBPyConnection, system: str, object: str) -> CursorPosition | None:
    row = conn.execute(
        "SELECT modstamp, last_id, updated_at, settled FROM sync_cursors "
        "WHERE system = ? AND object = ?",
        [system, object],
    ).fetchone()
    if not row or row[0] is None:
        return None
    return CursorPosition(row[0].astimezone(UTC), row[1], row[2], bool(row[3]))


def find_links(
    conn: duckdb.DuckDBPyConnection,
    object: str | None = None,
    *,
    hs_ids: Iterable[str] | None = None,
    sf_ids: Iterable[str] | None = None,
    match_key: str | None = None,
) -> list[Link]:
    """Links matching any of the given hs ids, sf ids (current or before a re-link) or match key;
    all links of the object when none is given."""
    hs = list(hs_ids) if hs_ids is not None else None
    sf = list(sf_ids) if sf_ids is not None else None
    any_key = hs is not None or sf is not None or match_key is not None
    rows = conn.execute(
        "SELECT object, hs_id, sf_object, sf_id, match_key, run_id, linked_at FROM id_links "
        "WHERE (?::VARCHAR IS NULL OR object = ?) AND (NOT ? "
        "OR hs_id IN (SELECT unnest(?::VARCHAR[])) "
        "OR sf_id IN (SELECT unnest(?::VARCHAR[])) "
        "OR previous_sf_id IN (SELECT unnest(?::VARCHAR[])) "
        "OR lower(match_key) = ?) ORDER BY object, hs_id",
        [object, object, any_key, hs or [], sf or [], sf or [], match_key],
    ).fetchall()
    return [Link(o, h, so, s, match_key=k, run_id=r, at=at) for o, h, so, s, k, r, at in rows]


_BASE_SLICE = 2000  # bases fetched and decoded at a time


def synced_values_for(
    conn: duckdb.DuckDBPyConnection, object: str, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, str | None]]:
    """The base values of the three-way merge, per linked pair: {(hs_id, sf_id): {field: value}}.
    A field absent from the inner dict was never synced; a None value was synced blank."""
    wanted = list(pairs)
    out: dict[tuple[str, str], dict[str, str | None]] = {p: {} for p in wanted}
    if not wanted:
        return out
    result = conn.execute(
        "SELECT b.hs_id, b.sf_id, epoch_us(b.synced_at), b.base FROM synced_bases b "
        "JOIN (SELECT unnest(?::VARCHAR[]) AS hs_id, unnest(?::VARCHAR[]) AS sf_id) p "
        "ON b.hs_id = p.hs_id AND b.sf_id = p.sf_id WHERE b.object = ?",
        [[h for h, _ in wanted], [s for _, s in wanted], object],
    )
    # A decide chunk holds ~12 values for each of thousands of pairs: each repeated value (a
    # stage, a country) is kept once, not once per pair as decoded. Fetched a slice at a time,
    # so a chunk's base texts (~15,000 of ~400 bytes) are never all held beside their values.
    shared: dict[str | None, str | None] = {}
    stamp: dict[tuple[str, str], int] = {}  # of the row each pair's base came from
    while rows := result.fetchmany(_BASE_SLICE):
        for (h, s, at, _text), base in zip(rows, decode_json(json_array(rows)), strict=True):
            values = {k: shared.setdefault(v, v) for k, v in base.items()}
            pair = (h, s)
            if pair not in stamp or at >= stamp[pair]:  # a pair's later row wins (set_bases)
                out[pair].update(values)
                stamp[pair] = at
            else:
                out[pair] = {**values, **out[pair]}
    return out


def last_salesforce_writes(
    conn: duckdb.DuckDBPyConnection, object: str, sf_ids: Iterable[str]
) -> dict[str, frozenset[str]]:
    """Per Salesforce record, the fields (mapping keys) of the sync's latest update to it, from
    the write history: what an echo of our own write may hold. A record absent here was never
    updated by the sync within the history kept (it may have been created by it)."""
    wanted = sorted(set(sf_ids))
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT sf_id, field FROM field_history WHERE object = ? AND system_written = ? "
        "AND sf_id IN (SELECT unnest(?::VARCHAR[])) "
        'QUALIFY "at" = max("at") OVER (PARTITION BY sf_id)',
        [object, "salesforce", wanted],
    ).fetchall()
    found: dict[str, set[str]] = {}
    for sf_id, field in rows:
        found.setdefault(sf_id, set()).add(field)
    return {sf_id: frozenset(fields) for sf_id, fields in found.items()}


def recent_field_writes(
    conn: duckdb.DuckDBPyConnection,
    *,
    min_cycle: int,
    object: str | None = None,
    hs_ids: Iterable[str] | None = None,
    min_writes: int = 1,
) -> list[SyncWrite]:
    """The values the sync wrote from cycle min_cycle on, oldest first: `loops.detect_loops`'s
    input (pass `current_cycle - window_cycles + 1`). min_writes: only the fields (object,
    hs_id, field) written that often since (loop detection skips the others; after an initial
    sync nearly every field was written once).

    The fields written often enough are found by a grouping, not a window over every row (a
    quarter of the time: 9 against 35 ms on the 23,000 rows an initial sync of 20,000 contacts
    leaves, which every cycle's loop detection reads until they leave the window)."""
    ids = list(hs_ids) if hs_ids is not None else None
    where = (
        "cycle >= ? AND (?::VARCHAR IS NULL OR object = ?) "
        "AND (NOT ? OR hs_id IN (SELECT unnest(?::VARCHAR[])))"
    )
    filters = [min_cycle, object, object, ids is not None, ids or []]
    params: list[Any] = filters
    often = ""
    if min_writes > 1:  # every field written at all was written once
        often = (
            "AND (object, hs_id, field) IN (SELECT object, hs_id, field FROM field_history "
            f"WHERE {where} GROUP BY ALL HAVING count(*) >= ?) "
        )
        params = [*filters, *filters, min_writes]
    rows = conn.execute(
        'SELECT object, hs_id, sf_id, field, system_written, value, "at", cycle, origin, '
        f"sf_object FROM field_history WHERE {where} {often}"
        'ORDER BY cycle, "at", object, hs_id, field',
        params,
    ).fetchall()
    return [
        SyncWrite(
            object=o,
            hs_id=h,
            sf_id=s,
            field=f,
            system_written=w,
            value=v,
            at=at,
            cycle=c,
            origin=origin or "unknown",
            sf_object=so or "",
        )
        for o, h, s, f, w, v, at, c, origin, so in rows
    ]


def api_calls_since(conn: duckdb.DuckDBPyConnection, since: datetime) -> dict[str, int]:
    """Calls LeadBridge made per system since a moment (`budget.day_start(now)` for today)."""
    rows = conn.execute(
        'SELECT system, sum(calls)::BIGINT FROM api_usage WHERE "at" >= ? GROUP BY system',
        [since],
    ).fetchall()
    return {system: int(calls or 0) for system, calls in rows}


def latest_quotas(conn: duckdb.DuckDBPyConnection) -> dict[str, Quota]:
    """Per system, the last daily use/limit the system itself reported (any day: the budget
    treats an earlier day's report as zero use today)."""
    rows = conn.execute(
        'SELECT system, arg_max(used_today, "at"), arg_max(daily_limit, "at"), max("at") '
        "FROM api_usage WHERE used_today IS NOT NULL AND daily_limit IS NOT NULL "
        "GROUP BY system"
    ).fetchall()
    return {s: Quota(int(used), int(limit), at) for s, used, limit, at in rows}


def api_usage_today(
    conn: duckdb.DuckDBPyConnection, *, since: datetime | None = None
) -> dict[str, dict[str, Any]]:
    """Per system: calls we made since `since` (default: 00:00 UTC today), and the system's own
    last reported daily use and limit, with when it reported them."""
    calls = api_calls_since(conn, since or _day_start(datetime.now(UTC)))
    quotas = latest_quotas(conn)
    return {
        system: {
            "calls": calls.get(system, 0),
            "used_today": quotas[system].used_today if system in quotas else None,
            "daily_limit": quotas[system].daily_limit if system in quotas else None,
            "reported_at": quotas[system].reported_at if system in quotas else None,
        }
        for system in sorted(set(calls) | set(quotas))
    }


def engine_state(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Paused flag (who/why/when), heartbeat, next cycle and the run in progress."""
    state = _one_dict(conn, "SELECT * FROM engine_state WHERE id = 1") or {"paused": False}
    state.pop("id", None)
    state["paused"] = bool(state.get("paused"))
    return state


def heartbeat_age(state: Mapping[str, Any], *, now: datetime | None = None) -> timedelta | None:
    """How long ago the engine last reported in, or None when it never did."""
    beat = state.get("heartbeat_at")
    return None if beat is None else (now or datetime.now(UTC)) - beat


def _one_dict(conn: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any] | None:
    cur = conn.execute(sql)
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


# --------------------------------------------------------------------------------------------
# For the dashboard's health page: throughput, latency and activity over time


_SOURCE_OF_CHANGE = (
    "CASE fc.direction WHEN 'hubspot_to_salesforce' THEN 'hubspot' ELSE 'salesforce' END"
)
_SOURCE_ID_OF_CHANGE = (
    "CASE fc.direction WHEN 'hubspot_to_salesforce' THEN fc.hs_id ELSE fc.sf_id END"
)


def sync_throughput(store: AuditStore, *, since: datetime) -> dict[str, Any]:
    """Records written to the other side since a moment, per direction, and in all; latency
    (seconds from the edit in the source system to the write on the other side) as median and
    95th percentile.

    Latency is measured per record write: `field_changes.at` minus the source record's
    `modified_at` in the mirror. Edits made before the first run (the backlog an initial sync
    carries over) and writes whose source was edited again since (the mirror keeps the newest
    stamp only) are left out: they say nothing about how fast the sync follows an edit."""
    with store.read() as conn:
        per_direction = dict(
            conn.execute(
                "SELECT direction, count(DISTINCT (hs_id, sf_id)) FROM field_changes "
                'WHERE "at" >= ? GROUP BY direction',
                [since],
            ).fetchall()
        )
        total = _scalar_params(
            conn,
            'SELECT count(DISTINCT (hs_id, sf_id)) FROM field_changes WHERE "at" >= ?',
            [since],
        )
        row = conn.execute(
            "WITH t0 AS (SELECT min(started_at) AS t0 FROM sync_runs), "
            'w AS (SELECT DISTINCT fc.run_id, fc.direction, fc.hs_id, fc.sf_id, fc."at", '
            f"{_SOURCE_OF_CHANGE} AS src_system, {_SOURCE_ID_OF_CHANGE} AS src_id "
            'FROM field_changes fc WHERE fc."at" >= ?) '
            'SELECT quantile_cont(epoch(w."at") - epoch(r.modified_at), 0.5), '
            'quantile_cont(epoch(w."at") - epoch(r.modified_at), 0.95), count(*) '
            "FROM w JOIN records r ON r.system = w.src_system AND r.id = w.src_id "
            'WHERE r.modified_at <= w."at" AND r.modified_at >= (SELECT t0 FROM t0)',
            [since],
        ).fetchone()
    median, p95, measured = row if row else (None, None, 0)
    return {
        "records": total,
        "by_direction": {str(k): int(v) for k, v in per_direction.items()},
        "latency_median_s": float(median) if median is not None else None,
        "latency_p95_s": float(p95) if p95 is not None else None,
        "latency_samples": int(measured or 0),
    }


def changes_over_time(
    store: AuditStore, *, since: datetime | None = None, bucket: str = "hour"
) -> pd.DataFrame:
    """Field changes written per time bucket and direction."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}, got {bucket!r}")
    where, params = _where({}, since=('"at"', since))
    sql = (
        'SELECT date_trunc(?, "at") AS bucket, direction, count(*)::BIGINT AS changes '
        f"FROM field_changes{where} GROUP BY ALL ORDER BY bucket, direction"
    )
    return _frame(store, sql, [bucket, *params])


def errors_over_time(
    store: AuditStore, *, since: datetime | None = None, bucket: str = "hour"
) -> pd.DataFrame:
    """Errors first seen per time bucket and category."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}, got {bucket!r}")
    where, params = _where({}, since=("first_seen", since))
    sql = (
        "SELECT date_trunc(?, first_seen) AS bucket, category, count(*)::BIGINT AS errors "
        f"FROM sync_errors{where} GROUP BY ALL ORDER BY bucket, category"
    )
    return _frame(store, sql, [bucket, *params])


def error_counts(store: AuditStore) -> pd.DataFrame:
    """Errors per category and status (the errors page's filter counts)."""
    return _frame(
        store,
        "SELECT category, status, count(*)::BIGINT AS errors FROM sync_errors "
        "GROUP BY ALL ORDER BY category, status",
    )


def audit_frame(
    store: AuditStore, *, action: Filter = None, since: datetime | None = None, limit: int = 200
) -> pd.DataFrame:
    """Who did what from the dashboard (fixes, pauses, config changes), newest first."""
    where, params = _where({"action": action}, since=('"at"', since))
    sql = f'SELECT * FROM audit_log{where} ORDER BY "at" DESC, audit_id DESC LIMIT ?'
    return _frame(store, sql, [*params, limit])


def error_by_id(store: AuditStore, error_id: int) -> dict[str, Any] | None:
    """One sync error with its payload decoded (the errors page's fix panel)."""
    import json

    with store.read() as conn:
        cur = conn.execute("SELECT * FROM sync_errors WHERE error_id = ?", [error_id])
        row = cur.fetchone()
        if row is None:
            return None
        found = dict(zip([d[0] for d in cur.description], row, strict=True))
    payload = found.get("payload")
    found["payload"] = json.loads(payload) if isinstance(payload, str) and payload else {}
    return found


def mirror_version(store: AuditStore, *, system: str, object: str) -> tuple[Any, ...]:
    """A cheap fingerprint of the mirror's rows of one object: the preview's frame is rebuilt
    only when it changes."""
    with store.read() as conn:
        row = conn.execute(
            "SELECT count(*), max(read_at), max(modified_at) FROM records "
            "WHERE system = ? AND object = ?",
            [system, object],
        ).fetchone()
    return tuple(str(v) for v in row) if row else ()


def _scalar_params(conn: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> int:
    row = conn.execute(sql, list(params)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def person_timeline(store: AuditStore, email: str) -> pd.DataFrame:
    """record_timeline for a person found by email in the engine's mirror (records.key is the
    normalised email of contacts, Leads and Contacts) as well as through id_links' match key,
    which the engine does not always fill: every record with that email, on both sides."""
    wanted = email.strip().lower()
    with store.read() as conn:
        rows = conn.execute(
            "SELECT system, id FROM records WHERE key = ? "
            "AND object IN ('contacts', 'Lead', 'Contact')",
            [wanted],
        ).fetchall()
    frames = [record_timeline(store, email=wanted)]
    for system, rid in rows:
        if system == "hubspot":
            frames.append(record_timeline(store, hs_id=rid, object="contact"))
        else:
            frames.append(record_timeline(store, sf_id=rid))
    found = [f for f in frames if not f.empty]
    if not found:
        return frames[0]
    import pandas as pd

    merged = pd.concat(found, ignore_index=True).drop_duplicates()
    return merged.sort_values(["at", "kind"]).reset_index(drop=True)
