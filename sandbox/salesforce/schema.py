"""Describe metadata of the emulated org, kept as data: objects, fields, picklists, profiles.

Everything the emulator validates against (types, lengths, required fields, restricted picklists,
which fields are system-maintained) and everything `describe` returns comes from the tables in
this module, so a fact about a field is stated once. `Schema` also answers the SOQL module's
`SchemaResolver` questions (canonical names, field types, relationships).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sandbox.salesforce.ids import KEY_PREFIXES

# --------------------------------------------------------------------------------------------
# Building blocks


@dataclass(frozen=True)
class PicklistValue:
    value: str
    label: str = ""
    active: bool = True
    default: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "defaultValue": self.default,
            "label": self.label or self.value,
            "validFor": None,
            "value": self.value,
        }


@dataclass(frozen=True)
class FieldSpec:
    """One field as `describe` reports it (only the attributes the emulator acts on are kept)."""

    name: str
    label: str
    type: str
    length: int = 0
    precision: int = 0
    scale: int = 0
    digits: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    picklist: tuple[PicklistValue, ...] = ()
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    external_id: bool = False
    unique: bool = False
    custom: bool = False
    name_field: bool = False
    id_lookup: bool = False
    compound_of: str | None = None

    @property
    def required(self) -> bool:
        """Salesforce's notion of required: creatable, not nillable and not defaulted."""
        return (
            self.createable
            and not self.nillable
            and not self.defaulted_on_create
            and self.type != "boolean"
        )

    @property
    def default_picklist_value(self) -> str | None:
        return next((p.value for p in self.picklist if p.default and p.active), None)

    def picklist_values(self) -> frozenset[str]:
        return frozenset(p.value for p in self.picklist if p.active)


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[FieldSpec, ...]
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    has_owner: bool = True

    def field_map(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.fields}


_SOAP_TYPES: dict[str, str] = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}
_STRING_TYPES = frozenset(
    {"string", "textarea", "email", "phone", "url", "picklist", "combobox", "encryptedstring"}
)
# Types the SOQL module knows; describe-only types are mapped onto one of them.
_SOQL_TYPES: dict[str, str] = {"combobox": "string"}


def _text(name: str, label: str, length: int, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, label=label, type="string", length=length, **kw)


def _typed(kind: str, name: str, label: str, length: int, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, label=label, type=kind, length=length, **kw)


def _picklist(
    name: str,
    label: str,
    values: Iterable[str],
    *,
    default: str | None = None,
    restricted: bool = False,
    **kw: Any,
) -> FieldSpec:
    entries = tuple(PicklistValue(v, default=(v == default)) for v in values)
    return FieldSpec(
        name=name,
        label=label,
        type=kw.pop("type", "picklist"),
        length=255,
        picklist=entries,
        restricted=restricted,
        defaulted_on_create=kw.pop("defaulted_on_create", default is not None),
        **kw,
    )


def _ref(name: str, label: str, to: tuple[str, ...], rel: str | None, **kw: Any) -> FieldSpec:
    return FieldSpec(
        name=name,
        label=label,
        type="reference",
        length=18,
        reference_to=to,
        relationship_name=rel,
        **kw,
    )


def _bool(name: str, label: str, **kw: Any) -> FieldSpec:
    kw.setdefault("defaulted_on_create", True)
    return FieldSpec(name=name, label=label, type="boolean", nillable=False, **kw)


def _number(kind: str, name: str, label: str, precision: int, scale: int, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, label=label, type=kind, precision=precision, scale=scale, **kw)


def _int(name: str, label: str, digits: int = 8, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, label=label, type="int", digits=digits, **kw)


def _readonly(spec: FieldSpec) -> FieldSpec:
    return replace(spec, createable=False, updateable=False)


