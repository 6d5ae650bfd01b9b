"""CRM search: filter groups, one sort, `after` paging and the 10,000-result cap.

A request is parsed once into predicates (so a bad filter is refused before any record is read)
and then run over the live records of one type. Filter groups are OR-ed, filters in a group
AND-ed; datetimes compare as epoch milliseconds whichever form the caller sent; results are ordered
by the requested sort and then by id, so paging is stable.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.hubspot import schema
from sandbox.hubspot.errors import ApiError, validation
from sandbox.hubspot.store import Record
from sandbox.hubspot.values import as_text, comparable

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_LIMIT = 200
MAX_RESULTS = 10_000
MAX_SORTS = 1
DEFAULT_LIMIT = 10

Predicate = Callable[[Record], bool]
_BY_ID = operator.attrgetter("id")

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": operator.eq,
    "NEQ": operator.ne,
    "LT": operator.lt,
    "LTE": operator.le,
    "GT": operator.gt,
    "GTE": operator.ge,
}
_SET_OPERATORS = ("IN", "NOT_IN")
_PRESENCE = ("HAS_PROPERTY", "NOT_HAS_PROPERTY")
_TOKENS = ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN")
OPERATORS = (*_COMPARISONS, "BETWEEN", *_SET_OPERATORS, *_PRESENCE, *_TOKENS)
_SPLIT = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class SearchSpec:
    matches: Predicate
    sort: tuple[str, bool] | None
    properties: tuple[str, ...]
    limit: int
    after: int
    query: str


def value_of(record: Record, pdef: schema.PropertyDef) -> Any:
    """A record's value in comparable form, computed once per value (writes drop the cache)."""
    cache = record.cache
    name = pdef.name
    if name in cache:
        return cache[name]
    text = record.values.get(name, "")
    value = comparable(pdef, text) if text else None
    cache[name] = value
    return value


def _combine(groups: tuple[tuple[Predicate, ...], ...]) -> Predicate:
    """One predicate for the groups (OR of ANDs), without generator overhead for common shapes."""
    if not groups:
        return lambda _r: True
    if len(groups) == 1 and len(groups[0]) == 1:
        return groups[0][0]
    return lambda r: any(all(p(r) for p in group) for group in groups)


def parse(object_name: str, body: Any) -> SearchSpec:
    """Check a search body and build its predicates; every problem is a 400 naming the field."""
    if not isinstance(body, Mapping):
        raise validation("Invalid input JSON: the search request must be a JSON object")
    defs = schema.PROPERTIES[object_name]
    raw_groups = body.get("filterGroups") or []
    if body.get("filters") is not None and isinstance(raw_groups, list):
        raw_groups = [*raw_groups, {"filters": body["filters"]}]  # a top-level list is one group
    groups = _groups(raw_groups, defs)
    return SearchSpec(
        matches=_combine(groups),
        sort=_sort(body.get("sorts") or [], defs),
        properties=tuple(_strings(body.get("properties") or [], "properties")),
        limit=_limit(body.get("limit")),
        after=_after(body.get("after")),
        query=str(body.get("query") or "").strip().lower(),
    )


def run(
    spec: SearchSpec, records: Iterable[Record], object_name: str
) -> tuple[int, list[Record], int | None]:
    """(total matches, this page, next `after` or None); archived records never match."""
    ot = schema.OBJECT_TYPES[object_name]
    matches = spec.matches
    matched = [r for r in records if not r.archived and matches(r)]
    if spec.query:
        matched = [r for r in matched if _has_text(r, ot.search_text, spec.query)]
    matched.sort(key=_BY_ID)
    if spec.sort is not None:
        matched = _sorted(matched, schema.PROPERTIES[object_name][spec.sort[0]], spec.sort[1])
    end = min(spec.after + spec.limit, MAX_RESULTS)
    page = matched[spec.after : end]
    more = end < len(matched) and end < MAX_RESULTS
    return len(matched), page, (end if more else None)


