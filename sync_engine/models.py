"""Vocabulary shared by config, mapping, conflicts and inclusion: enums and schema metadata.

Everything here is a frozen value. Schema metadata (`FieldMeta`, `PropertyMeta`) is what the engine
learns from Salesforce `describe` and HubSpot's properties API; the pure decision modules take it as
data so they can be tested without either system and re-checked whenever the schema changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Direction(StrEnum):
    """Which way a field (or a whole object) may flow."""

    TWO_WAY = "two_way"
    HUBSPOT_TO_SALESFORCE = "hubspot_to_salesforce"
    SALESFORCE_TO_HUBSPOT = "salesforce_to_hubspot"
    NONE = "none"

    @property
    def to_salesforce(self) -> bool:
        return self is Direction.TWO_WAY or self is Direction.HUBSPOT_TO_SALESFORCE

    @property
    def to_hubspot(self) -> bool:
        return self is Direction.TWO_WAY or self is Direction.SALESFORCE_TO_HUBSPOT

    def cap(self, limit: Direction) -> Direction:
        """The flows both self and limit allow (a field's direction under its object's).
        Looked up, not recomputed: the merge asks once per field of every record pair."""
        return _CAPS[self, limit]


_FLOWS: dict[tuple[bool, bool], Direction] = {
    (True, True): Direction.TWO_WAY,
    (True, False): Direction.HUBSPOT_TO_SALESFORCE,
    (False, True): Direction.SALESFORCE_TO_HUBSPOT,
    (False, False): Direction.NONE,
}


def direction_of(*, to_salesforce: bool, to_hubspot: bool) -> Direction:
    """The Direction allowing exactly the given flows."""
    return _FLOWS[(to_salesforce, to_hubspot)]


_CAPS: dict[tuple[Direction, Direction], Direction] = {
    (own, limit): direction_of(
        to_salesforce=own.to_salesforce and limit.to_salesforce,
        to_hubspot=own.to_hubspot and limit.to_hubspot,
    )
    for own in Direction
    for limit in Direction
}


class Rule(StrEnum):
    """Who wins when both systems changed a two-way field since the last sync."""

    PREFER_SALESFORCE_UNLESS_BLANK = "prefer_salesforce_unless_blank"
    ALWAYS_SALESFORCE = "always_salesforce"
    ALWAYS_HUBSPOT = "always_hubspot"
    MOST_RECENT = "most_recent"


class System(StrEnum):
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"


# The HubSpot property where a record the sync creates from Salesforce keeps its Salesforce id
# (the property HubSpot's own Salesforce integration fills on deals). Deals have no email or
# domain, so this id is their match key: a create sent by a process killed before its commit is
# found again by it, never created twice (the way Salesforce records carry the HubSpot id in an
# external id field).
HUBSPOT_ID_PROPERTIES: dict[str, str] = {"deals": "hs_salesforceopportunityid"}


class Transform(StrEnum):
    """How a value changes shape between HubSpot (strings) and Salesforce (JSON types).

    The codecs live in `mapping.TRANSFORMS`; the names are here so config can validate them.
    """

    TEXT = "text"
    EMAIL = "email"
    PHONE = "phone"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    DATETIME_TO_DATE = "datetime_to_date"
    DOMAIN_URL = "domain_url"
    EMPLOYEE_RANGE = "employee_range"
    OWNER_BY_EMAIL = "owner_by_email"


class CreateAs(StrEnum):
    """What a HubSpot contact becomes in Salesforce when it is first pushed."""

    LEAD = "lead"
    CONTACT_WHEN_ACCOUNT_EXISTS = "contact_when_account_exists"


class NoCompany(StrEnum):
    """What to do with a contact that has no company when a Contact (which needs an Account) is
    wanted: create a Lead instead, or flag it for a person to decide."""

    CREATE_LEAD = "create_lead"
    FLAG = "flag"


class DeletionPolicy(StrEnum):
    """What a deletion on one side does to the linked record: archive it, or only flag it."""

    ARCHIVE = "archive"
    FLAG = "flag"


@dataclass(frozen=True)
class FieldMeta:
    """One Salesforce field as `describe` reports it (the parts the engine decides with)."""

    name: str
    type: str = "string"
    label: str = ""
    picklist_values: tuple[str, ...] = ()
    restricted_picklist: bool = False
    updateable: bool = True
    createable: bool = True
    nillable: bool = True
    length: int | None = None

    @classmethod
    def from_describe(cls, field: Mapping[str, Any]) -> FieldMeta:
        """Build from one entry of `describe()["fields"]`; inactive picklist values are dropped."""
        values = tuple(
            str(v["value"]) for v in field.get("picklistValues") or () if v.get("active", True)
        )
        return cls(
            name=str(field["name"]),
            type=str(field.get("type", "string")),
            label=str(field.get("label", "")),
            picklist_values=values,
            restricted_picklist=bool(field.get("restrictedPicklist", False)),
            updateable=bool(field.get("updateable", True)),
            createable=bool(field.get("createable", True)),
            nillable=bool(field.get("nillable", True)),
            length=field.get("length") or None,
        )

    @property
    def is_picklist(self) -> bool:
        return self.type in ("picklist", "multipicklist")


@dataclass(frozen=True)
class PropertyMeta:
    """One HubSpot property as the properties API reports it.

    type is HubSpot's: string, number, enumeration, date, datetime, bool (phone_number counts as
    string). options are the enumeration's internal values.
    """

    name: str
    type: str = "string"
    label: str = ""
    options: tuple[str, ...] = ()
    read_only: bool = False

    @classmethod
    def from_api(cls, prop: Mapping[str, Any]) -> PropertyMeta:
        """Build from one property of `GET /crm/v3/properties/{objectType}`."""
        options = tuple(
            str(o["value"]) for o in prop.get("options") or () if not o.get("hidden", False)
        )
        meta = prop.get("modificationMetadata") or {}
        kind = str(prop.get("type", "string"))
        return cls(
            name=str(prop["name"]),
            type="string" if kind == "phone_number" else kind,
            label=str(prop.get("label", "")),
            options=options,
            read_only=bool(meta.get("readOnlyValue", False)),
        )