def _system_fields(*, owner: bool = True) -> tuple[FieldSpec, ...]:
    """The audit fields every object carries; the platform writes them, never a client."""
    ro = {"createable": False, "updateable": False, "nillable": False}
    fields = [
        _bool("IsDeleted", "Deleted", createable=False, updateable=False),
        FieldSpec("CreatedDate", "Created Date", "datetime", defaulted_on_create=True, **ro),
        _ref(
            "CreatedById", "Created By ID", ("User",), "CreatedBy", defaulted_on_create=True, **ro
        ),
        FieldSpec(
            "LastModifiedDate", "Last Modified Date", "datetime", defaulted_on_create=True, **ro
        ),
        _ref(
            "LastModifiedById",
            "Last Modified By ID",
            ("User",),
            "LastModifiedBy",
            defaulted_on_create=True,
            **ro,
        ),
        FieldSpec("SystemModstamp", "System Modstamp", "datetime", defaulted_on_create=True, **ro),
    ]
    if owner:
        fields.append(
            _ref(
                "OwnerId",
                "Owner ID",
                ("User",),
                "Owner",
                nillable=False,
                defaulted_on_create=True,
            )
        )
    return tuple(fields)


def _id_field() -> FieldSpec:
    return FieldSpec(
        "Id",
        "Record ID",
        "id",
        length=18,
        nillable=False,
        createable=False,
        updateable=False,
        defaulted_on_create=True,
        id_lookup=True,
    )


def _external_id(name: str, label: str, length: int = 50) -> FieldSpec:
    return _text(name, label, length, external_id=True, unique=True, custom=True, id_lookup=True)


def _name_field(length: int = 121) -> FieldSpec:
    return _readonly(_text("Name", "Full Name", length, name_field=True))


# --------------------------------------------------------------------------------------------
# Picklist values (a standard org's, extended the way a mid-market org usually is)

LEAD_SOURCES: tuple[str, ...] = (
    "Advertisement",
    "Employee Referral",
    "External Referral",
    "Partner",
    "Public Relations",
    "Trade Show",
    "Web",
    "Webinar",
    "Word of mouth",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
)

LEAD_STATUSES: tuple[str, ...] = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
LEAD_DEFAULT_STATUS = "Open - Not Contacted"
LEAD_CONVERTED_STATUS = "Closed - Converted"

INDUSTRIES: tuple[str, ...] = (
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Other",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
)

RATINGS: tuple[str, ...] = ("Hot", "Warm", "Cold")
SALUTATIONS: tuple[str, ...] = ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")
ACCOUNT_TYPES: tuple[str, ...] = (
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Installation Partner",
    "Technology Partner",
    "Other",
)
OPPORTUNITY_TYPES: tuple[str, ...] = (
    "Existing Customer - Upgrade",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
    "New Customer",
)


@dataclass(frozen=True)
class Stage:
    """An opportunity stage with the defaults a standard org attaches to it."""

    name: str
    probability: int
    forecast_category: str
    forecast_category_name: str
    closed: bool = False
    won: bool = False


STAGES: tuple[Stage, ...] = (
    Stage("Prospecting", 10, "Pipeline", "Pipeline"),
    Stage("Qualification", 10, "Pipeline", "Pipeline"),
    Stage("Needs Analysis", 20, "Pipeline", "Pipeline"),
    Stage("Value Proposition", 50, "Pipeline", "Pipeline"),
    Stage("Id. Decision Makers", 60, "Pipeline", "Pipeline"),
    Stage("Perception Analysis", 70, "Pipeline", "Pipeline"),
    Stage("Proposal/Price Quote", 75, "Pipeline", "Pipeline"),
    Stage("Negotiation/Review", 90, "Pipeline", "Pipeline"),
    Stage("Closed Won", 100, "Closed", "Closed", closed=True, won=True),
    Stage("Closed Lost", 0, "Omitted", "Omitted", closed=True),
)
STAGE_BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}
FORECAST_CATEGORIES: tuple[str, ...] = ("Omitted", "Pipeline", "BestCase", "Forecast", "Closed")
FORECAST_CATEGORY_NAMES: tuple[str, ...] = ("Omitted", "Pipeline", "Best Case", "Commit", "Closed")

