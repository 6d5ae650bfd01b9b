"""The portal's metadata as data: object types, properties, deal pipelines, association types.

Everything the emulator validates against and serves from `/crm/v3/properties`,
`/crm/v3/pipelines` and the v4 association endpoints lives here, so a reader can check it against
HubSpot's documentation line by line. Names and values are HubSpot's own (internal names, option
values, association type ids); `lead_source` is a custom property, as portals synced with
Salesforce usually have one, with options that only partly match Salesforce's LeadSource picklist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- object types


@dataclass(frozen=True)
class ObjectType:
    """A CRM object as the v3 API names it, with the properties HubSpot returns by default."""

    name: str
    type_id: str
    singular: str
    label: str  # as in "Could not get some CONTACT objects"
    created: str
    modified: str
    defaults: tuple[str, ...]
    first_id: int
    search_text: tuple[str, ...] = ()

    @property
    def always(self) -> tuple[str, ...]:
        """Returned even when the caller names other properties."""
        return (self.created, self.modified, "hs_object_id")


_ENGAGEMENT_DEFAULTS = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")

OBJECT_TYPES: dict[str, ObjectType] = {
    ot.name: ot
    for ot in (
        ObjectType(
            "contacts",
            "0-1",
            "contact",
            "CONTACT",
            "createdate",
            "lastmodifieddate",
            ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
            first_id=101,
            search_text=("firstname", "lastname", "email", "phone", "company", "mobilephone"),
        ),
        ObjectType(
            "companies",
            "0-2",
            "company",
            "COMPANY",
            "createdate",
            "hs_lastmodifieddate",
            ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
            first_id=5_000_001,
            search_text=("name", "domain", "website", "phone"),
        ),
        ObjectType(
            "deals",
            "0-3",
            "deal",
            "DEAL",
            "createdate",
            "hs_lastmodifieddate",
            (
                "amount",
                "closedate",
                "createdate",
                "dealname",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "pipeline",
            ),
            first_id=9_000_001,
            search_text=("dealname",),
        ),
        ObjectType(
            "calls",
            "0-48",
            "call",
            "CALL",
            "hs_createdate",
            "hs_lastmodifieddate",
            _ENGAGEMENT_DEFAULTS,
            first_id=20_000_001,
            search_text=("hs_call_title", "hs_call_body"),
        ),
        ObjectType(
            "emails",
            "0-49",
            "email",
            "EMAIL",
            "hs_createdate",
            "hs_lastmodifieddate",
            _ENGAGEMENT_DEFAULTS,
            first_id=30_000_001,
            search_text=("hs_email_subject", "hs_email_text"),
        ),
        ObjectType(
            "meetings",
            "0-47",
            "meeting",
            "MEETING_EVENT",
            "hs_createdate",
            "hs_lastmodifieddate",
            _ENGAGEMENT_DEFAULTS,
            first_id=40_000_001,
            search_text=("hs_meeting_title", "hs_meeting_body"),
        ),
        ObjectType(
            "notes",
            "0-46",
            "note",
            "NOTE",
            "hs_createdate",
            "hs_lastmodifieddate",
            _ENGAGEMENT_DEFAULTS,
            first_id=50_000_001,
            search_text=("hs_note_body",),
        ),
        ObjectType(
            "tasks",
            "0-27",
            "task",
            "TASK",
            "hs_createdate",
            "hs_lastmodifieddate",
            _ENGAGEMENT_DEFAULTS,
            first_id=60_000_001,
            search_text=("hs_task_subject", "hs_task_body"),
        ),
    )
}

ENGAGEMENTS = ("calls", "emails", "meetings", "notes", "tasks")

# HubSpot accepts the plural, the singular and the object type id in paths.
_ALIASES: dict[str, str] = {}
for _ot in OBJECT_TYPES.values():
    for _alias in (_ot.name, _ot.singular, _ot.type_id):
        _ALIASES[_alias] = _ot.name


def object_type(name: str) -> ObjectType | None:
    """The object type a path segment names (case-insensitive), or None."""
    canonical = _ALIASES.get(name.strip().lower())
    return OBJECT_TYPES[canonical] if canonical else None


# --------------------------------------------------------------------------- properties


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class PropertyDef:
    """One property definition; `read_only` ones are calculated by HubSpot and refused in writes."""

    name: str
    label: str
    type: str  # string, number, date, datetime, enumeration, bool
    field_type: str
    group: str
    options: tuple[Option, ...] = ()
    read_only: bool = False
    unique: bool = False
    custom: bool = False
    text_hint: str | None = None
    referenced: str | None = None  # options kept elsewhere: OWNER, PIPELINE, PIPELINE_STAGE

    @property
    def option_values(self) -> frozenset[str]:
        return frozenset(o.value for o in self.options)


def _opts(*pairs: tuple[str, str]) -> tuple[Option, ...]:
    return tuple(Option(value, label) for value, label in pairs)


def _same(*values: str) -> tuple[Option, ...]:
    """Options whose value is their label (how custom enumerations are usually made)."""
    return tuple(Option(v, v) for v in values)


def _titled(*values: str) -> tuple[Option, ...]:
    """Options like BAD_TIMING -> "Bad Timing"."""
    return tuple(Option(v, v.replace("_", " ").title()) for v in values)


def _text(name: str, label: str, group: str, **kw: object) -> PropertyDef:
    return PropertyDef(name, label, "string", "text", group, **kw)  # type: ignore[arg-type]


def _area(name: str, label: str, group: str, **kw: object) -> PropertyDef:
    return PropertyDef(name, label, "string", "textarea", group, **kw)  # type: ignore[arg-type]


def _phone(name: str, label: str, group: str) -> PropertyDef:
    return PropertyDef(name, label, "string", "phonenumber", group, text_hint="phone_number")


def _number(name: str, label: str, group: str, **kw: object) -> PropertyDef:
    return PropertyDef(name, label, "number", "number", group, **kw)  # type: ignore[arg-type]


def _when(name: str, label: str, group: str, **kw: object) -> PropertyDef:
    return PropertyDef(name, label, "datetime", "date", group, **kw)  # type: ignore[arg-type]


def _enum(
    name: str, label: str, group: str, options: tuple[Option, ...], **kw: object
) -> PropertyDef:
    field_type = str(kw.pop("field_type", "select"))
    return PropertyDef(name, label, "enumeration", field_type, group, options, **kw)  # type: ignore[arg-type]


LIFECYCLE_STAGES = _opts(
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
)

LEAD_STATUSES = _titled(
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)

# Custom property. The first five are Salesforce's default LeadSource values; the rest are not.
LEAD_SOURCES = _same(
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
    "Webinar",
    "Trade Show",
    "Paid Social",
    "Organic Search",
    "Content Download",
    "Employee Referral",
)

ANALYTICS_SOURCES = _titled(
    "ORGANIC_SEARCH",
    "PAID_SEARCH",
    "EMAIL_MARKETING",
    "SOCIAL_MEDIA",
    "REFERRALS",
    "OTHER_CAMPAIGNS",
    "DIRECT_TRAFFIC",
    "OFFLINE",
    "PAID_SOCIAL",
)

# A subset of HubSpot's company industry options (internal values as HubSpot spells them).
INDUSTRIES = _titled(
    "ACCOUNTING",
    "AIRLINES_AVIATION",
    "APPAREL_FASHION",
    "AUTOMOTIVE",
    "BANKING",
    "BIOTECHNOLOGY",
    "BROADCAST_MEDIA",
    "BUILDING_MATERIALS",
    "CHEMICALS",
    "COMPUTER_HARDWARE",
    "COMPUTER_NETWORKING",
    "COMPUTER_SOFTWARE",
    "CONSTRUCTION",
    "CONSUMER_ELECTRONICS",
    "CONSUMER_GOODS",
    "CONSUMER_SERVICES",
    "E_LEARNING",
    "EDUCATION_MANAGEMENT",
    "ENVIRONMENTAL_SERVICES",
    "FINANCIAL_SERVICES",
    "FOOD_BEVERAGES",
    "GOVERNMENT_ADMINISTRATION",
    "HIGHER_EDUCATION",
    "HOSPITAL_HEALTH_CARE",
    "HOSPITALITY",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "INSURANCE",
    "INTERNET",
    "LEGAL_SERVICES",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "MACHINERY",
    "MANAGEMENT_CONSULTING",
    "MARKETING_AND_ADVERTISING",
    "MECHANICAL_OR_INDUSTRIAL_ENGINEERING",
    "MEDICAL_DEVICES",
    "NONPROFIT_ORGANIZATION_MANAGEMENT",
    "OIL_ENERGY",
    "PHARMACEUTICALS",
    "REAL_ESTATE",
    "RENEWABLES_ENVIRONMENT",
    "RETAIL",
    "SECURITY_AND_INVESTIGATIONS",
    "STAFFING_AND_RECRUITING",
    "TELECOMMUNICATIONS",
    "TRANSPORTATION_TRUCKING_RAILROAD",
    "UTILITIES",
    "WHOLESALE",
)

EMPLOYEE_RANGES = _same("1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+")


def _owner(group: str, label: str) -> PropertyDef:
    return PropertyDef(
        "hubspot_owner_id", label, "enumeration", "select", group, referenced="OWNER"
    )


def _record_stamps(ot: ObjectType, group: str) -> list[PropertyDef]:
    """Create date, last-modified and record id: every object has them."""
    return [
        _when(ot.created, "Create Date", group),
        _when(ot.modified, "Last Modified Date", group, read_only=True),
        _number("hs_object_id", "Record ID", group, read_only=True, unique=True),
    ]


_C = "contactinformation"
_CONV = "conversioninformation"
_EMAIL = "emailinformation"
_SF = "salesforceinformation"

_CONTACT = [
    _text("email", "Email", _C, text_hint="email"),
    _text("firstname", "First Name", _C),
    _text("lastname", "Last Name", _C),
    _phone("phone", "Phone Number", _C),
    _phone("mobilephone", "Mobile Phone Number", _C),
    _text("company", "Company Name", _C),
    _text("jobtitle", "Job Title", _C),
    _text("website", "Website URL", _C),
    _text("address", "Street Address", _C),
    _text("city", "City", _C),
    _text("state", "State/Region", _C),
    _text("zip", "Postal Code", _C),
    _text("country", "Country/Region", _C),
    _text("industry", "Industry", _C),
    _enum("numemployees", "Number of Employees", _C, EMPLOYEE_RANGES),
    _text("annualrevenue", "Annual Revenue", _C),
    _enum("lifecyclestage", "Lifecycle Stage", _C, LIFECYCLE_STAGES, field_type="radio"),
    _enum("hs_lead_status", "Lead Status", "sales_properties", LEAD_STATUSES, field_type="radio"),
    _enum("lead_source", "Lead Source", _C, LEAD_SOURCES, custom=True),
    _enum(
        "hs_analytics_source",
        "Original Traffic Source",
        "analyticsinformation",
        ANALYTICS_SOURCES,
        read_only=True,
    ),
    _number("hubspotscore", "HubSpot Score", _C, read_only=True),
    _owner(_C, "Contact owner"),
    _text("salesforceleadid", "Salesforce Lead ID", _SF),
    _text("salesforcecontactid", "Salesforce Contact ID", _SF),
    _text("recent_conversion_event_name", "Recent Conversion", _CONV, read_only=True),
    _when("recent_conversion_date", "Recent Conversion Date", _CONV, read_only=True),
    _text("first_conversion_event_name", "First Conversion", _CONV, read_only=True),
    _when("first_conversion_date", "First Conversion Date", _CONV, read_only=True),
    _number("num_conversion_events", "Number of Form Submissions", _CONV, read_only=True),
    _number("hs_email_delivered", "Marketing emails delivered", _EMAIL, read_only=True),
    _number("hs_email_open", "Marketing emails opened", _EMAIL, read_only=True),
    _number("hs_email_click", "Marketing emails clicked", _EMAIL, read_only=True),
    _when("hs_email_last_send_date", "Last marketing email send date", _EMAIL, read_only=True),
    _when("hs_email_last_open_date", "Last marketing email open date", _EMAIL, read_only=True),
    _when("hs_email_last_click_date", "Last marketing email click date", _EMAIL, read_only=True),
    _when("hs_email_first_open_date", "First marketing email open date", _EMAIL, read_only=True),
    _when("hs_email_first_click_date", "First marketing email click date", _EMAIL, read_only=True),
    _text("hs_email_last_email_name", "Last marketing email name", _EMAIL, read_only=True),
    *_record_stamps(OBJECT_TYPES["contacts"], _C),
]

_CO = "companyinformation"
_COMPANY = [
    _text("name", "Company name", _CO),
    _text("domain", "Company Domain Name", _CO, text_hint="domain_name"),
    _text("website", "Website URL", _CO),
    _enum("industry", "Industry", _CO, INDUSTRIES),
    _number("numberofemployees", "Number of Employees", _CO),
    _number("annualrevenue", "Annual Revenue", _CO),
    _text("city", "City", _CO),
    _text("state", "State/Region", _CO),
    _text("country", "Country/Region", _CO),
    _phone("phone", "Phone Number", _CO),
    _area("description", "Description", _CO),
    _enum("type", "Type", _CO, _titled("PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER")),
    _enum("lifecyclestage", "Lifecycle Stage", _CO, LIFECYCLE_STAGES, field_type="radio"),
    _owner(_CO, "Company owner"),
    _text("salesforceaccountid", "Salesforce Account ID", _SF),
    *_record_stamps(OBJECT_TYPES["companies"], _CO),
]

_D = "dealinformation"
_DEAL = [
    _text("dealname", "Deal Name", _D),
    _number("amount", "Amount", _D),
    _when("closedate", "Close Date", _D),
    PropertyDef("pipeline", "Pipeline", "enumeration", "select", _D, referenced="PIPELINE"),
    PropertyDef("dealstage", "Deal Stage", "enumeration", "radio", _D, referenced="PIPELINE_STAGE"),
    _enum(
        "dealtype",
        "Deal Type",
        _D,
        _opts(("newbusiness", "New Business"), ("existingbusiness", "Existing Business")),
    ),
    _area("description", "Deal Description", _D),
    _owner(_D, "Deal owner"),
    _text("hs_salesforceopportunityid", "Salesforce Opportunity ID", _SF),
    *_record_stamps(OBJECT_TYPES["deals"], _D),
]


def _engagement(name: str, group: str, own: list[PropertyDef]) -> list[PropertyDef]:
    return [
        _when("hs_timestamp", "Activity date", group),
        *own,
        _owner(group, "Activity assigned to"),
        *_record_stamps(OBJECT_TYPES[name], group),
    ]


_CALL = _engagement(
    "calls",
    "call",
    [
        _text("hs_call_title", "Call Title", "call"),
        _area("hs_call_body", "Call notes", "call"),
        _number("hs_call_duration", "Call duration", "call"),
        _enum("hs_call_direction", "Call direction", "call", _titled("INBOUND", "OUTBOUND")),
        _enum(
            "hs_call_status",
            "Call status",
            "call",
            _titled(
                "BUSY",
                "CALLING_CRM_USER",
                "CANCELED",
                "COMPLETED",
                "CONNECTING",
                "FAILED",
                "IN_PROGRESS",
                "MISSED",
                "NO_ANSWER",
                "QUEUED",
                "RINGING",
            ),
        ),
        _text("hs_call_recording_url", "Recording URL", "call"),
        _text("hs_call_from_number", "From number", "call"),
        _text("hs_call_to_number", "To number", "call"),
    ],
)
_EMAIL_ENG = _engagement(
    "emails",
    "email",
    [
        _text("hs_email_subject", "Email subject", "email"),
        _area("hs_email_text", "Email body", "email"),
        _area("hs_email_html", "Email HTML", "email"),
        _area("hs_email_headers", "Email headers", "email"),
        _enum(
            "hs_email_direction",
            "Email direction",
            "email",
            _titled("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"),
        ),
        _enum(
            "hs_email_status",
            "Email send status",
            "email",
            _titled("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT"),
        ),
        # Tracked one-to-one emails: HubSpot counts the recipient's opens, clicks and replies.
        _number("hs_email_open_count", "Number of opens", "email", read_only=True),
        _number("hs_email_click_count", "Number of clicks", "email", read_only=True),
        _number("hs_email_reply_count", "Number of replies", "email", read_only=True),
    ],
)
_MEETING = _engagement(
    "meetings",
    "meeting",
    [
        _text("hs_meeting_title", "Meeting name", "meeting"),
        _area("hs_meeting_body", "Meeting description", "meeting"),
        _area("hs_internal_meeting_notes", "Internal meeting notes", "meeting"),
        _text("hs_meeting_location", "Location", "meeting"),
        _when("hs_meeting_start_time", "Start time", "meeting"),
        _when("hs_meeting_end_time", "End time", "meeting"),
        _enum(
            "hs_meeting_outcome",
            "Meeting outcome",
            "meeting",
            _titled("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"),
        ),
        # Where the meeting came from; MEETINGS_PUBLIC / MEETINGS_EMBEDDED: booked by the contact
        # on a HubSpot scheduling page. Set by HubSpot, not through the API.
        _enum(
            "hs_meeting_source",
            "Meeting source",
            "meeting",
            _titled(
                "CRM_UI",
                "MEETINGS_PUBLIC",
                "MEETINGS_EMBEDDED",
                "BIDIRECTIONAL_SYNC",
                "BIDIRECTIONAL_API",
                "INTEGRATION",
            ),
            read_only=True,
        ),
    ],
)
_NOTE = _engagement("notes", "note", [_area("hs_note_body", "Note body", "note")])
_TASK = _engagement(
    "tasks",
    "task",
    [
        _text("hs_task_subject", "Task title", "task"),
        _area("hs_task_body", "Task notes", "task"),
        _enum(
            "hs_task_status",
            "Task status",
            "task",
            _titled("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
        ),
        _enum("hs_task_priority", "Priority", "task", _titled("NONE", "LOW", "MEDIUM", "HIGH")),
        _enum("hs_task_type", "Task type", "task", _titled("CALL", "EMAIL", "TODO", "LINKED_IN")),
    ],
)


def _by_name(defs: Iterable[PropertyDef]) -> dict[str, PropertyDef]:
    return {d.name: d for d in defs}


PROPERTIES: dict[str, dict[str, PropertyDef]] = {
    "contacts": _by_name(_CONTACT),
    "companies": _by_name(_COMPANY),
    "deals": _by_name(_DEAL),
    "calls": _by_name(_CALL),
    "emails": _by_name(_EMAIL_ENG),
    "meetings": _by_name(_MEETING),
    "notes": _by_name(_NOTE),
    "tasks": _by_name(_TASK),
}

GROUP_LABELS: dict[str, str] = {
    "contactinformation": "Contact information",
    "conversioninformation": "Conversion information",
    "emailinformation": "Email information",
    "analyticsinformation": "Web analytics history",
    "salesforceinformation": "Salesforce information",
    "sales_properties": "Sales properties",
    "companyinformation": "Company information",
    "dealinformation": "Deal information",
    "call": "Call information",
    "email": "Email information",
    "meeting": "Meeting information",
    "note": "Note information",
    "task": "Task information",
}

# Properties usable as `idProperty` (values unique per portal); email only for contacts.
ID_PROPERTIES: dict[str, frozenset[str]] = {
    name: frozenset(
        ["hs_object_id", *(p.name for p in defs.values() if p.unique and p.name != "hs_object_id")]
    )
    | (frozenset({"email"}) if name == "contacts" else frozenset())
    for name, defs in PROPERTIES.items()
}


# --------------------------------------------------------------------------- deal pipelines


@dataclass(frozen=True)
class Stage:
    id: str
    label: str
    probability: float
    closed: bool = False


@dataclass(frozen=True)
class Pipeline:
    id: str
    label: str
    display_order: int
    stages: tuple[Stage, ...] = field(default_factory=tuple)

    def stage(self, stage_id: str) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)


DEAL_PIPELINES: tuple[Pipeline, ...] = (
    Pipeline(
        "default",
        "Sales Pipeline",
        0,
        (
            Stage("appointmentscheduled", "Appointment Scheduled", 0.2),
            Stage("qualifiedtobuy", "Qualified To Buy", 0.4),
            Stage("presentationscheduled", "Presentation Scheduled", 0.6),
            Stage("decisionmakerboughtin", "Decision Maker Bought-In", 0.8),
            Stage("contractsent", "Contract Sent", 0.9),
            Stage("closedwon", "Closed Won", 1.0, closed=True),
            Stage("closedlost", "Closed Lost", 0.0, closed=True),
        ),
    ),
    Pipeline(
        "75112203",
        "Renewals",
        1,
        (
            Stage("146342715", "Renewal Due", 0.5),
            Stage("146342716", "Renewal Quoted", 0.7),
            Stage("146342717", "Renewed", 1.0, closed=True),
            Stage("146342718", "Churned", 0.0, closed=True),
        ),
    ),
)

PIPELINES: dict[str, tuple[Pipeline, ...]] = {"deals": DEAL_PIPELINES}
DEFAULT_PIPELINE = "default"


def pipeline(object_name: str, pipeline_id: str) -> Pipeline | None:
    return next((p for p in PIPELINES.get(object_name, ()) if p.id == pipeline_id), None)


# --------------------------------------------------------------------------- association types


@dataclass(frozen=True)
class AssociationType:
    """A HubSpot-defined association type: one direction of a pair, with its inverse."""

    id: int
    source: str
    target: str
    inverse: int
    v3_name: str
    label: str | None = None
    primary: bool = False


def _pair(
    source: str,
    target: str,
    type_id: int,
    inverse_id: int,
    *,
    primary: bool = False,
) -> tuple[AssociationType, AssociationType]:
    src, tgt = OBJECT_TYPES[source].singular, OBJECT_TYPES[target].singular
    # HubSpot names the primary (labelled) type `contact_to_company` and the plain one
    # `contact_to_company_unlabeled` where a pair has both; otherwise the plain one has no suffix.
    has_primary = {source, target} in ({"contacts", "companies"}, {"deals", "companies"})
    suffix = "" if primary or not has_primary else "_unlabeled"
    label = "Primary" if primary else None
    return (
        AssociationType(
            type_id, source, target, inverse_id, f"{src}_to_{tgt}{suffix}", label, primary
        ),
        AssociationType(
            inverse_id, target, source, type_id, f"{tgt}_to_{src}{suffix}", label, primary
        ),
    )


_PAIRS = (
    _pair("contacts", "companies", 279, 280),
    _pair("contacts", "companies", 1, 2, primary=True),
    _pair("deals", "contacts", 3, 4),
    _pair("deals", "companies", 341, 342),
    _pair("deals", "companies", 5, 6, primary=True),
    _pair("calls", "contacts", 194, 193),
    _pair("calls", "companies", 182, 181),
    _pair("calls", "deals", 206, 205),
    _pair("emails", "contacts", 198, 197),
    _pair("emails", "companies", 186, 185),
    _pair("emails", "deals", 210, 209),
    _pair("meetings", "contacts", 200, 199),
    _pair("meetings", "companies", 188, 187),
    _pair("meetings", "deals", 212, 211),
    _pair("notes", "contacts", 202, 201),
    _pair("notes", "companies", 190, 189),
    _pair("notes", "deals", 214, 213),
    _pair("tasks", "contacts", 204, 203),
    _pair("tasks", "companies", 192, 191),
    _pair("tasks", "deals", 216, 215),
)

ASSOCIATION_TYPES: dict[int, AssociationType] = {t.id: t for pair in _PAIRS for t in pair}

# The unlabelled type used by `PUT .../associations/default/...` for each direction.
DEFAULT_ASSOCIATION: dict[tuple[str, str], int] = {
    (t.source, t.target): t.id for t in ASSOCIATION_TYPES.values() if not t.primary
}
