"""The plan's merge (`merge_pair` over a shared `MergeTable`) against the reference merge
(`merge_record`, field by field with `decide_field`): the same decisions and bases over seeded
records and odd values, whatever the rules, directions and bases, and whatever the remembered
reads hold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from seeded import EDGE_VALUES, Seeded, pairs, seeded, times, with_edge

from sync_engine import mapping
from sync_engine.config import FieldMapping, ObjectSync
from sync_engine.conflicts import (
    DISABLED,
    EQUAL,
    Action,
    FieldValue,
    MergeTable,
    PairMerge,
    field_rule,
    merge_pair,
    merge_record,
)
from sync_engine.mapping import TRANSFORMS, MappingContext
from sync_engine.models import Direction, Rule, Transform, direction_of

pytestmark = pytest.mark.unit

DIRECTIONS = list(Direction)
RULES = list(Rule)


def variant(obj: ObjectSync, name: str) -> ObjectSync:
    """obj with every field's rule, or direction, or the object's direction changed."""
    if name == "shipped":
        return obj
    if name.startswith("rule:"):
        rule = Rule(name.split(":", 1)[1])
        return replace(obj, fields=tuple(replace(m, rule=rule) for m in obj.fields))
    if name.startswith("object:"):
        return replace(obj, direction=Direction(name.split(":", 1)[1]))
    if name == "transforms":  # every transform over the seed's values, unmappable ones too
        transforms = list(Transform)
        fields = tuple(
            replace(m, transform=transforms[i % len(transforms)], value_map=None)
            for i, m in enumerate(obj.fields)
        )
        return replace(obj, fields=fields)
    fields = tuple(
        replace(m, direction=DIRECTIONS[i % 4], rule=RULES[(i + 1) % 4])
        for i, m in enumerate(obj.fields)
    )
    return replace(obj, fields=fields)


VARIANTS = [
    "shipped",
    *(f"rule:{r}" for r in Rule),
    *(f"object:{d}" for d in Direction if d is not Direction.TWO_WAY),
    "mixed",
    "transforms",
]

# Raw pairs whose canonical values differ though they compare equal: which side's value
# becomes the base is part of the decision.
ALIKE = (
    ("+1 (555) 010-2030", "15550102030"),
    ("false", None),
    (None, False),
    ("Partner referral", "partner  REFERRAL"),
    ("https://www.acme.com/", "acme.com"),
)


def bases(obj: ObjectSync, merged: Mapping[str, str | None], i: int) -> dict[str, str | None]:
    """A pair's last synced values: never synced, what the sides agree on now, other values
    (both sides changed), blanks, or a mix, turning with i."""
    keys = [m.key for m in obj.fields]
    kind = i % 5
    if kind == 0:
        return {}
    if kind == 1:
        return {k: v for k, v in merged.items() if v is not None}
    if kind == 2:
        return dict.fromkeys(keys, "something else")
    if kind == 3:
        return dict.fromkeys(keys, "")
    return {k: ("Web" if j % 2 else "") for j, k in enumerate(keys) if (i + j) % 3}


def reference(
    base: Mapping[str, str | None],
    hs: Mapping[str, Any],
    sf: Mapping[str, Any],
    obj: ObjectSync,
    sf_object: str,
    context: MappingContext,
    at: tuple[Any, Any],
) -> PairMerge:
    """What merge_pair must give: merge_record's decisions other than the agreed and disabled
    fields, and the bases its undecided fields move to (as the plan kept them before)."""
    merged = merge_record(
        base,
        {m.hubspot: FieldValue(hs.get(m.hubspot), at[0]) for m in obj.fields},
        {m.salesforce: FieldValue(sf.get(m.salesforce), at[1]) for m in obj.fields},
        obj,
        sf_object,
        context=context,
    )
    return PairMerge(
        decisions=tuple(d for d in merged.decisions if d.reason not in (EQUAL, DISABLED)),
        settled={
            d.field: d.new_base
            for d in merged.decisions
            if d.action is Action.NONE
            and d.new_base is not None
            and base.get(d.field) != d.new_base
        },
    )


def check_object(data: Seeded, obj: ObjectSync) -> Counter[str]:
    """merge_pair == reference for every seeded pair of obj, one table per Salesforce object
    and pipeline for all of them (as a plan shares it). Counts what was compared."""
    tables: dict[tuple[str, str | None], MergeTable] = {}
    names = [m.hubspot for m in obj.fields]
    sf_names = [m.salesforce for m in obj.fields]
    seen: Counter[str] = Counter()
    for i, (hs_record, sf_record) in enumerate(pairs(data, obj)):
        hs = with_edge(dict(hs_record.values), names, i)
        sf = with_edge(dict(sf_record.values), sf_names, i + 1)
        m = obj.fields[i % len(obj.fields)]
        if i % 11 == 0:  # the same raw value on both sides (one read serves both)
            hs[m.hubspot] = sf[m.salesforce] = EDGE_VALUES[i % len(EDGE_VALUES)]
        elif i % 11 == 5:
            hs[m.hubspot], sf[m.salesforce] = ALIKE[i % len(ALIKE)]
        at = times(i)
        context = data.context
        pipeline = hs.get("pipeline") if "pipeline" in names else None
        if pipeline:
            context = context.with_pipeline(str(pipeline))
        merged = merge_record(
            {},
            {m.hubspot: FieldValue(hs.get(m.hubspot), at[0]) for m in obj.fields},
            {m.salesforce: FieldValue(sf.get(m.salesforce), at[1]) for m in obj.fields},
            obj,
            sf_record.object,
            context=data.context,
        )
        base = bases(obj, merged.new_base, i)
        key = (sf_record.object, str(pipeline) if pipeline else None)
        table = tables.get(key) or tables.setdefault(
            key, MergeTable(obj, sf_record.object, context)
        )
        got = merge_pair(table, base, hs, sf, hs_at=at[0], sf_at=at[1])
        want = reference(base, hs, sf, obj, sf_record.object, data.context, at)
        assert got.decisions == want.decisions, (hs_record.id, sf_record.id)
        assert list(got.settled.items()) == list(want.settled.items()), (hs_record.id, sf_record.id)
        seen["pairs"] += 1
        seen["settled"] += len(got.settled)
        seen.update(d.action.value for d in got.decisions)
        seen.update("conflict" for d in got.decisions if d.conflict is not None)
        seen.update("issue" for d in got.decisions if d.issue is not None)
    return seen


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("object_name", ["contact", "company", "deal"])
def test_merge_pair_decides_as_merge_record(object_name: str, name: str) -> None:
    data = seeded()
    obj = data.config.object(object_name)
    assert obj is not None
    seen = check_object(data, variant(obj, name))
    assert seen["pairs"] > 30
    if name != "object:none":  # a disabled object decides nothing and keeps every base
        assert seen["settled"] > 0
    if name == "shipped":  # the comparison covers what decisions can be, not only agreement
        assert seen["write_salesforce"] + seen["write_hubspot"] > 0
        assert seen["conflict"] > 0 and seen["issue"] > 0


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_merge_pair_is_the_same_whatever_the_reads_remember(
    limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing remembered, one value, a few: the memo only saves work."""
    monkeypatch.setattr(mapping, "MEMO_LIMIT", limit)
    data = seeded()
    for object_name in ("contact", "company", "deal"):
        obj = data.config.object(object_name)
        assert obj is not None
        check_object(data, variant(obj, "mixed"))