TASK_STATUSES: tuple[str, ...] = (
    "Not Started",
    "In Progress",
    "Completed",
    "Waiting on someone else",
    "Deferred",
)
TASK_CLOSED_STATUSES = frozenset({"Completed"})
TASK_PRIORITIES: tuple[str, ...] = ("High", "Normal", "Low")
TASK_SUBTYPES: tuple[str, ...] = ("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn")
TASK_TYPES: tuple[str, ...] = ("Call", "Email", "Meeting", "Other")
CALL_TYPES: tuple[str, ...] = ("Internal", "Inbound", "Outbound")
USER_TYPES: tuple[str, ...] = ("Standard", "PowerPartner", "CsnOnly", "Guest")


# --------------------------------------------------------------------------------------------
# Objects


def _address(prefix: str, label: str) -> tuple[FieldSpec, ...]:
    return (
        _typed("textarea", f"{prefix}Street", f"{label} Street", 255),
        _text(f"{prefix}City", f"{label} City", 40),
        _text(f"{prefix}State", f"{label} State/Province", 80),
        _text(f"{prefix}PostalCode", f"{label} Zip/Postal Code", 20),
        _text(f"{prefix}Country", f"{label} Country", 80),
    )


_LEAD = ObjectSpec(
    name="Lead",
    label="Lead",
    label_plural="Leads",
    key_prefix=KEY_PREFIXES["Lead"],
    fields=(
        _id_field(),
        _text("LastName", "Last Name", 80, nillable=False),
        _text("FirstName", "First Name", 40),
        _picklist("Salutation", "Salutation", SALUTATIONS),
        _name_field(),
        _text("Title", "Title", 128),
        _text("Company", "Company", 255, nillable=False),
        _typed("textarea", "Street", "Street", 255),
        _text("City", "City", 40),
        _text("State", "State/Province", 80),
        _text("PostalCode", "Zip/Postal Code", 20),
        _text("Country", "Country", 80),
        _typed("phone", "Phone", "Phone", 40),
        _typed("phone", "MobilePhone", "Mobile Phone", 40),
        _typed("email", "Email", "Email", 80),
        _typed("url", "Website", "Website", 255),
        _typed("textarea", "Description", "Description", 32000),
        _picklist("LeadSource", "Lead Source", LEAD_SOURCES, restricted=True),
        _picklist(
            "Status",
            "Status",
            LEAD_STATUSES,
            default=LEAD_DEFAULT_STATUS,
            restricted=True,
            nillable=False,
        ),
        _picklist("Industry", "Industry", INDUSTRIES, restricted=True),
        _picklist("Rating", "Rating", RATINGS),
        _number("currency", "AnnualRevenue", "Annual Revenue", 18, 0),
        _int("NumberOfEmployees", "Employees"),
        _bool("HasOptedOutOfEmail", "Email Opt Out"),
        _readonly(_bool("IsConverted", "Converted")),
        _readonly(FieldSpec("ConvertedDate", "Converted Date", "date")),
        _readonly(
            _ref("ConvertedAccountId", "Converted Account ID", ("Account",), "ConvertedAccount")
        ),
        _readonly(
            _ref("ConvertedContactId", "Converted Contact ID", ("Contact",), "ConvertedContact")
        ),
        _readonly(
            _ref(
                "ConvertedOpportunityId",
                "Converted Opportunity ID",
                ("Opportunity",),
                "ConvertedOpportunity",
            )
        ),
        _readonly(FieldSpec("LastActivityDate", "Last Activity", "date")),
        *_system_fields(),
        _external_id("HubSpot_Contact_Id__c", "HubSpot Contact ID"),
        _number("double", "Internal_Score__c", "Internal Score", 18, 0, custom=True),
    ),
)

