"""What a person can do about what the sync flagged: the engine's API behind the dashboard's
buttons (issue 5 item 8). Every action is recorded in `audit_log` with who and when, and every
one refuses (`AccessDenied`) unless it is given an admin `Identity` (sync_engine/access.py): the
dashboard disables these controls for read-only users, and this is the second line.

- retry one error, or a whole category: the error goes `retrying` and its records are marked
  dirty in the mirror, so the next cycle decides them again (and closes the error when the write
  succeeds);
- set a value: the corrected value is written to the *source* system through the engine's own
  connector, then the error is retried;
- add a value-map entry: checked against the Salesforce picklist (or HubSpot options) first,
  saved to sync.toml, then every open error of that field is retried;
- ignore: the error is closed as `ignored` (the engine keeps it ignored if it recurs);
- save inclusion criteria, override a conflict's winner, mark a cluster not-a-duplicate.

Nothing here raises for a person's mistake: a `FixResult` says what happened or why not, and a
refused change leaves sync.toml and the store untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from sync_engine import mirror
from sync_engine.access import Identity, require_admin
from sync_engine.config import (
    ConfigError,
    FieldMapping,
    ObjectSync,
    SyncConfig,
    save_config,
    validate_against_schema,
)
from sync_engine.errors import LeadBridgeError
from sync_engine.inclusion import Group, validate_criteria
from sync_engine.mapping import MappingContext, canonical_to_hubspot, canonical_to_salesforce
from sync_engine.models import PropertyMeta, System
from sync_engine.queries import OPEN_STATUSES, error_by_id
from sync_engine.store import FieldChange, SyncedValue

# Salesforce key prefixes: which object an id belongs to (the first three characters).
SF_PREFIXES: dict[str, str] = {
    "00Q": "Lead",
    "003": "Contact",
    "001": "Account",
    "006": "Opportunity",
}
# sync_errors.object / hs_object -> the config's object name.
OBJECT_OF: dict[str, str] = {
    "contacts": "contact",
    "Lead": "contact",
    "Contact": "contact",
    "companies": "company",
    "Account": "company",
    "deals": "deal",
    "Opportunity": "deal",
}


@dataclass(frozen=True)
class FixResult:
    """What an action did (ok) or why it was refused; retried counts errors set retrying."""

    ok: bool
    message: str
    retried: int = 0


# ------------------------------------------------------------------------------ retry, ignore


def _record_ids(error: Mapping[str, Any]) -> dict[System, set[str]]:
    """The records to decide again for an error: the ids in its payload, else its record id."""
    payload = error.get("payload") or {}
    if isinstance(payload, str):
        payload = json.loads(payload) if payload else {}
    found: dict[System, set[str]] = {System.HUBSPOT: set(), System.SALESFORCE: set()}
    if payload.get("hs_id"):
        found[System.HUBSPOT].add(str(payload["hs_id"]))
    if payload.get("sf_id"):
        found[System.SALESFORCE].add(str(payload["sf_id"]))
    if not any(found.values()) and error.get("record_id"):
        found[System(error["system"])].add(str(error["record_id"]))
    return found


def _retry_rows(tx: Any, errors: Iterable[Mapping[str, Any]], *, actor: str, note: str) -> int:
    count = 0
    for error in errors:
        tx.set_error_status(int(error["error_id"]), "retrying", actor=actor, note=note)
        for system, ids in _record_ids(error).items():
            mirror.mark_dirty(tx.conn, system, ids)
        count += 1
    return count


def retry_error(rt: Any, error_id: int, *, actor: Identity) -> FixResult:
    """Queue one error's records for the next cycle."""
    by = require_admin(actor, "retry an error")
    error = error_by_id(rt.store, error_id)
    if error is None:
        return FixResult(False, f"No error {error_id}.")
    if error["status"] not in OPEN_STATUSES:
        return FixResult(False, f"Error {error_id} is {error['status']}: nothing to retry.")
    with rt.store.write() as tx:
        count = _retry_rows(tx, [error], actor=by, note="retry")
    rt.wake()
    return FixResult(True, f"Error {error_id} will be retried at the next cycle.", count)


