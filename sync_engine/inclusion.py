"""The inclusion list: which HubSpot contacts may be pushed to Salesforce.

Criteria are data: a `Criterion(property, operator, value)` or a `Group` of criteria and groups
joined by AND or OR (the dashboard's criteria builder edits exactly this). Values are compared by
the HubSpot property's type (`PropertyMeta`), so "hubspotscore >= 50" compares numbers and a date
criterion compares instants; `validate_criteria` refuses a criterion its property cannot answer.

Two evaluators give the same answers: `matches` for one record (the engine) and `evaluate_frame`
over a pandas DataFrame (the live preview over 100,000 contacts). The frame evaluator runs the same
scalar predicate once per distinct value of a column and broadcasts it with numpy, so agreement is
by construction and the cost follows the number of distinct values, not of rows.

Blank values (missing, None, "", NaN) never satisfy eq/gt/gte/lt/lte/between/in/contains and always
satisfy neq/not_in: a contact without a lifecycle stage is "not a customer".
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sync_engine.models import PropertyMeta

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class Operator(StrEnum):
    EQ = "eq"
    NEQ = "neq"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    HAS_PROPERTY = "has_property"
    NOT_HAS_PROPERTY = "not_has_property"
    BETWEEN = "between"
    IN_LIST = "in_list"


class Join(StrEnum):
    AND = "and"
    OR = "or"


@dataclass(frozen=True)
class Criterion:
    """One test: `property operator value`. value is a scalar, a tuple (in, not_in, between) or
    None (has_property, not_has_property); for in_list it is the HubSpot list's name or id."""

    property: str
    operator: Operator
    value: Any = None


