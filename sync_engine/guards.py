"""The guards as the engine runs them: duplicate scans, API budgets, loop holds, the integration
user check. The decisions are the pure functions of `matching`, `budget` and `loops`; this module
only gathers their inputs from the audit store and turns their answers into rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import duckdb

from sync_engine.budget import BudgetSettings, Quota, RunBudget, day_start, plan_budget
from sync_engine.config import SyncConfig
from sync_engine.loops import LOOP_ERROR_CODE, LoopFinding, detect_loops
from sync_engine.matching import Candidate, clusters_of
from sync_engine.models import FieldMeta
from sync_engine.queries import api_calls_since, latest_quotas, recent_field_writes
from sync_engine.store import Duplicate, SyncError

# Which mirrored objects are compared with which when looking for duplicates (data).
DUPLICATE_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "people": ("salesforce", ("Lead", "Contact")),
    "accounts": ("salesforce", ("Account",)),
    "companies": ("hubspot", ("companies",)),
    "contacts": ("hubspot", ("contacts",)),
}


def scan_duplicates(conn: duckdb.DuckDBPyConnection) -> list[Duplicate]:
    """Every cluster of records of one system sharing a match key, with the duplicate rule's
    pick: the same person as Lead and Contact, Contacts sharing an email, Accounts or companies
    sharing a normalised domain or name. One GROUP BY over the mirror; no API call."""
    found: list[Duplicate] = []
    for system, objects in DUPLICATE_GROUPS.values():
        # Whether each clustered record is linked is asked in the query: the links of the
        # few duplicates, not every link of the org, reach Python.
        rows = conn.execute(
            "SELECT object, id, key, created, coalesce(payload->>'IsConverted', 'false'), "
            "payload->>'ConvertedContactId', id IN (SELECT sf_id FROM id_links UNION ALL "
            "SELECT hs_id FROM id_links) FROM records WHERE system = ? "
            "AND object IN (SELECT unnest(?)) AND NOT deleted AND key IN ("
            "  SELECT key FROM records WHERE system = ? AND object IN (SELECT unnest(?)) "
            "  AND NOT deleted AND key IS NOT NULL GROUP BY key HAVING count(*) > 1)",
            [system, list(objects), system, list(objects)],
        ).fetchall()
        linked = frozenset(row[1] for row in rows if row[6])
        candidates = [
            Candidate(
                system=system,
                object=obj,
                id=rid,
                key=key,
                created=created or "",
                is_converted=converted == "true",
                converted_to=converted_to,
            )
            for obj, rid, key, created, converted, converted_to, _linked in rows
            if not (obj == "Lead" and converted == "true")
        ]
        found += [
            Duplicate.from_cluster(c, object=c.kept.object)
            for c in clusters_of(candidates, linked=linked)
        ]
    return found


# ------------------------------------------------------------------ API budget


@dataclass(frozen=True)
class Budgets:
    """This cycle's budget per system, and the api_limit errors of the systems at their cap."""

    by_system: Mapping[str, RunBudget]

    @property
    def paused(self) -> list[RunBudget]:
        return [b for b in self.by_system.values() if b.writes_paused]

    def errors(self) -> list[SyncError]:
        return [
            SyncError(
                system=b.system,
                object="api",
                category="api_limit",
                code="DAILY_BUDGET_REACHED",
                message=b.reason or f"{b.system} API budget reached",
                suggested_fix="wait for the next day, or raise the share in [guards.budget]",
            )
            for b in self.paused
        ]


# A cycle's reads (1 Composite call; 1 search per HubSpot object) plus at least one write batch
# on each system, so that a staged load always moves forward (never beyond what is left today).
MIN_RUN_CALLS = 5


def budgets(
    conn: duckdb.DuckDBPyConnection,
    config: SyncConfig,
    *,
    now: datetime,
    caps: Mapping[str, int | None] | None = None,
    live: Mapping[str, Quota] | None = None,
) -> Budgets:
    """Each system's budget for the cycle starting now, from the quotas the systems last
    reported (live: reported by calls not yet flushed to the store) and what LeadBridge itself
    spent since 00:00 UTC."""
    quotas = {**latest_quotas(conn), **(live or {})}
    spent = api_calls_since(conn, day_start(now))
    out = {}
    for system in ("salesforce", "hubspot"):
        settings = replace(
            BudgetSettings.from_config(
                config.budget, system=system, daily_cap=(caps or {}).get(system)
            ),
            min_run_calls=MIN_RUN_CALLS,
        )
        out[system] = plan_budget(
            settings, quotas.get(system), now=now, spent_today_by_us=spent.get(system, 0)
        )
    return Budgets(out)


# ------------------------------------------------------------------ loops


def loop_findings(
    conn: duckdb.DuckDBPyConnection, config: SyncConfig, *, cycle: int
) -> list[LoopFinding]:
    """Fields the sync wrote back and forth within the window (automations fighting)."""
    guards = config.guards
    if not guards.loop_detection:
        return []
    window = guards.loop_window_cycles
    # A field written loop_max_flips times or fewer in the window cannot have flipped more.
    history = recent_field_writes(
        conn, min_cycle=cycle - window + 1, min_writes=guards.loop_max_flips + 1
    )
    return detect_loops(
        history, window_cycles=window, min_flips=guards.loop_max_flips, current_cycle=cycle
    )