@pytest.mark.parametrize("transform", list(Transform))
def test_symmetric_fields_read_the_same_text_alike_on_both_sides(transform: Transform) -> None:
    """merge_pair reads a string once when both sides hold it, for the fields it calls
    symmetric: for those the HubSpot and Salesforce reads of any string agree when they work."""
    field = FieldMapping("prop", "Field__c", transform=transform)
    rule = field_rule(field, Direction.TWO_WAY, seeded().context)
    codec = TRANSFORMS[transform]
    assert rule.symmetric == (
        transform is not Transform.OWNER_BY_EMAIL and codec.from_hubspot is codec.from_salesforce
    )
    for raw in (v for v in EDGE_VALUES if isinstance(v, str)):
        h_value, h_key = rule.read_hubspot(raw)
        s_value, s_key = rule.read_salesforce(raw)
        if rule.symmetric and h_value.ok:
            assert (s_value, s_key) == (h_value, h_key), raw


def test_value_mapped_fields_are_not_symmetric() -> None:
    data = seeded()
    contact = data.config.object("contact")
    assert contact is not None
    lead_source = next(m for m in contact.fields if m.hubspot == "lead_source")
    assert not field_rule(lead_source, Direction.TWO_WAY, data.context).symmetric
    owner = next(m for m in contact.fields if m.transform is Transform.OWNER_BY_EMAIL)
    assert not field_rule(owner, Direction.TWO_WAY, data.context).symmetric


def test_direction_caps_are_the_flows_both_allow() -> None:
    for own in Direction:
        for limit in Direction:
            expected = direction_of(
                to_salesforce=own.to_salesforce and limit.to_salesforce,
                to_hubspot=own.to_hubspot and limit.to_hubspot,
            )
            assert own.cap(limit) is expected
    assert Direction.TWO_WAY.to_salesforce and Direction.TWO_WAY.to_hubspot
    assert not Direction.NONE.to_salesforce and not Direction.NONE.to_hubspot
