"""Field values on the wire: Salesforce's date/datetime formats and request-body coercion.

Records are stored exactly as the API returns them (datetimes as `2026-11-28T20:49:32.000+0000`,
dates as `2026-11-28`, numbers as JSON numbers), so reads need no conversion and SOQL compares
stored values directly. Coercion mirrors Salesforce's JSON deserializer: a value of the wrong JSON
type fails the whole request with JSON_PARSER_ERROR before any record is touched.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from sandbox.salesforce.errors import ApiError, json_parser_error
from sandbox.salesforce.schema import FieldSpec

# Salesforce's documented email rules (help article 000384328, "Email Address Format Technical
# Standards Validation"): the RFC characters, and with Email Address Internationalization (on by
# default in orgs created since Summer '20) non-Latin characters in the local part and the
# domain; a local part may be an RFC quoted string; consecutive dots are allowed in the middle
# and at the end of a dot-atom local part, never at its start.
_INTL = "\u00a1-\U0010ffff"  # non-Latin characters (EAI); not the C1 controls or no-break space
_ATOM_CHARS = rf"A-Za-z0-9!#$%&'*+/=?^_`{{|}}~{_INTL}-"
_LABEL = rf"[A-Za-z0-9{_INTL}](?:[A-Za-z0-9{_INTL}-]{{0,61}}[A-Za-z0-9{_INTL}])?"
_LOCAL = rf'(?:[{_ATOM_CHARS}][{_ATOM_CHARS}.]*|"(?:[^"\\\r\n]|\\.)+")'
_EMAIL = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TEXT_TYPES = frozenset(
    {"string", "textarea", "email", "phone", "url", "picklist", "combobox", "id", "reference"}
)
_FLOAT_TYPES = frozenset({"double", "currency", "percent"})


def sf_datetime(moment: datetime) -> str:
    """Format as Salesforce writes datetimes: UTC, whole seconds, `+0000` offset."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def sf_date(day: date) -> str:
    return day.isoformat()


def parse_sf_datetime(text: str) -> datetime:
    """Parse any ISO-8601 datetime Salesforce accepts; a missing offset means UTC."""
    if "T" not in text:
        raise ValueError(f"not a datetime: {text}")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def is_valid_email(value: str) -> bool:
    return bool(_EMAIL.match(value)) and len(value) <= 80 * 3


def _token(raw: Any) -> str:
    """The Jackson token name Salesforce's deserializer reports for a JSON value."""
    if isinstance(raw, bool):
        return "VALUE_TRUE" if raw else "VALUE_FALSE"
    if isinstance(raw, int):
        return "VALUE_NUMBER_INT"
    if isinstance(raw, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(raw, list):
        return "START_ARRAY"
    if isinstance(raw, dict):
        return "START_OBJECT"
    return "VALUE_STRING"


def _cannot_deserialize(kind: str, raw: Any) -> ApiError:
    shown = "[" if isinstance(raw, list) else "{" if isinstance(raw, dict) else raw
    return json_parser_error(
        f"Cannot deserialize instance of {kind} from {_token(raw)} value {shown} or request may "
        "be missing a required field"
    )


def coerce(spec: FieldSpec, raw: Any) -> Any:
    """Turn a JSON request value into the stored form for this field, or raise JSON_PARSER_ERROR.

    Value rules that Salesforce checks after deserializing (lengths, picklists, email format)
    are not checked here: they are per-record errors, see validation.py.
    """
    if raw is None:
        return False if spec.type == "boolean" else None
    if spec.type in _TEXT_TYPES:
        return _coerce_text(spec, raw)
    if spec.type == "boolean":
        return _coerce_bool(raw)
    if spec.type == "int":
        return _coerce_int(raw)
    if spec.type in _FLOAT_TYPES:
        return _coerce_float(spec.type, raw)
    if spec.type == "date":
        return _coerce_date(raw)
    if spec.type == "datetime":
        return _coerce_datetime(raw)
    raise _cannot_deserialize(spec.type, raw)


def _coerce_text(spec: FieldSpec, raw: Any) -> str | None:
    if isinstance(raw, (list, dict)):
        raise _cannot_deserialize("string", raw)
    if isinstance(raw, bool):
        return "true" if raw else "false"
    text = raw if isinstance(raw, str) else _number_text(raw)
    # Salesforce stores an empty string as null in text fields.
    return text if text != "" else None


def _number_text(raw: float) -> str:
    return str(int(raw)) if isinstance(raw, float) and raw.is_integer() else str(raw)


def _coerce_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise _cannot_deserialize("boolean", raw)


def _coerce_int(raw: Any) -> int:
    if isinstance(raw, (bool, list, dict)):
        raise _cannot_deserialize("int", raw)
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise _cannot_deserialize("int", raw) from None
    if not number.is_integer():
        raise _cannot_deserialize("int", raw)
    return int(number)


def _coerce_float(kind: str, raw: Any) -> float:
    if isinstance(raw, (bool, list, dict)):
        raise _cannot_deserialize(kind, raw)
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise _cannot_deserialize(kind, raw) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _cannot_deserialize(kind, raw)
    return number


def _coerce_date(raw: Any) -> str:
    if not isinstance(raw, str) or not _DATE.match(raw):
        raise _cannot_deserialize("date", raw)
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise _cannot_deserialize("date", raw) from None


def _coerce_datetime(raw: Any) -> str:
    if not isinstance(raw, str):
        raise _cannot_deserialize("datetime", raw)
    try:
        return sf_datetime(parse_sf_datetime(raw))
    except ValueError:
        raise _cannot_deserialize("datetime", raw) from None


def number_fits(spec: FieldSpec, value: float | int) -> bool:
    """True when value fits the field's precision/scale (digits left of the decimal point)."""
    if spec.type == "int":
        return abs(value) < 10 ** (spec.digits or 9)
    whole_digits = (spec.precision or 18) - spec.scale
    return abs(value) < 10**whole_digits