_CONTACT = ObjectSpec(
    name="Contact",
    label="Contact",
    label_plural="Contacts",
    key_prefix=KEY_PREFIXES["Contact"],
    fields=(
        _id_field(),
        _ref("AccountId", "Account ID", ("Account",), "Account"),
        _text("LastName", "Last Name", 80, nillable=False),
        _text("FirstName", "First Name", 40),
        _picklist("Salutation", "Salutation", SALUTATIONS),
        _name_field(),
        *_address("Mailing", "Mailing"),
        _typed("phone", "Phone", "Business Phone", 40),
        _typed("phone", "MobilePhone", "Mobile Phone", 40),
        _typed("email", "Email", "Email", 80),
        _text("Title", "Title", 128),
        _text("Department", "Department", 80),
        _picklist("LeadSource", "Lead Source", LEAD_SOURCES, restricted=True),
        FieldSpec("Birthdate", "Birthdate", "date"),
        _typed("textarea", "Description", "Contact Description", 32000),
        _bool("HasOptedOutOfEmail", "Email Opt Out"),
        _readonly(FieldSpec("LastActivityDate", "Last Activity", "date")),
        *_system_fields(),
        _external_id("HubSpot_Contact_Id__c", "HubSpot Contact ID"),
        _number("double", "Internal_Score__c", "Internal Score", 18, 0, custom=True),
    ),
)

_ACCOUNT = ObjectSpec(
    name="Account",
    label="Account",
    label_plural="Accounts",
    key_prefix=KEY_PREFIXES["Account"],
    fields=(
        _id_field(),
        _text("Name", "Account Name", 255, nillable=False, name_field=True),
        _picklist("Type", "Account Type", ACCOUNT_TYPES),
        _ref("ParentId", "Parent Account ID", ("Account",), "Parent"),
        *_address("Billing", "Billing"),
        *_address("Shipping", "Shipping"),
        _typed("phone", "Phone", "Account Phone", 40),
        _typed("url", "Website", "Website", 255),
        _picklist("Industry", "Industry", INDUSTRIES, restricted=True),
        _number("currency", "AnnualRevenue", "Annual Revenue", 18, 0),
        _int("NumberOfEmployees", "Employees"),
        _picklist("Rating", "Account Rating", RATINGS),
        _typed("textarea", "Description", "Account Description", 32000),
        _readonly(FieldSpec("LastActivityDate", "Last Activity", "date")),
        *_system_fields(),
        _external_id("HubSpot_Company_Id__c", "HubSpot Company ID"),
    ),
)

_OPPORTUNITY = ObjectSpec(
    name="Opportunity",
    label="Opportunity",
    label_plural="Opportunities",
    key_prefix=KEY_PREFIXES["Opportunity"],
    fields=(
        _id_field(),
        _ref("AccountId", "Account ID", ("Account",), "Account"),
        _text("Name", "Name", 120, nillable=False, name_field=True),
        _typed("textarea", "Description", "Description", 32000),
        _picklist(
            "StageName",
            "Stage",
            [s.name for s in STAGES],
            restricted=True,
            nillable=False,
        ),
        _number("currency", "Amount", "Amount", 18, 2),
        _number("percent", "Probability", "Probability (%)", 3, 0, defaulted_on_create=True),
        FieldSpec("CloseDate", "Close Date", "date", nillable=False),
        _picklist("Type", "Opportunity Type", OPPORTUNITY_TYPES),
        _text("NextStep", "Next Step", 255),
        _picklist("LeadSource", "Lead Source", LEAD_SOURCES, restricted=True),
        _readonly(_bool("IsClosed", "Closed")),
        _readonly(_bool("IsWon", "Won")),
        _readonly(
            _picklist("ForecastCategory", "Forecast Category", FORECAST_CATEGORIES, nillable=False)
        ),
        _picklist(
            "ForecastCategoryName",
            "Forecast Category",
            FORECAST_CATEGORY_NAMES,
            restricted=True,
            defaulted_on_create=True,
        ),
        _readonly(FieldSpec("LastActivityDate", "Last Activity", "date")),
        *_system_fields(),
        _external_id("HubSpot_Deal_Id__c", "HubSpot Deal ID"),
    ),
)

