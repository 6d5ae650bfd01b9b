"""Field values between HubSpot and Salesforce: pure conversions, value maps, owners, pre-checks.

Every mapped value passes through one *canonical* form, a string (or None for blank) that both
systems' values convert to: HubSpot strings and epoch milliseconds, Salesforce JSON numbers,
booleans, dates and datetimes. The canonical form of a value-mapped field is the Salesforce
picklist value; of an owner, the owner's Salesforce-side email. The three-way merge compares
canonical values and keeps the last synced one as its base, so "Web" in Salesforce and "website" in
HubSpot (mapped to "Web") are the same value, and so are "https://www.acme.com/" and "acme.com".

Nothing here raises on bad data: a value that cannot be mapped comes back as a `MappingIssue`
(field, value, reason, fix), which the engine records as a property_value error and moves on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from sync_engine.config import FieldMapping, ObjectSync, SyncConfig, ValueMap
from sync_engine.matching import url_host
from sync_engine.models import FieldMeta, System, Transform

# ================================================================ results


@dataclass(frozen=True)
class MappingIssue:
    """A value that cannot be written: which target field, what value, why, and the fix."""

    field: str
    value: Any
    reason: str
    fix: str
    system: System = System.SALESFORCE
    source_field: str = ""

    def __str__(self) -> str:
        return f"{self.field} = {self.value!r}: {self.reason}; {self.fix}"


@dataclass(frozen=True)
class Converted:
    """A converted value, or the issue that stopped the conversion."""

    value: Any = None
    issue: MappingIssue | None = None

    @property
    def ok(self) -> bool:
        return self.issue is None


class _Refused(ValueError):
    """Raised inside codecs; turned into a MappingIssue at the edge of this module."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


# ================================================================ identity helpers


def normalize_email(value: Any) -> str | None:
    """The identity form of an email: stripped and lower-cased, plus-addressing kept
    (jo+events@x.com is a different mailbox to HubSpot and Salesforce alike); None when blank."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()


_WWW = re.compile(r"^www\d?\.")


def normalize_domain(value: Any) -> str | None:
    """A website or domain as a bare lower-case host: "https://www.Acme.com/about" -> "acme.com"."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    try:
        host = url_host(text)
    except ValueError:  # `[x]`: brackets urlparse reads as a broken IP literal
        return text  # not a URL: kept as typed rather than stopping the sync
    host = _WWW.sub("", host.rstrip("."))
    return host or None


# ================================================================ owners


