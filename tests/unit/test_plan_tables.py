"""The plan's shared tables against the per-record code they replace: a whole plan over seeded
records is the plan built pair by pair with `merge_record`, whatever the conversions remember;
a created record's sources, base and required fields are what a scan of the mappings gives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from seeded import Seeded, busiest_modifier, salesforce_records, seeded, snapshot, with_edge

from sync_engine import mapping
from sync_engine import plan as planning
from sync_engine.config import FieldMapping, ObjectSync
from sync_engine.conflicts import Action, FieldValue, merge_record
from sync_engine.mapping import canonical_from_hubspot, canonical_from_salesforce
from sync_engine.matching import choose
from sync_engine.models import Direction, FieldMeta, Rule, System
from sync_engine.plan import (
    Plan,
    Record,
    Snapshot,
    _base_after_create,
    _kept,
    _missing_required,
    _Tables,
)

pytestmark = pytest.mark.unit


def reference_plan_pair(
    snapshot: Snapshot,
    hs: Record,
    sf: Record,
    links: Any,
    out: Plan,
    tables: Any,
) -> None:
    """A linked pair planned as before the merge tables: merge_record over FieldValues."""
    obj = snapshot.obj
    base = snapshot.base.get(hs.id, {})
    echo = planning._echoed(snapshot, sf, base)
    hs_values = {
        m.hubspot: FieldValue(hs.values.get(m.hubspot), hs.modified_at) for m in obj.fields
    }
    sf_values = {
        m.salesforce: FieldValue(
            planning._as_salesforce(m, base[m.key], snapshot.context)
            if m.key in echo and base.get(m.key) is not None
            else sf.values.get(m.salesforce),
            sf.modified_at,
        )
        for m in obj.fields
    }
    merge = merge_record(base, hs_values, sf_values, obj, sf.object, context=snapshot.context)
    pushing = snapshot.included is None or hs.id in snapshot.included
    free = [d for d in merge.decisions if (hs.id, d.field) not in snapshot.held]
    sf_decisions = [d for d in free if d.action is Action.WRITE_SALESFORCE and pushing]
    hs_decisions = [d for d in free if d.action is Action.WRITE_HUBSPOT]
    sf_decisions = planning._precheck(snapshot, sf, hs, sf_decisions, out)
    moved = planning._company_change(snapshot, hs, sf, base) if pushing else None
    if moved is not None:
        sf_decisions.append(moved)
    new_base = {
        d.field: d.new_base
        for d in merge.decisions
        if d.action is Action.NONE and d.new_base is not None and base.get(d.field) != d.new_base
    }
    for d in merge.decisions:
        if d.issue is not None and d.action is Action.NONE:
            out.refusals.append(planning._issue_refusal(snapshot, d.issue, hs, sf, d))
    for c in merge.conflicts:
        out.conflicts.append(
            planning.PairConflict(hs.id, sf.object, sf.id, c, hs.modified_at, sf.modified_at)
        )
    if sf_decisions:
        out.writes.append(
            planning._write(
                System.SALESFORCE,
                "update",
                sf.object,
                sf.id,
                hs,
                sf,
                sf_decisions,
                first_base=not base,
            )
        )
    if hs_decisions:
        out.writes.append(
            planning._write(
                System.HUBSPOT,
                "update",
                obj.hubspot_object,
                hs.id,
                hs,
                sf,
                hs_decisions,
                first_base=not base,
            )
        )
    if new_base:
        out.base_updates[(hs.id, sf.id)] = new_base


def variant(obj: ObjectSync, name: str) -> ObjectSync:
    if name == "shipped":
        return obj
    if name == "pipeline":  # a mapped pipeline picks each deal's stage map
        pipeline = FieldMapping("pipeline", "Pipeline__c")
        return replace(obj, fields=(*obj.fields, pipeline), direction=Direction.TWO_WAY)
    if name == "twice":  # one property mapped to two fields: the first mapping is the source
        first = obj.fields[0]
        again = replace(first, salesforce=f"{first.salesforce}_Copy__c")
        return replace(obj, fields=(*obj.fields, again))
    if name == "most_recent":
        return replace(obj, fields=tuple(replace(m, rule=Rule.MOST_RECENT) for m in obj.fields))
    directions = list(Direction)
    fields = tuple(replace(m, direction=directions[i % 4]) for i, m in enumerate(obj.fields))
    return replace(obj, fields=fields, direction=Direction.TWO_WAY, create_in_salesforce=True)


def snapshots(data: Seeded, object_name: str, name: str) -> list[Snapshot]:
    shipped = data.config.object(object_name)
    assert shipped is not None
    obj = variant(shipped, name)
    return [snapshot(data, obj), snapshot(data, obj, echo_user=busiest_modifier(data, obj))]


@pytest.mark.parametrize("name", ["shipped", "most_recent", "directions", "twice"])
@pytest.mark.parametrize("object_name", ["contact", "company", "deal"])
def test_a_plan_is_the_plan_made_pair_by_pair_with_merge_record(
    object_name: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = seeded()
    for snap in snapshots(data, object_name, name):
        fast = planning.plan(snap)
        with monkeypatch.context() as patched:
            patched.setattr(planning, "_plan_pair", reference_plan_pair)
            slow = planning.plan(snap)
        assert fast == slow
        assert fast.writes or fast.refusals
        assert fast.base_updates or object_name == "deal"  # the seed's deals share no key


@pytest.mark.parametrize("limit", [0, 1])
@pytest.mark.parametrize("object_name", ["contact", "company", "deal"])
def test_a_plan_does_not_depend_on_what_conversions_remember(
    object_name: str, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = seeded()
    for snap in snapshots(data, object_name, "directions"):
        remembered = planning.plan(snap)
        monkeypatch.setattr(mapping, "MEMO_LIMIT", limit)
        assert planning.plan(snap) == remembered
        monkeypatch.undo()
        assert any(w.op != "update" for w in remembered.writes)


def reference_source_of(obj: ObjectSync, target_field: str, sf_object: str, *, to: System) -> str:
    for m in obj.mappings_for(sf_object):
        target, source = (
            (m.salesforce, m.hubspot) if to is System.SALESFORCE else (m.hubspot, m.salesforce)
        )
        if target == target_field:
            return source
    return ""


def reference_base_after_create(
    obj: ObjectSync, sf_object: str, values: Mapping[str, Any], snap: Snapshot, *, source: System
) -> dict[str, str | None]:
    read = canonical_from_hubspot if source is System.HUBSPOT else canonical_from_salesforce
    base: dict[str, str | None] = {}
    for m in obj.mappings_for(sf_object):
        raw = values.get(m.hubspot if source is System.HUBSPOT else m.salesforce)
        converted = read(m, raw, snap.context)
        if converted.ok:
            base[m.key] = converted.value if converted.value is not None else ""
    return base


def reference_missing_required(
    fields: Mapping[str, FieldMeta], values: Mapping[str, Any]
) -> list[str]:
    return sorted(
        name
        for name, meta in fields.items()
        if meta.createable
        and not meta.nillable
        and meta.type != "boolean"
        and name in planning._REQUIRED_ON_CREATE
        and values.get(name) in (None, "")
    )


def test_deal_stages_follow_each_deals_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    data = seeded()
    for snap in snapshots(data, "deal", "pipeline"):
        pipelines = ("default", "75112203", "", None)  # sales, renewals, none
        deals = {
            r.id: replace(r, values={**r.values, "pipeline": pipelines[i // 2 % len(pipelines)]})
            for i, r in enumerate(snap.hubspot.values())
        }
        snap = replace(snap, hubspot=deals, dirty_hs=tuple(deals.values()))
        fast = planning.plan(snap)
        with monkeypatch.context() as patched:
            patched.setattr(planning, "_plan_pair", reference_plan_pair)
            assert planning.plan(snap) == fast


@pytest.mark.parametrize("name", ["shipped", "twice"])
@pytest.mark.parametrize("object_name", ["contact", "company", "deal"])
def test_creation_tables_are_the_scans_they_replace(object_name: str, name: str) -> None:
    data = seeded()
    shipped = data.config.object(object_name)
    assert shipped is not None
    obj = variant(shipped, name)
    snap = snapshot(data, obj)
    tables = _Tables(snap)
    names = [m.hubspot for m in obj.fields]
    for sf_object in obj.targets:
        targets = {m.salesforce for m in obj.fields} | {m.hubspot for m in obj.fields} | {"X"}
        for field in sorted(targets):
            for to in System:
                assert tables.sources(sf_object, to=to).get(field, "") == reference_source_of(
                    obj, field, sf_object, to=to
                )
        required = tables.required(sf_object)
        for i, hs in enumerate(data.hubspot[obj.hubspot_object]):
            values = with_edge(dict(hs.values), names, i)
            assert _base_after_create(
                tables.merge(sf_object), values, source=System.HUBSPOT
            ) == reference_base_after_create(obj, sf_object, values, snap, source=System.HUBSPOT)
            mapped = tables.to_salesforce(sf_object, values).map(values).non_blank()
            assert _missing_required(required, mapped) == reference_missing_required(
                data.sf_fields[sf_object], mapped
            )
    sf_names = [m.salesforce for m in obj.fields]
    for i, sf in enumerate(salesforce_records(data, obj)):
        values = with_edge(dict(sf.values), sf_names, i)
        assert _base_after_create(
            tables.merge(sf.object), values, source=System.SALESFORCE
        ) == reference_base_after_create(obj, sf.object, values, snap, source=System.SALESFORCE)


@pytest.mark.parametrize("object_name", ["contact", "company", "deal"])
def test_a_created_records_base_leaves_out_the_values_it_was_created_without(
    object_name: str,
) -> None:
    """A base says both sides agree; a refused value was never written, so it has none (else
    the new record's blank reads as an edit and is copied back over the source's value)."""
    data = seeded()
    obj = data.config.object(object_name)
    assert obj is not None
    decided = planning.plan(snapshot(data, obj))
    refused = {
        (r.system, source, r.field)
        for r in decided.refusals
        if r.code == "VALUE_REFUSED"
        for source in (r.payload or {}).values()
    }
    checked = 0
    for w in decided.writes:
        if w.op not in ("create", "upsert"):
            continue
        source = w.hs_id if w.system is System.SALESFORCE else w.sf_id
        for m in obj.fields:
            target = m.salesforce if w.system is System.SALESFORCE else m.hubspot
            if (w.system, source, target) in refused:
                checked += 1
                assert m.key not in w.new_base, (w.system, source, target)
    assert checked, "the seed plants values refused on records that are created"


def test_the_kept_record_is_the_duplicate_rules_pick() -> None:
    data = seeded()
    people = [*data.salesforce["Lead"], *data.salesforce["Contact"]]
    by_key: dict[str | None, list[Record]] = {}
    for r in people:
        by_key.setdefault(r.key, []).append(r)
    groups = [g for g in by_key.values() if g]
    assert any(len(g) > 1 for g in groups) and any(len(g) == 1 for g in groups)
    for group in groups:
        for linked in (frozenset(), frozenset(r.id for r in group[1:])):
            picked, _ = choose([r.candidate() for r in group], linked=linked)
            assert _kept(group, linked=linked).id == picked.id