_TASK = ObjectSpec(
    name="Task",
    label="Task",
    label_plural="Tasks",
    key_prefix=KEY_PREFIXES["Task"],
    fields=(
        _id_field(),
        _ref("WhoId", "Name ID", ("Contact", "Lead"), "Who"),
        _ref("WhatId", "Related To ID", ("Account", "Opportunity"), "What"),
        _typed("combobox", "Subject", "Subject", 255),
        FieldSpec("ActivityDate", "Due Date Only", "date"),
        _picklist(
            "Status",
            "Status",
            TASK_STATUSES,
            default="Not Started",
            restricted=True,
            nillable=False,
        ),
        _picklist("Priority", "Priority", TASK_PRIORITIES, default="Normal", nillable=False),
        replace(_picklist("TaskSubtype", "Task Subtype", TASK_SUBTYPES), updateable=False),
        _picklist("Type", "Type", TASK_TYPES),
        _typed("textarea", "Description", "Description", 32000),
        _picklist("CallType", "Call Type", CALL_TYPES),
        _int("CallDurationInSeconds", "Call Duration"),
        _text("CallDisposition", "Call Result", 255),
        _readonly(_bool("IsClosed", "Closed")),
        *_system_fields(),
        _external_id("HubSpot_Engagement_Id__c", "HubSpot Engagement ID"),
    ),
)

_USER = ObjectSpec(
    name="User",
    label="User",
    label_plural="Users",
    key_prefix=KEY_PREFIXES["User"],
    createable=False,
    updateable=False,
    deletable=False,
    has_owner=False,
    fields=(
        _id_field(),
        _text("Username", "Username", 80, nillable=False, unique=True, id_lookup=True),
        _text("LastName", "Last Name", 80, nillable=False),
        _text("FirstName", "First Name", 40),
        _name_field(),
        _typed("email", "Email", "Email", 128, nillable=False),
        _text("Alias", "Alias", 8, nillable=False),
        _bool("IsActive", "Active"),
        _text("Title", "Title", 80),
        _text("Department", "Department", 80),
        _readonly(_picklist("UserType", "User Type", USER_TYPES)),
        _ref("ProfileId", "Profile ID", ("Profile",), "Profile", nillable=False),
        *[f for f in _system_fields(owner=False) if f.name != "IsDeleted"],
    ),
)

_PROFILE = ObjectSpec(
    name="Profile",
    label="Profile",
    label_plural="Profile",
    key_prefix="00e",
    createable=False,
    updateable=False,
    deletable=False,
    has_owner=False,
    fields=(
        _id_field(),
        _text("Name", "Name", 255, nillable=False, name_field=True),
        _readonly(_picklist("UserType", "User Type", USER_TYPES)),
        _typed("textarea", "Description", "Description", 255),
        *[f for f in _system_fields(owner=False) if f.name != "IsDeleted"],
    ),
)

OBJECTS: tuple[ObjectSpec, ...] = (_LEAD, _CONTACT, _ACCOUNT, _OPPORTUNITY, _TASK, _USER, _PROFILE)
DATA_OBJECTS: tuple[str, ...] = ("Lead", "Contact", "Account", "Opportunity", "Task")

# Custom labels of the duplicate rule and the system-set compound names.
COMPOUND_NAME_PARTS: dict[str, tuple[str, ...]] = {
    "Lead": ("Salutation", "FirstName", "LastName"),
    "Contact": ("Salutation", "FirstName", "LastName"),
    "User": ("FirstName", "LastName"),
}


# --------------------------------------------------------------------------------------------
# Profiles: record visibility and field-level editability


@dataclass(frozen=True)
class ProfileSpec:
    """What a profile may do: see everything (View All Data) and which fields it may not edit."""

    name: str
    view_all: bool = False
    readonly_fields: Mapping[str, frozenset[str]] = field(default_factory=dict)
    user_type: str = "Standard"

    def can_edit(self, sobject: str, field_name: str) -> bool:
        return field_name not in self.readonly_fields.get(sobject, frozenset())