def loop_errors(findings: Iterable[LoopFinding]) -> list[SyncError]:
    return [
        SyncError(
            system="hubspot",
            object=f.object,
            category="custom_code",
            code=LOOP_ERROR_CODE,
            message=f.message,
            record_id=f.hs_id,
            field=f.field,
            value=" -> ".join(str(v) for v in f.values),
            suggested_fix="turn one of the two automations off, or make the field one-way; "
            "then ignore this error to release the hold",
            payload={"hs_id": f.hs_id, "sf_id": f.sf_id, "sf_object": f.sf_object},
        )
        for f in findings
    ]


def held_fields(conn: duckdb.DuckDBPyConnection) -> frozenset[tuple[str, str]]:
    """(hs_id, field) pairs held by an open loop error: released when a person resolves or
    ignores it."""
    rows = conn.execute(
        "SELECT record_id, field FROM sync_errors WHERE code = ? "
        "AND status IN ('open', 'retrying')",
        [LOOP_ERROR_CODE],
    ).fetchall()
    return frozenset((str(r), str(f)) for r, f in rows if r and f)


# ------------------------------------------------------------------ the integration user

_PERSON_PROFILES = ("system administrator", "standard user", "marketing user", "sales user")


def integration_user_warnings(
    user: Mapping[str, Any],
    *,
    sf_fields: Mapping[str, Mapping[str, FieldMeta]],
    config: SyncConfig,
) -> list[SyncError]:
    """Warnings about the Salesforce user LeadBridge runs as: a named person rather than a
    dedicated integration user (judged from profile, name and email), and the mapped fields it
    may not edit. Recorded as `permissions` errors the dashboard shows."""
    out: list[SyncError] = []
    profile = str(user.get("profile_name") or "")
    name, email = str(user.get("name") or ""), str(user.get("email") or "")
    looks_dedicated = any(
        word in f"{profile} {name} {email}".lower() for word in ("integration", "api only", "api")
    )
    if not looks_dedicated or profile.lower() in _PERSON_PROFILES:
        out.append(
            SyncError(
                system="salesforce",
                object="User",
                category="permissions",
                code="INTEGRATION_USER_IS_A_PERSON",
                message=f"LeadBridge runs as {name or 'an unnamed user'} ({email}, profile "
                f"{profile or 'unknown'}), which looks like a person's account: their own edits "
                "cannot be told from the sync's, so they would never be synced back",
                record_id=str(user.get("user_id") or ""),
                suggested_fix="create a dedicated API-only integration user and use its "
                "credentials",
            )
        )
    for obj in config.objects:
        for sf_object in obj.targets:
            fields = sf_fields.get(sf_object, {})
            for mapping in obj.mappings_for(sf_object):
                meta = fields.get(mapping.salesforce)
                writes = obj.effective_direction(mapping).to_salesforce
                if meta is not None and writes and not meta.updateable:
                    out.append(
                        SyncError(
                            system="salesforce",
                            object=sf_object,
                            category="permissions",
                            code="FIELD_NOT_EDITABLE",
                            message=f"the integration user may not edit {sf_object}."
                            f"{mapping.salesforce}, mapped from {mapping.hubspot}",
                            field=mapping.salesforce,
                            suggested_fix="grant the integration user edit access to the "
                            "field, or set the mapping's direction to salesforce_to_hubspot",
                        )
                    )
    return out


@dataclass(frozen=True)
class AccessRow:
    """What the integration user may do with one Salesforce object."""

    object: str
    visible_records: int
    createable: bool
    not_editable: tuple[str, ...]


@dataclass(frozen=True)
class IntegrationUserReport:
    """Who LeadBridge runs as in Salesforce and what it can and cannot see and edit."""

    user_id: str
    name: str
    email: str
    profile: str
    dedicated: bool
    access: tuple[AccessRow, ...]
    warnings: tuple[str, ...]


def integration_user_report(
    user: Mapping[str, Any],
    *,
    sf_fields: Mapping[str, Mapping[str, FieldMeta]],
    visible: Mapping[str, int],
    config: SyncConfig,
) -> IntegrationUserReport:
    """Assemble the report from userinfo, describe and the record counts the user can see
    (`SELECT COUNT() FROM <object>` as that user: records not shared with it are not counted)."""
    warnings = integration_user_warnings(user, sf_fields=sf_fields, config=config)
    mapped = {
        sf_object: {m.salesforce for m in obj.mappings_for(sf_object)}
        for obj in config.objects
        for sf_object in obj.targets
    }
    access = tuple(
        AccessRow(
            object=name,
            visible_records=visible.get(name, 0),
            createable=any(f.createable for f in fields.values()),
            not_editable=tuple(
                sorted(n for n in mapped.get(name, ()) if n in fields and not fields[n].updateable)
            ),
        )
        for name, fields in sf_fields.items()
    )
    return IntegrationUserReport(
        user_id=str(user.get("user_id") or ""),
        name=str(user.get("name") or ""),
        email=str(user.get("email") or ""),
        profile=str(user.get("profile_name") or ""),
        dedicated=not any(w.code == "INTEGRATION_USER_IS_A_PERSON" for w in warnings),
        access=access,
        warnings=tuple(w.message for w in warnings),
    )
