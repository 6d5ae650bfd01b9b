"""Property values as HubSpot stores and checks them: strings in, strings out.

Writes arrive as strings (or JSON numbers and booleans); datetimes come as epoch milliseconds or
ISO 8601 and are kept as ISO 8601 with milliseconds and `Z`, as the v3 API returns them; date
properties hold `YYYY-MM-DD` and must be midnight UTC. Each refused value becomes a
`PropertyError` named the way HubSpot names it (PROPERTY_DOESNT_EXIST, INVALID_OPTION, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from sandbox.hubspot import schema
from sandbox.hubspot.errors import PropertyError

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_STRING = 65_536


def iso(moment: datetime) -> str:
    """`2024-01-15T10:30:00.123Z`, as HubSpot (Java's `Instant.toString()`) writes timestamps:
    UTC, `Z`, milliseconds, and no fraction at all when the milliseconds are zero."""
    moment = moment.astimezone(UTC)
    millis = moment.microsecond // 1000
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{millis:03d}Z" if millis else f"{stamp}Z"


def to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def truncate_ms(moment: datetime) -> datetime:
    """Drop sub-millisecond precision so stored stamps compare equal to what clients send back."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@lru_cache(maxsize=262_144)
def parse_moment(text: str) -> datetime | None:
    """Epoch milliseconds, ISO 8601 (with or without zone; UTC assumed) or a plain date."""
    text = text.strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        try:
            return _EPOCH + timedelta(milliseconds=int(text))
        except OverflowError:
            return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@lru_cache(maxsize=262_144)
def moment_ms(text: str) -> int | None:
    """A stored or filter datetime value as epoch milliseconds (how search compares them)."""
    moment = parse_moment(text)
    return None if moment is None else to_ms(moment)


def _number(raw: str) -> str | None:
    try:
        number = Decimal(raw.strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return raw.strip()


def _datetime(raw: str) -> str | None:
    moment = parse_moment(raw)
    return None if moment is None else iso(moment)


def _date(raw: str) -> str | None:
    moment = parse_moment(raw)
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    if moment.time() != time(0, 0):
        return None
    return moment.date().isoformat()


def _bool(raw: str) -> str | None:
    lowered = raw.strip().lower()
    return lowered if lowered in ("true", "false") else None


def as_text(raw: Any) -> str:
    """JSON values as HubSpot reads them: null clears, true/false and numbers become strings."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


class Checker:
    """Checks one write's property values against the schema and the portal's owners/pipelines."""

    def __init__(
        self,
        object_name: str,
        *,
        owner_ids: Collection[str],
        allow_read_only: bool = False,
    ) -> None:
        self.object_name = object_name
        self.defs = schema.PROPERTIES[object_name]
        self.owner_ids = owner_ids
        self.allow_read_only = allow_read_only

    def check(
        self, values: Mapping[str, Any], *, current: Mapping[str, str] | None = None
    ) -> tuple[dict[str, str], list[PropertyError]]:
        """Normalised values to store, and every problem found (HubSpot reports them all)."""
        out: dict[str, str] = {}
        problems: list[PropertyError] = []
        for name, raw in values.items():
            text = as_text(raw)
            pdef = self.defs.get(name)
            problem = self._problem(name, pdef, text)
            if problem is not None:
                problems.append(problem)
                continue
            out[name] = text if pdef is None else self._normal(pdef, text)
        if self.object_name == "deals" and not problems:
            problems.extend(self._stage_problems(out, current or {}))
        return out, problems

    def _problem(
        self, name: str, pdef: schema.PropertyDef | None, text: str
    ) -> PropertyError | None:
        if pdef is None:
            message = f'Property "{name}" does not exist'
            return PropertyError(name, "PROPERTY_DOESNT_EXIST", message, value=text)
        if pdef.read_only and not self.allow_read_only:
            message = f'"{name}" is a calculated property; its value cannot be set.'
            return PropertyError(name, "READ_ONLY_VALUE", message, value=text)
        if text == "":
            return None
        if len(text) > MAX_STRING:
            message = f"{name} value is {len(text)} characters; the limit is {MAX_STRING}"
            return PropertyError(name, "STRING_TOO_LONG", message, value=text[:100])
        check = _CHECKS.get(pdef.type)
        if check is not None and check(text) is None:
            error = _TYPE_ERRORS[pdef.type]
            return PropertyError(name, error, _type_message(pdef, text), value=text)
        if pdef.text_hint == "email" and not _EMAIL.match(text.strip()):
            message = f"Email address {text} is invalid"
            return PropertyError(name, "INVALID_EMAIL", message, value=text)
        return self._option_problem(pdef, text)

    def _option_problem(self, pdef: schema.PropertyDef, text: str) -> PropertyError | None:
        if pdef.referenced == "OWNER":
            if not text.strip().isdigit():
                message = f"{text} was not a valid integer."
                return PropertyError(pdef.name, "INVALID_INTEGER", message, value=text)
            if text.strip() not in self.owner_ids:
                message = f"{text} is not a valid owner id"
                return PropertyError(pdef.name, "INVALID_OWNER_ID", message, value=text)
            return None
        if pdef.referenced == "PIPELINE":
            allowed = tuple(
                schema.Option(p.id, p.label) for p in schema.PIPELINES.get(self.object_name, ())
            )
            return _option_error(pdef.name, text, allowed)
        if pdef.type == "enumeration" and pdef.options:
            return _option_error(pdef.name, text, pdef.options)
        return None

    def _normal(self, pdef: schema.PropertyDef, text: str) -> str:
        if text == "":
            return ""
        if pdef.type in _CHECKS:
            return _CHECKS[pdef.type](text) or text
        if pdef.text_hint == "email":
            return text.strip()
        return text

    def _stage_problems(
        self, values: Mapping[str, str], current: Mapping[str, str]
    ) -> list[PropertyError]:
        """A deal stage must belong to the deal's pipeline (the new one, or the one it is in)."""
        stage = values.get("dealstage") or ""
        if not stage:
            return []
        pipeline_id = values.get("pipeline") or current.get("pipeline") or schema.DEFAULT_PIPELINE
        found = schema.pipeline(self.object_name, pipeline_id)
        allowed = tuple(schema.Option(s.id, s.label) for s in found.stages) if found else ()
        problem = _option_error("dealstage", stage, allowed)
        return [problem] if problem else []


def _option_error(name: str, text: str, allowed: tuple[schema.Option, ...]) -> PropertyError | None:
    """HubSpot lists the allowed options in its internal (protobuf text) form."""
    values = tuple(o.value for o in allowed)
    if text in values:
        return None
    listed = ", ".join(
        f'label: "{o.label}"\nvalue: "{o.value}"\ndisplay_order: {i}\nhidden: false\n'
        "read_only: false\n"
        for i, o in enumerate(allowed)
    )
    message = f"{text} was not one of the allowed options: [{listed}]"
    return PropertyError(name, "INVALID_OPTION", message, values, value=text)


_CHECKS: dict[str, Callable[[str], str | None]] = {
    "number": _number,
    "datetime": _datetime,
    "date": _date,
    "bool": _bool,
}

_TYPE_ERRORS = {
    "number": "INVALID_NUMBER",
    "datetime": "INVALID_DATETIME",
    "date": "INVALID_DATE",
    "bool": "INVALID_BOOLEAN",
}


def _type_message(pdef: schema.PropertyDef, text: str) -> str:
    if pdef.type == "date":
        return (
            f"{text} is not a valid date for {pdef.name}: use YYYY-MM-DD or midnight UTC epoch ms"
        )
    if pdef.type == "datetime":
        return f"{text} is not a valid datetime for {pdef.name}: use epoch milliseconds or ISO 8601"
    return f"{text} is not a valid {pdef.type} for {pdef.name}"


def comparable(pdef: schema.PropertyDef | None, text: str) -> Any:
    """A stored or filter value in the form search compares: datetimes as epoch ms, numbers as
    floats, enumeration values as they are (case-sensitive), other text in lower case."""
    if pdef is not None and pdef.type in ("datetime", "date"):
        return moment_ms(text)
    if pdef is not None and pdef.type == "number":
        try:
            return float(text)
        except ValueError:
            return None
    if pdef is not None and pdef.type == "enumeration":
        return text
    return text.lower()
