"""Conversions remembered or specialised for the many records of one plan (`Memo`,
`ToSalesforce`, `ToHubSpot`, `canonical_reader`, `normalize_domain`'s plain hosts): the same
results as converting each value afresh, for values that are equal but convert differently
too, however little is remembered."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any
from urllib.parse import urlparse

import pytest
from seeded import EDGE_VALUES, salesforce_records, seeded, with_edge

from sync_engine import mapping
from sync_engine.config import FieldMapping, ObjectSync
from sync_engine.mapping import (
    _WWW,
    TRANSFORMS,
    Converted,
    MappedRecord,
    MappingContext,
    MappingIssue,
    Memo,
    ToHubSpot,
    ToSalesforce,
    canonical_from_hubspot,
    canonical_from_salesforce,
    canonical_reader,
    canonical_to_hubspot,
    canonical_to_salesforce,
    context_for_hubspot,
    context_for_salesforce,
    hubspot_to_salesforce,
    key_function,
    normalize_domain,
    pipeline_switch,
    precheck_salesforce,
    salesforce_to_hubspot,
)
from sync_engine.matching import _DOMAIN_PREFIX
from sync_engine.matching import normalize_domain as match_domain
from sync_engine.models import Direction, FieldMeta, System, Transform

pytestmark = pytest.mark.unit


def test_equal_values_of_other_types_are_remembered_apart() -> None:
    memo = Memo(repr)
    assert [memo(v) for v in (1, True, 1.0, "1", None, 0, False, 0.0, -0.0)] == [
        "1",
        "True",
        "1.0",
        "'1'",
        "None",
        "0",
        "False",
        "0.0",
        "-0.0",
    ]
    assert [memo(v) for v in (True, 1, "1", False, 0)] == ["True", "1", "'1'", "False", "0"]


def test_only_strings_none_ints_and_bools_are_kept() -> None:
    calls: list[Any] = []

    def convert(raw: Any) -> str:
        calls.append(raw)
        return repr(raw)

    memo = Memo(convert)
    for _ in range(2):
        for value in ("a", None, 3, True, 2.5, ["x"], {"k": 1}):
            memo(value)
    assert calls == ["a", None, 3, True, 2.5, ["x"], {"k": 1}, 2.5, ["x"], {"k": 1}]
    assert memo["a"] == "'a'" and memo[None] == "None"


def test_at_most_memo_limit_values_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mapping, "MEMO_LIMIT", 3)
    calls: list[Any] = []
    memo = Memo(lambda raw: calls.append(raw) or f"<{raw}>")
    values = ["a", "b", "c", "d", "e", 7]
    assert [memo(v) for v in values * 2] == [f"<{v}>" for v in values * 2]
    assert len(memo) == 3
    assert calls == [*values, "d", "e", 7]


def reference_to_salesforce(
    properties: Mapping[str, Any],
    obj: ObjectSync,
    sf_object: str,
    *,
    context: MappingContext,
    sf_fields: Mapping[str, FieldMeta] | None = None,
) -> MappedRecord:
    """hubspot_to_salesforce as it was before its conversions were remembered."""
    if context.pipeline is None and properties.get("pipeline"):
        context = context.with_pipeline(str(properties["pipeline"]))
    values: dict[str, Any] = {}
    issues: list[MappingIssue] = []
    for m in obj.mappings_for(sf_object):
        if not obj.effective_direction(m).to_salesforce:
            continue
        converted = canonical_from_hubspot(m, properties.get(m.hubspot), context)
        if converted.ok:
            converted = canonical_to_salesforce(m, converted.value, context)
        if converted.issue is None and sf_fields is not None:
            meta = sf_fields.get(m.salesforce)
            blank = converted.value in (None, "")
            problem = precheck_salesforce(meta, converted.value) if meta and not blank else None
            converted = Converted(
                converted.value, problem and replace(problem, source_field=m.hubspot)
            )
        if converted.issue is not None:
            issues.append(converted.issue)
        else:
            values[m.salesforce] = converted.value
    return MappedRecord(values, tuple(issues))


def reference_to_hubspot(
    record: Mapping[str, Any], obj: ObjectSync, sf_object: str, *, context: MappingContext
) -> MappedRecord:
    """salesforce_to_hubspot as it was before its conversions were remembered."""
    if context.pipeline is None:
        context = context.with_pipeline(dict(obj.hubspot_defaults).get("pipeline"))
    values: dict[str, Any] = {}
    issues: list[MappingIssue] = []
    for m in obj.mappings_for(sf_object):
        if not obj.effective_direction(m).to_hubspot:
            continue
        converted = canonical_from_salesforce(m, record.get(m.salesforce), context)
        if converted.ok:
            converted = canonical_to_hubspot(m, converted.value, context)
        if converted.issue is not None:
            issues.append(converted.issue)
        else:
            values[m.hubspot] = converted.value
    return MappedRecord(values, tuple(issues))


def two_way(obj: ObjectSync) -> ObjectSync:
    """obj with every field and the object itself two-way: every mapping converts both ways."""
    fields = tuple(replace(m, direction=Direction.TWO_WAY) for m in obj.fields)
    return replace(obj, direction=Direction.TWO_WAY, fields=fields)


@pytest.mark.parametrize("limit", [0, 2, None])
@pytest.mark.parametrize("object_name", ["contact", "company", "deal"])
def test_record_conversions_reused_across_records_are_the_reference(
    object_name: str, limit: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if limit is not None:
        monkeypatch.setattr(mapping, "MEMO_LIMIT", limit)
    data = seeded()
    shipped = data.config.object(object_name)
    assert shipped is not None
    obj = two_way(shipped)
    names = [m.hubspot for m in obj.fields]
    to_sf: dict[tuple[str, str | None], ToSalesforce] = {}
    compared = 0
    for i, hs in enumerate(data.hubspot[obj.hubspot_object]):
        values = with_edge(dict(hs.values), names, i)
        for sf_object in obj.targets:
            key = (sf_object, pipeline_switch(data.context, values))
            mapper = to_sf.get(key) or to_sf.setdefault(
                key,
                ToSalesforce(
                    obj,
                    sf_object,
                    context=context_for_hubspot(data.context, values),
                    sf_fields=data.sf_fields.get(sf_object),
                ),
            )
            want = reference_to_salesforce(
                values, obj, sf_object, context=data.context, sf_fields=data.sf_fields[sf_object]
            )
            assert mapper.map(values) == want
            assert (
                hubspot_to_salesforce(
                    values,
                    obj,
                    sf_object,
                    context=data.context,
                    sf_fields=data.sf_fields[sf_object],
                )
                == want
            )
            compared += 1
    to_hs = {
        name: ToHubSpot(obj, name, context=context_for_salesforce(data.context, obj))
        for name in obj.targets
    }
    sf_names = [m.salesforce for m in obj.fields]
    for i, sf in enumerate(salesforce_records(data, obj)):
        values = with_edge(dict(sf.values), sf_names, i)
        want = reference_to_hubspot(values, obj, sf.object, context=data.context)
        assert to_hs[sf.object].map(values) == want
        assert salesforce_to_hubspot(values, obj, sf.object, context=data.context) == want
        compared += 1
    assert compared > 50


def test_edge_values_cover_the_types_a_memo_tells_apart() -> None:
    kinds = {type(v) for v in EDGE_VALUES}
    assert {str, int, float, bool, type(None), list, dict} <= kinds


def reading_cases() -> list[Any]:
    """Raw values to read: the edge values and 500 of the seeded records' values."""
    data = seeded()
    found: dict[str, Any] = {repr(v): v for v in EDGE_VALUES}
    for records in (*data.hubspot.values(), *data.salesforce.values()):
        for record in records:
            for value in record.values.values():
                found.setdefault(repr(value), value)
    values = list(found.values())
    return [*EDGE_VALUES, *values[len(EDGE_VALUES) :: max(1, len(values) // 500)]]


@pytest.mark.parametrize("transform", list(Transform))
def test_canonical_readers_read_as_canonical_from(transform: Transform) -> None:
    data = seeded()
    plain = FieldMapping("prop", "Field__c", transform=transform)
    mappings = [
        plain,
        replace(plain, value_map="lead_source"),
        replace(plain, value_map="not_defined"),
        replace(
            plain,
            value_map="deal_stage_sales",
            pipeline_value_maps=(("75112203", "deal_stage_renewals"),),
        ),
        replace(plain, pipeline_value_maps=(("75112203", "deal_stage_renewals"),)),
    ]
    contexts = [data.context, *(data.context.with_pipeline(p) for p in ("default", "75112203"))]
    raws = reading_cases()
    for m in mappings:
        for context in contexts:
            from_hubspot = canonical_reader(m, context, System.HUBSPOT)
            from_salesforce = canonical_reader(m, context, System.SALESFORCE)
            for raw in raws:
                assert outcome(from_hubspot, raw) == outcome(
                    partial(canonical_from_hubspot, m, context=context), raw
                ), raw
                assert outcome(from_salesforce, raw) == outcome(
                    partial(canonical_from_salesforce, m, context=context), raw
                ), raw


def outcome(read: Callable[[Any], Converted], raw: Any) -> Any:
    """What read gives, or the exception it raises (a domain like "[x]" makes urlparse raise)."""
    try:
        return read(raw)
    except ValueError as exc:
        return (type(exc), str(exc))


@pytest.mark.parametrize("transform", list(Transform))
def test_key_functions_compare_as_documented(transform: Transform) -> None:
    plain = FieldMapping("prop", "Field__c", transform=transform)
    mapped = replace(plain, pipeline_value_maps=(("default", "deal_stage_sales"),))
    for canonical in (None, "", " Closed  Won ", "+1 (555) 010-2030", "true", "ÄBC"):
        assert key_function(mapped)(canonical) == " ".join((canonical or "").split()).casefold()
        assert key_function(plain)(canonical) == TRANSFORMS[transform].key(canonical)


def reference_domain(value: Any, *, match_key: bool = False) -> str | None:
    """normalize_domain as it was: every value through urlparse; what urlparse cannot read is
    kept as typed by mapping's, no match key at all for matching's (`match_key`)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    try:
        host = urlparse(text if "://" in text else f"//{text}").hostname or ""
    except ValueError:
        return None if match_key else text
    if match_key:
        host = _DOMAIN_PREFIX.sub("", host.rstrip("."))
        return host if "." in host else None
    host = _WWW.sub("", host.rstrip("."))
    return host or None


DOMAINS = [
    "acme.com",
    "https://www.Acme.com/about",
    "http://acme.com",
    "HTTPS://WWW2.ACME.CO.UK/",
    "acme.com/path/to?x=1#top",
    "acme.com/redirect?u=http://other.com",
    "acme.com?x=1",
    "acme.com:8080",
    "https://acme.com:8080/x",
    "user@acme.com",
    "https://user:pw@acme.com/",
    "ftp://acme.com",
    "1http://acme.com",
    "://acme.com",
    "//acme.com",
    "www.",
    "www.acme.com.",
    "acme..com",
    ".acme.com",
    "-acme-.com",
    "xn--bcher-kva.example",
    "bücher.example",
    "acme_corp.com",
    "acme.com/a b",
    "acme.com/\\tx",
    "[not provided]",
    "[::1]",
    "https://[::1]/",
    "a",
    "123.45.67.89",
    "http://",
    "https:///acme.com",
    "   ",
]


def test_plain_domains_read_as_urlparse_reads_them() -> None:
    """Both readers of domains (values synced by mapping, match keys by matching)."""
    rng = random.Random(5)
    alphabet = "ab.-/:@?#[]_ 9wWhHtTpPsS"
    fuzz = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))) for _ in range(4000)]
    fuzz += [f"https://{v}" for v in fuzz[:500]] + [f"www.{v}" for v in fuzz[500:1000]]
    seeded_sites = [
        r.values.get(name)
        for records in seeded().hubspot.values()
        for r in records
        for name in ("domain", "website")
    ] + [r.values.get("Website") for r in seeded().salesforce["Account"]]
    for value in [*DOMAINS, *fuzz, *seeded_sites, None, 7]:
        assert outcome(normalize_domain, value) == outcome(reference_domain, value), value
        match_key = outcome(partial(reference_domain, match_key=True), value)
        assert outcome(match_domain, value) == match_key, value
