"""The sync cycle: read what changed, decide, write in batches, record everything.

A cycle (`SyncEngine.run_once`) is:
1. read: every Salesforce object changed since its cursor, in one Composite request
   (`SystemModstamp >= cursor`, or past its id once its second is settled; queryAll so
   deletions show), and every HubSpot object through
   search on its last-modified property (`>=`, across the 10,000 cap); the rows go to the mirror
   (dirty) in the same transaction that moves the cursors;
2. decide (`plan.plan`, pure) per object, companies first so contacts can find their Accounts;
3. write through sObject Collections (200) and HubSpot batch endpoints (100); each group of
   `COMMIT_EVERY` batches commits their field changes, last-synced values, links, errors and API
   calls in one transaction (creates are staged before their call);
4. read again, so that the cycle's own echoes (and automations they triggered) are absorbed now
   rather than cost the next cycle; repeat while that pass still finds work (at most 3 passes).
   The values written and the records created are in the mirror already (`_fold_written`), so
   only an echo holding something else is decided again.

Nothing is held open across a wait: every store transaction is one batch or one group of them.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from sync_engine import guards, mirror
from sync_engine.activities import ARCHIVED_CURSOR, ActivitySync, archived_check_due
from sync_engine.budget import SYSTEM_LABELS, Quota
from sync_engine.config import ObjectSync, SyncConfig, load_config, validate_against_schema
from sync_engine.connectors.hubspot import HsOutcome, HubSpotConnector, last_modified_property
from sync_engine.connectors.salesforce import SalesforceConnector, SaveOutcome, soql_quote
from sync_engine.connectors.usage import ApiCall
from sync_engine.errors import (
    ApiLimitError,
    ConfigurationError,
    FatalError,
    RecordError,
    RetriableError,
    classify,
)
from sync_engine.inclusion import matcher
from sync_engine.mapping import MappingContext, OwnerDirectory
from sync_engine.matching import normalize_company_name, normalize_domain, normalize_email
from sync_engine.models import HUBSPOT_ID_PROPERTIES, FieldMeta, PropertyMeta, System
from sync_engine.plan import (
    COMPANY_BASE,
    Change,
    Link,
    Plan,
    Record,
    Refusal,
    Snapshot,
    Write,
    _singular,
    plan,
)
from sync_engine.queries import (
    CursorPosition,
    get_cursor,
    last_salesforce_writes,
    synced_values_for,
)
from sync_engine.retry import backoff
from sync_engine.store import (
    ApiUsage,
    AuditStore,
    Columns,
    Duplicate,
    FieldChange,
    FieldWrite,
    StoreWriter,
    SyncError,
)
from sync_engine.store import Conflict as ConflictRow
from sync_engine.store import Link as LinkRow

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MAX_PASSES = 3
SF_BATCH = 200  # records per sObject Collections call
HS_BATCH = 100  # records per HubSpot batch call
# API batches whose outcomes one audit transaction records. A transaction has about ten
# statements whatever its size (links, bases, field changes, calls, counts, the next creates
# staged), each ~0.5 ms of DuckDB planning, and some scan tables that grow with the store (the
# links MERGE): four batches a transaction took an initial sync at 100,000 contacts from 62.6 to
# 49.9 s of CPU (in-process), at 20,000 by 7 %; eight measured no better. A crash loses no more
# than before: creates are staged before their call (a restart finds and links them) and an
# update not yet recorded is decided again (its record is still queued).
COMMIT_EVERY = 4
SF_OBJECTS = ("Account", "Lead", "Contact", "Opportunity")
_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")

# Fields every read needs besides the mapped ones (identity, echo, conversion, association).
SF_BASE_FIELDS: dict[str, tuple[str, ...]] = {
    "Lead": (
        "Id", "SystemModstamp", "LastModifiedById", "CreatedDate", "IsDeleted", "Email",
        "Company", "IsConverted", "ConvertedContactId", "ConvertedAccountId",
    ),
    "Contact": (
        "Id", "SystemModstamp", "LastModifiedById", "CreatedDate", "IsDeleted", "Email",
        "AccountId",
    ),
    "Account": ("Id", "SystemModstamp", "LastModifiedById", "CreatedDate", "IsDeleted", "Name",
                "Website"),
    "Opportunity": ("Id", "SystemModstamp", "LastModifiedById", "CreatedDate", "IsDeleted",
                    "Name", "AccountId"),
}  # fmt: skip
HS_BASE_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": ("email", "createdate", "lastmodifieddate", "company"),
    "companies": ("name", "domain", "createdate", "hs_lastmodifieddate"),
    "deals": (
        "dealname",
        "pipeline",
        "createdate",
        "hs_lastmodifieddate",
        HUBSPOT_ID_PROPERTIES["deals"],
    ),
}


@dataclass(frozen=True)
class SchemaInfo:
    """What the engine learned from both systems at start: fields, properties, people."""

    sf_fields: Mapping[str, Mapping[str, FieldMeta]]
    hs_properties: Mapping[str, Mapping[str, PropertyMeta]]
    owners: OwnerDirectory
    integration_user_id: str | None
    warnings: tuple[SyncError, ...] = ()


@dataclass
class _Allowance:
    """One cycle's API allowance on one system: the budget's calls, counted from a start."""

    budget: Any
    start: int

    def left(self, total_now: int) -> int:
        return max(0, int(self.budget.calls_allowed) - (total_now - self.start))


@dataclass(frozen=True)
class _DeletionChecks:
    """The HubSpot objects whose archived list a read takes (name -> anything mirrored), as of
    at."""

    at: datetime
    due: Mapping[str, bool]


@dataclass
class RunReport:
    """What one run did, for the CLI, the dashboard and tests."""

    run_id: int
    kind: str
    status: str = "running"
    records_read: int = 0
    records_written: int = 0
    errors: int = 0
    conflicts: int = 0
    sf_api_calls: int = 0
    hs_api_calls: int = 0
    plans: list[Plan] = field(default_factory=list)  # kept by dry runs only
    message: str | None = None
    retry_later: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    deferred: int = 0

    def summary(self) -> str:
        return (
            f"run {self.run_id} ({self.kind}) {self.status}: read {self.records_read}, "
            f"wrote {self.records_written}, {self.errors} errors, {self.conflicts} conflicts, "
            f"{self.sf_api_calls} Salesforce and {self.hs_api_calls} HubSpot API calls"
        )


class SyncEngine:
    """Runs sync cycles between one HubSpot portal and one Salesforce org."""

    def __init__(
        self,
        config: SyncConfig,
        *,
        salesforce: SalesforceConnector,
        hubspot: HubSpotConnector,
        store: AuditStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        config_path: Path | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self._config_stamp = _mtime(config_path)
        self.sf = salesforce
        self.hs = hubspot
        self.store = store
        self.clock = clock
        self.activities = ActivitySync(
            config, salesforce=salesforce, hubspot=hubspot, store=store, clock=clock
        )
        self._schema: SchemaInfo | None = None
        self._retries: list[SyncError] = []
        self._written: dict[System, set[str]] = {}  # this plan's, see _note_written
        self._patches: dict[System, list[tuple[str, Mapping[str, Any]]]] = {}  # _fold_written
        self._created: list[Record] = []  # this plan's creates, mirrored by _fold_written
        self._allowance: dict[str, _Allowance] = {}
        self.daily_caps: dict[str, int | None] = {}
        for connector in (salesforce, hubspot):
            if connector.on_retry is None:
                connector.on_retry = self._retry_noter(connector.system)

    def _retry_noter(self, system: str) -> Callable[[RetriableError, int, float], None]:
        """Each retried call becomes a `transient` error row (attempts counted, then resolved):
        RevOps see how flaky each system was without any record being lost."""

        def note(exc: RetriableError, attempt: int, wait: float) -> None:
            self._retries.append(
                SyncError(
                    system=system,
                    object="api",
                    category="api_limit"
                    if "429" in str(exc) or "LIMIT" in exc.code
                    else "transient",
                    code=exc.code or "TRANSIENT",
                    message=f"{exc} (attempt {attempt}, retried after {wait:.1f} s)",
                    status="resolved",
                    suggested_fix="none needed: the call was retried",
                )
            )

        return note

    # ------------------------------------------------------------------ schema

    def schema(self) -> SchemaInfo:
        """Describe both sides once; a mapping naming a field either lacks is a fatal error."""
        if self._schema is None:
            self._schema = self._load_schema()
        return self._schema

    def _load_schema(self) -> SchemaInfo:
        sf_fields = {
            name: {f["name"]: FieldMeta.from_describe(f) for f in self.sf.describe(name)["fields"]}
            for name in SF_OBJECTS
        }
        hs_props = {
            obj: {p["name"]: PropertyMeta.from_api(p) for p in self.hs.properties(obj)}
            for obj in HS_BASE_PROPERTIES
        }
        problems = validate_against_schema(self.config, sf_fields, hs_props)
        if problems:
            raise ConfigurationError("; ".join(str(p) for p in problems))
        users = self.sf.query_all("SELECT Id, Name, Email, IsActive FROM User")
        info = self.sf.user_info()
        owners = OwnerDirectory.build(
            self.hs.owners(),
            users,
            aliases=self.config.owner_aliases,
            integration_user=info.get("user_id"),
        )
        warnings = guards.integration_user_warnings(info, sf_fields=sf_fields, config=self.config)
        return SchemaInfo(sf_fields, hs_props, owners, info.get("user_id"), tuple(warnings))

    def integration_user_report(self) -> guards.IntegrationUserReport:
        """Who the engine runs as in Salesforce and what it can see and edit (one userinfo call
        and one COUNT() query per object, on demand: the dashboard's button)."""
        schema = self.schema()
        visible = {
            name: int(self.sf.restful("query/", q=f"SELECT COUNT() FROM {name}")["totalSize"])
            for name in schema.sf_fields
        }
        return guards.integration_user_report(
            self.sf.user_info(), sf_fields=schema.sf_fields, visible=visible, config=self.config
        )

    # ------------------------------------------------------------------ the cycle

    def run_once(self, *, kind: str = "scheduled", dry_run: bool = False) -> RunReport:
        """One cycle; record-level problems are recorded, fatal ones raise after the run is
        closed as failed."""
        self._reload_config()
        sf_before, hs_before = self.sf.calls.total("salesforce"), self.hs.calls.total("hubspot")
        schema = self.schema()  # bad config or credentials stop here, before anything is written
        started = self.clock()
        with self.store.read() as conn:
            budgets = guards.budgets(
                conn, self.config, now=started, caps=self.daily_caps, live=self._live_quotas()
            )
        with self.store.write() as tx:
            tx.close_interrupted_runs(started_before=started)
            run_id = tx.start_run("dry_run" if dry_run else kind)
            tx.record_errors([*schema.warnings, *budgets.errors()])
            if not budgets.paused:
                tx.resolve_api_limits()
        report = RunReport(run_id=run_id, kind=kind)
        self._allowance = {  # no cap known yet (nothing reported): the first cycle probes
            system: _Allowance(budget, self._calls(system))
            for system, budget in budgets.by_system.items()
            if budget.cap is not None
        }
        try:
            if budgets.paused:  # at a daily cap: no call at all until the day's budget resets
                report.message = "; ".join(b.reason or b.system for b in budgets.paused)
                report.status = "partial"
                return report
            for _ in range(MAX_PASSES):
                if any(self._writes_left(system) == 0 for system in self._allowance):
                    break  # this cycle's API allowance is spent: the next cycle reads on
                report.records_read += self._read(run_id)
                worked = self._decide_and_write(run_id, schema, report, dry_run=dry_run)
                if not worked or dry_run or report.deferred:
                    break
            if not dry_run:
                report.errors += self._detect_loops(run_id)
            if not report.deferred and self._activities_on():
                done = self.activities.run(run_id, dry_run=dry_run)
                report.records_read += done.read
                report.records_written += done.created + done.updated + done.to_hubspot
                report.records_written += done.deleted
                report.errors += done.errors
            report.status = "partial" if report.errors else "succeeded"
            if report.deferred:
                report.message = (
                    f"staged: {report.deferred} records wait for the next cycle's API budget"
                )
        except FatalError as exc:
            report.status, report.message = "failed", str(exc)
            raise
        except RetriableError as exc:  # retries ran out, or a daily limit: the next cycle goes on
            report.status, report.message = "failed", str(exc)
            if isinstance(exc, ApiLimitError) and exc.daily and exc.system in SYSTEM_LABELS:
                self._retries.append(_daily_limit_row(exc))  # written with the calls, below
            raise
        finally:
            report.sf_api_calls = self.sf.calls.total("salesforce") - sf_before
            report.hs_api_calls = self.hs.calls.total("hubspot") - hs_before
            with self.store.write(run_id=run_id) as tx:
                self.flush_calls(tx)
                tx.finish_run(
                    run_id,
                    status=report.status if report.status != "running" else "failed",
                    message=report.message,
                    records_read=report.records_read,
                    records_written=report.records_written,
                    sf_api_calls=report.sf_api_calls,
                    hs_api_calls=report.hs_api_calls,
                )
            self.store.release()  # the dashboard reads freely while the engine waits
        return report

    def _live_quotas(self) -> dict[str, Quota]:
        """Quotas reported by calls this process made but has not flushed yet."""
        found = {}
        for connector in (self.sf, self.hs):
            call = connector.calls.latest(connector.system)
            if call is not None and call.used_today is not None and call.daily_limit is not None:
                found[connector.system] = Quota(call.used_today, call.daily_limit, call.at)
        return found

    def _activities_on(self) -> bool:
        return any(a.enabled or a.to_hubspot for a in self.config.activities)

    def _calls(self, system: str) -> int:
        return (self.sf if system == "salesforce" else self.hs).calls.total(system)

    def _writes_left(self, system: str) -> int | None:
        """Write calls this cycle may still make on system (None: unlimited)."""
        allowance = self._allowance.get(system)
        return None if allowance is None else allowance.left(self._calls(system))

    def _defer_if_spent(
        self, obj: ObjectSync, system: str, rest: Sequence[Write], report: RunReport
    ) -> bool:
        """At the end of this cycle's API allowance, leave the rest for the next cycle: their
        records stay dirty, so a large first load is staged over cycles (and days)."""
        if self._writes_left(system) != 0:
            return False
        report.deferred += len(rest)
        self._settle_unsent(obj, system, rest)
        report.retry_later.update(i for w in rest for i in (w.hs_id, w.sf_id) if i)
        return True

    def _settle_unsent(self, obj: ObjectSync, system: str, rest: Sequence[Write]) -> None:
        """Creates staged ahead (a group's first batch, or the batch after the last one sent)
        that will not be sent this cycle: forgotten now, the next plan decides them again."""
        sources = _create_sources(System(system), rest)
        if sources:
            with self.store.write() as tx:
                tx.settle_creates(obj.name, system, sources)

    def _reload_config(self) -> None:
        """Pick up sync.toml saved by another process (the dashboard) since the last cycle; a
        file that no longer loads stops the engine with its problems rather than run on it."""
        stamp = _mtime(self.config_path)
        if self.config_path is None or stamp == self._config_stamp:
            return
        self.config = self.activities.config = load_config(self.config_path)
        self._config_stamp = stamp
        self._schema = None  # re-validate the new mappings against both schemas

    def use_config(self, config: SyncConfig) -> None:
        """Adopt a config saved in this process (the next cycle re-validates it)."""
        self.config = config
        self.activities.config = config
        self._config_stamp = _mtime(self.config_path)
        self._schema = None

    # ------------------------------------------------------------------ reading

    def _enabled(self) -> list[ObjectSync]:
        order = {"company": 0, "contact": 1, "deal": 2}
        return sorted((o for o in self.config.objects if o.enabled), key=lambda o: order[o.name])

    def _read(self, run_id: int) -> int:
        """Read every change since the cursors into the mirror; move the cursors with it."""
        objects = self._enabled()
        with self.store.read() as conn:
            cursors = {
                (system, obj): found
                for system, obj in self._cursor_keys(objects)
                if (found := get_cursor(conn, system, obj)) is not None
            }
            checks = self._deletion_checks_due(conn, objects)
        sent_after = self.sf.server_clock.floor()  # Salesforce's time before its read is sent
        rows = itertools.chain(
            self._read_salesforce(objects, cursors), self._read_hubspot(objects, cursors)
        )
        changed = 0
        newest: dict[tuple[str, str], tuple[datetime, str]] = {}
        for records in _chunks(rows, READ_CHUNK):
            # Each chunk commits with the cursors it moves: a crash keeps what was stored, and
            # memory holds one chunk, not the org (pages arrive oldest first per object). Mid-read
            # a cursor keeps no id: records sharing its stamp may still be coming (HubSpot sorts
            # on the stamp only), so the next read takes that whole stamp again.
            with self.store.write(run_id=run_id) as tx:
                found = mirror.upsert(tx.conn, records, now=self.clock())
                for key, stamp, last_id in _new_cursors(records):
                    tx.set_cursor(*key, modstamp=stamp, last_id=None)
                    if key not in newest or _stamp_order(stamp, last_id) > _stamp_order(
                        *newest[key]
                    ):
                        newest[key] = (stamp, last_id)
                self.flush_calls(tx)
                tx.add_run_counts(run_id, records_read=found)
            changed += found
        # The read is complete: every record at the last stamp up to its id is in.
        moved = _final_cursors(cursors, newest, sent_after=sent_after)
        if moved:
            with self.store.write(run_id=run_id) as tx:
                for (system, obj), cursor in moved.items():
                    tx.set_cursor(
                        system,
                        obj,
                        modstamp=cursor.modstamp,
                        last_id=cursor.last_id,
                        settled=cursor.settled,
                    )
        changed += self._read_hubspot_deletions(run_id, checks)
        if changed and self.config.guards.duplicate_detection:
            with self.store.write(run_id=run_id) as tx:
                tx.record_duplicates(guards.scan_duplicates(tx.conn))
        return changed

    def _deletion_checks_due(
        self, conn: duckdb.DuckDBPyConnection, objects: Sequence[ObjectSync]
    ) -> _DeletionChecks:
        """The HubSpot objects whose archived list is due (every `[deletion]
        records_check_minutes`; the time of the last read is its cursor), each with whether
        anything of it was mirrored before this read: one with nothing (an initial sync) has
        no partner to follow a deletion, so its check makes no call. Asked before the read, and
        only of a due object: a cycle between checks pays one cursor lookup per object."""
        now, minutes = self.clock(), self.config.record_deletion_check_minutes
        due: dict[str, bool] = {}
        for name in (o.hubspot_object for o in objects):
            cursor = get_cursor(conn, "hubspot", ARCHIVED_CURSOR.format(type=name))
            if archived_check_due(cursor and cursor.modstamp, now, minutes=minutes):
                due[name] = mirror.has_live(conn, System.HUBSPOT, name)
        return _DeletionChecks(now, due)

    def _read_hubspot_deletions(self, run_id: int, checks: _DeletionChecks) -> int:
        """Records archived in HubSpot, marked deleted in the mirror for the deletion policy:
        HubSpot's search never returns them, and its archived list is ordered by id, so it is
        read whole, for the objects due (`_deletion_checks_due`)."""
        now, marked = checks.at, 0
        for name, mirrored in checks.due.items():
            archived = {
                str(row["id"]): _parse_time(row.get("archivedAt"))
                for row in (
                    self.hs.list_archived(name, properties=[HS_ID_PROPERTY]) if mirrored else ()
                )
            }
            with self.store.write(run_id=run_id) as tx:
                found = mirror.mark_deleted(tx.conn, System.HUBSPOT, name, archived, now=now)
                tx.set_cursor(
                    "hubspot", ARCHIVED_CURSOR.format(type=name), modstamp=now, last_id=None
                )
                self.flush_calls(tx)
                tx.add_run_counts(run_id, records_read=found)
            marked += found
        return marked

    def _cursor_keys(self, objects: Sequence[ObjectSync]) -> list[tuple[str, str]]:
        keys = [("hubspot", o.hubspot_object) for o in objects]
        keys += [("salesforce", t) for o in objects for t in o.targets]
        return keys

    def _read_salesforce(
        self, objects: Sequence[ObjectSync], cursors: Mapping[tuple[str, str], CursorPosition]
    ) -> Iterator[Record]:
        queries: dict[str, str] = {}
        for obj in objects:
            for sf_object in obj.targets:
                fields = sorted(
                    {
                        *SF_BASE_FIELDS[sf_object],
                        *(m.salesforce for m in obj.mappings_for(sf_object)),
                        *(
                            a.salesforce
                            for a in obj.associations
                            if a.salesforce != "AccountId"
                            or sf_object in ("Contact", "Opportunity")
                        ),
                    }
                )
                queries[sf_object] = (
                    f"SELECT {', '.join(fields)} FROM {sf_object} "
                    f"WHERE {_sf_after(cursors.get(('salesforce', sf_object)))} "
                    "ORDER BY SystemModstamp, Id"
                )
        for name, page in self.sf.query_pages(queries, include_deleted=True):
            yield from (_sf_record(name, row) for row in page)

    def _read_hubspot(
        self, objects: Sequence[ObjectSync], cursors: Mapping[tuple[str, str], CursorPosition]
    ) -> Iterator[Record]:
        for obj in objects:
            cursor = cursors.get(("hubspot", obj.hubspot_object))
            since, after_id = (cursor.modstamp, cursor.last_id) if cursor else (EPOCH, None)
            if since > self.clock() - TIE_BREAK_AFTER:
                # A record read at this stamp may be saved again within it (same millisecond),
                # keeping its id: only once the stamp is old do its records stay behind it.
                after_id = None
            found = self.hs.search_modified_since(
                obj.hubspot_object,
                properties=self._hs_properties(obj),
                since_ms=int(since.timestamp() * 1000),
                after_id=after_id,
            )
            yield from (_hs_record(obj.hubspot_object, row) for row in found)

    def _hs_properties(self, obj: ObjectSync) -> list[str]:
        """The HubSpot properties every read of obj asks for."""
        return sorted(
            {*HS_BASE_PROPERTIES[obj.hubspot_object], *(m.hubspot for m in obj.fields)}
            | _inclusion_properties(self.config, obj)
        )

    def _mirror_unread(self, run_id: int, obj: ObjectSync, hs_ids: Collection[str]) -> None:
        """Read and mirror HubSpot records linked to a changed Salesforce record but never read.

        A create refused as existing (409) links to a record the mirror may never have read:
        one that changed before the cursor and not since (a create sent by a killed process,
        found again by its email). Without its row the pair is decided with no HubSpot side,
        and stays unsynced until HubSpot changes the record. Mirrored dirty, it is decided
        with its partner. A read that fails leaves the Salesforce record undecided, so the
        next cycle reads it again."""
        rows = self.hs.batch_read(
            obj.hubspot_object, sorted(hs_ids), properties=self._hs_properties(obj)
        )
        records = [_hs_record(obj.hubspot_object, row) for row in rows]
        with self.store.write(run_id=run_id) as tx:
            mirror.upsert(tx.conn, records, now=tx.now)
            self.flush_calls(tx)

    # ------------------------------------------------------------------ deciding and writing

    def _decide_and_write(
        self, run_id: int, schema: SchemaInfo, report: RunReport, *, dry_run: bool
    ) -> bool:
        """Plan and execute every enabled object; True when any record was written."""
        wrote = False
        held = self._hold_loops(run_id)
        with self.store.read() as conn:
            undecided = mirror.undecided_objects(conn)
        for obj in self._enabled():
            if not dry_run:
                self._recover_creates(run_id, obj)
            if undecided.isdisjoint(self._cursor_keys([obj])):
                continue  # nothing read since its last decision (what an idle cycle sees)
            after: dict[System, mirror.Position] = {}
            while True:  # the changed records in chunks, oldest first: memory stays bounded
                chunk = self._chunk(run_id, obj, schema, after=after)
                snapshot, considered = chunk.snapshot, chunk.considered
                if not considered:
                    break
                decided = plan(replace(snapshot, held=held))
                # A side with nothing left keeps its place: restarting it would take again
                # the records left dirty to retry next cycle.
                after, more = {**after, **chunk.after}, chunk.more
                del chunk
                if dry_run:  # what a dry run reports; a real cycle keeps no plan (memory)
                    report.plans.append(decided)
                else:
                    done = {s: [_Decided.of(r) for r in rs] for s, rs in considered.items()}
                    # Writing needs the plan and what was decided, not the records: one chunk's
                    # records are never held beside the next one's, nor during the calls.
                    del snapshot, considered
                    wrote = self._carry_out(run_id, obj, decided, done, report) or wrote
                del decided
                if not more:
                    break
        return wrote

    def _carry_out(
        self,
        run_id: int,
        obj: ObjectSync,
        decided: Plan,
        considered: Mapping[System, list[_Decided]],
        report: RunReport,
    ) -> bool:
        """Write one plan, then mark its records decided; True when anything was written."""
        written = self.execute_plan(run_id, obj, decided, report)
        written += self._associate(run_id, obj, considered.get(System.SALESFORCE, []))
        with self.store.write(run_id=run_id) as tx:
            decided_ids: list[str] = []
            for system, records in considered.items():
                done = [r for r in records if r.id not in report.retry_later]
                mirror.mark_processed(tx.conn, system, done)
                decided_ids += [r.id for r in done if r.id not in report.failed]
            for system in System:  # decided again without a refusal: the error is gone
                tx.resolve_records(
                    system=str(system),
                    record_ids=decided_ids,
                    keep_codes=STICKY_CODES,
                    still_refused=_refusal_keys(decided),
                )
        return written > 0

    def _stage_creates(
        self, tx: StoreWriter, obj: ObjectSync, system: System, chunk: Sequence[Write]
    ) -> None:
        """Note the creates about to be sent, in a transaction that commits before the call
        (see _recover_creates). It rides with the plan's opening rows or the previous group's
        commit: a session of its own per batch cost a COMMIT each."""
        creates = _creates(chunk)
        if creates:
            sources = _create_sources(system, creates)
            tx.stage_creates(
                obj.name,
                str(system),
                ((src, w.key, _staged(w)) for src, w in zip(sources, creates, strict=True)),
            )

    def _stage_next(
        self, tx: StoreWriter, obj: ObjectSync, system: System, batch: Sequence[Write]
    ) -> None:
        """Stage the next group's creates with this group's commit, unless the cycle's API
        allowance is spent: then `_defer_if_spent` stops before that call (nothing between
        this commit and that check makes a call)."""
        if batch and self._writes_left(str(system)) != 0:
            self._stage_creates(tx, obj, system, batch)

    def _recover_creates(self, run_id: int, obj: ObjectSync) -> None:
        """Creates a killed process sent but never committed. A record created then (found in the
        mirror by its match key, linked to nobody) gets what the commit would have recorded: its
        link, base and creation field changes, so the restart neither copies it nor loses its
        audit. The others never reached the system: forgotten, the plan creates them again."""
        with self.store.read() as conn:
            pending = conn.execute(
                "SELECT system, source_id, key, write FROM pending_creates WHERE object = ?",
                [obj.name],
            ).fetchall()
            if not pending:
                return
            linked = {
                i
                for row in conn.execute(
                    "SELECT hs_id, sf_id FROM id_links WHERE object = ?", [obj.name]
                ).fetchall()
                for i in row
            }
            found: dict[System, list[tuple[Write, str, str]]] = {}
            for system_name, _source, key, data in pending:
                system, write = System(system_name), _write_from(json.loads(data))
                where = [write.sf_object] if system is System.SALESFORCE else [obj.hubspot_object]
                made = [
                    r
                    for r in mirror.by_keys(conn, system, where, [key] if key else [])
                    if r.id not in linked and not r.deleted
                ]
                if not made:
                    continue
                made_id = max(made, key=lambda r: (r.created, r.id)).id
                linked.add(made_id)
                pair = (
                    (write.hs_id or "", made_id)
                    if system is System.SALESFORCE
                    else (made_id, write.sf_id or "")
                )
                found.setdefault(system, []).append((write, *pair))
        with self.store.write(run_id=run_id) as tx:
            for system_name in {row[0] for row in pending}:
                sources = [row[1] for row in pending if row[0] == system_name]
                tx.settle_creates(obj.name, system_name, sources)
            for system, done in found.items():
                self._record_successes(tx, obj, system, done)
                tx.resolve_records(system=str(system), record_ids=_both_ids(done))
            self._fold_written(tx)

    def _hold_loops(self, run_id: int) -> frozenset[tuple[str, str]]:
        """The fields held by an open loop error: not synced until a person acts."""
        if not self.config.guards.loop_detection:
            return frozenset()
        with self.store.read() as conn:
            return guards.held_fields(conn)

    def _detect_loops(self, run_id: int) -> int:
        """After the cycle's writes: a field the sync wrote back and forth (automations
        fighting) becomes one custom_code error each, which holds it from the next cycle on."""
        with self.store.write(run_id=run_id) as tx:
            findings = guards.loop_findings(tx.conn, self.config, cycle=run_id)
            fresh = [f for f in findings if (f.hs_id, f.field) not in guards.held_fields(tx.conn)]
            tx.record_errors(guards.loop_errors(fresh))
            tx.prune_field_history(before_cycle=run_id - 4 * self.config.guards.loop_window_cycles)
        return len(fresh)

    def _associate(self, run_id: int, obj: ObjectSync, records: Sequence[_Decided]) -> int:
        """Keep Contact.AccountId / Opportunity.AccountId as HubSpot company associations.

        The company last associated is kept as the pair's `@company` base, so an association
        is written once when it appears or changes, never re-read from HubSpot."""
        wanted = [
            (r.id, r.account)
            for r in records
            if r.object in ("Contact", "Opportunity") and r.account and not r.deleted
        ]
        if not wanted or obj.name not in ("contact", "deal"):
            return 0
        with self.store.read() as conn:  # only the links of these records, not the org's
            by_sf = _sf_links(conn, obj.name, [sf for sf, _ in wanted])
            companies = _sf_links(conn, "company", sorted({a for _, a in wanted}))
            pairs = [(by_sf[sf], sf) for sf, _ in wanted if sf in by_sf]
            base = synced_values_for(conn, obj.name, pairs)
        todo = [
            (by_sf[sf], sf, companies[account])
            for sf, account in wanted
            if sf in by_sf
            and account in companies
            and base.get((by_sf[sf], sf), {}).get(COMPANY_BASE) != companies[account]
        ]
        if not todo:
            return 0
        self.hs.associate(obj.hubspot_object, "companies", [(hs, co) for hs, _sf, co in todo])
        with self.store.write(run_id=run_id) as tx:
            tx.set_bases(obj.name, [(hs, sf, {COMPANY_BASE: co}) for hs, sf, co in todo])
            tx.record_changes(
                FieldChange(
                    object=obj.name,
                    direction="salesforce_to_hubspot",
                    field="associations.companies",
                    old_value=None,
                    new_value=co,
                    hs_id=hs,
                    sf_id=sf,
                    reason="association",
                    source_field="AccountId",
                )
                for hs, sf, co in todo
            )
            self.flush_calls(tx)
        return len(todo)

    def snapshot(
        self, obj: ObjectSync, schema: SchemaInfo, *, only_hs: Sequence[str]
    ) -> tuple[Snapshot, dict[System, list[Record]]]:
        """What the plan of obj needs to decide exactly the HubSpot records only_hs (a test
        segment): them, their partners, key-sharing records, links and bases."""
        with self.store.read() as conn:
            dirty_hs = mirror.by_ids(conn, System.HUBSPOT, only_hs)
        chunk = self._load(obj, schema, dirty_hs, [], absorb=False)
        return chunk.snapshot, chunk.considered

    def _chunk(
        self,
        run_id: int,
        obj: ObjectSync,
        schema: SchemaInfo,
        *,
        after: Mapping[System, mirror.Position],
    ) -> _Chunk:
        """The next changed records after the positions `after`, with what the plan needs to
        decide them: up to DECIDE_CHUNK changed records in all, HubSpot ones first, then
        Salesforce ones in the room their changed partners (decided with them: `_absorbable`)
        leave. Each changed record also loads its partner, so a chunk holds about twice
        DECIDE_CHUNK records. A tenth of a chunk is always left to Salesforce, so both sides
        move on. A partner the mirror never read is read first (`_mirror_unread`)."""
        with self.store.read() as conn:
            dirty_hs = mirror.dirty(
                conn, System.HUBSPOT, [obj.hubspot_object], after=after.get(System.HUBSPOT),
                limit=DECIDE_CHUNK,
            )  # fmt: skip
            room = max(
                DECIDE_CHUNK - len(dirty_hs) - _changed_partners(conn, obj, dirty_hs),
                DECIDE_CHUNK // 10,
                1,
            )
            dirty_sf = mirror.dirty(
                conn, System.SALESFORCE, list(obj.targets), after=after.get(System.SALESFORCE),
                limit=room,
            )  # fmt: skip
        chunk = self._load(obj, schema, dirty_hs, dirty_sf, absorb=True)
        if chunk.unread:
            self._mirror_unread(run_id, obj, chunk.unread)
            chunk = self._load(obj, schema, dirty_hs, dirty_sf, absorb=True)
        taken = {System.HUBSPOT: dirty_hs, System.SALESFORCE: dirty_sf}
        return replace(
            chunk,
            after={s: mirror.position(rs[-1]) for s, rs in taken.items() if rs},
            more=len(dirty_hs) >= DECIDE_CHUNK or len(dirty_sf) >= room,
        )

    def _load(
        self,
        obj: ObjectSync,
        schema: SchemaInfo,
        dirty_hs: list[Record],
        dirty_sf: list[Record],
        *,
        absorb: bool,
    ) -> _Chunk:
        """Load the partners, key-sharing records, links and bases of the changed records.

        With absorb, a loaded record that changed too, and whose decision needs nothing more
        than what is loaded, is decided here as well (`_absorbable`): a pair is then loaded and
        decided once, not once from each side's chunk (a large backlog loaded each record
        about twice)."""
        if not dirty_hs and not dirty_sf:
            return _Chunk(_empty_snapshot(obj), {})
        with self.store.read() as conn:
            first = _links_touching(conn, obj.name, _ids(dirty_hs), _ids(dirty_sf))
            by_hs = {link.hs_id: link for link in first}
            by_sf = {link.sf_id: link for link in first}
            keys = {r.key for r in (*dirty_hs, *dirty_sf) if r.key}
            hs_ids = {r.id for r in dirty_hs} | {
                by_sf[r.id].hs_id for r in dirty_sf if r.id in by_sf
            }
            sf_ids = {r.id for r in dirty_sf} | {
                by_hs[r.id].sf_id for r in dirty_hs if r.id in by_hs
            }
            sf_ids |= {r.converted_contact for r in dirty_sf if r.converted_contact}
            # Each record is loaded once: the changed ones, then partners, then key-sharers.
            hs_records = list(dirty_hs)
            hs_records += mirror.by_ids(conn, System.HUBSPOT, hs_ids - _ids(dirty_hs))
            unread = frozenset(hs_ids - _ids(hs_records))
            hs_records += mirror.by_keys(
                conn, System.HUBSPOT, [obj.hubspot_object], keys, exclude=_ids(hs_records)
            )
            sf_records = list(dirty_sf)
            sf_records += mirror.by_ids(conn, System.SALESFORCE, sf_ids - _ids(dirty_sf))
            sf_records += mirror.by_keys(
                conn, System.SALESFORCE, list(obj.targets), keys, exclude=_ids(sf_records)
            )
            # Only the links the plan can look up: those of the records it holds (not the org's).
            links = _links_touching(conn, obj.name, _ids(hs_records), _ids(sf_records))
            if absorb:
                hs_partner = {link.hs_id: link.sf_id for link in links}
                sf_partner = {link.sf_id: link.hs_id for link in links}
                dirty_hs, dirty_sf = (
                    changed
                    + _absorbable(
                        loaded[len(changed) :],
                        mirror.dirty_among(conn, system, _ids(loaded[len(changed) :])),
                        partner_of,
                        _ids(others),
                        keys,
                    )
                    for system, changed, loaded, partner_of, others in (
                        (System.HUBSPOT, dirty_hs, hs_records, hs_partner, sf_records),
                        (System.SALESFORCE, dirty_sf, sf_records, sf_partner, hs_records),
                    )
                )
            deciding = _ids(dirty_hs) | _ids(dirty_sf)
            pairs = [
                (link.hs_id, link.sf_id)
                for link in links
                if link.hs_id in deciding or link.sf_id in deciding
            ]
            base_by_pair = synced_values_for(conn, obj.name, pairs)
            ours = [r.id for r in sf_records if r.modified_by == schema.integration_user_id]
            sf_last_written = last_salesforce_writes(conn, obj.name, ours)
        context = MappingContext.from_config(self.config, owners=schema.owners)
        company_of = self._companies_of(obj, dirty_hs, {link.hs_id: link for link in links})
        companies = sorted({c for found in company_of.values() for c in found})
        with self.store.read() as conn:
            account_links = dict(
                conn.execute(
                    "SELECT hs_id, sf_id FROM id_links WHERE object = 'company' "
                    "AND hs_id IN (SELECT unnest(?::VARCHAR[]))",
                    [companies],
                ).fetchall()
            )
        snapshot = Snapshot(
            obj=obj,
            dirty_hs=tuple(dirty_hs),
            dirty_sf=tuple(dirty_sf),
            hubspot={r.id: r for r in hs_records},
            salesforce={r.id: r for r in sf_records},
            links=links,
            base={hs: values for (hs, _sf), values in base_by_pair.items()},
            context=context,
            sf_fields=schema.sf_fields,
            included=self._included(obj, dirty_hs, schema) if obj.name == "contact" else None,
            integration_user_id=schema.integration_user_id,
            account_for_company=account_links,
            company_of=company_of,
            deletion=self.config.deletion,
            sf_last_written=sf_last_written,
        )
        return _Chunk(
            snapshot, {System.HUBSPOT: dirty_hs, System.SALESFORCE: dirty_sf}, unread=unread
        )

    def _companies_of(
        self, obj: ObjectSync, dirty_hs: Sequence[Record], by_hs: Mapping[str, Link]
    ) -> dict[str, tuple[str, ...]]:
        """HubSpot companies of the changed contacts that need them: those synced with a
        Salesforce Contact (its AccountId follows) and, when new contacts become Contacts under
        an existing Account, the unlinked ones. One v4 batch read per 1,000 contacts."""
        if obj.name != "contact":
            return {}
        as_contact = obj.create_as.value == "contact_when_account_exists"
        ids = [
            r.id
            for r in dirty_hs
            if (r.id in by_hs and by_hs[r.id].sf_object == "Contact")
            or (as_contact and r.id not in by_hs)
        ]
        if not ids:
            return {}
        found = self.hs.associated("contacts", "companies", ids)
        return {hs_id: tuple(companies) for hs_id, companies in found.items()}

    def _included(
        self, obj: ObjectSync, records: Iterable[Record], schema: SchemaInfo
    ) -> frozenset[str]:
        """The HubSpot contacts the inclusion list lets into Salesforce."""
        props = schema.hs_properties.get(obj.hubspot_object, {})
        memberships = {
            name: self.hs.list_members(name) for name in _lists_in(self.config.inclusion)
        }
        qualifies = matcher(self.config.inclusion, properties=props, memberships=memberships)
        return frozenset(r.id for r in records if qualifies(r.values, r.id))

    def execute_plan(self, run_id: int, obj: ObjectSync, decided: Plan, report: RunReport) -> int:
        """Write the plan in batches; each group of COMMIT_EVERY batches commits its audit rows.
        Returns records written.

        What needs one statement per plan rather than per batch comes last: the values written,
        folded into the mirror (`_fold_written`), and the errors of the records written,
        resolved after the plan's refusals (`_note_written`)."""
        sf_groups = _group(decided.writes_to(System.SALESFORCE), mixed_updates=True)
        hs_groups = _group(decided.writes_to(System.HUBSPOT))
        self._written, self._patches = {}, {}  # this plan's, settled when its writes are done
        self._created = []
        with self.store.write(run_id=run_id) as tx:
            for system, groups in ((System.SALESFORCE, sf_groups), (System.HUBSPOT, hs_groups)):
                for writes in groups.values():  # each first commit group (later: _stage_next)
                    self._stage_next(tx, obj, system, writes[: _group_size(system)])
            tx.link_many(
                LinkRow(obj.name, link.hs_id, link.sf_object, link.sf_id, match_key=link.key)
                for link in decided.links
            )
            tx.link_many(
                LinkRow(obj.name, new.hs_id, new.sf_object, new.sf_id, match_key=new.key)
                for _old, new in decided.relinks
            )
            tx.set_bases(
                obj.name, ((hs, sf, base) for (hs, sf), base in decided.base_updates.items())
            )
            tx.record_errors(_error_row(r, obj) for r in decided.refusals)
            tx.record_duplicates(
                Duplicate.from_cluster(c, object=c.kept.object) for c in decided.clusters
            )
            tx.record_conflicts(_conflict_row(obj, c) for c in decided.conflicts)
        report.errors += len(decided.refusals)
        report.conflicts += len(decided.conflicts)
        written = 0
        for (sf_object, op), writes in sf_groups.items():
            written += self._write_salesforce(run_id, obj, sf_object, op, writes, report)
        for (_hs_object, op), writes in hs_groups.items():
            written += self._write_hubspot(run_id, obj, op, writes, report)
        with self.store.write(run_id=run_id) as tx:
            self._fold_written(tx)
            refused = _refusal_keys(decided)
            for system in System:  # written without a refusal: any error of the record is gone
                tx.resolve_records(  # (a sticky one too), except the refusals this plan made
                    system=str(system),
                    record_ids=self._written.pop(system, set()) - report.failed,
                    still_refused=refused,
                )
        return written

    def _write_salesforce(
        self,
        run_id: int,
        obj: ObjectSync,
        sf_object: str,
        op: str,
        writes: list[Write],
        report: RunReport,
    ) -> int:
        ext = "HubSpot_Contact_Id__c" if obj.name == "contact" else _ext_field(sf_object)

        def send(chunk: list[Write], _start: int) -> list[SaveOutcome]:
            records = [
                {"attributes": {"type": w.object}, **w.values, "Id": w.record_id}
                if op == "update"  # each names its type: the collection may mix them
                else dict(w.values)
                for w in chunk
            ]
            sobject = chunk[0].object if sf_object == MIXED else sf_object
            try:
                if op == "delete":  # the deletion policy: ids only
                    return self.sf.delete([w.record_id or "" for w in chunk])
                return self._save(sobject, records, op=op, ext=ext)
            except RecordError as exc:
                return [_failed(i, exc) for i in range(len(chunk))]

        return self._send_in_groups(
            run_id,
            obj,
            System.SALESFORCE,
            writes,
            report,
            send=send,
            commit=self._commit_salesforce,
        )

    def _send_in_groups(
        self,
        run_id: int,
        obj: ObjectSync,
        system: System,
        writes: list[Write],
        report: RunReport,
        *,
        send: Callable[[list[Write], int], list[Any]],
        commit: Callable[..., int],
    ) -> int:
        """Send writes a batch per call, and record COMMIT_EVERY calls' outcomes per audit
        transaction, which also stages the next group's creates (the first group's were staged
        with the plan's opening rows). At the end of the cycle's allowance the batches sent are
        recorded and the rest left for the next cycle."""
        size, step = _batch_size(system), _group_size(system)
        done = 0
        for start in range(0, len(writes), step):
            sent: list[tuple[list[Write], list[Any]]] = []
            spent = False
            for at in range(start, min(start + step, len(writes)), size):
                if self._defer_if_spent(obj, str(system), writes[at:], report):
                    spent = True
                    break
                chunk = writes[at : at + size]
                sent.append((chunk, send(chunk, at)))
            if sent:
                after = () if spent else writes[start + step : start + 2 * step]
                done += commit(run_id, obj, sent, report, after=after)
            if spent:
                break
        return done

    def _save(
        self, sf_object: str, records: list[dict[str, Any]], *, op: str, ext: str | None
    ) -> list[SaveOutcome]:
        """A collection write whose records refused for a transient reason (a locked row) are
        written again, alone, with backoff; the rest of the batch is never re-sent."""
        outcomes = self.sf.save(
            sf_object, records, op=op, external_id_field=ext if op == "upsert" else None
        )
        policy = self.sf.retry
        for attempt in range(1, policy.attempts):
            again = [o.index for o in outcomes if not o.success and _transient(o)]
            if not again:
                break
            time.sleep(backoff(policy, attempt, retry_after=None, rand=0.5))
            retried = self.sf.save(
                sf_object,
                [records[i] for i in again],
                op=op,
                external_id_field=ext if op == "upsert" else None,
            )
            for index, outcome in zip(again, retried, strict=True):
                outcomes[index] = replace(outcome, index=index)
        return outcomes

    def _commit_salesforce(
        self,
        run_id: int,
        obj: ObjectSync,
        sent: Sequence[tuple[list[Write], list[SaveOutcome]]],
        report: RunReport,
        *,
        after: Sequence[Write],
    ) -> int:
        done: list[tuple[Write, str, str]] = []
        new_ids: set[str] = set()
        failures = []
        for write, outcome in _outcomes(sent):
            sf_id = outcome.id or write.sf_id
            if outcome.success and sf_id is not None:
                done.append((write, write.hs_id or "", sf_id))
                if outcome.id and (write.op == "create" or outcome.created):
                    new_ids.add(outcome.id)
            else:
                failures.append(_sf_failure_row(write, outcome, obj))
                report.failed.update(i for i in (write.hs_id, write.sf_id) if i)
                if _transient(outcome):  # decide it again next cycle
                    report.retry_later.update(i for i in (write.hs_id, write.sf_id) if i)
        with self.store.write(run_id=run_id) as tx:
            tx.settle_creates(
                obj.name, "salesforce", _create_sources(System.SALESFORCE, _writes_of(sent))
            )
            tx.record_errors(failures)
            self._record_successes(tx, obj, System.SALESFORCE, done, new_ids=new_ids)
            self._note_written(System.SALESFORCE, done)
            self.flush_calls(tx)
            tx.add_run_counts(run_id, records_written=len(done))
            self._stage_next(tx, obj, System.SALESFORCE, after)
        report.errors += len(failures)
        report.records_written += len(done)
        return len(done)

    def _write_hubspot(
        self, run_id: int, obj: ObjectSync, op: str, writes: list[Write], report: RunReport
    ) -> int:
        def send(chunk: list[Write], start: int) -> list[HsOutcome]:
            try:
                if op == "archive":
                    self.hs.batch_archive(obj.hubspot_object, [w.record_id or "" for w in chunk])
                    return [
                        HsOutcome(index=i, id=w.record_id, success=True)
                        for i, w in enumerate(chunk, start)
                    ]
                if op == "create":
                    return self.hs.batch_create(
                        obj.hubspot_object, [{"properties": dict(w.values)} for w in chunk]
                    )
                return self.hs.batch_update(
                    obj.hubspot_object,
                    [{"id": w.record_id, "properties": dict(w.values)} for w in chunk],
                )
            except RecordError as exc:
                return [_hs_failed(i, exc) for i in range(start, start + len(chunk))]

        return self._send_in_groups(
            run_id, obj, System.HUBSPOT, writes, report, send=send, commit=self._commit_hubspot
        )

    def _commit_hubspot(
        self,
        run_id: int,
        obj: ObjectSync,
        sent: Sequence[tuple[list[Write], list[HsOutcome]]],
        report: RunReport,
        *,
        after: Sequence[Write],
    ) -> int:
        done: list[tuple[Write, str, str]] = []
        new_ids: set[str] = set()
        failures = []
        existing: list[LinkRow] = []
        for write, outcome in _outcomes(sent):
            hs_id = outcome.id or write.hs_id
            found = _EXISTING_ID.search(outcome.error.message if outcome.error else "")
            if found and write.op == "create" and write.sf_id:
                # It exists already (409): link to it, never copy; decide the pair next pass,
                # reading the contact first if the mirror lacks it (`_chunk`).
                existing.append(
                    LinkRow(
                        obj.name, found.group(1), write.sf_object, write.sf_id, match_key=write.key
                    )
                )
                report.retry_later.add(write.sf_id)
            elif outcome.success and hs_id is not None:
                done.append((write, hs_id, write.sf_id or ""))
                if outcome.id and write.op == "create":
                    new_ids.add(outcome.id)
            else:
                failures.append(_hs_failure_row(write, outcome, obj))
                report.failed.update(i for i in (write.hs_id, write.sf_id) if i)
        with self.store.write(run_id=run_id) as tx:
            tx.settle_creates(
                obj.name, "hubspot", _create_sources(System.HUBSPOT, _writes_of(sent))
            )
            tx.link_many(existing)
            mirror.mark_dirty(tx.conn, System.SALESFORCE, [link.sf_id for link in existing])
            tx.record_errors(failures)
            self._record_successes(tx, obj, System.HUBSPOT, done, new_ids=new_ids)
            self._note_written(System.HUBSPOT, done)
            self.flush_calls(tx)
            tx.add_run_counts(run_id, records_written=len(done))
            self._stage_next(tx, obj, System.HUBSPOT, after)
        report.errors += len(failures)
        report.records_written += len(done)
        return len(done)

    def _record_successes(
        self,
        tx: StoreWriter,
        obj: ObjectSync,
        system: System,
        done: list[tuple[Write, str, str]],
        *,
        new_ids: Collection[str] = (),
    ) -> None:
        """Audit rows, new links and new bases for the records written; the values written are
        folded into the mirror later (`_fold_written`).

        The rows go to the store column by column (`Columns`): a batch has thousands of them.
        new_ids are the records this very call created: no link, base or mirrored row can name
        them yet, so their rows are appended without the statements that look for rows to
        replace, each of which scans a whole table (no index) and so costs more as the store
        grows. So are the bases of a pair that had none when decided (`Write.first_base`: most
        of an initial sync's matched pairs)."""
        same = {"object": obj.name}
        fresh = set(new_ids)
        created = [
            (hs_id, w.sf_object, sf_id, w.key)
            for w, hs_id, sf_id in done
            if w.op in ("create", "upsert")
        ]
        for new in (False, True):  # a HubSpot record just created has no link yet
            links = [c for c in created if (c[0] in fresh) is new]
            tx.link_many(Columns.of(LinkRow, _LINK_COLUMNS, links, same=same), new=new)
        changes = [
            (direction, name, before, after, hs_id, sf_id, reason, w.sf_object, source)
            for w, hs_id, sf_id in done
            for direction, name, source, before, after, reason in w.changes  # Change, unpacked
        ]
        tx.record_changes(Columns.of(FieldChange, _CHANGE_COLUMNS, changes, same=same))
        for new in (False, True):
            tx.set_bases(
                obj.name,
                [
                    (hs_id, sf_id, w.new_base)
                    for w, hs_id, sf_id in done
                    if w.new_base and (w.first_base or hs_id in fresh or sf_id in fresh) is new
                ],
                new=new,
            )
        history = Columns.of(  # what loop detection compares, in one spelling per field
            FieldWrite,
            (*_BASE_COLUMNS, "sf_object"),
            [
                (hs_id, sf_id, key, value, w.sf_object)
                for w, hs_id, sf_id in done
                if w.op == "update"
                for key, value in w.new_base.items()
            ],
            same={
                **same,
                "system_written": str(system),
                "at": tx.now,
                "cycle": tx.run_id or 0,
                "origin": "sync",
            },
        )
        tx.record_field_history(history)
        targets = [(sf_id if system is System.SALESFORCE else hs_id, w) for w, hs_id, sf_id in done]
        self._patches.setdefault(system, []).extend(
            (rid, w.values) for rid, w in targets if rid not in fresh and w.values
        )
        if fresh:
            by = self.schema().integration_user_id
            self._created += [_as_created(obj, w, rid, by=by) for rid, w in targets if rid in fresh]

    def _fold_written(self, tx: StoreWriter) -> None:
        """Fold the values this plan wrote into the mirrored rows, and mirror the records it
        created, so that their echoes read as unchanged and later chunks decide on them. Once
        per plan, not per batch: the UPDATE reads every mirrored payload whatever it changes
        (~60 ms at 266,000 rows, measured), and a crash before it loses nothing (the records
        are still dirty, the created ones unknown: their echoes are decided)."""
        for system, written in self._patches.items():
            mirror.apply_written(tx.conn, system, written)
        mirror.expect(tx.conn, self._created)
        self._patches, self._created = {}, []

    def _note_written(self, system: System, done: Sequence[tuple[Write, str, str]]) -> None:
        """Records written to system by this plan, their errors resolved once its writes are
        done (`execute_plan`): one statement per plan, not per batch, and after the refusals
        the plan made. Errors of a create were filed under the source record's id: both ids."""
        self._written.setdefault(system, set()).update(_both_ids(done))

    def flush_calls(self, tx: StoreWriter) -> None:
        """Write the API calls made since the last flush (and retried ones) in this batch."""
        calls = [*self.sf.calls.drain(), *self.hs.calls.drain()]
        tx.record_api_usage(_usage_rows(calls))
        retries, self._retries = self._retries, []
        tx.record_errors(retries)


# ================================================================ helpers (pure)


def _sf_after(cursor: CursorPosition | None) -> str:
    """The SOQL condition of the records a Salesforce read takes after cursor.

    Salesforce stamps whole seconds, and a record read at the cursor's second may be saved again
    within it, keeping stamp and id: until the cursor is settled, the whole second is read again
    (`>=`). Once settled, its records up to the cursor's id are behind it (the id tie-break), so
    a quiet cycle does not page through a bulk load's last second every time."""
    if cursor is None:
        return f"SystemModstamp >= {_soql_datetime(EPOCH)}"
    stamp = _soql_datetime(cursor.modstamp)
    if cursor.settled and cursor.last_id:
        return (
            f"(SystemModstamp > {stamp} OR "
            f"(SystemModstamp = {stamp} AND Id > {soql_quote(cursor.last_id)}))"
        )
    return f"SystemModstamp >= {stamp}"


def _sf_settled(stamp: datetime, sent_after: datetime | None) -> bool:
    """Whether a read sent once Salesforce's clock had reached sent_after saw every record
    stamped stamp: that second was over, with SF_SETTLED_AFTER of it for saves to commit."""
    return sent_after is not None and sent_after >= stamp.replace(microsecond=0) + SF_SETTLED_AFTER


def _final_cursors(
    before: Mapping[tuple[str, str], CursorPosition],
    newest: Mapping[tuple[str, str], tuple[datetime, str]],
    *,
    sent_after: datetime | None,
) -> dict[tuple[str, str], CursorPosition]:
    """The cursors a complete read leaves: the newest (stamp, id) it read per object, and a
    Salesforce cursor it read nothing past, settled once this read saw its whole second."""
    moved = {
        key: CursorPosition(
            stamp, last_id, settled=key[0] == "salesforce" and _sf_settled(stamp, sent_after)
        )
        for key, (stamp, last_id) in newest.items()
    }
    for key, cursor in before.items():
        if (
            key not in moved
            and key[0] == "salesforce"
            and cursor.last_id
            and not cursor.settled
            and _sf_settled(cursor.modstamp, sent_after)
        ):
            moved[key] = replace(cursor, settled=True)
    return moved


def _ids(records: Iterable[Record]) -> set[str]:
    return {r.id for r in records}


def _links_touching(conn: Any, obj: str, hs_ids: set[str], sf_ids: set[str]) -> tuple[Link, ...]:
    # Two semi-joins and a UNION: an OR of the two took twice as long (0.05 s against 0.024 s
    # for 12,000 ids among 68,000 links).
    rows = conn.execute(
        "SELECT hs_id, sf_object, sf_id FROM id_links WHERE object = ? "
        "AND hs_id IN (SELECT unnest(?::VARCHAR[])) UNION "
        "SELECT hs_id, sf_object, sf_id FROM id_links WHERE object = ? "
        "AND sf_id IN (SELECT unnest(?::VARCHAR[]))",
        [obj, sorted(hs_ids), obj, sorted(sf_ids)],
    ).fetchall()
    return tuple(Link(h, o, s) for h, o, s in rows)


def _changed_partners(conn: Any, obj: ObjectSync, hs: Sequence[Record]) -> int:
    """How many changed Salesforce records are linked to, or share a key with, the HubSpot
    records hs: the ones a chunk deciding hs decides too."""
    if not hs:
        return 0
    found = conn.execute(
        "SELECT count(*) FROM records WHERE system = 'salesforce' AND dirty "
        "AND object IN (SELECT unnest(?::VARCHAR[])) "
        "AND (id IN (SELECT sf_id FROM id_links WHERE object = ? "
        "AND hs_id IN (SELECT unnest(?::VARCHAR[]))) OR key IN (SELECT unnest(?::VARCHAR[])))",
        [list(obj.targets), obj.name, sorted(_ids(hs)), sorted({r.key for r in hs if r.key})],
    ).fetchone()
    return int(found[0]) if found else 0


READ_CHUNK = 2000  # records stored per read transaction
TIE_BREAK_AFTER = timedelta(minutes=1)  # a cursor's id tie-break applies to stamps this old
SF_SETTLED_AFTER = timedelta(seconds=2)  # a Salesforce second is read whole until this past it
# Changed records decided in one plan, both sides (60 collections). The chunk is what the
# engine's peak memory follows: at 100,000 contacts 15,000 peaked at 400.0-400.7 MB, 12,000 at
# 381.5 MB, and the CPU of paired in-process runs was the same (82.0 against 82.6 s).
DECIDE_CHUNK = 12_000
T = TypeVar("T")
Outcome = TypeVar("Outcome")  # an API outcome (SaveOutcome, HsOutcome)


@dataclass(frozen=True, slots=True)
class _Decided:
    """What carrying out a plan needs of a record it decided: its stamp (to mark it processed)
    and its Account (to associate), not its values."""

    system: System
    object: str
    id: str
    modified_at: datetime | None
    account: str | None
    deleted: bool

    @classmethod
    def of(cls, record: Record) -> _Decided:
        account = record.values.get("AccountId")
        return cls(
            system=record.system,
            object=record.object,
            id=record.id,
            modified_at=record.modified_at,
            account=str(account) if account else None,
            deleted=record.deleted,
        )


@dataclass(frozen=True)
class _Chunk:
    """One chunk of a cycle's decisions: the snapshot, the records it decides (changed ones and
    absorbed ones), where the next chunk starts per side, and whether one may follow."""

    snapshot: Snapshot
    considered: dict[System, list[Record]]
    after: dict[System, mirror.Position] = field(default_factory=dict)
    more: bool = False
    unread: frozenset[str] = frozenset()  # linked HubSpot partners the mirror lacks


def _absorbable(
    loaded: Sequence[Record],
    dirty: set[str],
    partner_of: Mapping[str, str],
    partners: set[str],
    keys: set[str],
) -> list[Record]:
    """Changed records loaded as a partner or key-sharer that this chunk can decide in full.

    A linked one needs only its partner, which must be loaded; an unlinked one was loaded for
    its key, with every record sharing that key on both sides. A deleted record or a converted
    Lead is left to its own chunk: deciding it needs records this chunk did not load."""
    return [
        r
        for r in loaded
        if r.id in dirty
        and not r.deleted
        and not (r.object == "Lead" and r.is_converted)
        and (partner_of[r.id] in partners if r.id in partner_of else r.key in keys)
    ]


def _sf_links(conn: duckdb.DuckDBPyConnection, obj: str, sf_ids: Sequence[str]) -> dict[str, str]:
    """Salesforce id -> HubSpot id of the linked pairs of obj among sf_ids."""
    return {
        sf: hs
        for hs, sf in conn.execute(
            "SELECT hs_id, sf_id FROM id_links WHERE object = ? "
            "AND sf_id IN (SELECT unnest(?::VARCHAR[]))",
            [obj, list(sf_ids)],
        ).fetchall()
    }


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to size items; always at least one (an empty read still commits its calls)."""
    chunk: list[T] = []
    sent = False
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk, sent = [], True
    if chunk or not sent:
        yield chunk


def _stamp_order(stamp: datetime, record_id: str) -> tuple[datetime, int, str]:
    """Order of (stamp, id) as the systems compare ids: HubSpot's numerically (`hs_object_id
    GT`), which (length, text) gives for digit strings; Salesforce's are of one length."""
    return (stamp, len(record_id), record_id)


def _new_cursors(records: Sequence[Record]) -> list[tuple[tuple[str, str], datetime, str]]:
    """The newest (modstamp, id) read per system and object: where the next read starts."""
    newest: dict[tuple[str, str], tuple[datetime, str]] = {}
    for r in records:
        if r.modified_at is None:
            continue
        key = (str(r.system), r.object)
        if key not in newest or _stamp_order(r.modified_at, r.id) > _stamp_order(*newest[key]):
            newest[key] = (r.modified_at, r.id)
    return [(key, stamp, rid) for key, (stamp, rid) in newest.items()]


_WRITE_FIELDS = tuple(f.name for f in fields(Write))


def _creates(chunk: Iterable[Write]) -> list[Write]:
    """The writes that may create a record: only these are staged (`_stage_creates`), so only
    these have pending creates to settle (the others' were settled by `_recover_creates`)."""
    return [w for w in chunk if w.op in ("create", "upsert")]


def _create_sources(system: System, writes: Iterable[Write]) -> list[str]:
    """The ids of the records the creates among writes copy into system: what staging is keyed
    by (the new record has no id of its own before the call)."""
    if system is System.SALESFORCE:
        return [w.hs_id or "" for w in _creates(writes)]
    return [w.sf_id or "" for w in _creates(writes)]


def _batch_size(system: System) -> int:
    """Records per API write call to system."""
    return SF_BATCH if system is System.SALESFORCE else HS_BATCH


def _group_size(system: System) -> int:
    """Records per commit group: what one transaction records and the one before it stages."""
    return _batch_size(system) * COMMIT_EVERY


def _outcomes(
    sent: Iterable[tuple[list[Write], list[Outcome]]],
) -> Iterator[tuple[Write, Outcome]]:
    """Each write sent with its outcome, over the batches of a commit group."""
    for chunk, outcomes in sent:
        yield from zip(chunk, outcomes, strict=True)


def _writes_of(sent: Iterable[tuple[list[Write], list[Any]]]) -> list[Write]:
    return [w for chunk, _outcomes in sent for w in chunk]


def _both_ids(done: Iterable[tuple[Write, str, str]]) -> list[str]:
    """Both ids of each written pair (errors of a create are filed under its source's id)."""
    return [i for _w, hs, sf in done for i in (hs, sf)]


def _staged(write: Write) -> dict[str, Any]:
    """A Write as JSON-able data (shallow: `asdict` deep-copies every value, a tenth of a
    create batch's CPU)."""
    data = {name: getattr(write, name) for name in _WRITE_FIELDS}
    data["system"] = str(write.system)
    data["values"], data["new_base"] = dict(write.values), dict(write.new_base)
    # Changes as lists in the order of Change's fields: a create carries ~15 of them, and their
    # field names were most of what a staged batch encoded.
    data["changes"] = [list(c) for c in write.changes]
    return data


def _write_from(data: Mapping[str, Any]) -> Write:
    """A Write back from its staged JSON (see SyncEngine._stage_creates)."""
    return Write(
        **{
            **data,
            "system": System(data["system"]),
            "changes": tuple(  # staged by an earlier version: by name
                Change(**c) if isinstance(c, Mapping) else Change(*c) for c in data["changes"]
            ),
        }
    )


def _soql_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    text = text.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def record_key(system: System, obj: str, values: Mapping[str, Any]) -> str | None:
    """The match key: email for people, domain (else name) for companies; for an Opportunity
    its Id, which a deal the sync created from it keeps in HUBSPOT_ID_PROPERTIES (a deal made
    in HubSpot has none: its id_links row is its only identity)."""
    if obj == "Opportunity":
        return _id_key(values.get("Id"))
    if obj in HUBSPOT_ID_PROPERTIES:
        return _id_key(values.get(HUBSPOT_ID_PROPERTIES[obj]))
    if obj in ("Lead", "Contact"):
        return normalize_email(values.get("Email"))
    if obj == "contacts":
        return normalize_email(values.get("email"))
    if obj == "Account":
        found = normalize_domain(values.get("Website"))
        return found or _name_key(values.get("Name"))
    if obj == "companies":
        return normalize_domain(values.get("domain")) or _name_key(values.get("name"))
    return None


def _id_key(value: Any) -> str | None:
    text = str(value or "").strip()
    return f"sfid:{text}" if text else None


def _name_key(value: Any) -> str | None:
    name = normalize_company_name(value)
    return f"name:{name}" if name else None


# What a record just created holds besides the values written, known before it is read back.
SF_CREATED: dict[str, Mapping[str, Any]] = {
    "Lead": {"IsDeleted": False, "IsConverted": False},
    "Contact": {"IsDeleted": False},
    "Account": {"IsDeleted": False},
    "Opportunity": {"IsDeleted": False},
}
HS_ID_PROPERTY = "hs_object_id"


def _as_created(obj: ObjectSync, write: Write, record_id: str, *, by: str | None) -> Record:
    """A record this engine created, as the mirror expects to read it back (`mirror.expect`):
    the values written, its id, and what every new record holds. A Salesforce record created
    without an owner is expected to be owned by the user the sync runs as, as Salesforce does
    when no assignment rule routes it: that echo is then no change (it was two thirds of the
    echoes an initial sync decided again, each for nothing, since that user counts as no
    owner). Nothing else the system may set on its own (a default, an owner a rule picked) is
    guessed: where it set one, the echo differs and the record is decided again. by: the
    integration user, the last modifier of a Salesforce record it created (HubSpot records
    name none)."""
    if write.system is System.SALESFORCE:
        system, obj_name = System.SALESFORCE, write.object
        owner = {} if by is None else {"OwnerId": by}
        values = {**owner, **write.values, **SF_CREATED.get(write.object, {}), "Id": record_id}
    else:
        system, obj_name, by = System.HUBSPOT, obj.hubspot_object, None
        values = {**write.values, HS_ID_PROPERTY: record_id}
    return Record(
        system=system,
        object=obj_name,
        id=record_id,
        values=values,
        key=record_key(system, obj_name, values),
        modified_by=by,
    )


def _sf_record(sf_object: str, row: dict[str, Any]) -> Record:
    """A query row as a record: the row itself, a dict of the answer nothing else holds, less
    its `attributes`, becomes the values (a copy per row was a tenth of the conversion)."""
    row.pop("attributes", None)
    values = row
    return Record(
        system=System.SALESFORCE,
        object=sf_object,
        id=str(row["Id"]),
        values=values,
        key=record_key(System.SALESFORCE, sf_object, values),
        modified_at=_parse_time(row.get("SystemModstamp")),
        modified_by=row.get("LastModifiedById"),
        created=str(row.get("CreatedDate") or ""),
        deleted=bool(row.get("IsDeleted")),
    )


def _hs_record(hs_object: str, row: Mapping[str, Any]) -> Record:
    """A search result as a record; its properties, a dict of the answer nothing else holds,
    are the values as they are."""
    props = row.get("properties") or {}
    stamp = props.get(last_modified_property(hs_object)) or row.get("updatedAt")
    return Record(
        system=System.HUBSPOT,
        object=hs_object,
        id=str(row["id"]),
        values=props,
        key=record_key(System.HUBSPOT, hs_object, props),
        modified_at=_parse_time(stamp),
        created=str(props.get("createdate") or row.get("createdAt") or ""),
        deleted=bool(row.get("archived")),
    )


def _inclusion_properties(config: SyncConfig, obj: ObjectSync) -> set[str]:
    if obj.name != "contact":
        return set()
    found: set[str] = set()

    def walk(item: Any) -> None:
        prop = getattr(item, "property", None)
        if prop:
            found.add(prop)
        for child in (*getattr(item, "criteria", ()), *getattr(item, "groups", ())):
            walk(child)

    walk(config.inclusion)
    return found


def _mtime(path: Path | None) -> float | None:
    try:
        return path.stat().st_mtime if path is not None else None
    except OSError:
        return None


def _lists_in(criteria: Any) -> set[str]:
    """HubSpot lists named by `in_list` criteria (their memberships are read once a cycle)."""
    if getattr(criteria, "operator", None) == "in_list":
        return {str(criteria.value)}
    found: set[str] = set()
    for item in (*getattr(criteria, "criteria", ()), *getattr(criteria, "groups", ())):
        found |= _lists_in(item)
    return found


def _empty_snapshot(obj: ObjectSync) -> Snapshot:
    return Snapshot(
        obj=obj,
        dirty_hs=(),
        dirty_sf=(),
        hubspot={},
        salesforce={},
        links=(),
        base={},
        context=MappingContext(),
    )


MIXED = "*"  # the object of a group of Salesforce updates of several types


def _group(
    writes: Iterable[Write], *, mixed_updates: bool = False
) -> dict[tuple[str, str], list[Write]]:
    """Writes by (object, operation). With mixed_updates, Salesforce updates of every type are
    one group (MIXED): an update collection may mix types, so a plan's Lead and Contact updates
    end in one partial collection, not one each. Types stay contiguous, as Salesforce saves a
    collection in one chunk per run of a type (ten at most)."""
    grouped: dict[tuple[str, str], list[Write]] = {}
    for w in writes:
        key = (MIXED, w.op) if mixed_updates and w.op == "update" else (w.object, w.op)
        grouped.setdefault(key, []).append(w)
    if (MIXED, "update") in grouped:
        grouped[(MIXED, "update")].sort(key=lambda w: w.object)  # stable: plan order per type
    return grouped


def _ext_field(sf_object: str) -> str | None:
    from sync_engine.plan import EXTERNAL_ID_FIELDS

    return EXTERNAL_ID_FIELDS.get(sf_object)


def _failed(index: int, exc: RecordError) -> SaveOutcome:
    from sync_engine.connectors.salesforce import RecordFailure

    return SaveOutcome(
        index=index,
        id=None,
        success=False,
        errors=(RecordFailure(code=exc.code, message=str(exc)),),
    )


# Errors a clean decision does not close: they wait for a person (or for the next day).
STICKY_CODES = (
    "SYNC_LOOP",
    "DELETED_IN_SALESFORCE",
    "DELETED_IN_HUBSPOT",
    "DAILY_BUDGET_REACHED",
    "ACTIVITY_DAILY_CAP",
)


def _refusal_keys(decided: Plan) -> set[tuple[str, str]]:
    """(record id, field) of every refusal of this plan, under each id it is filed by."""
    found: set[tuple[str, str]] = set()
    for refusal in decided.refusals:
        ids = (refusal.record_id, *(refusal.payload or {}).values())
        found.update((str(i), refusal.field or "") for i in ids if i)
    return found


def _transient(outcome: SaveOutcome) -> bool:
    """A per-record refusal that may pass on a second try (UNABLE_TO_LOCK_ROW and the like)."""
    return any(issubclass(classify(400, e.code).kind, RetriableError) for e in outcome.errors)


def _hs_failed(index: int, exc: RecordError) -> HsOutcome:
    from sync_engine.connectors.hubspot import HsFailure

    return HsOutcome(
        index=index, id=None, success=False, error=HsFailure(category=exc.code, message=str(exc))
    )


def _error_row(refusal: Refusal, obj: ObjectSync) -> SyncError:
    return SyncError(
        system=str(refusal.system),
        object=refusal.object,
        category=refusal.category,
        code=refusal.code,
        message=refusal.message,
        record_id=refusal.record_id or _payload_id(refusal.payload),
        field=refusal.field,
        value=refusal.value,
        suggested_fix=refusal.fix,
        hs_object=obj.hubspot_object,
        payload=dict(refusal.payload or {}),
    )


def _payload_id(payload: Mapping[str, Any] | None) -> str | None:
    if not payload:
        return None
    return payload.get("sf_id") or payload.get("hs_id")


def _sf_failure_row(write: Write, outcome: SaveOutcome, obj: ObjectSync) -> SyncError:
    failure = outcome.errors[0] if outcome.errors else None
    code = failure.code if failure else "UNKNOWN"
    fields = ", ".join(failure.fields) if failure and failure.fields else None
    who = write.sf_id or f"the new {write.sf_object} for HubSpot {obj.hubspot_object} {write.hs_id}"
    return SyncError(
        system="salesforce",
        object=write.sf_object,
        category=classify(400, code).category,
        code=code,
        message=f"Salesforce refused {who}: {failure.message if failure else 'no reason given'}",
        record_id=write.sf_id or write.hs_id,
        field=fields,
        value=write.values.get(failure.fields[0]) if failure and failure.fields else None,
        suggested_fix=_fix_for(code, fields),
        hs_object=obj.hubspot_object,
        sf_object=write.sf_object,
        payload={"hs_id": write.hs_id, "sf_id": write.sf_id, "values": dict(write.values)},
    )


def _hs_failure_row(write: Write, outcome: HsOutcome, obj: ObjectSync) -> SyncError:
    error = outcome.error
    code = (error.category if error else None) or "UNKNOWN"
    who = (
        write.hs_id
        or f"the new {_singular(obj.hubspot_object)} for {write.sf_object} {write.sf_id}"
    )
    return SyncError(
        system="hubspot",
        object=obj.hubspot_object,
        category=classify(400, code).category,
        code=code,
        message=f"HubSpot refused {who}: {error.message if error else 'no reason given'}",
        record_id=write.hs_id or write.sf_id,
        field=error.property if error else None,
        suggested_fix=_fix_for(code, error.property if error else None),
        hs_object=obj.hubspot_object,
        sf_object=write.sf_object,
        payload={"hs_id": write.hs_id, "sf_id": write.sf_id, "values": dict(write.values)},
    )


_FIXES = {
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": "add the value to the value map for {field}, "
    "or add it to the Salesforce picklist",
    "REQUIRED_FIELD_MISSING": "give the record a value for {field}",
    "STRING_TOO_LONG": "shorten {field} in the source record",
    "INVALID_EMAIL_ADDRESS": "correct the email address in the source record",
    "DUPLICATES_DETECTED": "merge the duplicates in Salesforce, or link this record by hand",
    "INVALID_FIELD_FOR_INSERT_UPDATE": "grant the integration user edit access to {field}, "
    "or set the mapping's direction to salesforce_to_hubspot",
    "INSUFFICIENT_ACCESS_OR_READONLY": "share the record with the integration user",
    "INACTIVE_OWNER_OR_USER": "reassign the record to an active user",
    "ENTITY_IS_DELETED": "the record was deleted in Salesforce; restore it or unlink it",
    "VALIDATION_ERROR": "correct {field} in the source record, or extend the value map",
    "CONFLICT": "a record with this email exists already; link them",
}


def _fix_for(code: str, field: str | None) -> str | None:
    template = _FIXES.get(code)
    return template.format(field=field or "the field") if template else None


def _conflict_row(obj: ObjectSync, pc: Any) -> ConflictRow:
    c = pc.conflict
    return ConflictRow(
        object=obj.name,
        field=c.field,
        base_value=c.base,
        hs_value=c.hubspot,
        sf_value=c.salesforce,
        rule=str(c.rule),
        winner=str(c.winner),
        hs_id=pc.hs_id,
        sf_id=pc.sf_id,
        sf_object=pc.sf_object,
        hs_changed_at=pc.hs_changed_at,
        sf_changed_at=pc.sf_changed_at,
    )


# The columns _record_successes gives the store, in the order of its tuples.
_LINK_COLUMNS = ("hs_id", "sf_object", "sf_id", "match_key")
_CHANGE_COLUMNS = (
    "direction",
    "field",
    "old_value",
    "new_value",
    "hs_id",
    "sf_id",
    "reason",
    "sf_object",
    "source_field",
)
_BASE_COLUMNS = ("hs_id", "sf_id", "field", "value")


def _daily_limit_row(exc: ApiLimitError) -> SyncError:
    """What a cycle stopped by a system's daily limit leaves on Sync Health: the limit is the
    org's, shared with every integration, so the refusal may be nobody's fault in LeadBridge."""
    name = SYSTEM_LABELS[exc.system]
    return SyncError(
        system=exc.system,
        object="api",
        category="api_limit",
        code=exc.code or "DAILY_LIMIT",
        message=(
            f"{str(exc).rstrip('.')}. The org's {name} API requests for the day are used up "
            "(every integration counts): the cycle stopped at this call without retrying it, "
            "and the next cycles wait for the daily count to reset."
        ),
        suggested_fix=(
            f"none needed: syncing resumes when {name}'s daily count resets; to resume sooner, "
            "raise the org's daily API limit or find the integration that used it up"
        ),
    )


def _usage_rows(calls: Sequence[ApiCall]) -> list[ApiUsage]:
    """One row per system and endpoint, with the quota the last call reported."""
    counts: Counter[tuple[str, str]] = Counter((c.system, c.endpoint) for c in calls)
    latest: dict[tuple[str, str], ApiCall] = {}
    for c in calls:
        if c.used_today is not None:
            latest[(c.system, c.endpoint)] = c
    rows = []
    for (system, endpoint), n in counts.items():
        quota = latest.get((system, endpoint))
        rows.append(
            ApiUsage(
                system=system,
                endpoint=endpoint,
                calls=n,
                used_today=quota.used_today if quota else None,
                daily_limit=quota.daily_limit if quota else None,
            )
        )
    return rows