INTEGRATION_PROFILE = "LeadBridge Integration"
ADMIN_PROFILE = "System Administrator"
STANDARD_PROFILE = "Standard User"
MARKETING_PROFILE = "Marketing User"

PROFILES: tuple[ProfileSpec, ...] = (
    ProfileSpec(ADMIN_PROFILE, view_all=True),
    ProfileSpec(STANDARD_PROFILE),
    ProfileSpec(MARKETING_PROFILE),
    ProfileSpec(
        INTEGRATION_PROFILE,
        readonly_fields={
            "Lead": frozenset({"Internal_Score__c"}),
            "Contact": frozenset({"Internal_Score__c"}),
        },
    ),
)

# The profile a seeded person gets when the seed names none, by their sandbox role.
ROLE_PROFILES: dict[str, str] = {
    "integration": INTEGRATION_PROFILE,
    "admin": ADMIN_PROFILE,
    "rep": STANDARD_PROFILE,
    "marketer": MARKETING_PROFILE,
}


# --------------------------------------------------------------------------------------------
# The schema: lookups, SOQL resolver protocol, describe output


class Schema:
    """Case-insensitive access to the object and field tables, plus describe rendering."""

    def __init__(self, objects: Iterable[ObjectSpec] = OBJECTS) -> None:
        self.objects: dict[str, ObjectSpec] = {o.name: o for o in objects}
        self._object_names = {name.lower(): name for name in self.objects}
        self._fields = {name: spec.field_map() for name, spec in self.objects.items()}
        self._field_names = {
            name: {f.lower(): f for f in fields} for name, fields in self._fields.items()
        }
        self._relationships = {
            name: {
                f.relationship_name.lower(): (f.reference_to[0], f.name)
                for f in spec.fields
                if f.relationship_name
            }
            for name, spec in self.objects.items()
        }
        self._prefixes = {spec.key_prefix: name for name, spec in self.objects.items()}

    # SchemaResolver protocol (used by sandbox.salesforce.soql) ---------------------------------

    def canonical_object(self, name: str) -> str | None:
        return self._object_names.get(name.lower())

    def field_type(self, sobject: str, field_name: str) -> str | None:
        spec = self.field(sobject, field_name)
        if spec is None:
            return None
        return _SOQL_TYPES.get(spec.type, spec.type)

    def canonical_field(self, sobject: str, field_name: str) -> str:
        return self._field_names.get(sobject, {}).get(field_name.lower(), field_name)

    def relationship_target(self, sobject: str, relationship: str) -> tuple[str, str] | None:
        return self._relationships.get(sobject, {}).get(relationship.lower())

    # Lookups -----------------------------------------------------------------------------------

    def spec(self, sobject: str) -> ObjectSpec:
        return self.objects[sobject]

    def field(self, sobject: str, field_name: str) -> FieldSpec | None:
        fields = self._fields.get(sobject)
        if fields is None:
            return None
        exact = fields.get(field_name)
        if exact is not None:
            return exact
        canonical = self._field_names[sobject].get(field_name.lower())
        return fields.get(canonical) if canonical else None

    def fields(self, sobject: str) -> tuple[FieldSpec, ...]:
        return self.objects[sobject].fields

    def object_for_id(self, record_id: str) -> str | None:
        return self._prefixes.get(record_id[:3])

    def external_id_fields(self, sobject: str) -> tuple[str, ...]:
        return tuple(f.name for f in self.objects[sobject].fields if f.external_id)

    # Describe ----------------------------------------------------------------------------------

    def describe_global(self, *, version: str) -> dict[str, Any]:
        return {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [self._object_summary(o, version=version) for o in self.objects.values()],
        }

    def describe_object(
        self, sobject: str, *, version: str, profile: ProfileSpec | None = None
    ) -> dict[str, Any]:
        spec = self.objects[sobject]
        body = self._object_summary(spec, version=version)
        body["fields"] = [_describe_field(f, spec.name, profile) for f in spec.fields]
        body["childRelationships"] = self._child_relationships(sobject)
        body["recordTypeInfos"] = []
        body["supportedScopes"] = [
            {"label": "All " + spec.label_plural.lower(), "name": "everything"}
        ]
        body["urls"]["describe"] = f"/services/data/v{version}/sobjects/{sobject}/describe"
        return body

    def basic_info(self, sobject: str, *, version: str) -> dict[str, Any]:
        return {
            "objectDescribe": self._object_summary(self.objects[sobject], version=version),
            "recentItems": [],
        }

    def _object_summary(self, spec: ObjectSpec, *, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{spec.name}"
        return {
            "activateable": False,
            "createable": spec.createable,
            "custom": False,
            "customSetting": False,
            "deletable": spec.deletable,
            "deprecatedAndHidden": False,
            "feedEnabled": spec.has_owner,
            "keyPrefix": spec.key_prefix,
            "label": spec.label,
            "labelPlural": spec.label_plural,
            "layoutable": True,
            "mergeable": spec.name in ("Lead", "Contact", "Account"),
            "mruEnabled": True,
            "name": spec.name,
            "queryable": True,
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": spec.deletable,
            "updateable": spec.updateable,
            "urls": {
                "rowTemplate": f"{base}/{{ID}}",
                "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
                "describe": f"{base}/describe",
                "sobject": base,
            },
        }

    def _child_relationships(self, sobject: str) -> list[dict[str, Any]]:
        children = []
        for spec in self.objects.values():
            for f in spec.fields:
                if sobject in f.reference_to and f.relationship_name:
                    children.append(
                        {
                            "cascadeDelete": False,
                            "childSObject": spec.name,
                            "deprecatedAndHidden": False,
                            "field": f.name,
                            "relationshipName": None,
                            "restrictedDelete": False,
                        }
                    )
        return children


def _describe_field(spec: FieldSpec, sobject: str, profile: ProfileSpec | None) -> dict[str, Any]:
    """One entry of describe's `fields`, with `updateable` as the calling user's profile sees it."""
    editable = profile is None or profile.can_edit(sobject, spec.name)
    is_text = spec.type in _STRING_TYPES
    return {
        "aggregatable": spec.type not in ("textarea",),
        "autoNumber": False,
        "byteLength": spec.length * 3 if is_text else (18 if spec.length == 18 else 0),
        "calculated": False,
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": spec.compound_of,
        "controllerName": None,
        "createable": spec.createable and editable,
        "custom": spec.custom,
        "defaultValue": None if spec.type != "boolean" else False,
        "defaultValueFormula": None,
        "defaultedOnCreate": spec.defaulted_on_create,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": spec.digits,
        "encrypted": False,
        "externalId": spec.external_id,
        "extraTypeInfo": None,
        "filterable": spec.type != "textarea" or spec.length <= 255,
        "groupable": spec.type not in ("textarea", "double", "currency", "percent", "datetime"),
        "htmlFormatted": False,
        "idLookup": spec.id_lookup,
        "inlineHelpText": None,
        "label": spec.label,
        "length": spec.length if is_text or spec.type in ("id", "reference") else 0,
        "mask": None,
        "maskType": None,
        "name": spec.name,
        "nameField": spec.name_field,
        "namePointing": len(spec.reference_to) > 1,
        "nillable": spec.nillable,
        "permissionable": spec.nillable and spec.createable,
        "picklistValues": [p.describe() for p in spec.picklist],
        "polymorphicForeignKey": len(spec.reference_to) > 1,
        "precision": spec.precision,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(spec.reference_to),
        "relationshipName": spec.relationship_name,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": spec.restricted,
        "scale": spec.scale,
        "searchPrefilterable": False,
        "soapType": _SOAP_TYPES.get(spec.type, "xsd:string"),
        "sortable": spec.type != "textarea" or spec.length <= 255,
        "type": spec.type,
        "unique": spec.unique,
        "updateable": spec.updateable and editable,
        "writeRequiresMasterRead": False,
    }


SCHEMA = Schema()