@dataclass(frozen=True)
class OwnerDirectory:
    """HubSpot owners and Salesforce users matched by email (the article's owner pitfall).

    aliases: HubSpot owner email -> Salesforce user email, for people whose emails differ.
    names: email -> display name on each side, so a refusal names both people involved.
    nobody: Salesforce users (15-character ids) who own records without being a person: the
    integration user, whom Salesforce makes the owner of what the sync creates without one.
    Such a record has no owner to give HubSpot (not one to refuse: no HubSpot owner will ever
    be that user)."""

    hubspot_emails: Mapping[str, str] = field(default_factory=dict)
    salesforce_emails: Mapping[str, str] = field(default_factory=dict)
    inactive_salesforce: frozenset[str] = frozenset()
    aliases: Mapping[str, str] = field(default_factory=dict)
    hubspot_names: Mapping[str, str] = field(default_factory=dict)
    salesforce_names: Mapping[str, str] = field(default_factory=dict)
    nobody: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        hubspot_owners: Iterable[Mapping[str, Any]],
        salesforce_users: Iterable[Mapping[str, Any]],
        *,
        aliases: Iterable[tuple[str, str]] = (),
        integration_user: str | None = None,
    ) -> OwnerDirectory:
        """From the owners API (`id`, `email`, `archived`, names) and User rows (`Id`, `Email`,
        `IsActive`, `Name`); archived owners are left out. integration_user: the user the sync
        runs as (see `nobody`)."""
        owners = list(hubspot_owners)
        hs = {
            str(o["id"]): email
            for o in owners
            if not o.get("archived") and (email := normalize_email(o.get("email")))
        }
        hs_names = {
            email: f"{o.get('firstName') or ''} {o.get('lastName') or ''}".strip() or email
            for o in owners
            if (email := normalize_email(o.get("email")))
        }
        users = list(salesforce_users)
        sf = {str(u["Id"]): email for u in users if (email := normalize_email(u.get("Email")))}
        sf_names = {
            email: str(u.get("Name") or email)
            for u in users
            if (email := normalize_email(u.get("Email")))
        }
        inactive = frozenset(str(u["Id"]) for u in users if u.get("IsActive") is False)
        nobody = frozenset({integration_user[:15]} if integration_user else ())
        aliased = {a.lower(): b.lower() for a, b in aliases}
        return cls(hs, sf, inactive, aliased, hs_names, sf_names, nobody)

    def _hs_person(self, email: str) -> str:
        return f"HubSpot owner {self.hubspot_names.get(email, email)} ({email})"

    def _sf_person(self, email: str) -> str:
        return f"Salesforce user {self.salesforce_names.get(email, email)} ({email})"

    def _namesake(self, name: str, names: Mapping[str, str], label: str) -> str:
        """`; <label> <name> uses <email>` when the other system has someone of that name."""
        match = next((e for e, n in names.items() if n.lower() == name.lower()), None)
        return f"; {label} {name} uses {match}" if match else ""

    def salesforce_email_for_owner(self, owner_id: str) -> str:
        email = self.hubspot_emails.get(owner_id)
        if email is None:
            raise _Refused(
                f"HubSpot owner {owner_id} is unknown or archived",
                "assign an active HubSpot owner",
            )
        return self.aliases.get(email, email)

    def email_for_user(self, user_id: str) -> str | None:
        """The user's email; None for a user who is not a person (`nobody`)."""
        if user_id[:15] in self.nobody:
            return None
        email = self.salesforce_emails.get(user_id) or next(
            (e for uid, e in self.salesforce_emails.items() if uid[:15] == user_id[:15]), None
        )
        if email is None:
            raise _Refused(f"Salesforce user {user_id} is unknown", "check the record's owner")
        return email

    def user_for_email(self, email: str) -> str:
        found = [uid for uid, e in self.salesforce_emails.items() if e == email]
        active = [uid for uid in found if uid not in self.inactive_salesforce]
        reverse = {sf: hs for hs, sf in self.aliases.items()}
        owner = self._hs_person(reverse.get(email, email))
        if not found:
            name = self.hubspot_names.get(reverse.get(email, email), "")
            other = self._namesake(name, self.salesforce_names, "Salesforce user") if name else ""
            raise _Refused(
                f"{owner} has no Salesforce user with the email {email}{other}",
                "give the Salesforce user the same email as the HubSpot owner, "
                "or add it under [owners.aliases] in sync.toml",
            )
        if not active:
            raise _Refused(
                f"{owner} matches {self._sf_person(email)}, who is inactive",
                "reassign the record in HubSpot or reactivate the Salesforce user",
            )
        return active[0]

    def owner_for_email(self, email: str) -> str:
        reverse = {sf: hs for hs, sf in self.aliases.items()}
        wanted = reverse.get(email, email)
        found = next((oid for oid, e in self.hubspot_emails.items() if e == wanted), None)
        if found is None:
            name = self.salesforce_names.get(email, "")
            other = self._namesake(name, self.hubspot_names, "HubSpot owner") if name else ""
            inactive = wanted in self.hubspot_names and wanted not in self.hubspot_emails.values()
            state = " (archived in HubSpot)" if inactive else ""
            raise _Refused(
                f"{self._sf_person(email)} has no active HubSpot owner with the email "
                f"{wanted}{state}{other}",
                "add the person as a HubSpot owner with the same email, "
                "or add an alias under [owners.aliases] in sync.toml",
            )
        return found


# ================================================================ context