def _open_errors(rt: Any, sql_filter: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    with rt.store.read() as conn:
        cur = conn.execute(
            "SELECT error_id, system, record_id, payload FROM sync_errors "
            f"WHERE status IN ('open', 'retrying') AND {sql_filter}",
            list(params),
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def retry_category(rt: Any, category: str, *, actor: Identity) -> FixResult:
    """Queue every open error of one category."""
    by = require_admin(actor, "retry errors")
    errors = _open_errors(rt, "category = ?", [category])
    if not errors:
        return FixResult(False, f"No open {category} error to retry.")
    with rt.store.write() as tx:
        count = _retry_rows(tx, errors, actor=by, note=f"retry category {category}")
    rt.wake()
    return FixResult(True, f"{count} {category} errors will be retried at the next cycle.", count)


def ignore_error(rt: Any, error_id: int, *, actor: Identity, note: str | None = None) -> FixResult:
    by = require_admin(actor, "ignore an error")
    try:
        with rt.store.write() as tx:
            tx.set_error_status(error_id, "ignored", actor=by, note=note)
    except KeyError:
        return FixResult(False, f"No error {error_id}.")
    return FixResult(True, f"Error {error_id} is ignored.")


# ------------------------------------------------------------------------------ set a value


@dataclass(frozen=True)
class SourceField:
    """Where an error's value came from: the system, object, record and field to correct."""

    system: System
    object: str
    record_id: str
    field: str


def source_of(error: Mapping[str, Any], config: SyncConfig) -> SourceField | None:
    """The source record and field of a refused value: a write refused by Salesforce came from
    HubSpot (and the other way round), through the mapping that names the error's field."""
    obj = config.object(OBJECT_OF.get(str(error.get("hs_object") or error.get("object")), ""))
    field = error.get("field")
    if obj is None or not field:
        return None
    ids = _record_ids(error)
    if error["system"] == "salesforce":
        mapping = _mapping_for(obj, salesforce=field) or _mapping_for(obj, hubspot=field)
        hs_id = next(iter(ids[System.HUBSPOT]), None)
        if mapping is None or hs_id is None:
            return None
        return SourceField(System.HUBSPOT, obj.hubspot_object, hs_id, mapping.hubspot)
    mapping = _mapping_for(obj, hubspot=field) or _mapping_for(obj, salesforce=field)
    sf_id = next(iter(ids[System.SALESFORCE]), None)
    if mapping is None or sf_id is None:
        return None
    sf_object = SF_PREFIXES.get(sf_id[:3])
    if sf_object is None:
        return None
    return SourceField(System.SALESFORCE, sf_object, sf_id, mapping.salesforce)


def _mapping_for(
    obj: ObjectSync, *, salesforce: str | None = None, hubspot: str | None = None
) -> FieldMapping | None:
    for m in obj.fields:
        if (salesforce and m.salesforce.lower() == salesforce.lower()) or (
            hubspot and m.hubspot == hubspot
        ):
            return m
    return None


def set_value_and_retry(rt: Any, error_id: int, value: str, *, actor: Identity) -> FixResult:
    """Write the corrected value to the source record, then retry the error."""
    by = require_admin(actor, "correct a value")
    error = error_by_id(rt.store, error_id)
    if error is None:
        return FixResult(False, f"No error {error_id}.")
    if rt.engine is None:
        return FixResult(False, "No connection to the systems: the value cannot be written.")
    source = source_of(error, rt.engine.config)
    if source is None:
        return FixResult(
            False, f"Error {error_id} names no mapped field to correct; retry or ignore it."
        )
    problem = _write_source(rt.engine, source, value)
    if problem:
        return FixResult(False, f"{source.system} refused the value: {problem}")
    with rt.store.write() as tx:
        tx.audit(
            by,
            "fix_set_value",
            object=source.object,
            record_id=source.record_id,
            error_id=error_id,
            details={"system": str(source.system), "field": source.field, "value": value},
        )
        _retry_rows(tx, [error], actor=by, note="value corrected")
        mirror.mark_dirty(tx.conn, source.system, [source.record_id])
    rt.wake()
    return FixResult(
        True,
        f"{source.field} of {source.object} {source.record_id} set in {source.system}; "
        "error retried at the next cycle.",
        1,
    )


def _write_source(engine: Any, source: SourceField, value: Any) -> str | None:
    """Write one field through the engine's connector; the system's refusal, or None."""
    try:
        if source.system is System.HUBSPOT:
            outcomes = engine.hs.batch_update(
                source.object, [{"id": source.record_id, "properties": {source.field: value}}]
            )
            failed = [o for o in outcomes if not o.success]
            return failed[0].error.message if failed and failed[0].error else None
        outcomes = engine.sf.save(
            source.object, [{"Id": source.record_id, source.field: value}], op="update"
        )
        failed = [o for o in outcomes if not o.success]
        return "; ".join(e.message for e in failed[0].errors) if failed else None
    except LeadBridgeError as exc:
        return str(exc)


# ------------------------------------------------------------------------------ config changes


def _schema_problems(engine: Any, config: SyncConfig) -> list[str]:
    if engine is None:
        return []
    schema = engine.schema()
    return [str(p) for p in validate_against_schema(config, schema.sf_fields, schema.hs_properties)]


def save_checked(
    rt: Any, config: SyncConfig, *, actor: Identity, action: str, details: Any
) -> str | None:
    """Validate config against the live schema, save it, make it the engine's; the problems
    (nothing saved) or None. The one place sync.toml is written: only for an admin."""
    by = require_admin(actor, "change sync.toml")
    problems = _schema_problems(rt.engine, config)
    if problems:
        return "; ".join(problems)
    try:
        save_config(config, rt.settings.config_path)
    except (ConfigError, OSError) as exc:
        return str(exc)
    if rt.engine is not None:
        rt.engine.use_config(config)
    with rt.store.write() as tx:
        tx.audit(by, action, details=details)
    return None


def add_value_map_entry(
    rt: Any, map_name: str, hubspot_value: str, salesforce_value: str, *, actor: Identity
) -> FixResult:
    """Add hubspot_value -> salesforce_value to a value map (refused, with the allowed values,
    when the target lacks it), then retry the open errors of that value on the map's fields
    (other values of the field would only be refused again)."""
    by = require_admin(actor, "add a value-map entry")
    config = rt.engine.config if rt.engine is not None else None
    if config is None:
        return FixResult(False, "No configuration loaded: nothing saved.")
    value_map = config.value_map(map_name)
    if value_map is None:
        return FixResult(False, f"No value map named {map_name!r}: nothing saved.")
    if not hubspot_value.strip() or not salesforce_value.strip():
        return FixResult(False, "Both values are needed: nothing saved.")
    updated = config.with_value_map(value_map.with_entry(hubspot_value, salesforce_value))
    problem = save_checked(
        rt,
        updated,
        actor=actor,
        action="value_map_entry",
        details={"map": map_name, "hubspot": hubspot_value, "salesforce": salesforce_value},
    )
    if problem:
        return FixResult(False, f"Refused, nothing saved: {problem}")
    fields = _fields_using(updated, map_name)
    errors = (
        _open_errors(
            rt,
            "list_contains(?::VARCHAR[], field) AND (value IS NULL OR lower(value) = lower(?))",
            [sorted(fields), hubspot_value.strip()],
        )
        if fields
        else []
    )
    if errors:
        with rt.store.write() as tx:
            _retry_rows(tx, errors, actor=by, note=f"value map {map_name} extended")
    rt.wake()
    return FixResult(
        True,
        f"{hubspot_value!r} -> {salesforce_value!r} added to {map_name}; "
        f"{len(errors)} open errors retried.",
        len(errors),
    )


def _fields_using(config: SyncConfig, map_name: str) -> set[str]:
    return {
        name
        for obj in config.objects
        for m in obj.fields
        if map_name in m.value_map_names
        for name in (m.salesforce, m.hubspot)
    }


def save_mapping(
    rt: Any, object_name: str, index: int, mapping: FieldMapping, *, actor: Identity
) -> FixResult:
    """Replace one field mapping (direction, rule, ...), validated before anything is saved."""
    require_admin(actor, "change a mapping")
    config = rt.engine.config if rt.engine is not None else None
    obj = config.object(object_name) if config is not None else None
    if config is None or obj is None or not 0 <= index < len(obj.fields):
        return FixResult(False, f"No mapping {index} on {object_name}: nothing saved.")
    fields = list(obj.fields)
    before = fields[index]
    fields[index] = mapping
    objects = tuple(replace(o, fields=tuple(fields)) if o is obj else o for o in config.objects)
    problem = save_checked(
        rt,
        replace(config, objects=objects),
        actor=actor,
        action="mapping_saved",
        details={"object": object_name, "before": _plain(before), "after": _plain(mapping)},
    )
    if problem:
        return FixResult(False, f"Refused, nothing saved: {problem}")
    rt.wake()
    return FixResult(
        True, f"{object_name} mapping {mapping.hubspot} <-> {mapping.salesforce} saved."
    )


def _plain(mapping: FieldMapping) -> dict[str, Any]:
    return {
        "hubspot": mapping.hubspot,
        "salesforce": mapping.salesforce,
        "direction": str(mapping.direction),
        "rule": str(mapping.rule),
    }


def save_inclusion(
    rt: Any,
    criteria: Group,
    *,
    to_push: Sequence[str],
    properties: Mapping[str, PropertyMeta],
    actor: Identity,
) -> FixResult:
    """Activate new inclusion criteria: validated, saved, and the newly qualifying contacts queued
    for the next cycle (they would otherwise wait for their next edit)."""
    require_admin(actor, "change the inclusion criteria")
    problems = validate_criteria(criteria, properties) if properties else []
    if problems:
        return FixResult(False, "Refused, nothing saved: " + "; ".join(problems))
    config = rt.engine.config if rt.engine is not None else None
    if config is None:
        return FixResult(False, "No configuration loaded: nothing saved.")
    problem = save_checked(
        rt,
        config.with_inclusion(criteria),
        actor=actor,
        action="inclusion_saved",
        details={"to_push": len(to_push)},
    )
    if problem:
        return FixResult(False, f"Refused, nothing saved: {problem}")
    with rt.store.write() as tx:
        mirror.mark_dirty(tx.conn, System.HUBSPOT, to_push)
    rt.wake()
    return FixResult(True, f"Criteria saved: {len(to_push):,} contacts queued for Salesforce.")


def set_paused(rt: Any, paused: bool, *, actor: Identity, reason: str | None = None) -> FixResult:
    """Pause or resume the sync (every process's engine reads the flag before a cycle)."""
    by = require_admin(actor, "pause or resume the sync")
    with rt.store.write() as tx:
        tx.set_paused(paused, actor=by, reason=reason or None)
    rt.wake()
    return FixResult(True, "Sync paused." if paused else "Sync resumed.")


# ---------------------------------------------------------------- duplicates, conflicts


def mark_not_duplicate(rt: Any, cluster_id: str, *, actor: Identity) -> FixResult:
    by = require_admin(actor, "mark a cluster not a duplicate")
    with rt.store.write() as tx:
        tx.set_duplicate_status(cluster_id, "ignored", actor=by)
    return FixResult(True, f"Cluster {cluster_id} marked not a duplicate.")


def override_conflict(rt: Any, conflict: Mapping[str, Any], *, actor: Identity) -> FixResult:
    """Make the losing value win, on both sides: the cycle that settled the conflict already
    copied the winner's value to the loser's record, so writing the winner's record alone would
    leave the systems disagreeing (and the next read of the loser's record would undo the
    override). Both values are converted and checked before anything is written; the changes are
    recorded (reason `override`) with the new agreed value, and the person in audit_log."""
    by = require_admin(actor, "override a conflict")
    engine = rt.engine
    if engine is None:
        return FixResult(False, "No connection to the systems: nothing written.")
    obj = engine.config.object(str(conflict["object"]))
    mapping = _mapping_for(obj, hubspot=str(conflict["field"])) if obj is not None else None
    if obj is None or mapping is None:
        return FixResult(False, f"No mapping for {conflict['field']}: nothing written.")
    value = conflict["hs_value"] if conflict["winner"] == "salesforce" else conflict["sf_value"]
    context = MappingContext.from_config(engine.config, owners=engine.schema().owners)
    writes = []
    for target in _override_order(conflict):
        convert = canonical_to_salesforce if target is System.SALESFORCE else canonical_to_hubspot
        converted = convert(mapping, value, context)
        if converted.issue is not None:
            return FixResult(False, f"The value cannot be sent to {target}: {converted.issue}")
        writes.append((_override_target(conflict, obj, mapping, target), converted.value))
    for done, (source, sent) in enumerate(writes):
        problem = _write_source(engine, source, sent)
        if problem:
            note = " (the first system was written; retry to finish)" if done else ""
            return FixResult(False, f"{source.system} refused the value: {problem}{note}")
    with rt.store.write() as tx:
        _record_override(tx, conflict, mapping, value, actor=by)
    return FixResult(
        True,
        f"{mapping.hubspot} of {obj.name} {conflict['hs_id']} set to {value!r} in both systems.",
    )


def _override_order(conflict: Mapping[str, Any]) -> tuple[System, System]:
    """The winner's system first (where the override matters), then the loser's (restored)."""
    if conflict["winner"] == "salesforce":
        return (System.SALESFORCE, System.HUBSPOT)
    return (System.HUBSPOT, System.SALESFORCE)


def _override_target(
    conflict: Mapping[str, Any], obj: ObjectSync, mapping: FieldMapping, system: System
) -> SourceField:
    if system is System.SALESFORCE:
        sf_object = str(conflict.get("sf_object") or SF_PREFIXES.get(str(conflict["sf_id"])[:3]))
        return SourceField(system, sf_object, str(conflict["sf_id"]), mapping.salesforce)
    return SourceField(system, obj.hubspot_object, str(conflict["hs_id"]), mapping.hubspot)


def _record_override(
    tx: Any, conflict: Mapping[str, Any], mapping: FieldMapping, value: Any, *, actor: str
) -> None:
    to_salesforce = conflict["winner"] == "salesforce"
    old = conflict["sf_value"] if to_salesforce else conflict["hs_value"]
    ids = {"hs_id": str(conflict["hs_id"]), "sf_id": str(conflict["sf_id"])}
    tx.record_changes(
        [
            FieldChange(
                object=str(conflict["object"]),
                direction=direction,
                field=mapping.salesforce if direction.endswith("salesforce") else mapping.hubspot,
                old_value=old,
                new_value=value,
                reason="override",
                sf_object=conflict.get("sf_object"),
                source_field=mapping.hubspot if to_salesforce else mapping.salesforce,
                **ids,
            )
            for direction in ("hubspot_to_salesforce", "salesforce_to_hubspot")
        ]
    )
    tx.set_synced_values(
        [SyncedValue(str(conflict["object"]), ids["hs_id"], ids["sf_id"], mapping.key, value)]
    )
    tx.audit(
        actor,
        "conflict_override",
        object=str(conflict["object"]),
        record_id=ids["hs_id"],
        details={
            "field": mapping.hubspot,
            "winner_was": conflict["winner"],
            "value": value,
            "replaced": old,
        },
    )


# ---------------------------------------------------------------- picklist compatibility


def picklist_report(
    config: SyncConfig,
    obj: ObjectSync,
    sf_fields: Mapping[str, Mapping[str, Any]],
    hs_properties: Mapping[str, Mapping[str, PropertyMeta]],
) -> pd.DataFrame:
    """Per HubSpot enumeration option sent to a Salesforce picklist: the value it becomes (through
    the value map) and whether Salesforce accepts it. Rows with accepted False would be refused:
    the fix is a value-map entry or a picklist value."""
    props = hs_properties.get(obj.hubspot_object, {})
    rows = []
    for mapping in obj.fields:
        prop = props.get(mapping.hubspot)
        if prop is None or not prop.options or not obj.effective_direction(mapping).to_salesforce:
            continue
        value_map = config.value_map(mapping.value_map) if mapping.value_map else None
        for sf_object in obj.targets:
            meta = (sf_fields.get(sf_object) or {}).get(mapping.salesforce)
            if meta is None or not meta.is_picklist or not mapping.applies_to(sf_object):
                continue
            allowed = {v.casefold() for v in meta.picklist_values}
            for option in prop.options:
                sent = value_map.salesforce_for(option) if value_map else option
                rows.append(
                    {
                        "hubspot property": mapping.hubspot,
                        "salesforce field": f"{sf_object}.{meta.name}",
                        "hubspot value": option,
                        "sent as": sent,
                        "accepted": sent is not None and sent.casefold() in allowed,
                    }
                )
    columns = ["hubspot property", "salesforce field", "hubspot value", "sent as", "accepted"]
    return pd.DataFrame(rows, columns=columns)
