"""Checks on a record body, as pure functions over the schema.

Two stages, as in Salesforce: `parse_body` deserializes (unknown field or a value of the wrong
JSON type fails the whole request), then the per-record checks produce the errors a SaveResult
carries (field permissions, lengths, picklists, email format, required fields).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sandbox.salesforce import errors
from sandbox.salesforce.errors import SfError
from sandbox.salesforce.schema import FieldSpec, ProfileSpec, Schema
from sandbox.salesforce.values import coerce, is_valid_email, number_fits

_LENGTH_CHECKED = frozenset({"string", "textarea", "email", "phone", "url", "combobox"})
_NUMERIC = frozenset({"int", "double", "currency", "percent"})


def parse_body(schema: Schema, sobject: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical field names to stored values; `attributes` is metadata and is dropped."""
    values: dict[str, Any] = {}
    for name, raw in body.items():
        if name == "attributes":
            continue
        spec = schema.field(sobject, name)
        if spec is None:
            raise errors.invalid_field_column(sobject, name)
        values[spec.name] = coerce(spec, raw)
    return values


def not_writable(
    schema: Schema,
    sobject: str,
    names: Iterable[str],
    profile: ProfileSpec,
    *,
    creating: bool,
) -> list[str]:
    """Fields the caller may not set: system fields, and fields their profile makes read-only."""
    blocked = []
    for name in names:
        if name == "Id":
            continue
        spec = schema.field(sobject, name)
        assert spec is not None
        allowed = spec.createable if creating else spec.updateable
        if not allowed or not profile.can_edit(sobject, name):
            blocked.append(name)
    return blocked


def value_errors(schema: Schema, sobject: str, values: Mapping[str, Any]) -> list[SfError]:
    """Length, email, restricted-picklist and numeric-range errors, in body order."""
    found: list[SfError] = []
    for name, value in values.items():
        spec = schema.field(sobject, name)
        if spec is None or value is None:
            continue
        error = _value_error(spec, value)
        if error is not None:
            found.append(error)
    return found


def _value_error(spec: FieldSpec, value: Any) -> SfError | None:
    if spec.type in _LENGTH_CHECKED and spec.length and len(value) > spec.length:
        return errors.string_too_long(spec.label, spec.name, value, spec.length)
    if spec.type == "email" and not is_valid_email(value):
        return errors.invalid_email(spec.label, spec.name, value)
    if spec.type == "picklist" and spec.restricted and value not in spec.picklist_values():
        return errors.bad_restricted_picklist(spec.label, spec.name, value)
    if spec.type in _NUMERIC and not number_fits(spec, value):
        return SfError(
            "NUMBER_OUTSIDE_VALID_RANGE",
            f"{spec.label}: value outside of valid range on numeric field: {value}",
            (spec.name,),
        )
    return None


def missing_required(
    schema: Schema, sobject: str, record: Mapping[str, Any], *, touched: Iterable[str] | None
) -> list[str]:
    """Required fields left empty: on create every one, on update only those the body clears.

    A defaulted non-nillable field (Lead Status, Task Priority) cannot be cleared either.
    """
    names = None if touched is None else set(touched)
    missing = []
    for spec in schema.fields(sobject):
        if names is not None and spec.name not in names:
            continue
        needs_value = spec.required or (
            names is not None and not spec.nillable and spec.type != "boolean"
        )
        if needs_value and spec.createable and record.get(spec.name) in (None, ""):
            missing.append(spec.name)
    return missing