@dataclass(frozen=True)
class MappingContext:
    """What conversions need beyond the value: value maps, owners, the record's deal pipeline."""

    value_maps: Mapping[str, ValueMap] = field(default_factory=dict)
    owners: OwnerDirectory = field(default_factory=OwnerDirectory)
    pipeline: str | None = None

    @classmethod
    def from_config(
        cls, config: SyncConfig, *, owners: OwnerDirectory | None = None
    ) -> MappingContext:
        directory = owners or OwnerDirectory()
        if config.owner_aliases and not directory.aliases:
            directory = replace(directory, aliases=dict(config.owner_aliases))
        return cls(value_maps=config.value_maps_by_name, owners=directory)

    def with_pipeline(self, pipeline: str | None) -> MappingContext:
        return replace(self, pipeline=pipeline)


# ================================================================ codecs (transforms as data)


_NUMERIC = re.compile(r"[-+\d.,eE]+")
_EPOCH_MS = re.compile(r"-?\d{6,}")
_NON_DIGITS = re.compile(r"\D")


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def _decimal(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    if isinstance(value, bool):
        raise _Refused(f"{value!r} is not a number", "send a number")
    try:
        number = Decimal(text.replace(",", "")) if _NUMERIC.fullmatch(text) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise _Refused(f"{text!r} is not a number", "correct the value to a number")
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    return format(number.normalize(), "f")


def _integer(value: Any) -> str | None:
    canonical = _decimal(value)
    if canonical is not None and "." in canonical:
        raise _Refused(f"{canonical} is not a whole number", "round it to a whole number")
    return canonical


def _to_number(canonical: str | None) -> int | float | None:
    if canonical is None:
        return None
    number = Decimal(canonical)
    return int(number) if number == number.to_integral_value() else float(number)


def _bool_in(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = _text(value)
    if text is None:
        return None
    found = {"true": "true", "false": "false", "1": "true", "0": "false"}.get(text.lower())
    if found is None:
        raise _Refused(f"{text!r} is not true or false", "use true or false")
    return found


def _moment(value: Any) -> datetime:
    """A HubSpot or Salesforce date/datetime (ISO string, epoch ms, date) as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time(), UTC)
    text = str(value).strip()
    try:
        if _EPOCH_MS.fullmatch(text):
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise _Refused(f"{text!r} is not a date", "use an ISO date like 2026-01-31") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _date_in(value: Any) -> str | None:
    if _text(value) is None:
        return None
    return _moment(value).astimezone(UTC).date().isoformat()


def _datetime_in(value: Any) -> str | None:
    if _text(value) is None:
        return None
    moment = _moment(value).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _sf_datetime(canonical: str | None) -> str | None:
    """Salesforce's own datetime format: 2026-11-28T20:49:32.000+0000."""
    if canonical is None:
        return None
    return canonical[:-1] + "+0000"


def _hs_midnight(canonical: str | None) -> str | None:
    """A date as the midnight-UTC datetime HubSpot stores it, spelt as HubSpot writes it back
    (no fraction when the milliseconds are zero), so the echo of a deal the sync created
    reads as what it wrote and is not decided again."""
    return None if canonical is None else f"{canonical}T00:00:00Z"


def _domain_in(value: Any) -> str | None:
    return normalize_domain(value) if _text(value) else None


def _email_in(value: Any) -> str | None:
    email = normalize_email(value)
    if email is not None and (
        email.count("@") != 1 or email.startswith("@") or "." not in email.split("@")[-1]
    ):
        raise _Refused(f"{email!r} is not a valid email address", "correct the email")
    return email


# HubSpot's contact `numemployees` ranges, by inclusive upper bound (Salesforce has a count).
EMPLOYEE_RANGES: tuple[tuple[int, str], ...] = (
    (5, "1-5"),
    (25, "5-25"),
    (50, "25-50"),
    (100, "50-100"),
    (500, "100-500"),
    (1000, "500-1000"),
)
EMPLOYEE_RANGE_TOP = (1001, "1000+")


def _range_from_hubspot(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    known = [label for _, label in (*EMPLOYEE_RANGES, EMPLOYEE_RANGE_TOP)]
    if text not in known:
        raise _Refused(f"{text!r} is not an employee range", f"use one of {', '.join(known)}")
    return text


def _range_from_count(value: Any) -> str | None:
    count = _integer(value)
    if count is None:
        return None
    return next(
        (label for upper, label in EMPLOYEE_RANGES if int(count) <= upper), EMPLOYEE_RANGE_TOP[1]
    )


def _range_to_count(canonical: str | None) -> int | None:
    """A range's upper bound (1001 for 1000+): the count that maps back to the same range."""
    bounds = {label: upper for upper, label in (*EMPLOYEE_RANGES, EMPLOYEE_RANGE_TOP)}
    return None if canonical is None else bounds[canonical]


def _phone_key(canonical: str | None) -> str:
    return _NON_DIGITS.sub("", canonical or "")


def _identity(value: Any) -> Any:
    return value


Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class Codec:
    """One transform: HubSpot/Salesforce value -> canonical, canonical -> each, compare key."""

    from_hubspot: Converter = _text
    from_salesforce: Converter = _text
    to_hubspot: Converter = _identity
    to_salesforce: Converter = _identity
    key: Callable[[str | None], str] = lambda c: c or ""


TRANSFORMS: dict[Transform, Codec] = {
    Transform.TEXT: Codec(),
    Transform.EMAIL: Codec(_email_in, _email_in),
    Transform.PHONE: Codec(key=_phone_key),
    Transform.NUMBER: Codec(_decimal, _decimal, to_salesforce=_to_number),
    Transform.INTEGER: Codec(_integer, _integer, to_salesforce=_to_number),
    Transform.BOOLEAN: Codec(
        _bool_in,
        _bool_in,
        to_salesforce=lambda c: c == "true",
        key=lambda c: c or "false",
    ),
    Transform.DATE: Codec(_date_in, _date_in),
    Transform.DATETIME: Codec(_datetime_in, _datetime_in, to_salesforce=_sf_datetime),
    Transform.DATETIME_TO_DATE: Codec(_date_in, _date_in, to_hubspot=_hs_midnight),
    Transform.DOMAIN_URL: Codec(
        _domain_in, _domain_in, to_salesforce=lambda c: None if c is None else f"https://{c}"
    ),
    Transform.EMPLOYEE_RANGE: Codec(
        _range_from_hubspot, _range_from_count, to_salesforce=_range_to_count
    ),
    Transform.OWNER_BY_EMAIL: Codec(),  # needs the OwnerDirectory: see _OWNER below
}


# ================================================================ per-field conversion


def _issue(mapping: FieldMapping, value: Any, refused: _Refused, *, target: System) -> MappingIssue:
    field_name = mapping.salesforce if target is System.SALESFORCE else mapping.hubspot
    source = mapping.hubspot if target is System.SALESFORCE else mapping.salesforce
    return MappingIssue(field_name, value, refused.reason, refused.fix, target, source)


def _value_map(mapping: FieldMapping, context: MappingContext) -> ValueMap | None:
    name = mapping.value_map_for(context.pipeline)
    if name is None:
        return None
    found = context.value_maps.get(name)
    if found is None:
        raise _Refused(
            f"value map {name!r} is not defined", f"add [value_maps.{name}] to sync.toml"
        )
    return found


def canonical_from_hubspot(mapping: FieldMapping, raw: Any, context: MappingContext) -> Converted:
    """A HubSpot property value in canonical form (Salesforce spelling for value-mapped fields)."""
    try:
        if mapping.transform is Transform.OWNER_BY_EMAIL:
            owner = _text(raw)
            return Converted(
                None if owner is None else context.owners.salesforce_email_for_owner(owner)
            )
        canonical = TRANSFORMS[mapping.transform].from_hubspot(raw)
        value_map = _value_map(mapping, context)
        if value_map is None or canonical is None:
            return Converted(canonical)
        mapped = value_map.salesforce_for(canonical)
        if mapped is None:
            raise _Refused(
                f"{canonical!r} has no entry in value map {value_map.name!r}",
                f'add "{canonical}" = "<Salesforce value>" under '
                f"[value_maps.{value_map.name}.to_salesforce]",
            )
        return Converted(mapped)
    except _Refused as refused:
        return Converted(issue=_issue(mapping, raw, refused, target=System.SALESFORCE))


def canonical_from_salesforce(
    mapping: FieldMapping, raw: Any, context: MappingContext
) -> Converted:
    """A Salesforce field value in canonical form."""
    try:
        if mapping.transform is Transform.OWNER_BY_EMAIL:
            user = _text(raw)
            return Converted(None if user is None else context.owners.email_for_user(user))
        canonical = TRANSFORMS[mapping.transform].from_salesforce(raw)
        value_map = _value_map(mapping, context)
        if value_map is None or canonical is None:
            return Converted(canonical)
        return Converted(value_map.agreed_salesforce(canonical))
    except _Refused as refused:
        return Converted(issue=_issue(mapping, raw, refused, target=System.HUBSPOT))


def canonical_to_salesforce(
    mapping: FieldMapping, canonical: str | None, context: MappingContext
) -> Converted:
    """The value to send to Salesforce (JSON type) for a canonical value."""
    try:
        if mapping.transform is Transform.OWNER_BY_EMAIL:
            return Converted(
                None if canonical is None else context.owners.user_for_email(canonical)
            )
        return Converted(TRANSFORMS[mapping.transform].to_salesforce(canonical))
    except _Refused as refused:
        return Converted(issue=_issue(mapping, canonical, refused, target=System.SALESFORCE))


def canonical_to_hubspot(
    mapping: FieldMapping, canonical: str | None, context: MappingContext
) -> Converted:
    """The string to send to HubSpot ("" clears a property) for a canonical value."""
    try:
        if canonical is None:
            return Converted("")
        if mapping.transform is Transform.OWNER_BY_EMAIL:
            return Converted(context.owners.owner_for_email(canonical))
        value_map = _value_map(mapping, context)
        if value_map is not None:
            back = value_map.hubspot_for(canonical)
            if back is None:
                raise _Refused(
                    f"Salesforce value {canonical!r} has no HubSpot value "
                    f"in value map {value_map.name!r}",
                    f'add "{canonical}" = "<HubSpot value>" under '
                    f"[value_maps.{value_map.name}.to_hubspot]",
                )
            canonical = back
        return Converted(str(TRANSFORMS[mapping.transform].to_hubspot(canonical)))
    except _Refused as refused:
        return Converted(issue=_issue(mapping, canonical, refused, target=System.HUBSPOT))


def compare_key(mapping: FieldMapping, canonical: str | None) -> str:
    """What two canonical values are compared by ("" for blank): value-mapped values ignore case,
    phones compare digits only."""
    return key_function(mapping)(canonical)


def key_function(mapping: FieldMapping) -> Callable[[str | None], str]:
    """compare_key of mapping, as a function of the canonical value."""
    return _mapped_key if mapping.value_mapped else TRANSFORMS[mapping.transform].key


def _mapped_key(canonical: str | None) -> str:
    return " ".join((canonical or "").split()).casefold()


def canonical_reader(
    mapping: FieldMapping, context: MappingContext, system: System
) -> Callable[[Any], Converted]:
    """canonical_from_hubspot (system HUBSPOT) or canonical_from_salesforce of mapping in
    context, as a function of the raw value worked out once for many values: a field with no
    owner lookup and no value map in this context's pipeline is its codec alone."""
    if system is System.HUBSPOT:
        general, target = canonical_from_hubspot, System.SALESFORCE
    else:
        general, target = canonical_from_salesforce, System.HUBSPOT
    if (
        mapping.transform is Transform.OWNER_BY_EMAIL
        or mapping.value_map_for(context.pipeline) is not None
    ):
        return partial(general, mapping, context=context)
    codec = TRANSFORMS[mapping.transform]
    convert = codec.from_hubspot if system is System.HUBSPOT else codec.from_salesforce

    def read(raw: Any) -> Converted:
        try:
            return Converted(convert(raw))
        except _Refused as refused:
            return Converted(issue=_issue(mapping, raw, refused, target=target))

    return read


def same_value(mapping: FieldMapping, a: str | None, b: str | None) -> bool:
    return compare_key(mapping, a) == compare_key(mapping, b)


# ================================================================ whole records


@dataclass(frozen=True)
class MappedRecord:
    """Target-system values by field name (None / "" for blank) and the values left out."""

    values: Mapping[str, Any]
    issues: tuple[MappingIssue, ...] = ()

    def non_blank(self) -> dict[str, Any]:
        """Only the values that say something (what a create should send)."""
        return {k: v for k, v in self.values.items() if v not in (None, "")}


def hubspot_to_salesforce(
    properties: Mapping[str, Any],
    obj: ObjectSync,
    sf_object: str,
    *,
    context: MappingContext,
    sf_fields: Mapping[str, FieldMeta] | None = None,
) -> MappedRecord:
    """A HubSpot record's properties as a Salesforce field dict for sf_object, over the mappings
    that may write to Salesforce; with sf_fields, values Salesforce would refuse are caught here."""
    context = context_for_hubspot(context, properties)
    return ToSalesforce(obj, sf_object, context=context, sf_fields=sf_fields).map(properties)


def salesforce_to_hubspot(
    record: Mapping[str, Any],
    obj: ObjectSync,
    sf_object: str,
    *,
    context: MappingContext,
) -> MappedRecord:
    """A Salesforce record as HubSpot property strings, over the mappings that may write to
    HubSpot. A deal's stage map follows context.pipeline, else the object's default pipeline."""
    return ToHubSpot(obj, sf_object, context=context_for_salesforce(context, obj)).map(record)


def pipeline_switch(context: MappingContext, properties: Mapping[str, Any]) -> str | None:
    """The deal pipeline a HubSpot record's values are read under when the context names none
    (its own `pipeline` property); None: the context as it is."""
    pipeline = properties.get("pipeline")
    return str(pipeline) if context.pipeline is None and pipeline else None


def context_for_hubspot(context: MappingContext, properties: Mapping[str, Any]) -> MappingContext:
    pipeline = pipeline_switch(context, properties)
    return context if pipeline is None else context.with_pipeline(pipeline)


def context_for_salesforce(context: MappingContext, obj: ObjectSync) -> MappingContext:
    """A Salesforce record is read under the object's default pipeline, unless context names one."""
    if context.pipeline is None:
        return context.with_pipeline(dict(obj.hubspot_defaults).get("pipeline"))
    return context


MEMO_LIMIT = 256  # results remembered per conversion: all of a picklist's, a column's first


class Memo(dict[Any, Any]):
    """A pure conversion of raw values, each value that repeats (owners, picklists, cities,
    names) converted once. Only values whose equality means the same conversion are kept:
    strings and None, and ints and bools under their type (1 == 1.0 == True convert
    differently); at most MEMO_LIMIT, so a column of unique values costs a failed lookup, not
    memory. memo(raw) converts any value; memo[raw], for a string or None only, is the same
    without a Python call when the value was seen (the merge's inner loop)."""

    __slots__ = ("convert",)

    def __init__(self, convert: Callable[[Any], Any]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, raw: str | None) -> Any:
        found = self.convert(raw)
        if len(self) < MEMO_LIMIT:
            self[raw] = found
        return found

    def __call__(self, raw: Any) -> Any:
        kind = type(raw)
        if kind is str or raw is None:
            return self[raw]
        if kind is not int and kind is not bool:
            return self.convert(raw)
        key = (kind, raw)
        found = self.get(key, _MISSING)
        if found is _MISSING:
            found = self.convert(raw)
            if len(self) < MEMO_LIMIT:
                self[key] = found
        return found


_MISSING = object()


def field_to_salesforce(
    mapping: FieldMapping,
    raw: Any,
    context: MappingContext,
    meta: FieldMeta | None,
    *,
    read: Callable[[Any], Converted] | None = None,
) -> Converted:
    """One HubSpot value as hubspot_to_salesforce sends it (meta: the target field's describe,
    to catch what Salesforce would refuse; read: its canonical_reader, if at hand)."""
    converted = read(raw) if read is not None else canonical_from_hubspot(mapping, raw, context)
    if converted.ok:
        converted = canonical_to_salesforce(mapping, converted.value, context)
    # A blank is left out of the record (Salesforce defaults it, or the caller checks required
    # fields for the whole record); only values are checked here.
    if converted.issue is None and meta is not None and converted.value not in (None, ""):
        problem = precheck_salesforce(meta, converted.value)
        if problem is not None:
            return Converted(converted.value, replace(problem, source_field=mapping.hubspot))
    return converted


def field_to_hubspot(
    mapping: FieldMapping,
    raw: Any,
    context: MappingContext,
    *,
    read: Callable[[Any], Converted] | None = None,
) -> Converted:
    """One Salesforce value as salesforce_to_hubspot sends it (read: as field_to_salesforce)."""
    converted = read(raw) if read is not None else canonical_from_salesforce(mapping, raw, context)
    if converted.ok:
        converted = canonical_to_hubspot(mapping, converted.value, context)
    return converted


class RecordMapper:
    """A whole record's conversion for the many records of one plan: per mapping that may write
    to the target, the source field, the target field and its conversions remembered. Serves
    one mapping context (one deal pipeline). See ToSalesforce and ToHubSpot."""

    fields: tuple[tuple[str, str, Memo], ...] = ()

    def map(self, record: Mapping[str, Any]) -> MappedRecord:
        values: dict[str, Any] = {}
        issues: list[MappingIssue] = []
        for source, target, convert in self.fields:
            converted = convert(record.get(source))
            if converted.issue is not None:
                issues.append(converted.issue)
            else:
                values[target] = converted.value
        return MappedRecord(values, tuple(issues))


class ToSalesforce(RecordMapper):
    """hubspot_to_salesforce's conversions of sf_object (context: see `pipeline_switch`)."""

    def __init__(
        self,
        obj: ObjectSync,
        sf_object: str,
        *,
        context: MappingContext,
        sf_fields: Mapping[str, FieldMeta] | None = None,
    ) -> None:
        metas = sf_fields or {}
        self.fields = tuple(
            (m.hubspot, m.salesforce, self._convert(m, context, metas.get(m.salesforce)))
            for m in obj.mappings_for(sf_object)
            if obj.effective_direction(m).to_salesforce
        )

    @staticmethod
    def _convert(mapping: FieldMapping, context: MappingContext, meta: FieldMeta | None) -> Memo:
        read = canonical_reader(mapping, context, System.HUBSPOT)
        return Memo(partial(field_to_salesforce, mapping, context=context, meta=meta, read=read))


class ToHubSpot(RecordMapper):
    """salesforce_to_hubspot's conversions of sf_object (context: see `context_for_salesforce`)."""

    def __init__(self, obj: ObjectSync, sf_object: str, *, context: MappingContext) -> None:
        self.fields = tuple(
            (m.salesforce, m.hubspot, self._convert(m, context))
            for m in obj.mappings_for(sf_object)
            if obj.effective_direction(m).to_hubspot
        )

    @staticmethod
    def _convert(mapping: FieldMapping, context: MappingContext) -> Memo:
        read = canonical_reader(mapping, context, System.SALESFORCE)
        return Memo(partial(field_to_hubspot, mapping, context=context, read=read))


def precheck_salesforce(meta: FieldMeta, value: Any) -> MappingIssue | None:
    """The refusal Salesforce would answer for value in this field, found before the call:
    a value outside a restricted picklist, a string over the field's length, a required blank."""
    if value in (None, ""):
        if not meta.nillable and meta.type != "boolean":
            return MappingIssue(meta.name, value, "the field is required", "give it a value")
        return None
    restricted = meta.is_picklist and meta.restricted_picklist and meta.picklist_values
    if restricted and str(value) not in meta.picklist_values:
        return MappingIssue(
            meta.name,
            value,
            f"{value!r} is not in the restricted picklist",
            f"map it to one of: {', '.join(meta.picklist_values)}",
        )
    if isinstance(value, str) and meta.length and len(value) > meta.length:
        return MappingIssue(
            meta.name,
            value,
            f"{len(value)} characters exceed the field's {meta.length}",
            f"shorten it to {meta.length} characters",
        )
    return None
