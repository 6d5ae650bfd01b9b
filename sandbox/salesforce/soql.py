"""SOQL for the Salesforce emulator: parse a query against the org's schema, then run it over rows.

The engine and simple-salesforce send SOQL exactly as they would to a real org, so the emulator is
only worth having if it answers, and refuses, the way Salesforce does: case-insensitive keywords
and names, canonical field names in the answer, Salesforce's null and string semantics, and the
same error codes and messages (`MALFORMED_QUERY` with a row/column caret, `INVALID_FIELD`,
`INVALID_TYPE`, `INVALID_QUERY_FILTER_OPERATOR`, `NUMBER_OUTSIDE_VALID_RANGE`).

Parsing happens in two passes, as Salesforce does: syntax first (so a typo in a keyword is reported
before an unknown field), then names and literal types against the schema. `execute` compiles the
WHERE clause into closures once per call; datetimes are compared as normalised UTC strings
(`2026-11-28T20:49:32.000+0000` sorts lexically in time order), so stored values are not parsed per
row when they are already in Salesforce's own format.

Semantics chosen from the SOQL reference (and noted where it is silent):
- `=`, `!=`, `IN`, `NOT IN` and `LIKE` on text are case-insensitive; `LIKE` takes text fields only.
- null is a value for equality: `F = null` matches empty fields and `F != 'x'` / `NOT IN` include
  them; `<`, `<=`, `>`, `>=` and `LIKE` never match an empty field. On a boolean field `= null`
  means `= false` (booleans are never null in Salesforce); on a text field `= ''` means `= null`
  (Salesforce stores blank text as null).
- AND and OR may not be mixed without parentheses (`unexpected token: 'OR'`).
- ORDER BY sorts text case-insensitively; null sorts as the lowest value, so ASC puts nulls first
  and DESC puts them last unless NULLS FIRST/LAST says otherwise.
- Date literals (TODAY, LAST_N_DAYS:n, ...) are day ranges in UTC; `LAST_N_DAYS:n` includes today.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache, reduce
from itertools import islice
from typing import Any, Protocol

from sandbox.salesforce.ids import KEY_PREFIXES, is_valid_id, to_18

MAX_OFFSET = 2000
_PREFIX_OBJECTS = {prefix: sobject for sobject, prefix in KEY_PREFIXES.items()}

Record = Mapping[str, Any]
Lookup = Callable[[str, str], Record | None]
Test = Callable[[Any], bool]
Predicate = Callable[[Record], bool]


class SoqlError(Exception):
    """A query Salesforce would refuse; the REST layer answers 400 with `to_json()`."""

    def __init__(
        self, error_code: str, message: str, *, row: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message
        self.row = row
        self.column = column

    def to_json(self) -> list[dict[str, str]]:
        """The body Salesforce's REST API returns for a refused query."""
        return [{"message": self.message, "errorCode": self.error_code}]


class SchemaResolver(Protocol):
    """What the parser needs to know about the org's objects (the emulator's describe data)."""

    def canonical_object(self, name: str) -> str | None: ...

    def field_type(self, sobject: str, field: str) -> str | None: ...

    def canonical_field(self, sobject: str, field: str) -> str: ...

    def relationship_target(self, sobject: str, relationship: str) -> tuple[str, str] | None: ...


# --------------------------------------------------------------------------------------------
# The parsed, resolved query
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    """One step up a parent relationship: Lead -(Owner via OwnerId)-> User."""

    relationship: str
    reference_field: str
    target: str


@dataclass(frozen=True)
class FieldPath:
    """A field of the queried object or, through hops, of a parent; names are canonical."""

    hops: tuple[Hop, ...]
    field: str
    type: str

    @property
    def name(self) -> str:
        return ".".join([*(h.relationship for h in self.hops), self.field])


@dataclass(frozen=True)
class Aggregate:
    """`COUNT(field)` in the select list; its result key is the alias or `expr<N>`."""

    function: str
    path: FieldPath
    alias: str


@dataclass(frozen=True)
class Literal:
    """A value in WHERE. kind: string, number, boolean, null, date, datetime or relative.

    date values are `YYYY-MM-DD`; datetime values are normalised to UTC
    `YYYY-MM-DDThh:mm:ss.sss+0000`; relative values are (name, n) such as ("LAST_N_DAYS", 30).
    escaped: indexes of `%`/`_` characters written as `\\%`/`\\_` (literal characters in LIKE).
    """

    kind: str
    value: Any
    escaped: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Comparison:
    path: FieldPath
    operator: str
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Junction:
    operator: str
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Negation:
    item: Condition


Condition = Comparison | Junction | Negation


@dataclass(frozen=True)
class OrderKey:
    path: FieldPath
    descending: bool
    nulls_first: bool