@dataclass(frozen=True)
class Group:
    """criteria and sub-groups joined by `join`. An empty AND group matches everyone and an empty
    OR group no one, so the config loader refuses empty groups below the top level."""

    join: Join = Join.AND
    criteria: tuple[Criterion, ...] = ()
    groups: tuple[Group, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.criteria and not self.groups


InclusionCriteria = Group

# Which operators each HubSpot property type can answer. Data, not branches.
OPERATORS_BY_TYPE: dict[str, frozenset[Operator]] = {
    "number": frozenset(
        {
            Operator.EQ,
            Operator.NEQ,
            Operator.GT,
            Operator.GTE,
            Operator.LT,
            Operator.LTE,
            Operator.IN,
            Operator.NOT_IN,
            Operator.BETWEEN,
            Operator.HAS_PROPERTY,
            Operator.NOT_HAS_PROPERTY,
        }
    ),
    "date": frozenset(
        {
            Operator.EQ,
            Operator.NEQ,
            Operator.GT,
            Operator.GTE,
            Operator.LT,
            Operator.LTE,
            Operator.BETWEEN,
            Operator.HAS_PROPERTY,
            Operator.NOT_HAS_PROPERTY,
        }
    ),
    "enumeration": frozenset(
        {
            Operator.EQ,
            Operator.NEQ,
            Operator.IN,
            Operator.NOT_IN,
            Operator.CONTAINS,
            Operator.HAS_PROPERTY,
            Operator.NOT_HAS_PROPERTY,
        }
    ),
    "string": frozenset(
        {
            Operator.EQ,
            Operator.NEQ,
            Operator.IN,
            Operator.NOT_IN,
            Operator.CONTAINS,
            Operator.HAS_PROPERTY,
            Operator.NOT_HAS_PROPERTY,
        }
    ),
    "bool": frozenset(
        {Operator.EQ, Operator.NEQ, Operator.HAS_PROPERTY, Operator.NOT_HAS_PROPERTY}
    ),
}
OPERATORS_BY_TYPE["datetime"] = OPERATORS_BY_TYPE["date"]

LIST_OPERATORS = frozenset({Operator.IN, Operator.NOT_IN})
NO_VALUE_OPERATORS = frozenset({Operator.HAS_PROPERTY, Operator.NOT_HAS_PROPERTY})
BLANK_MATCHES = frozenset({Operator.NEQ, Operator.NOT_IN, Operator.NOT_HAS_PROPERTY})
SYMBOLS: dict[Operator, str] = {
    Operator.EQ: "=",
    Operator.NEQ: "!=",
    Operator.GT: ">",
    Operator.GTE: ">=",
    Operator.LT: "<",
    Operator.LTE: "<=",
}

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EPOCH_MS = re.compile(r"-?\d{6,}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# ---------------------------------------------------------------- value coercion (one place)


def text_of(value: Any) -> str | None:
    """The stripped text of a value, or None when it is blank (None, NaN, empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def as_number(value: Any) -> float | None:
    """A HubSpot number property's value as a float; None when blank or not a number."""
    text = text_of(value)
    if text is None or not _NUMBER.fullmatch(text):
        return None
    return float(text)


def as_epoch_ms(value: Any) -> float | None:
    """A date/datetime as epoch milliseconds (UTC): HubSpot sends ISO strings or epoch ms."""
    text = text_of(value)
    if text is None:
        return None
    if _EPOCH_MS.fullmatch(text):
        return float(text)
    try:
        if _DATE.fullmatch(text):
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


def as_bool(value: Any) -> bool | None:
    """HubSpot booleans are the strings "true"/"false"."""
    text = text_of(value)
    if text is None:
        return None
    return {"true": True, "false": False}.get(text.casefold())


def as_text(value: Any) -> str | None:
    """Strings and enumerations compare case-insensitively, as HubSpot's own filters do."""
    text = text_of(value)
    return None if text is None else text.casefold()


COERCE: dict[str, Callable[[Any], Any]] = {
    "number": as_number,
    "date": as_epoch_ms,
    "datetime": as_epoch_ms,
    "bool": as_bool,
    "string": as_text,
    "enumeration": as_text,
}


# ---------------------------------------------------------------- resolving types


def property_type(criterion: Criterion, properties: Mapping[str, PropertyMeta] | None) -> str:
    """The type a criterion compares by: the property's, else guessed from the value."""
    if properties and criterion.property in properties:
        kind = properties[criterion.property].type
        return kind if kind in COERCE else "string"
    sample = criterion.value[0] if isinstance(criterion.value, tuple) else criterion.value
    if isinstance(sample, bool):
        return "bool"
    if isinstance(sample, int | float):
        return "number"
    return "string"


def _predicate(criterion: Criterion, kind: str) -> Callable[[Any], bool]:
    """A function of one raw property value answering the criterion."""
    coerce = COERCE[kind]
    op = criterion.operator
    if op is Operator.HAS_PROPERTY:
        return lambda raw: text_of(raw) is not None
    if op is Operator.NOT_HAS_PROPERTY:
        return lambda raw: text_of(raw) is None
    values = criterion.value if isinstance(criterion.value, tuple) else (criterion.value,)
    wanted = tuple(coerce(v) for v in values)
    test = _COMPARE[op]
    on_blank = op in BLANK_MATCHES

    def check(raw: Any) -> bool:
        value = coerce(raw)
        if value is None:
            return on_blank
        return test(value, wanted)

    return check


def _safe(fn: Callable[[Any, Any], bool]) -> Callable[[Any, tuple[Any, ...]], bool]:
    """Comparisons with an uncoercible criterion value are False rather than a TypeError."""

    def run(value: Any, wanted: tuple[Any, ...]) -> bool:
        if any(w is None for w in wanted):
            return False
        return fn(value, wanted)

    return run


_COMPARE: dict[Operator, Callable[[Any, tuple[Any, ...]], bool]] = {
    Operator.EQ: _safe(lambda v, w: v == w[0]),
    Operator.NEQ: lambda v, w: w[0] is None or v != w[0],
    Operator.GT: _safe(lambda v, w: v > w[0]),
    Operator.GTE: _safe(lambda v, w: v >= w[0]),
    Operator.LT: _safe(lambda v, w: v < w[0]),
    Operator.LTE: _safe(lambda v, w: v <= w[0]),
    Operator.IN: lambda v, w: v in w,
    Operator.NOT_IN: lambda v, w: v not in w,
    Operator.CONTAINS: _safe(lambda v, w: str(w[0]) in str(v)),
    Operator.BETWEEN: _safe(lambda v, w: len(w) == 2 and w[0] <= v <= w[1]),
}


# ---------------------------------------------------------------- per-record evaluation


def matches(
    criteria: Group | Criterion,
    record_properties: Mapping[str, Any],
    *,
    properties: Mapping[str, PropertyMeta] | None = None,
    record_id: str | None = None,
    memberships: Mapping[str, Collection[str]] | None = None,
) -> bool:
    """True when the record qualifies. memberships maps a list name or id to its member ids
    (record_id defaults to the record's hs_object_id)."""
    test = matcher(criteria, properties=properties, memberships=memberships)
    return test(record_properties, record_id)


Matcher = Callable[[Mapping[str, Any], str | None], bool]


def matcher(
    criteria: Group | Criterion,
    *,
    properties: Mapping[str, PropertyMeta] | None = None,
    memberships: Mapping[str, Collection[str]] | None = None,
) -> Matcher:
    """`matches` as a function of (record properties, record id), each criterion's type and
    predicate worked out once: the engine asks it of every changed contact."""
    if isinstance(criteria, Criterion):
        if criteria.operator is Operator.IN_LIST:
            members = (memberships or {}).get(str(criteria.value), ())

            def in_list(values: Mapping[str, Any], record_id: str | None) -> bool:
                rid = record_id if record_id is not None else values.get("hs_object_id")
                return text_of(rid) is not None and str(rid).strip() in members

            return in_list
        check = _predicate(criteria, property_type(criteria, properties))
        name = criteria.property
        return lambda values, _record_id: check(values.get(name))
    parts = [
        matcher(item, properties=properties, memberships=memberships)
        for item in (*criteria.criteria, *criteria.groups)
    ]
    if criteria.join is Join.AND:
        return lambda values, record_id: all(part(values, record_id) for part in parts)
    return lambda values, record_id: any(part(values, record_id) for part in parts)


# ---------------------------------------------------------------- vectorised evaluation


def evaluate_frame(
    criteria: Group | Criterion,
    df: pd.DataFrame,
    *,
    properties: Mapping[str, PropertyMeta] | None = None,
    memberships: Mapping[str, Collection[str]] | None = None,
    id_column: str = "hs_object_id",
) -> pd.Series:
    """A boolean Series (aligned with df) equal to `matches` row by row, computed per column.

    Record ids for in_list come from id_column, or the index when df has no such column.
    """
    import pandas as pd

    mask = _frame_mask(criteria, df, properties, memberships or {}, id_column)
    return pd.Series(mask, index=df.index, dtype=bool)


def _frame_mask(
    criteria: Group | Criterion,
    df: pd.DataFrame,
    properties: Mapping[str, PropertyMeta] | None,
    memberships: Mapping[str, Collection[str]],
    id_column: str,
) -> np.ndarray:
    import numpy as np

    if isinstance(criteria, Criterion):
        if criteria.operator is Operator.IN_LIST:
            ids = df[id_column] if id_column in df.columns else df.index.to_series()
            members = set(memberships.get(str(criteria.value), ()))
            return _per_distinct(
                ids, lambda raw: text_of(raw) is not None and str(raw).strip() in members
            )
        if criteria.property not in df.columns:
            return np.full(len(df), _predicate(criteria, property_type(criteria, properties))(None))
        kind = property_type(criteria, properties)
        return _per_distinct(df[criteria.property], _predicate(criteria, kind))
    items = (*criteria.criteria, *criteria.groups)
    join = np.logical_and if criteria.join is Join.AND else np.logical_or
    result = np.full(len(df), criteria.join is Join.AND)
    for item in items:
        result = join(result, _frame_mask(item, df, properties, memberships, id_column))
    return result


def _per_distinct(column: pd.Series, predicate: Callable[[Any], bool]) -> np.ndarray:
    """predicate over each distinct value of column, broadcast back to rows.

    Values are turned into text first so that 1, 1.0 and True (equal as hash keys) cannot be
    folded together by factorize before the predicate sees them.
    """
    import numpy as np
    import pandas as pd

    texts = column.map(text_of, na_action="ignore") if column.dtype == object else column
    codes, uniques = pd.factorize(texts, use_na_sentinel=True)
    answers = np.fromiter((predicate(u) for u in uniques), dtype=bool, count=len(uniques))
    blank = predicate(None)
    looked_up = np.append(answers, blank)
    return looked_up[np.where(codes < 0, len(answers), codes)]


# ---------------------------------------------------------------- validation


def shape_problem(criterion: Criterion) -> str | None:
    """What is wrong with a criterion's shape, whatever its property's type (None when fine)."""
    op, value = criterion.operator, criterion.value
    if op is Operator.IN_LIST:
        return None if text_of(value) else "in_list needs the HubSpot list's name or id as value"
    if not criterion.property:
        return f"{op} needs a property"
    if op in NO_VALUE_OPERATORS:
        return None if value is None else f"{op} takes no value; remove value"
    if op in LIST_OPERATORS:
        if not isinstance(value, tuple) or not value:
            return f'{op} needs a non-empty list of values, e.g. value = ["a", "b"]'
        return None
    if op is Operator.BETWEEN:
        if not isinstance(value, tuple) or len(value) != 2:
            return "between needs two values [low, high]"
        return None
    if value is None or isinstance(value, tuple):
        return f"{op} needs a single value"
    return None


def criteria_problems(
    criteria: Group | Criterion,
    properties: Mapping[str, PropertyMeta],
    *,
    lists: Collection[str] | None = None,
    path: tuple[str | int, ...] = (),
) -> list[tuple[tuple[str | int, ...], str]]:
    """(path, message) for every criterion its property cannot answer; path names the item as
    in sync.toml (groups[0].criteria[1])."""
    if isinstance(criteria, Criterion):
        message = _criterion_problem(criteria, properties, lists)
        return [(path, message)] if message else []
    found: list[tuple[tuple[str | int, ...], str]] = []
    for i, item in enumerate(criteria.criteria):
        found += criteria_problems(item, properties, lists=lists, path=(*path, "criteria", i))
    for i, group in enumerate(criteria.groups):
        found += criteria_problems(group, properties, lists=lists, path=(*path, "groups", i))
    return found


def validate_criteria(
    criteria: Group | Criterion,
    properties: Mapping[str, PropertyMeta],
    *,
    lists: Collection[str] | None = None,
) -> list[str]:
    """One readable message per problem ("groups[0].criteria[1]: hubspotscore >= 'abc': ...");
    an empty list means the criteria can be evaluated. lists: known list names and ids."""
    return [
        f"{render_path(path)}: {message}" if path else message
        for path, message in criteria_problems(criteria, properties, lists=lists)
    ]


def render_path(path: tuple[str | int, ...]) -> str:
    """('groups', 0, 'criteria', 1) -> 'groups[0].criteria[1]'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def describe(criterion: Criterion) -> str:
    """The criterion as a person reads it: hubspotscore >= 50."""
    symbol = SYMBOLS.get(criterion.operator, criterion.operator.value)
    if criterion.operator in NO_VALUE_OPERATORS:
        return f"{criterion.property} {symbol}"
    if criterion.operator is Operator.IN_LIST:
        return f"in_list {criterion.value!r}"
    value = list(criterion.value) if isinstance(criterion.value, tuple) else criterion.value
    return f"{criterion.property} {symbol} {value!r}"


def _criterion_problem(
    criterion: Criterion,
    properties: Mapping[str, PropertyMeta],
    lists: Collection[str] | None,
) -> str | None:
    shape = shape_problem(criterion)
    if shape:
        return f"{describe(criterion)}: {shape}"
    if criterion.operator is Operator.IN_LIST:
        if lists is not None and str(criterion.value) not in lists:
            known = ", ".join(sorted(lists)) or "none"
            return f"{describe(criterion)}: no HubSpot list by that name or id; known: {known}"
        return None
    meta = properties.get(criterion.property)
    if meta is None:
        close = difflib.get_close_matches(criterion.property, list(properties), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return (
            f"{describe(criterion)}: HubSpot has no contact property {criterion.property!r}{hint}"
        )
    kind = meta.type if meta.type in COERCE else "string"
    allowed = OPERATORS_BY_TYPE[kind]
    if criterion.operator not in allowed:
        ops = ", ".join(sorted(o.value for o in allowed))
        return f"{describe(criterion)}: {meta.name} is a {kind} property; use one of {ops}"
    return _value_problem(criterion, meta, kind)


_VALUE_HINTS: dict[str, str] = {
    "number": "a number",
    "date": "a date like 2026-01-31 or epoch milliseconds",
    "datetime": "a datetime like 2026-01-31T09:00:00Z or epoch milliseconds",
    "bool": "true or false",
}


def _value_problem(criterion: Criterion, meta: PropertyMeta, kind: str) -> str | None:
    if criterion.operator in NO_VALUE_OPERATORS:
        return None
    values = criterion.value if isinstance(criterion.value, tuple) else (criterion.value,)
    coerce = COERCE[kind]
    for value in values:
        bad = (isinstance(value, bool) and kind == "number") or coerce(value) is None
        if bad and kind in _VALUE_HINTS:
            return (
                f"{describe(criterion)}: {value!r} is not {_VALUE_HINTS[kind]}; "
                f"{meta.name} is a {kind} property"
            )
        if kind == "enumeration" and criterion.operator is not Operator.CONTAINS:
            options = {o.casefold(): o for o in meta.options}
            if meta.options and str(value).strip().casefold() not in options:
                allowed = ", ".join(meta.options)
                return (
                    f"{describe(criterion)}: {value!r} is not an option of {meta.name}; "
                    f"use one of {allowed}"
                )
    if criterion.operator is Operator.BETWEEN:
        low, high = (coerce(v) for v in values)
        if low is not None and high is not None and low > high:
            return f"{describe(criterion)}: the low bound is above the high bound; swap them"
    return None
