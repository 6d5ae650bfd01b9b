"""Test-segment sync: decide and write a chosen handful of HubSpot contacts, nothing else.

Before trusting the criteria with the whole portal, an admin picks 50-100 qualifying contacts,
looks at the dry run (the engine's pure `plan()` over a Snapshot restricted to them: records to
create or update in each system, field by field) and applies it. The snapshot is built from the
mirror exactly as a cycle builds it for dirty records, with the chosen contacts standing in for
the dirty ones; the writes go through the engine's own batch executor, so they are audited like
any cycle's, under a run of kind `segment` (a dry run is recorded as kind `dry_run`). Both are
an admin's to launch (`access.require_admin`), and both are recorded in audit_log with who.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sync_engine.access import Identity, require_admin
from sync_engine.engine import RunReport, SyncEngine
from sync_engine.plan import Plan, Snapshot, plan

MIN_SIZE, MAX_SIZE = 1, 500
CHUNK = 10  # contacts' writes per progress step

Progress = Callable[[float, str], None]


@dataclass
class SegmentReport:
    """What a segment run wrote and what failed."""

    run_id: int
    kind: str
    contacts: int
    records_written: int = 0
    errors: int = 0
    plans: list[Plan] = field(default_factory=list)
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)


def _snapshot(engine: SyncEngine, hs_ids: Sequence[str]) -> Snapshot:
    obj = engine.config.object("contact")
    if obj is None:
        raise ValueError("contacts are not synced: no [objects.contact] in the config")
    snapshot, _considered = engine.snapshot(obj, engine.schema(), only_hs=hs_ids)
    return snapshot


def plan_segment(engine: SyncEngine, hs_ids: Sequence[str]) -> list[Plan]:
    """The dry run: what syncing exactly these contacts would write (nothing is written)."""
    return [plan(_snapshot(engine, _checked(hs_ids)))]


def _checked(hs_ids: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(str(i) for i in hs_ids))
    if not MIN_SIZE <= len(ids) <= MAX_SIZE:
        raise ValueError(f"a segment has {MIN_SIZE} to {MAX_SIZE} contacts, not {len(ids)}")
    return ids


def dry_run_segment(engine: SyncEngine, hs_ids: Sequence[str], *, actor: Identity) -> SegmentReport:
    """Plan the segment and record the dry run as a run of kind `dry_run`."""
    by = require_admin(actor, "dry-run a test segment")
    ids = _checked(hs_ids)
    with engine.store.write() as tx:
        run_id = tx.start_run("dry_run", triggered_by=by)
        tx.audit(by, "segment_dry_run", details={"run_id": run_id, "contacts": len(ids)})
    plans = plan_segment(engine, ids)
    with engine.store.write() as tx:
        tx.finish_run(
            run_id,
            status="succeeded",
            message=f"segment dry run of {len(ids)} contacts",
            error_count=0,
        )
    return SegmentReport(run_id=run_id, kind="dry_run", contacts=len(ids), plans=plans)


def apply_segment(
    engine: SyncEngine,
    hs_ids: Sequence[str],
    *,
    actor: Identity,
    progress: Progress | None = None,
) -> SegmentReport:
    """Sync exactly these contacts now, in chunks (progress after each), as a `segment` run."""
    by = require_admin(actor, "launch a test-segment sync")
    ids = _checked(hs_ids)
    notify = progress or (lambda _f, _m: None)
    with engine.store.write() as tx:
        run_id = tx.start_run("segment", triggered_by=by)
        tx.audit(by, "segment_apply", details={"run_id": run_id, "contacts": len(ids)})
    report = RunReport(run_id=run_id, kind="segment")
    decided = plan_segment(engine, ids)[0]
    report.plans.append(decided)
    obj = engine.config.object("contact")
    chunks = _chunks(decided)
    status, message = "failed", None
    try:
        for done, part in enumerate(chunks, start=1):
            engine.execute_plan(run_id, obj, part, report)  # the engine's audited batch writer
            notify(done / len(chunks), f"wrote {report.records_written} records")
        status = "partial" if report.errors else "succeeded"
    except Exception as exc:
        message = str(exc)
        raise
    finally:
        with engine.store.write(run_id=run_id) as tx:
            engine.flush_calls(tx)
            tx.finish_run(
                run_id, status=status, message=message, records_written=report.records_written
            )
    return SegmentReport(
        run_id=run_id,
        kind="segment",
        contacts=len(ids),
        records_written=report.records_written,
        errors=report.errors,
        plans=[decided],
        failures=_failures(engine, run_id),
    )


def _chunks(decided: Plan) -> list[Plan]:
    """The plan in parts of CHUNK contacts' writes; links, bases, refusals, clusters and
    conflicts go with the first part (they are recorded once)."""
    by_contact: dict[str, list[Any]] = {}
    for w in decided.writes:
        by_contact.setdefault(w.hs_id or w.sf_id or "", []).append(w)
    groups = list(by_contact.values())
    parts = [groups[i : i + CHUNK] for i in range(0, len(groups), CHUNK)] or [[]]
    out = []
    for i, part in enumerate(parts):
        first = i == 0
        out.append(
            Plan(
                object=decided.object,
                writes=[w for ws in part for w in ws],
                links=decided.links if first else [],
                relinks=decided.relinks if first else [],
                base_updates=decided.base_updates if first else {},
                conflicts=decided.conflicts if first else [],
                refusals=decided.refusals if first else [],
                clusters=decided.clusters if first else [],
            )
        )
    return out


def _failures(engine: SyncEngine, run_id: int) -> pd.DataFrame:
    with engine.store.read() as conn:
        return conn.execute(
            "SELECT error_id, system, object, record_id, field, value, message, suggested_fix "
            "FROM sync_errors WHERE run_id = ? ORDER BY error_id",
            [run_id],
        ).df()


def plan_diff(plans: Sequence[Plan]) -> pd.DataFrame:
    """The dry run as a table: one row per field to write, with the record and the reason."""
    rows = [
        {
            "target": str(w.system),
            "operation": w.op,
            "object": w.object,
            "hs_id": w.hs_id,
            "sf_id": w.sf_id,
            "field": c.field,
            "old_value": None if c.old_value is None else str(c.old_value),
            "new_value": None if c.new_value is None else str(c.new_value),
            "reason": c.reason,
        }
        for p in plans
        for w in p.writes
        for c in w.changes
    ]
    columns = [
        "target",
        "operation",
        "object",
        "hs_id",
        "sf_id",
        "field",
        "old_value",
        "new_value",
        "reason",
    ]
    return pd.DataFrame(rows, columns=columns)


def plan_summary(plans: Sequence[Plan]) -> pd.DataFrame:
    """Records to create or update per target system (the dry run's headline)."""
    rows: dict[tuple[str, str], int] = {}
    for p in plans:
        for w in p.writes:
            key = (str(w.system), w.op)
            rows[key] = rows.get(key, 0) + 1
    refused = sum(len(p.refusals) for p in plans)
    frame = pd.DataFrame(
        [{"target": s, "operation": op, "records": n} for (s, op), n in sorted(rows.items())],
        columns=["target", "operation", "records"],
    )
    if refused:
        frame.loc[len(frame)] = {"target": "—", "operation": "refused", "records": refused}
    return frame