def _sorted(records: list[Record], pdef: schema.PropertyDef, descending: bool) -> list[Record]:
    """Order id-sorted records by one property; records without a value sort as the greatest.

    The sort runs over indexes with the values list's own `__getitem__` as key (no Python call
    per comparison); Python's sort is stable even when reversed, so ties stay in id order.
    """
    present, missing = [], []
    for record in records:
        (missing if value_of(record, pdef) is None else present).append(record)
    values = [r.cache[pdef.name] for r in present]
    order = sorted(range(len(present)), key=values.__getitem__, reverse=descending)
    ordered = [present[i] for i in order]
    return missing + ordered if descending else ordered + missing


def _has_text(record: Record, fields: tuple[str, ...], query: str) -> bool:
    return any(query in record.values.get(f, "").lower() for f in fields)


# --------------------------------------------------------------------------- parsing


def _groups(raw: Any, defs: Mapping[str, schema.PropertyDef]) -> tuple[tuple[Predicate, ...], ...]:
    if not isinstance(raw, list):
        raise validation("Invalid input JSON: filterGroups must be an array")
    if len(raw) > MAX_GROUPS:
        raise validation(f"Too many filter groups: {len(raw)}; at most {MAX_GROUPS} are allowed")
    total = 0
    groups = []
    for index, group in enumerate(raw):
        filters = group.get("filters") if isinstance(group, Mapping) else None
        if not isinstance(filters, list):
            raise validation(f"Invalid input JSON: filterGroups[{index}].filters must be an array")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation(
                f"Too many filters in filterGroups[{index}]: {len(filters)}; at most "
                f"{MAX_FILTERS_PER_GROUP} are allowed per group"
            )
        total += len(filters)
        groups.append(tuple(_predicate(f, defs) for f in filters))
    if total > MAX_FILTERS:
        raise validation(f"Too many filters: {total}; at most {MAX_FILTERS} are allowed in total")
    return tuple(groups)


def _predicate(raw: Any, defs: Mapping[str, schema.PropertyDef]) -> Predicate:
    if not isinstance(raw, Mapping):
        raise validation("Invalid input JSON: each filter must be an object")
    name = raw.get("propertyName")
    op = str(raw.get("operator") or "").upper()
    if not isinstance(name, str) or not name:
        raise validation("Invalid filter: propertyName is required")
    if op not in OPERATORS:
        allowed = ", ".join(OPERATORS)
        raise validation(f"Invalid filter operator {raw.get('operator')!r}; use one of: {allowed}")
    pdef = defs.get(name)
    if pdef is None:
        raise validation(f"Invalid filter: property {name!r} does not exist")
    if op in _PRESENCE:
        return _presence(name, op == "HAS_PROPERTY")
    if op in _SET_OPERATORS:
        return _membership(pdef, op, raw)
    if op in _TOKENS:
        return _tokens(name, op, _required(raw, "value", name, op))
    if op == "BETWEEN":
        low = _target(pdef, _required(raw, "value", name, op), name)
        high = _target(pdef, _required(raw, "highValue", name, op), name)
        return _between(pdef, low, high)
    target = _target(pdef, _required(raw, "value", name, op), name)
    return _comparison(pdef, _COMPARISONS[op], target, negated=op == "NEQ")


def _required(raw: Mapping[str, Any], key: str, name: str, op: str) -> str:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and value == "" and op != "EQ"):
        raise validation(f"Invalid filter on {name}: operator {op} requires {key!r}")
    return as_text(value)


def _target(pdef: schema.PropertyDef, text: str, name: str) -> Any:
    value = comparable(pdef, text)
    if value is None:
        raise validation(f"Invalid filter on {name}: {text!r} is not a valid {pdef.type} value")
    return value