@dataclass(frozen=True)
class Query:
    """A query resolved against the schema; `fields` are the canonical select-list names."""

    text: str
    sobject: str
    columns: tuple[FieldPath | Aggregate, ...]
    where: Condition | None
    order_by: tuple[OrderKey, ...]
    limit: int | None
    offset: int | None
    is_count: bool

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(c.alias if isinstance(c, Aggregate) else c.name for c in self.columns)

    @property
    def is_aggregate(self) -> bool:
        return any(isinstance(c, Aggregate) for c in self.columns)


# --------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<unterminated>'(?:[^'\\]|\\.)*\\?$)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<baddate>\d{4}-\d{2}-\d{2}T[\w:.+-]*)
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))
  | (?P<nliteral>[A-Za-z_]+:\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {
    "n": "\n",
    "N": "\n",
    "r": "\r",
    "R": "\r",
    "t": "\t",
    "T": "\t",
    "b": "\b",
    "B": "\b",
    "f": "\f",
    "F": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}
_LIKE_ESCAPES = frozenset("%_")
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)

# Reserved words: never a field or object name.
_KEYWORDS = frozenset(
    {
        *("SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "NULL", "TRUE", "FALSE"),
        *("ORDER", "BY", "ASC", "DESC", "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET"),
        *("GROUP", "HAVING", "WITH", "FOR", "USING"),
    }
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int
    value: Any = None
    escaped: frozenset[int] = frozenset()

    @property
    def upper(self) -> str:
        return self.text.upper()

    def is_kw(self, *words: str) -> bool:
        return self.kind == "ident" and self.upper in words


def _error_at(text: str, pos: int, code: str, detail: str) -> SoqlError:
    """Build Salesforce's error message: the query line, a caret, row/column, then the detail."""
    row = text.count("\n", 0, pos) + 1
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    line = text[start : len(text) if end == -1 else end]
    column = pos - start + 1
    lo = max(0, column - 1 - 60)
    snippet = line[lo : column - 1 + 60]
    caret = " " * (column - 1 - lo) + "^"
    message = f"\n{snippet}\n{caret}\nERROR at Row:{row}:Column:{column}\n{detail}"
    return SoqlError(code, message, row=row, column=column)


def _decode_string(text: str, tok_pos: int, body: str) -> tuple[str, frozenset[int]]:
    """Apply SOQL's backslash escapes; remember where `\\%` and `\\_` put a literal wildcard."""
    out: list[str] = []
    escaped: set[int] = set()
    last = 0
    for match in _ESCAPE_RE.finditer(body):
        out.append(body[last : match.start()])
        seq = match.group(1)
        if seq in _ESCAPES:
            out.append(_ESCAPES[seq])
        elif seq in _LIKE_ESCAPES:
            escaped.add(sum(map(len, out)))
            out.append(seq)
        elif seq.startswith("u") and len(seq) == 5:
            out.append(chr(int(seq[1:], 16)))
        else:
            raise _error_at(
                text,
                tok_pos + 1 + match.start(),
                "MALFORMED_QUERY",
                f"Invalid string literal '{body}'. Illegal character sequence '\\{seq}' in "
                "string literal.",
            )
        last = match.end()
    out.append(body[last:])
    return "".join(out), frozenset(escaped)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            bad = re.match(r"\S+", text[pos:])
            raise _error_at(
                text, pos, "MALFORMED_QUERY", f"unexpected token: '{bad.group() if bad else ''}'"
            )
        kind = match.lastgroup or ""
        chunk = match.group()
        if kind == "unterminated":
            raise _error_at(
                text,
                len(text),
                "MALFORMED_QUERY",
                f"line 1:{len(text)} mismatched character '<EOF>' expecting '''",
            )
        if kind == "baddate":
            raise _error_at(text, pos, "MALFORMED_QUERY", f"unexpected token: '{chunk}'")
        if kind == "string":
            value, escaped = _decode_string(text, pos, chunk[1:-1])
            tokens.append(_Token(kind, chunk, pos, value, escaped))
        elif kind != "ws":
            tokens.append(_Token(kind, chunk, pos))
        pos = match.end()
    tokens.append(_Token("eof", "<EOF>", len(text)))
    return tokens


# --------------------------------------------------------------------------------------------
# Syntax pass: tokens -> raw tree (names unresolved, tokens kept for error positions)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RawCount:
    token: _Token
    argument: _Token | None
    alias: _Token | None


@dataclass(frozen=True)
class _RawComparison:
    field: _Token
    operator: str
    values: tuple[_Token, ...]


@dataclass(frozen=True)
class _RawJunction:
    operator: str
    items: tuple[_RawCondition, ...]


@dataclass(frozen=True)
class _RawNegation:
    item: _RawCondition


_RawCondition = _RawComparison | _RawJunction | _RawNegation


@dataclass(frozen=True)
class _RawOrder:
    field: _Token
    descending: bool
    nulls_first: bool | None


@dataclass(frozen=True)
class _RawQuery:
    columns: tuple[_Token | _RawCount, ...]
    sobject: _Token
    where: _RawCondition | None
    order_by: tuple[_RawOrder, ...]
    limit: _Token | None
    offset: _Token | None


class _Parser:
    """Recursive descent over the SOQL subset; every refusal names the offending token."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def unexpected(self, token: _Token | None = None) -> SoqlError:
        token = token or self.peek
        return _error_at(
            self.text, token.pos, "MALFORMED_QUERY", f"unexpected token: '{token.text}'"
        )

    def expect_kw(self, word: str) -> _Token:
        if not self.peek.is_kw(word):
            raise self.unexpected()
        return self.take()

    def expect_punct(self, char: str) -> _Token:
        if self.peek.text != char or self.peek.kind != "punct":
            raise self.unexpected()
        return self.take()

    def name(self) -> _Token:
        """A field or object name: an identifier that is not a reserved word."""
        if self.peek.kind != "ident" or self.peek.upper in _KEYWORDS:
            raise self.unexpected()
        return self.take()

    def query(self) -> _RawQuery:
        self.expect_kw("SELECT")
        columns = self.select_list()
        self.expect_kw("FROM")
        sobject = self.name()
        where = self.where() if self.peek.is_kw("WHERE") else None
        order = self.order_by() if self.peek.is_kw("ORDER") else ()
        limit = self.count_clause("LIMIT")
        offset = self.count_clause("OFFSET")
        if self.peek.kind != "eof":
            raise self.unexpected()
        return _RawQuery(columns, sobject, where, order, limit, offset)

    def select_list(self) -> tuple[_Token | _RawCount, ...]:
        columns = [self.select_item()]
        while self.peek.text == ",":
            self.take()
            columns.append(self.select_item())
        return tuple(columns)

    def select_item(self) -> _Token | _RawCount:
        token = self.name()
        if self.peek.text != "(":
            return token
        if token.upper != "COUNT":
            raise self.unexpected()
        self.take()
        argument = None if self.peek.text == ")" else self.name()
        self.expect_punct(")")
        alias = None
        if argument is not None and self.peek.kind == "ident" and self.peek.upper not in _KEYWORDS:
            alias = self.take()
        return _RawCount(token, argument, alias)

    def where(self) -> _RawCondition:
        self.take()
        return self.condition()

    def condition(self) -> _RawCondition:
        """Terms joined by one kind of operator; mixing AND and OR needs parentheses."""
        items = [self.unary()]
        joiner: str | None = None
        while self.peek.is_kw("AND", "OR"):
            if joiner is not None and self.peek.upper != joiner:
                raise self.unexpected()
            joiner = self.take().upper
            items.append(self.unary())
        return items[0] if joiner is None else _RawJunction(joiner, tuple(items))

    def unary(self) -> _RawCondition:
        if self.peek.is_kw("NOT"):
            self.take()
            return _RawNegation(self.unary())
        if self.peek.text == "(" and self.peek.kind == "punct":
            self.take()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> _RawComparison:
        field = self.name()
        token = self.peek
        if token.kind == "op":
            self.take()
            operator = "!=" if token.text == "<>" else token.text
            return _RawComparison(field, operator, (self.value(),))
        if token.is_kw("LIKE"):
            self.take()
            return _RawComparison(field, "LIKE", (self.value(),))
        if token.is_kw("IN"):
            self.take()
            return _RawComparison(field, "IN", self.value_list())
        if token.is_kw("NOT"):
            self.take()
            self.expect_kw("IN")
            return _RawComparison(field, "NOT IN", self.value_list())
        raise self.unexpected()

    def value_list(self) -> tuple[_Token, ...]:
        self.expect_punct("(")
        values = [self.value()]
        while self.peek.text == ",":
            self.take()
            values.append(self.value())
        self.expect_punct(")")
        return tuple(values)

    def value(self) -> _Token:
        token = self.peek
        if token.kind in ("string", "number", "date", "datetime", "nliteral"):
            return self.take()
        if token.kind == "ident" and (
            token.upper in ("TRUE", "FALSE", "NULL") or token.upper in _RELATIVE_DATES
        ):
            return self.take()
        raise self.unexpected()

    def order_by(self) -> tuple[_RawOrder, ...]:
        self.take()
        self.expect_kw("BY")
        keys = [self.order_key()]
        while self.peek.text == ",":
            self.take()
            keys.append(self.order_key())
        return tuple(keys)

    def order_key(self) -> _RawOrder:
        field = self.name()
        descending = False
        if self.peek.is_kw("ASC", "DESC"):
            descending = self.take().upper == "DESC"
        nulls_first: bool | None = None
        if self.peek.is_kw("NULLS"):
            self.take()
            if not self.peek.is_kw("FIRST", "LAST"):
                raise self.unexpected()
            nulls_first = self.take().upper == "FIRST"
        return _RawOrder(field, descending, nulls_first)

    def count_clause(self, word: str) -> _Token | None:
        if not self.peek.is_kw(word):
            return None
        self.take()
        if self.peek.kind != "number" or not self.peek.text.isdigit():
            raise self.unexpected()
        return self.take()


# --------------------------------------------------------------------------------------------
# Names and literal types: raw tree -> Query
# --------------------------------------------------------------------------------------------

_TEXT_TYPES = frozenset(
    {
        "string",
        "textarea",
        "email",
        "phone",
        "url",
        "picklist",
        "multipicklist",
        "combobox",
        "encryptedstring",
    }
)
_CATEGORY = {
    **dict.fromkeys(_TEXT_TYPES, "text"),
    "id": "id",
    "reference": "id",
    "int": "number",
    "double": "number",
    "currency": "number",
    "percent": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
}
# Literal kinds each category accepts (null is accepted everywhere) and the type Salesforce names
# in "must be of type X" errors.
_ACCEPTS = {
    "text": frozenset({"string"}),
    "id": frozenset({"string"}),
    "number": frozenset({"number"}),
    "boolean": frozenset({"boolean"}),
    "date": frozenset({"date", "relative"}),
    "datetime": frozenset({"datetime", "relative"}),
    "other": frozenset({"string", "number", "boolean", "date", "datetime"}),
}
_TYPE_LABEL = {
    "text": "string",
    "id": "id",
    "boolean": "boolean",
    "date": "date",
    "datetime": "dateTime",
    "other": "string",
}
_NUMBER_LABEL = {"int": "integer"}
_QUOTED_CATEGORIES = frozenset({"text", "id", "other"})

_NO_COLUMN = (
    "No such column '{field}' on entity '{sobject}'. If you are attempting to use a custom field, "
    "be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
    "describe call for the appropriate names."
)
_NO_RELATIONSHIP = (
    "Didn't understand relationship '{name}' in field path. If you are attempting to use a custom "
    "relationship, be sure to append the '__r' after the custom relationship name. Please "
    "reference your WSDL or the describe call for the appropriate names."
)
_NO_TYPE = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure "
    "to append the '__c' after the entity name. Please reference your WSDL or the describe call "
    "for the appropriate names."
)


def _category(field_type: str) -> str:
    return _CATEGORY.get(field_type, "other")


def _type_label(field_type: str) -> str:
    """The type name Salesforce uses in filter errors: string, id, integer, double, dateTime..."""
    category = _category(field_type)
    if category == "number":
        return _NUMBER_LABEL.get(field_type, "double")
    return _TYPE_LABEL[category]


def _relationship_name(reference_field: str) -> str:
    """OwnerId -> Owner, ConvertedContactId -> ConvertedContact, Partner__c -> Partner__r."""
    if reference_field.endswith("__c"):
        return reference_field[:-3] + "__r"
    if reference_field.lower().endswith("id"):
        return reference_field[:-2]
    return reference_field


class _Resolver:
    """Turns the raw tree into a Query, checking names and literal types like Salesforce does."""

    def __init__(self, text: str, schema: SchemaResolver) -> None:
        self.text = text
        self.schema = schema

    def fail(self, token: _Token, code: str, detail: str) -> SoqlError:
        return _error_at(self.text, token.pos, code, detail)

    def query(self, raw: _RawQuery) -> Query:
        sobject = self.schema.canonical_object(raw.sobject.text)
        if sobject is None:
            raise self.fail(raw.sobject, "INVALID_TYPE", _NO_TYPE.format(name=raw.sobject.text))
        columns = self.columns(raw.columns, sobject)
        is_count = any(isinstance(c, _RawCount) and c.argument is None for c in raw.columns)
        offset = int(raw.offset.text) if raw.offset else None
        if offset is not None and offset > MAX_OFFSET:
            raise SoqlError(
                "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
            )
        return Query(
            text=self.text,
            sobject=sobject,
            columns=columns,
            where=self.condition(raw.where, sobject) if raw.where else None,
            order_by=tuple(self.order_key(o, sobject) for o in raw.order_by),
            limit=int(raw.limit.text) if raw.limit else None,
            offset=offset,
            is_count=is_count,
        )

    def columns(
        self, raw: tuple[_Token | _RawCount, ...], sobject: str
    ) -> tuple[FieldPath | Aggregate, ...]:
        bare_count = [c for c in raw if isinstance(c, _RawCount) and c.argument is None]
        if bare_count and len(raw) > 1:
            raise self.fail(bare_count[0].token, "MALFORMED_QUERY", "unexpected token: 'COUNT'")
        if bare_count:
            return ()
        columns: list[FieldPath | Aggregate] = []
        seen: set[str] = set()
        for item in raw:
            column = self.column(item, sobject, len(columns))
            key = column.alias if isinstance(column, Aggregate) else column.name
            if key.lower() in seen:
                token = item.token if isinstance(item, _RawCount) else item
                raise self.fail(token, "MALFORMED_QUERY", f"duplicate field selected: {key}")
            seen.add(key.lower())
            columns.append(column)
        self.check_grouping(raw, columns)
        return tuple(columns)

    def column(self, item: _Token | _RawCount, sobject: str, index: int) -> FieldPath | Aggregate:
        if isinstance(item, _Token):
            return self.path(item, sobject)
        assert item.argument is not None
        alias = item.alias.text if item.alias else f"expr{index}"
        return Aggregate("COUNT", self.path(item.argument, sobject), alias)

    def check_grouping(self, raw: tuple[_Token | _RawCount, ...], columns: list[Any]) -> None:
        """Without GROUP BY, aggregates and plain fields cannot share a select list."""
        if not any(isinstance(c, Aggregate) for c in columns):
            return
        for item, column in zip(raw, columns, strict=True):
            if isinstance(column, FieldPath):
                assert isinstance(item, _Token)
                raise self.fail(
                    item,
                    "MALFORMED_QUERY",
                    f"Field must be grouped or aggregated: {column.name}",
                )

    def path(self, token: _Token, sobject: str) -> FieldPath:
        """Resolve `Field` or `Rel.Rel.Field` to canonical names, following parent relationships."""
        parts = token.text.split(".")
        if (
            len(parts) > 1
            and parts[0].lower() == sobject.lower()
            and self.schema.relationship_target(sobject, parts[0]) is None
        ):
            parts = parts[1:]
        hops: list[Hop] = []
        current = sobject
        for part in parts[:-1]:
            target = self.schema.relationship_target(current, part)
            if target is None:
                raise self.fail(
                    token, "INVALID_FIELD", _NO_RELATIONSHIP.format(name=".".join(parts[:-1]))
                )
            parent, reference = target
            canonical_ref = self.schema.canonical_field(current, reference)
            hops.append(Hop(_relationship_name(canonical_ref), canonical_ref, parent))
            current = parent
        field_type = self.schema.field_type(current, parts[-1])
        if field_type is None:
            raise self.fail(
                token, "INVALID_FIELD", _NO_COLUMN.format(field=parts[-1], sobject=current)
            )
        return FieldPath(tuple(hops), self.schema.canonical_field(current, parts[-1]), field_type)

    def order_key(self, raw: _RawOrder, sobject: str) -> OrderKey:
        nulls_first = (not raw.descending) if raw.nulls_first is None else raw.nulls_first
        return OrderKey(self.path(raw.field, sobject), raw.descending, nulls_first)

    def condition(self, raw: _RawCondition, sobject: str) -> Condition:
        if isinstance(raw, _RawJunction):
            return Junction(raw.operator, tuple(self.condition(i, sobject) for i in raw.items))
        if isinstance(raw, _RawNegation):
            return Negation(self.condition(raw.item, sobject))
        path = self.path(raw.field, sobject)
        category = _category(path.type)
        if raw.operator == "LIKE" and category != "text":
            label = _type_label(path.type)
            raise self.fail(
                raw.field, "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on {label} field"
            )
        values = tuple(self.literal(v, path, raw.operator) for v in raw.values)
        return Comparison(path, raw.operator, values)

    def literal(self, token: _Token, path: FieldPath, operator: str) -> Literal:
        literal = self.raw_literal(token)
        category = _category(path.type)
        if literal.kind == "null":
            # Booleans are never null in Salesforce: `= null` means `= false`.
            return Literal("boolean", False) if category == "boolean" else literal
        if literal.kind not in _ACCEPTS[category] or (
            operator == "LIKE" and literal.kind != "string"
        ):
            raise self.type_error(token, path, category)
        if category == "id":
            if not is_valid_id(literal.value):
                raise self.fail(
                    token, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {literal.value}"
                )
            return Literal("string", to_18(literal.value))
        if category == "text" and literal.value == "" and operator != "LIKE":
            # Salesforce stores a blank text field as null, so '' filters like null.
            return Literal("null", None)
        if literal.escaped and operator != "LIKE":
            raise self.fail(
                token,
                "MALFORMED_QUERY",
                f"Invalid string literal {token.text}. Illegal character sequence "
                "'\\%' or '\\_' outside a LIKE expression.",
            )
        return literal

    def type_error(self, token: _Token, path: FieldPath, category: str) -> SoqlError:
        label = _type_label(path.type)
        quotes = "should be" if category in _QUOTED_CATEGORIES else "should not be"
        return self.fail(
            token,
            "INVALID_QUERY_FILTER_OPERATOR",
            f"value of filter criterion for field '{path.field}' must be of type {label} "
            f"and {quotes} enclosed in quotes",
        )

    def raw_literal(self, token: _Token) -> Literal:
        if token.kind == "string":
            return Literal("string", token.value, token.escaped)
        if token.kind == "number":
            text = token.text
            number: float = float(text) if ("." in text) else int(text)
            return Literal("number", number)
        if token.kind == "date":
            try:
                return Literal("date", date.fromisoformat(token.text).isoformat())
            except ValueError:
                raise self.fail(token, "MALFORMED_QUERY", f"invalid date: {token.text}") from None
        if token.kind == "datetime":
            normalised = _normalise_datetime(token.text)
            if normalised is None:
                raise self.fail(token, "MALFORMED_QUERY", f"invalid dateTime: {token.text}")
            return Literal("datetime", normalised)
        return self.word_literal(token)

    def word_literal(self, token: _Token) -> Literal:
        """TRUE/FALSE/NULL and the relative date literals (`TODAY`, `LAST_N_DAYS:30`)."""
        if token.upper in ("TRUE", "FALSE"):
            return Literal("boolean", token.upper == "TRUE")
        if token.upper == "NULL":
            return Literal("null", None)
        name, _, n_text = token.upper.partition(":")
        takes_n = name in _N_DATE_LITERALS
        if name not in _RELATIVE_DATES or takes_n != bool(n_text):
            raise self.fail(token, "MALFORMED_QUERY", f"unexpected token: '{token.text}'")
        return Literal("relative", (name, int(n_text) if n_text else 0))


def parse(text: str, schema: SchemaResolver) -> Query:
    """Parse and resolve one SOQL query; raises SoqlError exactly where Salesforce would."""
    raw = _Parser(text).query()
    return _Resolver(text, schema).query(raw)


# --------------------------------------------------------------------------------------------
# Values: datetimes, date literals, normalisers
# --------------------------------------------------------------------------------------------

_DATETIME_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE
)


@lru_cache(maxsize=262_144)
def _normalise_datetime(text: str) -> str | None:
    """Any Salesforce/ISO datetime -> UTC `YYYY-MM-DDThh:mm:ss.sss+0000`; None if malformed."""
    match = _DATETIME_RE.match(text)
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    millis = (fraction or "0")[:3].ljust(3, "0")
    zone = "+00:00" if zone in (None, "Z", "z") else zone
    if ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}.{millis}{zone}").astimezone(UTC)
    except ValueError:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "+0000"


def _datetime_key(value: Any) -> Any:
    """Comparable key of a stored datetime; Salesforce's own format is already one."""
    if isinstance(value, str):
        if len(value) == 28 and value.endswith("+0000"):
            return value
        return _normalise_datetime(value) or value
    return value


def _text_key(value: Any) -> Any:
    """Salesforce compares and sorts text by its upper-case form (English locale)."""
    return value.upper() if isinstance(value, str) else value


def _identity(value: Any) -> Any:
    return value


_NORMALISERS: dict[str, Callable[[Any], Any]] = {
    "text": _text_key,
    "datetime": _datetime_key,
}


def _week_start(day: date) -> date:
    """Weeks start on Sunday in the en_US locale the sandbox org uses."""
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _month_start(day: date, months: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


_DAY = timedelta(days=1)

# Relative date literals: today, n -> [first day, day after the last day).
_RELATIVE_DATES: dict[str, Callable[[date, int], tuple[date, date]]] = {
    "YESTERDAY": lambda t, n: (t - _DAY, t),
    "TODAY": lambda t, n: (t, t + _DAY),
    "TOMORROW": lambda t, n: (t + _DAY, t + 2 * _DAY),
    "LAST_WEEK": lambda t, n: (_week_start(t) - 7 * _DAY, _week_start(t)),
    "THIS_WEEK": lambda t, n: (_week_start(t), _week_start(t) + 7 * _DAY),
    "NEXT_WEEK": lambda t, n: (_week_start(t) + 7 * _DAY, _week_start(t) + 14 * _DAY),
    "LAST_MONTH": lambda t, n: (_month_start(t, -1), _month_start(t)),
    "THIS_MONTH": lambda t, n: (_month_start(t), _month_start(t, 1)),
    "NEXT_MONTH": lambda t, n: (_month_start(t, 1), _month_start(t, 2)),
    "LAST_90_DAYS": lambda t, n: (t - 90 * _DAY, t + _DAY),
    "NEXT_90_DAYS": lambda t, n: (t + _DAY, t + 91 * _DAY),
    "LAST_YEAR": lambda t, n: (date(t.year - 1, 1, 1), date(t.year, 1, 1)),
    "THIS_YEAR": lambda t, n: (date(t.year, 1, 1), date(t.year + 1, 1, 1)),
    "NEXT_YEAR": lambda t, n: (date(t.year + 1, 1, 1), date(t.year + 2, 1, 1)),
    "LAST_N_DAYS": lambda t, n: (t - n * _DAY, t + _DAY),
    "NEXT_N_DAYS": lambda t, n: (t + _DAY, t + (n + 1) * _DAY),
    "N_DAYS_AGO": lambda t, n: (t - n * _DAY, t - (n - 1) * _DAY),
}
_N_DATE_LITERALS = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO"})


def _relative_range(literal: Literal, category: str, today: date) -> tuple[str, str]:
    """The literal's [start, end) as comparable keys of a date or datetime field."""
    name, n = literal.value
    start, end = _RELATIVE_DATES[name](today, n)
    if category == "datetime":
        return f"{start.isoformat()}T00:00:00.000+0000", f"{end.isoformat()}T00:00:00.000+0000"
    return start.isoformat(), end.isoformat()


def _literal_key(literal: Literal, category: str) -> Any:
    return _text_key(literal.value) if category == "text" else literal.value


# --------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------


class _Rows:
    """Per-execution state: the parent lookup with a cache (many rows share an owner)."""

    def __init__(self, lookup: Lookup, today: date) -> None:
        self.lookup = lookup
        self.today = today
        self._parents: dict[tuple[str, str], tuple[str, Record] | None] = {}

    def parent(self, record: Record, hop: Hop) -> tuple[str, Record] | None:
        """The parent's object name and record; a polymorphic reference (Task.WhoId) is typed
        by its id's key prefix."""
        parent_id = record.get(hop.reference_field)
        if not parent_id:
            return None
        key = (_PREFIX_OBJECTS.get(parent_id[:3], hop.target), parent_id)
        if key not in self._parents:
            found = self.lookup(*key)
            self._parents[key] = None if found is None else (key[0], found)
        return self._parents[key]

    def getter(self, path: FieldPath) -> Callable[[Record], Any]:
        name = path.field
        if not path.hops:
            return lambda record: record.get(name)
        hops = path.hops

        def through_parents(record: Record) -> Any:
            current = record
            for hop in hops:
                parent = self.parent(current, hop)
                if parent is None:
                    return None
                current = parent[1]
            return current.get(name)

        return through_parents


def _scalar_test(operator: str, key: Any, normalise: Callable[[Any], Any]) -> Test:
    tests: dict[str, Test] = {
        "=": lambda v: v is not None and normalise(v) == key,
        "!=": lambda v: v is None or normalise(v) != key,
        "<": lambda v: v is not None and normalise(v) < key,
        "<=": lambda v: v is not None and normalise(v) <= key,
        ">": lambda v: v is not None and normalise(v) > key,
        ">=": lambda v: v is not None and normalise(v) >= key,
    }
    return tests[operator]


def _range_test(operator: str, lo: str, hi: str, normalise: Callable[[Any], Any]) -> Test:
    """A date literal is a range: `=` inside it, `<` before its start, `>` after its end."""
    tests: dict[str, Callable[[Any], bool]] = {
        "=": lambda k: lo <= k < hi,
        "!=": lambda k: not lo <= k < hi,
        "<": lambda k: k < lo,
        "<=": lambda k: k < hi,
        ">": lambda k: k >= hi,
        ">=": lambda k: k >= lo,
    }
    within = tests[operator]
    if operator == "!=":
        return lambda v: v is None or within(normalise(v))
    return lambda v: v is not None and within(normalise(v))


def _like_test(literal: Literal) -> Test:
    """`%` is any run, `_` one character, `\\%`/`\\_` themselves; case-insensitive, whole value."""
    if literal.kind == "null":
        return lambda v: False
    text: str = literal.value
    parts = []
    for index, char in enumerate(text):
        if index in literal.escaped:
            parts.append(re.escape(char))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    pattern = re.compile("".join(parts), re.IGNORECASE | re.DOTALL)
    return lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None


def _in_test(comparison: Comparison, category: str, today: date) -> Test:
    normalise = _NORMALISERS.get(category, _identity)
    keys = set()
    ranges = []
    has_null = False
    for literal in comparison.values:
        if literal.kind == "null":
            has_null = True
        elif literal.kind == "relative":
            ranges.append(_relative_range(literal, category, today))
        else:
            keys.add(_literal_key(literal, category))

    def member(v: Any) -> bool:
        if v is None:
            return has_null
        k = normalise(v)
        return k in keys or any(lo <= k < hi for lo, hi in ranges)

    if comparison.operator == "IN":
        return member
    return lambda v: not member(v)


def _value_test(comparison: Comparison, today: date) -> Test:
    category = _category(comparison.path.type)
    operator = comparison.operator
    if operator == "LIKE":
        return _like_test(comparison.values[0])
    if operator in ("IN", "NOT IN"):
        return _in_test(comparison, category, today)
    literal = comparison.values[0]
    normalise = _NORMALISERS.get(category, _identity)
    if literal.kind == "relative":
        lo, hi = _relative_range(literal, category, today)
        return _range_test(operator, lo, hi, normalise)
    if literal.kind == "null":
        null_tests: dict[str, Test] = {"=": lambda v: v is None, "!=": lambda v: v is not None}
        return null_tests.get(operator, lambda v: False)
    return _scalar_test(operator, _literal_key(literal, category), normalise)


def _compile(condition: Condition, rows: _Rows) -> Predicate:
    """Turn the WHERE tree into nested closures once, so each row costs only the calls it needs."""
    if isinstance(condition, Negation):
        inner = _compile(condition.item, rows)
        return lambda record: not inner(record)
    if isinstance(condition, Junction):
        parts = [_compile(item, rows) for item in condition.items]
        if condition.operator == "AND":
            return reduce(lambda a, b: lambda r: a(r) and b(r), parts)
        return reduce(lambda a, b: lambda r: a(r) or b(r), parts)
    get = rows.getter(condition.path)
    test = _value_test(condition, rows.today)
    if condition.path.type == "boolean":
        return lambda record: test(bool(get(record)))
    return lambda record: test(get(record))


def _sorted(records: list[Record], order_by: tuple[OrderKey, ...], rows: _Rows) -> list[Record]:
    """Stable multi-key sort: one pass per key, least significant first."""
    for key in reversed(order_by):
        get = rows.getter(key.path)
        normalise = _NORMALISERS.get(_category(key.path.type), _identity)
        # After an optional reversal nulls must land where nulls_first says.
        null_rank, value_rank = (0, 1) if key.nulls_first != key.descending else (1, 0)

        def sort_key(
            record: Record,
            get: Callable[[Record], Any] = get,
            normalise: Callable[[Any], Any] = normalise,
            null_rank: int = null_rank,
            value_rank: int = value_rank,
        ) -> tuple[int, Any]:
            value = get(record)
            return (null_rank, None) if value is None else (value_rank, normalise(value))

        records.sort(key=sort_key, reverse=key.descending)
    return records


def _matching(query: Query, records: Iterable[Record], rows: _Rows) -> list[Record]:
    """The rows the WHERE keeps, in ORDER BY order, after OFFSET and LIMIT."""
    selected: Iterator[Record] | Iterable[Record] = records
    if query.where is not None:
        selected = filter(_compile(query.where, rows), records)
    start = query.offset or 0
    stop = None if query.limit is None else start + query.limit
    if not query.order_by:
        return list(islice(selected, start, stop))
    ordered = _sorted(list(selected), query.order_by, rows)
    return ordered[start:stop]


def _render_plan(paths: Iterable[FieldPath]) -> dict[str, Any]:
    """Group selected paths into a tree: parent fields nest under their relationship name."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for hop in path.hops:
            entry = node.get(hop.relationship)
            if entry is None:
                entry = node[hop.relationship] = (hop, {})
            node = entry[1]
        node.setdefault(path.field, None)
    return tree


def _render(
    tree: dict[str, Any], record: Record, sobject: str, rows: _Rows, base_url: str
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attributes": {"type": sobject, "url": f"{base_url}{sobject}/{record.get('Id')}"}
    }
    for key, entry in tree.items():
        if entry is None:
            out[key] = record.get(key)
            continue
        hop, subtree = entry
        parent = rows.parent(record, hop)
        if parent is None:
            out[key] = None
        else:
            out[key] = _render(subtree, parent[1], parent[0], rows, base_url)
    return out


def _aggregate(query: Query, records: list[Record], rows: _Rows) -> list[dict[str, Any]]:
    """COUNT(field) without GROUP BY: one AggregateResult row counting non-null values."""
    row: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
    for column in query.columns:
        assert isinstance(column, Aggregate)
        get = rows.getter(column.path)
        row[column.alias] = sum(1 for record in records if get(record) is not None)
    return [row]


def execute(
    query: Query,
    records: Iterable[Record],
    *,
    lookup: Lookup,
    today: date,
    api_version: str = "59.0",
) -> list[dict[str, Any]]:
    """Run query over the stored rows of query.sobject; rows come back in Salesforce's JSON shape.

    records: already filtered for visibility and IsDeleted, keyed by canonical field names.
    lookup(object, id): the parent record for relationship paths, or None.
    A `SELECT COUNT()` query returns no rows: use count() for its totalSize.
    """
    if query.is_count:
        return []
    rows = _Rows(lookup, today)
    if query.is_aggregate:
        unlimited = replace(query, order_by=(), limit=None, offset=None)
        return _aggregate(query, _matching(unlimited, records, rows), rows)[: query.limit]
    matched = _matching(query, records, rows)
    tree = _render_plan(c for c in query.columns if isinstance(c, FieldPath))
    base_url = f"/services/data/v{api_version}/sobjects/"
    return [_render(tree, record, query.sobject, rows, base_url) for record in matched]


def count(query: Query, records: Iterable[Record], *, lookup: Lookup, today: date) -> int:
    """How many rows the query yields (WHERE, then OFFSET and LIMIT): `SELECT COUNT()`'s answer."""
    rows = _Rows(lookup, today)
    predicate = _compile(query.where, rows) if query.where is not None else None
    total = sum(1 for record in records if predicate is None or predicate(record))
    total = max(0, total - (query.offset or 0))
    return total if query.limit is None else min(total, query.limit)