def _presence(name: str, wanted: bool) -> Predicate:
    if wanted:
        return lambda r: r.values.get(name, "") != ""
    return lambda r: r.values.get(name, "") == ""


def _comparison(
    pdef: schema.PropertyDef, compare: Callable[[Any, Any], bool], target: Any, *, negated: bool
) -> Predicate:

    def test(record: Record) -> bool:
        value = value_of(record, pdef)
        if value is None:
            return negated
        return compare(value, target)

    return test


def _between(pdef: schema.PropertyDef, low: Any, high: Any) -> Predicate:

    def test(record: Record) -> bool:
        value = value_of(record, pdef)
        return value is not None and low <= value <= high

    return test


def _membership(pdef: schema.PropertyDef, op: str, raw: Mapping[str, Any]) -> Predicate:
    values = raw.get("values")
    if not isinstance(values, list) or not values:
        raise validation(f"Invalid filter on {pdef.name}: operator {op} requires a 'values' array")
    if pdef.type == "string":
        # For string properties HubSpot lowercases the stored value only: IN and NOT_IN values
        # must be sent in lower case to match (enumeration values match exactly).
        targets = frozenset(as_text(v) for v in values)
    else:
        targets = frozenset(_target(pdef, as_text(v), pdef.name) for v in values)
    wanted = op == "IN"

    def test(record: Record) -> bool:
        return (value_of(record, pdef) in targets) == wanted

    return test


def _tokens(name: str, op: str, pattern: str) -> Predicate:
    pattern = pattern.lower()
    wanted = op == "CONTAINS_TOKEN"

    def test(record: Record) -> bool:
        text = record.values.get(name, "").lower()
        if "*" in pattern:
            hit = fnmatch.fnmatchcase(text, pattern) or any(
                fnmatch.fnmatchcase(t, pattern) for t in _SPLIT.split(text)
            )
        else:
            hit = text == pattern or pattern in _SPLIT.split(text)
        return hit == wanted

    return test


def _sort(raw: Any, defs: Mapping[str, schema.PropertyDef]) -> tuple[str, bool] | None:
    if not isinstance(raw, list):
        raise validation("Invalid input JSON: sorts must be an array")
    if len(raw) > MAX_SORTS:
        raise validation(f"Too many sorts: {len(raw)}; search sorts on {MAX_SORTS} property only")
    if not raw:
        return None
    item = raw[0]
    if isinstance(item, str):
        name, descending = item.lstrip("-"), item.startswith("-")
    elif isinstance(item, Mapping):
        name = str(item.get("propertyName") or "")
        direction = str(item.get("direction") or "ASCENDING").upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise validation(f"Invalid sort direction {direction!r}; use ASCENDING or DESCENDING")
        descending = direction == "DESCENDING"
    else:
        raise validation("Invalid input JSON: each sort must be a property name or an object")
    if name not in defs:
        raise validation(f"Invalid sort: property {name!r} does not exist")
    return name, descending


def _limit(raw: Any) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    number = _int(raw, "limit")
    if not 0 < number <= MAX_LIMIT:
        raise validation(f"limit must be between 1 and {MAX_LIMIT}, got {number}")
    return number


def _after(raw: Any) -> int:
    if raw in (None, ""):
        return 0
    number = _int(raw, "after")
    if number < 0:
        raise validation(f"after must be a non-negative paging cursor, got {raw!r}")
    if number >= MAX_RESULTS:
        raise ApiError(
            400,
            "VALIDATION_ERROR",
            f"after={number} is past the end: search returns at most {MAX_RESULTS} results per "
            "query; narrow the filters (for example on the last-modified date) to read further",
        )
    return number


def _int(raw: Any, field: str) -> int:
    try:
        return int(str(raw))
    except ValueError:
        raise validation(f"Invalid input JSON: {field} must be an integer, got {raw!r}") from None


def _strings(raw: Any, field: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise validation(f"Invalid input JSON: {field} must be an array of strings")
    return raw
