"""The seeded pair of orgs: a believable, deliberately messy mid-market HubSpot portal and SF org.

One imaginary company, Brightwave Analytics, runs marketing in HubSpot and sales in Salesforce, and
has never synced the two. Both systems are drawn from one "world" of organisations and people made
with Faker (fixed locale list, seeded instances, no global random state), so the same person can
appear on both sides, with the small differences real data has (phone formats, a changed title,
a mixed-case email). On top of the everyday mess the seed plants the mess the article lists, and
`describe_mess` finds it again by looking at the data (so it works on any bundle):

- `lead_and_contact`: the same person as an open Lead and a Contact in Salesforce (and in HubSpot);
- `duplicate_accounts`: Accounts whose names/websites normalise to the same organisation;
- `contacts_without_company`: HubSpot contacts with no company association;
- `lead_source_outside_picklist`: HubSpot lead-source values the Salesforce picklist rejects;
- `owner_email_mismatch`: one person, two emails (j.smith@brightwave.io, jsmith@brightwave.com);
- `inactive_owner`: a rep who left (SF user inactive, HubSpot owner archived) still owns records;
- `contacts_sharing_email`: Salesforce Contacts with one email (HubSpot forbids it, SF does not);
- `mql_threshold`: `hubspotscore` spread so that the default MQL threshold (50) admits a minority;
- `automation_pair`: a HubSpot workflow and a Salesforce flow that ping-pong a lead status;
- `private_records`: Salesforce records not shared with the integration user.

The automation pair (see `AUTOMATION_RULES`; the simulator runs it with `automations=True`):
HubSpot "SQL follow-up" sets `hs_lead_status = IN_PROGRESS` on a sales-qualified contact whose lead
status is NEW or OPEN; the Salesforce flow "Hot lead re-queue" sets `Status = Open - Not Contacted`
on a Hot Lead that is `Working - Contacted`. With the usual value map (IN_PROGRESS <-> Working -
Contacted, OPEN <-> Open - Not Contacted) each rule undoes what the sync carried over from the other
rule, forever. The seed plants a few people primed for it (SQL + OPEN in HubSpot, Hot + Open in
Salesforce) and keeps everybody else out of both triggers, so the loop is exactly where expected.

Sizes scale linearly with the number of HubSpot contacts (`RATIOS`); the default is 5,000 contacts.
Timestamps are whole seconds before `now`, so a build is reproducible for a given seed and `now`;
tokens are fresh secrets every time (`sandbox.core.new_token`).
"""

from __future__ import annotations

import itertools
import math
import random
import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from faker import Faker

from sandbox.core import new_token
from sandbox.hubspot import schema as hs_schema
from sandbox.salesforce import schema as sf_schema
from sandbox.salesforce.ids import IdAllocator, make_id
from sandbox.seeddata import HubSpotSeed, SalesforceSeed, SeedBundle

DEFAULT_SEED = 42
DEFAULT_CONTACTS = 5_000
MQL_THRESHOLD = 50
"""The engine's default inclusion threshold on `hubspotscore`; the seed puts a minority above it."""

SCORE_PROPERTY = "hubspotscore"
HS_LEAD_SOURCE_PROPERTY = "lead_source"

# Records per HubSpot contact. Default (5,000 contacts): 1,200 companies, 600 deals, 4,500
# engagements; 2,500 Leads + Contacts, 700 Accounts (+ duplicates), 400 Opportunities, 1,500 Tasks.
RATIOS: dict[str, float] = {
    "companies": 0.24,
    "deals": 0.12,
    "engagements": 0.9,
    "sf_people": 0.5,
    "accounts": 0.14,
    "opportunities": 0.08,
    "sf_tasks": 0.3,
    "orgs_in_both": 0.10,  # organisations that are both a HubSpot company and an Account
    "people_in_both": 0.36,  # people that are both a HubSpot contact and a Lead/Contact
}

# Shares of the planted mess (of the population named in the comment).
MESS: dict[str, float] = {
    "lead_and_contact": 0.04,  # of SF Contacts also in HubSpot: an open Lead with the same email
    "duplicate_accounts": 0.035,  # of Accounts: a second Account for the same organisation
    "shared_email_in_duplicate": 0.5,  # of duplicate Accounts: a copy of one of its Contacts
    "no_company_corporate": 0.03,  # of corporate-email HubSpot contacts: company not associated
    "personal_email": 0.07,  # of people: a gmail/yahoo/... address and no organisation
    "outside_picklist": 0.12,  # of HubSpot lead-source values: one Salesforce rejects
    "private_accounts": 0.03,  # of Accounts (with their Contacts and Opportunities): private
    "private_leads": 0.02,
    "departed_owner": 0.03,  # of owned records: owned by the rep who left
    "messy_email": 0.01,  # of HubSpot contacts: mixed-case email with a trailing space
    "no_email": 0.005,  # of HubSpot contacts and Leads: no email at all
    "converted_leads": 0.05,  # of SF Contacts: came from a converted Lead
    "drift": 0.12,  # of people in both systems: phone or title differs between them
    "automation_primed": 4,  # people primed for the automation pair (a count, not a share)
}

# ---------------------------------------------------------------------------------------------
# Vocabularies. Picklists and options come from the emulators' schemas (stated once, there);
# what is here is how often each value occurs and how the two systems' values correspond.

SF_LEAD_SOURCES: tuple[str, ...] = sf_schema.LEAD_SOURCES
SF_LEAD_STATUSES: tuple[str, ...] = sf_schema.LEAD_STATUSES
SF_RATINGS: tuple[str, ...] = sf_schema.RATINGS
HS_LEAD_SOURCES: tuple[str, ...] = tuple(
    o.value for o in hs_schema.PROPERTIES["contacts"][HS_LEAD_SOURCE_PROPERTY].options
)
HS_LEAD_SOURCES_OUTSIDE = tuple(v for v in HS_LEAD_SOURCES if v not in SF_LEAD_SOURCES)
# How often marketing's sources occur (values shared with the Salesforce picklist).
HS_LEAD_SOURCE_WEIGHTS: dict[str, int] = {
    "Web": 30,
    "Webinar": 12,
    "Trade Show": 12,
    "Partner Referral": 8,
    "Purchased List": 6,
    "Other": 6,
    "Phone Inquiry": 5,
    "Employee Referral": 4,
}
# Salesforce-sourced people: any picklist value, some of which HubSpot has no option for.
SF_LEAD_SOURCE_WEIGHTS: dict[str, int] = {
    "Web": 20,
    "Trade Show": 12,
    "Advertisement": 8,
    "Webinar": 8,
    "Phone Inquiry": 8,
    "Partner Referral": 8,
    "Other": 8,
    "Partner": 6,
    "Purchased List": 6,
    "Employee Referral": 5,
    "External Referral": 5,
    "Word of mouth": 4,
    "Public Relations": 2,
}
# What a rep picked in Salesforce for a HubSpot source the picklist lacks.
SF_SOURCE_FOR_HS: dict[str, str] = {
    "Paid Social": "Advertisement",
    "Organic Search": "Web",
    "Content Download": "Web",
}
SF_INDUSTRY_WEIGHTS: dict[str, int] = {
    "Technology": 22,
    "Healthcare": 9,
    "Manufacturing": 9,
    "Finance": 8,
    "Consulting": 7,
    "Retail": 6,
    "Education": 4,
    "Media": 4,
    "Banking": 3,
    "Biotechnology": 3,
    "Construction": 3,
    "Insurance": 3,
    "Telecommunications": 3,
    "Transportation": 3,
    "Energy": 2,
    "Engineering": 2,
    "Food & Beverage": 2,
    "Hospitality": 2,
    "Not For Profit": 2,
    "Agriculture": 1,
    "Apparel": 1,
    "Chemicals": 1,
    "Communications": 1,
    "Electronics": 1,
    "Entertainment": 1,
    "Environmental": 1,
    "Government": 1,
    "Machinery": 1,
    "Recreation": 1,
    "Shipping": 1,
    "Utilities": 1,
    "Other": 1,
}
# Salesforce industry -> HubSpot company `industry` option (HubSpot's own enumeration); None:
# HubSpot has no near option and the company's industry stays empty.
HS_COMPANY_INDUSTRY: dict[str, str | None] = {
    "Agriculture": "CONSUMER_GOODS",
    "Apparel": "APPAREL_FASHION",
    "Banking": "BANKING",
    "Biotechnology": "BIOTECHNOLOGY",
    "Chemicals": "CHEMICALS",
    "Communications": "MARKETING_AND_ADVERTISING",
    "Construction": "CONSTRUCTION",
    "Consulting": "MANAGEMENT_CONSULTING",
    "Education": "EDUCATION_MANAGEMENT",
    "Electronics": "CONSUMER_ELECTRONICS",
    "Energy": "OIL_ENERGY",
    "Engineering": "MECHANICAL_OR_INDUSTRIAL_ENGINEERING",
    "Entertainment": "BROADCAST_MEDIA",
    "Environmental": "ENVIRONMENTAL_SERVICES",
    "Finance": "FINANCIAL_SERVICES",
    "Food & Beverage": "FOOD_BEVERAGES",
    "Government": "GOVERNMENT_ADMINISTRATION",
    "Healthcare": "HOSPITAL_HEALTH_CARE",
    "Hospitality": "HOSPITALITY",
    "Insurance": "INSURANCE",
    "Machinery": "MACHINERY",
    "Manufacturing": "MECHANICAL_OR_INDUSTRIAL_ENGINEERING",
    "Media": "BROADCAST_MEDIA",
    "Not For Profit": "NONPROFIT_ORGANIZATION_MANAGEMENT",
    "Recreation": "CONSUMER_SERVICES",
    "Retail": "RETAIL",
    "Shipping": "LOGISTICS_AND_SUPPLY_CHAIN",
    "Technology": "COMPUTER_SOFTWARE",
    "Telecommunications": "TELECOMMUNICATIONS",
    "Transportation": "TRANSPORTATION_TRUCKING_RAILROAD",
    "Utilities": "UTILITIES",
    "Other": None,
}
SF_OPPORTUNITY_STAGE_WEIGHTS: dict[str, int] = {
    "Prospecting": 14,
    "Qualification": 12,
    "Needs Analysis": 10,
    "Value Proposition": 8,
    "Id. Decision Makers": 6,
    "Perception Analysis": 4,
    "Proposal/Price Quote": 7,
    "Negotiation/Review": 5,
    "Closed Won": 20,
    "Closed Lost": 14,
}
SF_NEW_BUSINESS = "New Customer"
SF_REPEAT_BUSINESS = tuple(t for t in sf_schema.OPPORTUNITY_TYPES if t != SF_NEW_BUSINESS)
SF_CUSTOMER_TYPES = ("Customer - Direct", "Customer - Direct", "Customer - Channel")
HS_DEAL_STAGE_WEIGHTS: dict[str, int] = {  # pipeline "default": stage -> weight
    "appointmentscheduled": 20,
    "qualifiedtobuy": 18,
    "presentationscheduled": 15,
    "decisionmakerboughtin": 10,
    "contractsent": 7,
    "closedwon": 18,
    "closedlost": 12,
}
HS_ANALYTICS_SOURCE_WEIGHTS: dict[str, int] = {
    "ORGANIC_SEARCH": 30,
    "DIRECT_TRAFFIC": 15,
    "PAID_SEARCH": 12,
    "SOCIAL_MEDIA": 8,
    "PAID_SOCIAL": 8,
    "EMAIL_MARKETING": 10,
    "REFERRALS": 7,
    "OFFLINE": 8,
    "OTHER_CAMPAIGNS": 2,
}
HS_NUMEMPLOYEES = ((5, "1-5"), (25, "5-25"), (50, "25-50"), (100, "50-100"), (500, "100-500"))
HS_NUMEMPLOYEES_TOP = ((1000, "500-1000"), (10**9, "1000+"))
CONVERSION_EVENTS: dict[str, int] = {  # form name -> weight
    "Newsletter signup": 30,
    "Ebook: The RevOps Playbook": 20,
    "Webinar registration: Pipeline Q&A": 14,
    "Contact us": 12,
    "Demo request": 12,
    "Free trial signup": 8,
    "Pricing page - Talk to sales": 4,
}
DEMO_EVENT = "Demo request"
PRODUCTS = ("Insights Platform", "Forecasting Add-on", "Data Connectors", "Premium Support")

# ---------------------------------------------------------------------------------------------
# The automation pair (module docstring). Conditions: field -> values that trigger (all must hold).


@dataclass(frozen=True)
class AutomationRule:
    """A workflow-like rule: when every `when` field holds one of its values, write `then`."""

    system: str
    object: str
    name: str
    when: tuple[tuple[str, tuple[str, ...]], ...]
    then: tuple[tuple[str, str], ...]
    actor_role: str = "admin"

    def matches(self, values: Mapping[str, Any]) -> bool:
        return all(values.get(name) in allowed for name, allowed in self.when)

    def public(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "object": self.object,
            "name": self.name,
            "when": {name: list(allowed) for name, allowed in self.when},
            "then": dict(self.then),
            "actor_role": self.actor_role,
        }


HUBSPOT_SQL_RULE = AutomationRule(
    system="hubspot",
    object="contacts",
    name="SQL follow-up: mark In progress",
    when=(("lifecyclestage", ("salesqualifiedlead",)), ("hs_lead_status", ("NEW", "OPEN"))),
    then=(("hs_lead_status", "IN_PROGRESS"),),
)
SALESFORCE_HOT_LEAD_RULE = AutomationRule(
    system="salesforce",
    object="Lead",
    name="Hot lead re-queue",
    when=(("Rating", ("Hot",)), ("Status", ("Working - Contacted",))),
    then=(("Status", "Open - Not Contacted"),),
)
AUTOMATION_RULES = (HUBSPOT_SQL_RULE, SALESFORCE_HOT_LEAD_RULE)
AUTOMATION_LOOP_FIELDS = {"hubspot": "hs_lead_status", "salesforce": "Status"}

# ---------------------------------------------------------------------------------------------
# Geography, names, titles.

LOCALES: dict[str, tuple[str, int]] = {  # Faker locale -> (country, weight)
    "en_US": ("United States", 60),
    "en_GB": ("United Kingdom", 12),
    "de_DE": ("Germany", 8),
    "en_CA": ("Canada", 6),
    "fr_FR": ("France", 5),
    "en_AU": ("Australia", 5),
    "nl_NL": ("Netherlands", 4),
}
CITIES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "en_US": (
        ("New York", "NY"),
        ("San Francisco", "CA"),
        ("Austin", "TX"),
        ("Chicago", "IL"),
        ("Boston", "MA"),
        ("Seattle", "WA"),
        ("Denver", "CO"),
        ("Atlanta", "GA"),
        ("Dallas", "TX"),
        ("San Diego", "CA"),
        ("Los Angeles", "CA"),
        ("Minneapolis", "MN"),
        ("Raleigh", "NC"),
        ("Nashville", "TN"),
        ("Phoenix", "AZ"),
        ("Portland", "OR"),
        ("Salt Lake City", "UT"),
        ("Columbus", "OH"),
        ("Pittsburgh", "PA"),
        ("Miami", "FL"),
        ("Philadelphia", "PA"),
        ("Charlotte", "NC"),
        ("Kansas City", "MO"),
        ("Detroit", "MI"),
    ),
    "en_GB": tuple(
        (c, None)
        for c in ("London", "Manchester", "Birmingham", "Leeds", "Bristol", "Edinburgh", "Oxford")
    ),
    "de_DE": tuple(
        (c, None)
        for c in ("Berlin", "München", "Hamburg", "Frankfurt am Main", "Köln", "Düsseldorf")
    ),
    "en_CA": (
        ("Toronto", "ON"),
        ("Vancouver", "BC"),
        ("Montreal", "QC"),
        ("Calgary", "AB"),
        ("Ottawa", "ON"),
        ("Waterloo", "ON"),
    ),
    "fr_FR": tuple(
        (c, None) for c in ("Paris", "Lyon", "Marseille", "Toulouse", "Lille", "Nantes", "Bordeaux")
    ),
    "en_AU": (
        ("Sydney", "NSW"),
        ("Melbourne", "VIC"),
        ("Brisbane", "QLD"),
        ("Perth", "WA"),
        ("Adelaide", "SA"),
    ),
    "nl_NL": tuple(
        (c, None) for c in ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven", "Den Haag")
    ),
}
COUNTRY_VARIANTS: dict[str, tuple[str, ...]] = {  # how people type their country into forms
    "United States": ("USA", "US", "United States of America"),
    "United Kingdom": ("UK", "Great Britain", "England"),
    "Germany": ("Deutschland", "DE"),
    "Netherlands": ("The Netherlands", "Holland"),
}
PHONE_FORMATS: dict[str, tuple[str, ...]] = {  # A: area digit (2-9), X: any digit
    "en_US": ("(AXX) XXX-XXXX", "+1 AXX-XXX-XXXX", "AXX.XXX.XXXX", "AXX-XXX-XXXX"),
    "en_CA": ("(AXX) XXX-XXXX", "+1 AXX XXX XXXX"),
    "en_GB": ("+44 20 XXXX XXXX", "0AXXX XXXXXX", "+44 AXXX XXXXXX"),
    "de_DE": ("+49 AX XXXXXXXX", "0AXX XXXXXXX"),
    "fr_FR": ("+33 A XX XX XX XX", "0A XX XX XX XX"),
    "en_AU": ("+61 A XXXX XXXX", "(0A) XXXX XXXX"),
    "nl_NL": ("+31 AX XXX XXXX", "0AX XXX XXXX"),
}
LEGAL_SUFFIXES: dict[str, tuple[str, ...]] = {
    "en_US": ("Inc.", "LLC", "Corp.", ""),
    "en_GB": ("Ltd", "Ltd.", "plc", ""),
    "de_DE": ("GmbH", "AG", "GmbH & Co. KG"),
    "en_CA": ("Inc.", "Ltd.", ""),
    "fr_FR": ("SAS", "SA", "SARL"),
    "en_AU": ("Pty Ltd", "Ltd"),
    "nl_NL": ("B.V.", "N.V."),
}
TLDS: dict[str, tuple[str, ...]] = {
    "en_US": ("com", "com", "com", "io", "co"),
    "en_GB": ("co.uk", "co.uk", "com"),
    "de_DE": ("de", "de", "com"),
    "en_CA": ("ca", "com"),
    "fr_FR": ("fr", "fr", "com"),
    "en_AU": ("com.au", "com.au", "com"),
    "nl_NL": ("nl", "nl", "com"),
}
# Words for the normalised-name comparison: a legal form is not part of an organisation's name.
LEGAL_WORDS = frozenset(
    re.split(
        r"\s+",
        "inc llc corp corporation co company ltd limited plc gmbh ag kg sas sa sarl bv nv pty",
    )
)
BRAND_WORDS = tuple(
    re.split(
        r"\s+",
        "Blue Apex Summit North Bright Iron Cedar Harbor Pioneer Atlas Vertex Evergreen Granite "
        "Silver Keystone Lakeside Beacon Clearwater Horizon Meridian Nimbus Orbit Quantum Sterling "
        "Tidal Vantage Willow Zenith Crest Falcon Juniper Maple Nova Oakridge Pinecrest Redwood "
        "Stonebridge Sunrise Trident Lumen Kinetic Ember Cobalt Aurora Bluestem Copperleaf "
        "Fairview Greenfield Highpoint Ironwood Northstar Riverbend Silverline Westbrook "
        "Brightpath Clearpath",
    )
)
INDUSTRY_NOUNS: dict[str, tuple[str, ...]] = {
    "Technology": ("Software", "Systems", "Labs", "Digital", "Cloud", "Data", "Technologies"),
    "Finance": ("Capital", "Financial", "Advisors", "Wealth"),
    "Banking": ("Bank", "Bancorp", "Savings"),
    "Insurance": ("Insurance", "Assurance", "Mutual"),
    "Healthcare": ("Health", "Medical", "Care", "Clinics"),
    "Biotechnology": ("Bio", "Therapeutics", "Biosciences", "Genomics"),
    "Manufacturing": ("Manufacturing", "Industries", "Fabrication", "Components", "Works"),
    "Retail": ("Outfitters", "Market", "Goods", "Supply"),
    "Consulting": ("Consulting", "Advisory", "Associates", "Partners"),
    "Education": ("Learning", "Academy", "Education"),
    "Media": ("Media", "Studios", "Publishing"),
    "Telecommunications": ("Telecom", "Networks", "Communications"),
    "Transportation": ("Logistics", "Freight", "Transport"),
    "Energy": ("Energy", "Power", "Renewables"),
    "Construction": ("Construction", "Builders", "Contracting"),
    "Hospitality": ("Hotels", "Hospitality", "Resorts"),
    "Food & Beverage": ("Foods", "Brewing", "Kitchens"),
}
DEFAULT_NOUNS = ("Group", "Solutions", "Services", "Holdings", "Company")
PERSONAL_DOMAINS = {"gmail.com": 50, "yahoo.com": 15, "outlook.com": 15, "hotmail.com": 10}
PERSONAL_DOMAINS |= {"icloud.com": 6, "aol.com": 4}
EMAIL_PATTERNS = {"{f}.{l}": 45, "{fi}{l}": 25, "{f}": 8, "{f}{l}": 8, "{f}_{l}": 4, "{fi}.{l}": 10}
TITLES: tuple[tuple[str, str, int], ...] = (  # (title, department, weight)
    ("Marketing Manager", "Marketing", 8),
    ("Demand Generation Manager", "Marketing", 5),
    ("VP of Marketing", "Marketing", 4),
    ("Chief Marketing Officer", "Marketing", 2),
    ("Marketing Operations Manager", "Marketing", 4),
    ("Content Marketing Manager", "Marketing", 3),
    ("Marketing Coordinator", "Marketing", 4),
    ("VP of Sales", "Sales", 4),
    ("Sales Director", "Sales", 4),
    ("Account Executive", "Sales", 5),
    ("Sales Development Representative", "Sales", 3),
    ("Revenue Operations Manager", "Operations", 5),
    ("Director of Revenue Operations", "Operations", 3),
    ("Sales Operations Analyst", "Operations", 3),
    ("Chief Operating Officer", "Operations", 2),
    ("Operations Manager", "Operations", 4),
    ("Chief Executive Officer", "Executive", 3),
    ("Founder", "Executive", 2),
    ("President", "Executive", 1),
    ("Chief Technology Officer", "IT", 2),
    ("IT Manager", "IT", 4),
    ("Director of IT", "IT", 2),
    ("Data Analyst", "IT", 4),
    ("Head of Data", "IT", 2),
    ("Chief Financial Officer", "Finance", 2),
    ("Controller", "Finance", 2),
    ("Finance Manager", "Finance", 3),
    ("HR Director", "Human Resources", 2),
    ("Customer Success Manager", "Customer Success", 4),
    ("Product Manager", "Product", 4),
)
CALL_SUBJECTS = ("Discovery call", "Follow-up call", "Left voicemail", "Pricing discussion")
TASK_SUBJECTS = ("Send pricing", "Follow up on demo", "Send case study", "Book next meeting")
EMAIL_SUBJECTS = ("Quick question", "Following up", "Re: your demo request", "Proposal attached")
MEETING_TITLES = ("Product demo", "Discovery meeting", "Quarterly business review", "Kickoff")
NOTE_TEXTS = (
    "Evaluating tools for next quarter; budget approved in principle.",
    "Uses spreadsheets today; pain is forecasting accuracy.",
    "Asked for a security questionnaire before the next call.",
    "Champion is the RevOps lead; CFO signs off above 50k.",
    "Not a fit right now, revisit after their funding round.",
)

# The imaginary company and its staff. Ids depend on the role and index only, so a reseed with
# another seed number keeps every person's id (and the runner keeps their token).
OUR_COMPANY = "Brightwave Analytics"
OUR_DOMAIN = "brightwave.io"
OUR_LEGACY_DOMAIN = "brightwave.com"  # what Salesforce was set up with, years ago
_STAFF_ID_BASE = {"integration": 0, "admin": 10, "marketer": 100, "agency": 190, "rep": 200}
_STAFF_ID_BASE |= {"departed": 900, "engineer": 950}


# ---------------------------------------------------------------------------------------------
# Public interface.


def build_seed(spec: str | int = "default", *, now: datetime | None = None) -> SeedBundle:
    """The bundle for a `--seed` spec: "default" (seed 42), "empty" (people only) or a number."""
    if spec == "default":
        return build_seed_sized(DEFAULT_SEED, contacts=DEFAULT_CONTACTS, now=now)
    if spec == "empty":
        return build_seed_sized(DEFAULT_SEED, contacts=0, now=now)
    if isinstance(spec, int) and not isinstance(spec, bool) and spec >= 0:
        return build_seed_sized(spec, contacts=DEFAULT_CONTACTS, now=now)
    raise ValueError(f"seed spec must be 'default', 'empty' or a number >= 0, not {spec!r}")


def build_seed_sized(seed: int, *, contacts: int, now: datetime | None = None) -> SeedBundle:
    """A pair of orgs with `contacts` HubSpot contacts and everything else in proportion (RATIOS).

    contacts=0 gives the people (integration user and app, admins, marketers, reps) and no records.
    """
    if contacts < 0:
        raise ValueError(f"contacts must be >= 0, got {contacts}")
    gen = _Gen(seed, now=_whole_seconds(now or datetime.now(UTC)), contacts=contacts)
    staff = _make_staff(gen)
    sf = SalesforceSeed(users=[_sf_user(gen, s) for s in staff if s.sf_id])
    hs = HubSpotSeed(
        app={"appId": 3_141_592, "name": "LeadBridge", "_token": new_token("pat-na1-")},
        users=[_hs_user(s) for s in staff if s.hs_user_id],
        owners=[_hs_owner(gen, s) for s in staff if s.hs_owner_id],
    )
    if contacts:
        world = _World(gen, staff)
        world.build()
        sf.records = world.sf_records()
        hs.records, hs.associations, hs.lists = world.hs_records()
    return SeedBundle(seed=seed, salesforce=sf, hubspot=hs)


def describe_mess(bundle: SeedBundle) -> dict[str, list[Any]]:
    """Find the planted mess in a bundle, by kind, with the record ids involved.

    It looks at the data rather than remembering what was planted, so it describes any bundle
    (a sized one, a hand-made one); tests use it to know what the engine should run into.
    """
    sf, hs = bundle.salesforce, bundle.hubspot
    return {
        "lead_and_contact": _mess_lead_and_contact(sf, hs),
        "duplicate_accounts": _mess_duplicate_accounts(sf),
        "contacts_without_company": _mess_contacts_without_company(hs),
        "lead_source_outside_picklist": _mess_lead_sources(hs),
        "owner_email_mismatch": _mess_owner_emails(sf, hs),
        "inactive_owner": _mess_inactive_owners(sf, hs),
        "contacts_sharing_email": _mess_shared_emails(sf),
        "mql_threshold": [score_distribution(hs)],
        "automation_pair": _mess_automation_pair(sf, hs),
        "private_records": _mess_private(sf),
    }


def score_distribution(hs: HubSpotSeed, *, threshold: int = MQL_THRESHOLD) -> dict[str, Any]:
    """How `hubspotscore` is spread: how many contacts reach the MQL threshold, and deciles."""
    scores = sorted(
        float(c["properties"][SCORE_PROPERTY])
        for c in hs.records.get("contacts", [])
        if c["properties"].get(SCORE_PROPERTY) not in (None, "")
    )
    above = [c["id"] for c in hs.records.get("contacts", []) if _score(c) >= threshold]
    deciles = (
        [scores[min(len(scores) - 1, len(scores) * k // 10)] for k in range(11)] if scores else []
    )
    return {
        "property": SCORE_PROPERTY,
        "threshold": threshold,
        "scored": len(scores),
        "above": len(above),
        "share_above": round(len(above) / len(scores), 4) if scores else 0.0,
        "deciles": deciles,
        "contact_ids_above": above,
    }


def normalise_email(value: str | None) -> str:
    """The match key: trimmed, lower-case (how the engine compares emails across systems)."""
    return (value or "").strip().lower()


def normalise_org_name(name: str | None) -> str:
    """An organisation's name without case, punctuation or legal form ("Acme, Inc." -> "acme")."""
    words = re.sub(r"[^a-z0-9 ]+", " ", _ascii(name or "").lower()).split()
    return " ".join(w for w in words if w not in LEGAL_WORDS)


def website_domain(value: str | None) -> str:
    """The bare domain of a website as people type it ("https://www.Acme.com/" -> "acme.com")."""
    host = re.sub(r"^[a-z]+://", "", (value or "").strip().lower()).split("/")[0]
    return host.removeprefix("www.")


# ---------------------------------------------------------------------------------------------
# Generation: randomness, formats.


def _whole_seconds(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def sf_datetime(moment: datetime) -> str:
    """Salesforce's datetime format: 2026-11-28T20:49:32.000+0000."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")[:19] + ".000+0000"


def hs_datetime(moment: datetime) -> str:
    """HubSpot's datetime format: 2026-11-28T20:49:32.000Z."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")[:19] + ".000Z"


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", _ascii(text).lower())


class _Gen:
    """Seeded randomness, Faker name pools per locale, id counters and the reference time."""

    def __init__(self, seed: int, *, now: datetime, contacts: int) -> None:
        self.seed = seed
        self.now = now
        self.contacts = contacts
        self.rng = random.Random(seed)
        self.sf_ids = IdAllocator(start=1_000_000 + (seed % 1000) * 1_000_000)
        self.first_names: dict[str, list[str]] = {}
        self.last_names: dict[str, list[str]] = {}
        self._pools_made = False
        self._serials: dict[str, int] = {}

    def pools(self) -> None:
        """Draw name pools once from each locale's seeded Faker (fast; Faker is slow per call)."""
        if self._pools_made:
            return
        for offset, locale in enumerate(LOCALES):
            fake = Faker(locale)
            fake.seed_instance(self.seed * 100 + offset)
            self.first_names[locale] = _clean_names(fake.first_name() for _ in range(260))
            self.last_names[locale] = _clean_names(fake.last_name() for _ in range(320))
        self._pools_made = True

    def pick(self, weights: Mapping[str, int | float]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def locale(self) -> str:
        return self.pick({loc: w for loc, (_, w) in LOCALES.items()})

    def ago(self, max_days: float, *, min_days: float = 0.0, recent_bias: float = 1.3) -> datetime:
        """A whole-second moment between min_days and max_days ago, more often recent."""
        span = (max_days - min_days) * 86_400
        seconds = int(min_days * 86_400 + (self.rng.random() ** recent_bias) * span)
        return self.now - timedelta(seconds=max(seconds, 0))

    def between(self, start: datetime, end: datetime | None = None) -> datetime:
        end = end or self.now
        if end <= start:
            return start
        return start + timedelta(seconds=int(self.rng.random() * (end - start).total_seconds()))

    def phone(self, locale: str) -> str:
        template = self.rng.choice(PHONE_FORMATS[locale])
        digits = iter(f"{self.rng.randrange(10 ** template.count('X')):0{template.count('X')}d}")
        area = str(self.rng.randint(2, 9))
        return "".join(next(digits) if c == "X" else area if c == "A" else c for c in template)

    def hs_id(self, kind: str, start: int, max_gap: int) -> str:
        """HubSpot-like numeric ids: increasing with small gaps (records deleted over time)."""
        current = self._serials.get(kind, start)
        self._serials[kind] = current + self.rng.randint(1, max_gap)
        return str(current)


def _cumulative(weights: Iterable[float]) -> list[float]:
    """Cumulative weights, so drawing from thousands of organisations stays O(log n) per draw."""
    return list(itertools.accumulate(weights))


def _clean_names(names: Iterable[str]) -> list[str]:
    """Unique single names (Faker's nl_NL gives "Bourgondië, van": not a name people type)."""
    seen: dict[str, None] = {}
    for name in names:
        if "," not in name and _slug(name):
            seen.setdefault(name, None)
    return list(seen)


# ---------------------------------------------------------------------------------------------
# Staff: the people who act in the two systems.


@dataclass
class _Staff:
    key: str
    role: str  # integration, admin, marketer, rep
    first: str
    last: str
    title: str
    department: str
    profile: str
    sf_email: str
    hs_email: str
    sf_id: str | None
    hs_user_id: int | None
    hs_owner_id: str | None
    active: bool = True
    created: datetime = field(default_factory=lambda: datetime(2021, 3, 1, tzinfo=UTC))

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


# (kind, role, count or per-contacts divisor, SF profile, title, department, in SF, in HubSpot)
_STAFF_PLAN: tuple[tuple[str, str, str, str, str, bool, bool], ...] = (
    ("admin", "admin", sf_schema.ADMIN_PROFILE, "RevOps Manager", "Operations", True, True),
    (
        "marketer",
        "marketer",
        sf_schema.MARKETING_PROFILE,
        "Marketing Manager",
        "Marketing",
        True,
        True,
    ),
    ("agency", "marketer", "", "Agency Consultant", "Marketing", False, True),
    ("rep", "rep", sf_schema.STANDARD_PROFILE, "Account Executive", "Sales", True, True),
    ("departed", "rep", sf_schema.STANDARD_PROFILE, "Account Executive", "Sales", True, True),
    ("engineer", "rep", sf_schema.STANDARD_PROFILE, "Sales Engineer", "Sales", True, False),
)


def _staff_counts(contacts: int) -> dict[str, int]:
    """Team sizes: a few of each for an empty org, more reps and marketers as the org grows."""
    return {
        "admin": 1,
        "marketer": min(12, max(2, contacts // 1_500)),
        "agency": 1,
        "rep": min(60, max(4, contacts // 600)),
        "departed": 1,
        "engineer": 1,
    }


def _make_staff(gen: _Gen) -> list[_Staff]:
    fake = Faker("en_US")
    fake.seed_instance(gen.seed * 100 + 99)
    names: set[str] = set()
    staff = [_integration_user()]
    counts = _staff_counts(gen.contacts)
    for kind, role, profile, title, dept, in_sf, in_hs in _STAFF_PLAN:
        for index in range(counts[kind]):
            first, last = _unique_staff_name(fake, names)
            staff.append(
                _staff_member(
                    gen, kind, index, role, profile, title, dept, first, last, in_sf, in_hs
                )
            )
    _plant_owner_email_mismatch(staff)
    return staff


def _unique_staff_name(fake: Faker, taken: set[str]) -> tuple[str, str]:
    while True:
        first, last = _ascii(fake.first_name()), _ascii(fake.last_name())
        if f"{first} {last}" not in taken and first.isalpha() and last.isalpha():
            taken.add(f"{first} {last}")
            return first, last


def _staff_member(
    gen: _Gen,
    kind: str,
    index: int,
    role: str,
    profile: str,
    title: str,
    dept: str,
    first: str,
    last: str,
    in_sf: bool,
    in_hs: bool,
) -> _Staff:
    serial = _STAFF_ID_BASE[kind] + index
    email = f"{first.lower()}.{last.lower()}@{OUR_DOMAIN}"
    return _Staff(
        key=f"{kind}-{index}",
        role=role,
        first=first,
        last=last,
        title=title,
        department=dept,
        profile=profile,
        sf_email=email,
        hs_email=email,
        sf_id=make_id("005", 7_000_000 + serial) if in_sf else None,
        hs_user_id=5_120_000 + serial if in_hs else None,
        hs_owner_id=str(41_230_000 + serial * 7) if in_hs else None,
        active=kind != "departed",
        created=gen.now - timedelta(days=400 + (serial * 37) % 900),
    )


def _integration_user() -> _Staff:
    return _Staff(
        key="integration",
        role="integration",
        first="LeadBridge",
        last="Integration",
        title="Integration User",
        department="Operations",
        profile=sf_schema.INTEGRATION_PROFILE,
        sf_email=f"integration@{OUR_DOMAIN}",
        hs_email=f"integration@{OUR_DOMAIN}",
        sf_id=make_id("005", 7_000_000),
        hs_user_id=None,
        hs_owner_id=None,
    )


def _plant_owner_email_mismatch(staff: list[_Staff]) -> None:
    """Salesforce kept the legacy domain and a different local part for two people."""
    both = [s for s in staff if s.role in ("rep", "marketer") and s.sf_id and s.hs_owner_id]
    for person in (both[1], both[-2]) if len(both) >= 3 else ():
        person.hs_email = f"{person.first[0].lower()}.{person.last.lower()}@{OUR_DOMAIN}"
        person.sf_email = f"{person.first[0].lower()}{person.last.lower()}@{OUR_LEGACY_DOMAIN}"


def _sf_user(gen: _Gen, s: _Staff) -> dict[str, Any]:
    stamp = sf_datetime(s.created)
    return {
        "Id": s.sf_id,
        "Username": f"{s.sf_email.split('@')[0]}@{OUR_LEGACY_DOMAIN}.prod",
        "FirstName": s.first,
        "LastName": s.last,
        "Name": s.name,
        "Email": s.sf_email,
        "IsActive": s.active,
        "Alias": (s.first[0] + s.last)[:8].lower(),
        "Title": s.title,
        "Department": s.department,
        "UserType": "Standard",
        "CreatedDate": stamp,
        "LastModifiedDate": stamp,
        "SystemModstamp": stamp,
        "_profile": s.profile,
        "_role": s.role,
        "_token": new_token("00D5g000004LbRe!"),
    }


def _hs_user(s: _Staff) -> dict[str, Any]:
    return {
        "id": s.hs_user_id,
        "email": s.hs_email,
        "firstName": s.first,
        "lastName": s.last,
        "active": s.active,
        "_role": s.role,
        "_token": new_token("pat-na1-"),
    }


def _hs_owner(gen: _Gen, s: _Staff) -> dict[str, Any]:
    team = {"rep": "Sales", "marketer": "Marketing", "admin": "RevOps"}[s.role]
    return {
        "id": s.hs_owner_id,
        "email": s.hs_email,
        "firstName": s.first,
        "lastName": s.last,
        "userId": s.hs_user_id,
        "type": "PERSON",
        "createdAt": hs_datetime(s.created),
        "updatedAt": hs_datetime(gen.now - timedelta(days=20) if not s.active else s.created),
        "archived": not s.active,
        "teams": [{"id": str(7_000 + len(team)), "name": team, "primary": True}],
    }


# ---------------------------------------------------------------------------------------------
# The world: organisations and people, and which system knows whom.


@dataclass
class _Org:
    name: str
    domain: str
    industry: str
    employees: int
    revenue: int
    locale: str
    city: str
    state: str | None
    phone: str
    email_pattern: str
    legal: str
    owner: _Staff
    created: datetime
    in_hs: bool = False
    in_sf: bool = False
    hs_id: str | None = None
    sf_id: str | None = None
    people: list[_Person] = field(default_factory=list)
    won: bool = False

    @property
    def country(self) -> str:
        return LOCALES[self.locale][0]


@dataclass
class _Person:
    first: str
    last: str
    email: str | None
    locale: str
    org: _Org | None
    title: str | None
    department: str | None
    phone: str | None
    mobile: str | None
    city: str
    state: str | None
    created: datetime
    lead_source: str
    owner: _Staff | None
    score: int = 0
    in_hs: bool = False
    sf_kind: str | None = None  # "Lead" or "Contact"
    hs_id: str | None = None
    sf_id: str | None = None
    sf_phone: str | None = None  # drift: Salesforce's value when it differs
    sf_title: str | None = None
    private: bool = False
    primed: bool = False  # primed for the automation pair

    @property
    def country(self) -> str:
        return LOCALES[self.locale][0]


class _World:
    """Builds organisations and people once, then renders each system's records from them."""

    def __init__(self, gen: _Gen, staff: list[_Staff]) -> None:
        gen.pools()
        self.gen = gen
        self.rng = gen.rng
        self.staff = staff
        self.reps = [s for s in staff if s.role == "rep" and s.active and s.hs_owner_id]
        self.departed = [s for s in staff if not s.active]
        self.engineers = [s for s in staff if s.role == "rep" and not s.hs_owner_id]
        self.marketers = [s for s in staff if s.role == "marketer" and s.hs_owner_id]
        self.sf_marketers = [s for s in self.marketers if s.sf_id]
        self.admin = next(s for s in staff if s.role == "admin")
        self.by_owner_id = {s.hs_owner_id: s for s in staff if s.hs_owner_id}
        self.n = gen.contacts
        self.orgs: list[_Org] = []
        self.people: list[_Person] = []
        self.names_taken: set[str] = set()
        self.domains_taken: set[str] = {OUR_DOMAIN, OUR_LEGACY_DOMAIN, *PERSONAL_DOMAINS}
        self.emails_taken: set[str] = set()

    def count(self, kind: str) -> int:
        return round(self.n * RATIOS[kind])

    def build(self) -> None:
        self._make_orgs()
        self._make_hubspot_people()
        self._make_salesforce_people()
        self._plant_automation_pair()

    # -- organisations ----------------------------------------------------------------------

    def _make_orgs(self) -> None:
        both = self.count("orgs_in_both")
        hs_only = max(self.count("companies") - both, 0)
        sf_only = max(self.count("accounts") - both, 0)
        for index in range(both + hs_only + sf_only):
            org = self._new_org()
            org.in_hs = index < both + hs_only
            org.in_sf = index < both or index >= both + hs_only
            self.orgs.append(org)

    def _new_org(self) -> _Org:
        gen = self.gen
        locale = gen.locale()
        industry = gen.pick(SF_INDUSTRY_WEIGHTS)
        name, domain = self._org_name(locale, industry)
        employees = max(3, min(40_000, round(math.exp(self.rng.gauss(math.log(140), 1.25)))))
        city, state = self.rng.choice(CITIES[locale])
        return _Org(
            name=name,
            domain=domain,
            industry=industry,
            employees=employees,
            revenue=round(employees * self.rng.uniform(90_000, 320_000), -3),
            locale=locale,
            city=city,
            state=state,
            phone=gen.phone(locale),
            email_pattern=gen.pick(EMAIL_PATTERNS),
            legal=self.rng.choice(LEGAL_SUFFIXES[locale]),
            owner=self._owner(),
            created=gen.ago(730),
        )

    def _org_name(self, locale: str, industry: str) -> tuple[str, str]:
        """A unique name and domain ("Cedar Health", cedarhealth.com), never normalising alike."""
        nouns = INDUSTRY_NOUNS.get(industry, DEFAULT_NOUNS)
        while True:
            if self.gen.chance(0.5):
                stem = self.rng.choice(self.gen.last_names[locale])
            else:
                stem = self.rng.choice(BRAND_WORDS)
            if self.gen.chance(0.25):
                stem = f"{stem} {self.rng.choice(BRAND_WORDS)}"
            name = f"{stem} {self.rng.choice(nouns)}"
            tlds = TLDS[locale] + (("io", "ai") if industry == "Technology" else ())
            domain = f"{_slug(name)[:22]}.{self.rng.choice(tlds)}"
            key = normalise_org_name(name)
            if key and key not in self.names_taken and domain not in self.domains_taken:
                self.names_taken.add(key)
                self.domains_taken.add(domain)
                return name, domain

    def _owner(self) -> _Staff:
        """A record owner: mostly active reps, at times the rep who left or the SF-only engineer."""
        roll = self.rng.random()
        if self.departed and roll < MESS["departed_owner"]:
            return self.departed[0]
        if self.engineers and roll < MESS["departed_owner"] + 0.02:
            return self.engineers[0]
        return self.rng.choice(self.reps)

    # -- people -----------------------------------------------------------------------------

    def _make_hubspot_people(self) -> None:
        hs_orgs = [o for o in self.orgs if o.in_hs]
        weights = _cumulative(math.sqrt(o.employees) for o in hs_orgs)
        for _ in range(self.n):
            if self.gen.chance(MESS["personal_email"]):
                org = None
            else:
                org = self.rng.choices(hs_orgs, cum_weights=weights)[0] if hs_orgs else None
            person = self._new_person(org)
            person.in_hs = True
            self.people.append(person)

    def _make_salesforce_people(self) -> None:
        """People in both systems come from HubSpot's; the rest are new (sales-sourced)."""
        in_both = min(self.count("people_in_both"), len(self.people))
        sf_only = max(self.count("sf_people") - in_both, 0)
        overlap = self.rng.sample(self.people, in_both)
        sf_orgs = [o for o in self.orgs if o.in_sf]
        weights = _cumulative(math.sqrt(o.employees) for o in sf_orgs)
        newcomers = []
        for _ in range(sf_only):
            org = self.rng.choices(sf_orgs, cum_weights=weights)[0] if sf_orgs else None
            org = org if not self.gen.chance(0.05) else None
            newcomers.append(self._new_person(org, sf_sourced=True))
        self.people.extend(newcomers)
        for person in [*overlap, *newcomers]:
            self._enter_salesforce(person)

    def _enter_salesforce(self, person: _Person) -> None:
        org = person.org
        as_contact = org is not None and org.in_sf and self.gen.chance(0.75)
        person.sf_kind = "Contact" if as_contact else "Lead"
        if person.owner is None or not person.owner.sf_id:
            person.owner = org.owner if org else self._owner()
        if as_contact and org is not None:
            person.owner = org.owner
        if person.in_hs and self.gen.chance(MESS["drift"]):
            self._drift(person)

    def _drift(self, person: _Person) -> None:
        """The person changed phone or title in one system only, before any sync existed."""
        if self.gen.chance(0.5):
            person.sf_phone = self.gen.phone(person.locale)
        else:
            title, _, _ = self.rng.choice(TITLES)
            person.sf_title = title

    def _new_person(self, org: _Org | None, *, sf_sourced: bool = False) -> _Person:
        gen = self.gen
        locale = org.locale if org and gen.chance(0.85) else gen.locale()
        first = self.rng.choice(gen.first_names[locale])
        last = self.rng.choice(gen.last_names[locale])
        title, dept, _ = self.rng.choices(TITLES, weights=[t[2] for t in TITLES])[0]
        city, state = (org.city, org.state) if org else self.rng.choice(CITIES[locale])
        created = gen.between(org.created) if org else gen.ago(730)
        person = _Person(
            first=first,
            last=last,
            email=self._email(first, last, org),
            locale=locale,
            org=org,
            title=title if gen.chance(0.93) else None,
            department=dept,
            phone=self._person_phone(locale, org),
            mobile=gen.phone(locale) if gen.chance(0.2) else None,
            city=city,
            state=state,
            created=created,
            lead_source=self._lead_source(sf_sourced=sf_sourced),
            owner=None,
            score=self._score(),
        )
        if org is not None:
            org.people.append(person)
        return person

    def _person_phone(self, locale: str, org: _Org | None) -> str | None:
        if self.gen.chance(0.25):
            return None
        if org is not None and self.gen.chance(0.2):
            return org.phone  # the switchboard
        return self.gen.phone(locale)

    def _email(self, first: str, last: str, org: _Org | None) -> str:
        f, l_ = _slug(first) or "info", _slug(last) or "contact"
        if org is None:
            local = f"{f}.{l_}{self.rng.randint(1, 99)}" if self.gen.chance(0.6) else f"{f}{l_}"
            domain = self.gen.pick(PERSONAL_DOMAINS)
        else:
            local = org.email_pattern.format(f=f, l=l_, fi=f[0])
            domain = org.domain
        email = f"{local}@{domain}"
        suffix = 2
        while email in self.emails_taken:
            email = f"{local}{suffix}@{domain}"
            suffix += 1
        self.emails_taken.add(email)
        return email

    def _lead_source(self, *, sf_sourced: bool) -> str:
        """HubSpot's value for marketing's people (some outside the picklist), else Salesforce's."""
        if sf_sourced:
            return self.gen.pick(SF_LEAD_SOURCE_WEIGHTS)
        if HS_LEAD_SOURCES_OUTSIDE and self.gen.chance(MESS["outside_picklist"]):
            return self.rng.choice(HS_LEAD_SOURCES_OUTSIDE)
        return self.gen.pick(HS_LEAD_SOURCE_WEIGHTS)

    def _score(self) -> int:
        """Exponential with mean 24: about 12% of contacts reach 50, a few reach 100."""
        return min(100, int(self.rng.expovariate(1 / 24)))

    def _plant_automation_pair(self) -> None:
        """A few people in both systems primed for the automation pair: SQL/OPEN and Hot/Open."""
        candidates = [p for p in self.people if p.in_hs and p.sf_kind == "Lead" and p.email]
        count = min(int(MESS["automation_primed"]), len(candidates))
        for person in self.rng.sample(candidates, count):
            person.primed = True
            person.private = False

    # -- rendering: see _render_sf and _render_hs below ------------------------------------

    def sf_records(self) -> dict[str, list[dict[str, Any]]]:
        return _SalesforceRenderer(self).render()

    def hs_records(
        self,
    ) -> tuple[
        dict[str, list[dict[str, Any]]], list[tuple[str, str, str, str, int]], list[dict[str, Any]]
    ]:
        return _HubSpotRenderer(self).render()


# ---------------------------------------------------------------------------------------------
# Salesforce records.


def _sf_stamp(
    record: dict[str, Any], *, created: datetime, modified: datetime, by: _Staff, editor: _Staff
) -> dict[str, Any]:
    """System fields as Salesforce sets them; creators and editors are people, never the sync."""
    record["CreatedDate"] = sf_datetime(created)
    record["LastModifiedDate"] = sf_datetime(modified)
    record["SystemModstamp"] = sf_datetime(modified)
    record["CreatedById"] = by.sf_id
    record["LastModifiedById"] = editor.sf_id
    record["IsDeleted"] = False
    return record


def _website(rng: random.Random, domain: str) -> str:
    formats = ("www.{d}", "https://www.{d}", "{d}", "http://{d}/", "https://{d}")
    return rng.choices(formats, weights=(45, 25, 15, 8, 7))[0].format(d=domain)


def _sf_lead_source(value: str) -> str:
    """What a rep picked in Salesforce for a source the picklist lacks."""
    return value if value in SF_LEAD_SOURCES else SF_SOURCE_FOR_HS.get(value, "Other")


class _SalesforceRenderer:
    """Accounts, Contacts, Leads, Opportunities and Tasks, with the Salesforce-side mess."""

    def __init__(self, world: _World) -> None:
        self.w = world
        self.gen = world.gen
        self.rng = world.gen.rng
        self.ids = world.gen.sf_ids
        self.out: dict[str, list[dict[str, Any]]] = {
            k: [] for k in ("Account", "Contact", "Lead", "Opportunity", "Task")
        }
        self.accounts: dict[str, dict[str, Any]] = {}

    def render(self) -> dict[str, list[dict[str, Any]]]:
        for org in self.w.orgs:
            if org.in_sf:
                self._account(org)
        self._opportunities()
        self._people()
        self._duplicate_accounts()
        self._lead_and_contact()
        self._converted_leads()
        self._tasks()
        return self.out

    def _editor(self, owner: _Staff) -> _Staff:
        """Who touched a record last: mostly its owner, sometimes the admin or marketing ops."""
        roll = self.rng.random()
        if roll < 0.1:
            return self.w.admin
        if roll < 0.18 and self.w.sf_marketers:
            return self.rng.choice(self.w.sf_marketers)
        return owner

    def _stamp(self, record: dict[str, Any], created: datetime, owner: _Staff) -> dict[str, Any]:
        modified = self.gen.between(created)
        creator = owner if self.gen.chance(0.7) else self.w.admin
        return _sf_stamp(
            record, created=created, modified=modified, by=creator, editor=self._editor(owner)
        )

    def _account(self, org: _Org) -> None:
        org.sf_id = self.ids.next("Account")
        record = {
            "Id": org.sf_id,
            "Name": f"{org.name} {org.legal}".strip(),
            "Website": _website(self.rng, org.domain),
            "Industry": org.industry,
            "NumberOfEmployees": org.employees,
            "AnnualRevenue": org.revenue,
            "Type": "Prospect",
            "BillingCity": org.city,
            "BillingCountry": org.country,
            "Phone": org.phone,
            "OwnerId": org.owner.sf_id,
        }
        if self.gen.chance(MESS["private_accounts"]):
            record["_private"] = True
        self.accounts[org.sf_id] = record
        self.out["Account"].append(self._stamp(record, org.created, org.owner))

    def _opportunities(self) -> None:
        orgs = [o for o in self.w.orgs if o.in_sf]
        if not orgs:
            return
        weights = _cumulative(math.sqrt(o.employees) for o in orgs)
        for _ in range(self.w.count("opportunities")):
            org = self.rng.choices(orgs, cum_weights=weights)[0]
            self.out["Opportunity"].append(self._opportunity(org))

    def _opportunity(self, org: _Org) -> dict[str, Any]:
        stage = self.gen.pick(SF_OPPORTUNITY_STAGE_WEIGHTS)
        created = self.gen.between(org.created)
        closed = stage.startswith("Closed")
        if closed:
            close = self.gen.between(created).date()
        else:
            close = (self.gen.now + timedelta(days=self.rng.randint(5, 200))).date()
        kind = self.rng.choice(SF_REPEAT_BUSINESS) if org.won else SF_NEW_BUSINESS
        org.won = org.won or stage == "Closed Won"
        product = self.rng.choice(PRODUCTS)
        account = self.accounts[org.sf_id or ""]
        if stage == "Closed Won":
            account["Type"] = self.rng.choice(SF_CUSTOMER_TYPES)
        record = {
            "Id": self.ids.next("Opportunity"),
            "Name": f"{org.name} - {product}",
            "AccountId": org.sf_id,
            "Amount": _deal_amount(self.rng),
            "CloseDate": close.isoformat(),
            "StageName": stage,
            **_stage_fields(stage),
            "Type": kind,
            "LeadSource": self.rng.choice(SF_LEAD_SOURCES),
            "OwnerId": org.owner.sf_id,
        }
        if account.get("_private"):
            record["_private"] = True
        return self._stamp(record, created, org.owner)

    def _people(self) -> None:
        for person in self.w.people:
            if person.sf_kind == "Contact":
                self.out["Contact"].append(self._contact(person))
            elif person.sf_kind == "Lead":
                self.out["Lead"].append(self._lead(person))

    def _owner_of(self, person: _Person) -> _Staff:
        return person.owner or self.w.reps[0]

    def _contact(self, person: _Person, *, account_id: str | None = None) -> dict[str, Any]:
        owner = self._owner_of(person)
        account_id = account_id or (person.org.sf_id if person.org else None)
        record = {
            "Id": self.ids.next("Contact"),
            "AccountId": account_id,
            "FirstName": person.first,
            "LastName": person.last,
            "Name": f"{person.first} {person.last}",
            "Email": person.email,
            "Phone": person.sf_phone or person.phone,
            "MobilePhone": person.mobile,
            "Title": person.sf_title or person.title,
            "Department": person.department,
            "LeadSource": _sf_lead_source(person.lead_source),
            "MailingCity": person.city,
            "MailingCountry": person.country,
            "OwnerId": owner.sf_id,
        }
        person.sf_id = person.sf_id or record["Id"]
        if account_id and self.accounts[account_id].get("_private"):
            record["_private"] = True
            person.private = True
        return self._stamp(_drop_none(record), person.created, owner)

    def _lead(self, person: _Person, *, status: str | None = None) -> dict[str, Any]:
        owner = self._owner_of(person)
        org = person.org
        status = status or self._lead_status(person)
        record = {
            "Id": self.ids.next("Lead"),
            "FirstName": person.first,
            "LastName": person.last,
            "Name": f"{person.first} {person.last}",
            "Email": person.email,
            "Phone": person.sf_phone or person.phone,
            "MobilePhone": person.mobile,
            "Company": f"{org.name} {org.legal}".strip() if org else "[not provided]",
            "Title": person.sf_title or person.title,
            "LeadSource": _sf_lead_source(person.lead_source),
            "Status": status,
            "Industry": org.industry if org and self.gen.chance(0.7) else None,
            "Rating": self._rating(person, status),
            "NumberOfEmployees": org.employees if org and self.gen.chance(0.6) else None,
            "AnnualRevenue": org.revenue if org and self.gen.chance(0.3) else None,
            "Website": _website(self.rng, org.domain) if org and self.gen.chance(0.5) else None,
            "City": person.city,
            "State": person.state,
            "Country": person.country,
            "Description": self.rng.choice(NOTE_TEXTS) if self.gen.chance(0.15) else None,
            "OwnerId": owner.sf_id,
            "IsConverted": False,
        }
        if not person.in_hs and self.gen.chance(MESS["no_email"] * 4):
            record["Email"] = None  # a trade-show lead with a phone number only
        person.sf_id = person.sf_id or record["Id"]
        if not person.primed and self.gen.chance(MESS["private_leads"]):
            record["_private"] = True
            person.private = True
        return self._stamp(_drop_none(record), person.created, owner)

    def _lead_status(self, person: _Person) -> str:
        if person.primed:
            return "Open - Not Contacted"
        return self.rng.choices(SF_LEAD_STATUSES[:2] + SF_LEAD_STATUSES[3:], weights=(45, 35, 20))[
            0
        ]

    def _rating(self, person: _Person, status: str) -> str | None:
        """Hot leads being worked would trip the re-queue flow: only primed people may."""
        if person.primed:
            return "Hot"
        choices: tuple[str | None, ...] = (*SF_RATINGS, None)
        weights = [15, 35, 30, 20]
        if SALESFORCE_HOT_LEAD_RULE.matches({"Rating": "Hot", "Status": status}):
            weights[0] = 0
        return self.rng.choices(choices, weights=weights)[0]

    def _duplicate_accounts(self) -> None:
        """Second Accounts for the same organisation, some with a copy of a Contact."""
        originals = [a for a in self.out["Account"] if not a.get("_private")]
        count = round(len(self.out["Account"]) * MESS["duplicate_accounts"])
        contacts_by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for contact in self.out["Contact"]:
            contacts_by_account[contact.get("AccountId", "")].append(contact)
        for original in self.rng.sample(originals, min(count, len(originals))):
            dup = self._duplicate_of(original)
            self.out["Account"].append(dup)
            siblings = [c for c in contacts_by_account[original["Id"]] if c.get("Email")]
            if siblings and self.gen.chance(MESS["shared_email_in_duplicate"]):
                self.out["Contact"].append(self._contact_copy(self.rng.choice(siblings), dup))

    def _duplicate_of(self, original: dict[str, Any]) -> dict[str, Any]:
        base = original["Name"]
        variants = (
            base.upper(),
            f"{normalise_org_name(base).title()} Inc",
            base.replace(" ", "  "),
        )
        name = self.rng.choice((*variants, f"{base.rstrip('.')}, Inc."))
        domain = website_domain(original.get("Website"))
        owner = self.rng.choice(self.w.reps)
        record = {
            "Id": self.ids.next("Account"),
            "Name": name,
            "Website": _website(self.rng, domain) if self.gen.chance(0.7) else None,
            "Type": "Prospect",
            "BillingCountry": original.get("BillingCountry"),
            "OwnerId": owner.sf_id,
        }
        self.accounts[record["Id"]] = record
        created = self.gen.between(_parse_sf(original["CreatedDate"]))
        return self._stamp(_drop_none(record), created, owner)

    def _contact_copy(self, contact: dict[str, Any], account: dict[str, Any]) -> dict[str, Any]:
        owner = next(s for s in self.w.staff if s.sf_id == account["OwnerId"])
        record = {k: v for k, v in contact.items() if k[0].isupper() and k not in _SF_SYSTEM}
        record |= {"Id": self.ids.next("Contact"), "AccountId": account["Id"]}
        record |= {"OwnerId": owner.sf_id}
        record.pop("Phone", None)
        created = self.gen.between(_parse_sf(account["CreatedDate"]))
        return self._stamp(record, created, owner)

    def _lead_and_contact(self) -> None:
        """People who are a Contact already and came back through a form as a new open Lead."""
        pool = [p for p in self.w.people if p.sf_kind == "Contact" and p.in_hs and p.email]
        pool = [p for p in pool if not p.private]
        count = round(len(pool) * MESS["lead_and_contact"])
        for person in self.rng.sample(pool, min(count, len(pool))):
            lead = self._lead(person, status="Open - Not Contacted")
            lead["LeadSource"] = "Web"
            lead.pop("_private", None)
            created = self.gen.between(person.created)
            owner = self.rng.choice(self.w.sf_marketers or self.w.reps)
            lead["OwnerId"] = owner.sf_id
            self.out["Lead"].append(self._stamp(lead, created, owner))

    def _converted_leads(self) -> None:
        """Contacts that began as a Lead: the converted Lead stays, pointing at what it became."""
        opps_by_account = {o["AccountId"]: o["Id"] for o in self.out["Opportunity"]}
        contacts = [c for c in self.out["Contact"] if c.get("AccountId") and c.get("Email")]
        count = round(len(contacts) * MESS["converted_leads"])
        for contact in self.rng.sample(contacts, min(count, len(contacts))):
            self.out["Lead"].append(self._converted_lead(contact, opps_by_account))

    def _converted_lead(
        self, contact: dict[str, Any], opps_by_account: dict[str, str]
    ) -> dict[str, Any]:
        account = self.accounts[contact["AccountId"]]
        converted = _parse_sf(contact["CreatedDate"])
        created = converted - timedelta(days=self.rng.randint(3, 120))
        owner = next(s for s in self.w.staff if s.sf_id == contact["OwnerId"])
        record = {
            "Id": self.ids.next("Lead"),
            "FirstName": contact.get("FirstName"),
            "LastName": contact["LastName"],
            "Name": contact["Name"],
            "Email": contact["Email"],
            "Company": account["Name"],
            "Title": contact.get("Title"),
            "LeadSource": contact.get("LeadSource"),
            "Status": "Closed - Converted",
            "OwnerId": owner.sf_id,
            "IsConverted": True,
            "ConvertedContactId": contact["Id"],
            "ConvertedAccountId": account["Id"],
            "ConvertedOpportunityId": opps_by_account.get(account["Id"]),
            "ConvertedDate": converted.date().isoformat(),
        }
        if contact.get("_private"):
            record["_private"] = True
        _sf_stamp(record, created=created, modified=converted, by=owner, editor=owner)
        return _drop_none(record)

    def _tasks(self) -> None:
        people = [*self.out["Contact"], *(x for x in self.out["Lead"] if not x["IsConverted"])]
        if not people:
            return
        opps_by_account: dict[str, list[str]] = defaultdict(list)
        for opp in self.out["Opportunity"]:
            opps_by_account[opp["AccountId"]].append(opp["Id"])
        for _ in range(self.w.count("sf_tasks")):
            who = self.rng.choice(people)
            self.out["Task"].append(self._task(who, opps_by_account))

    def _task(self, who: dict[str, Any], opps: dict[str, list[str]]) -> dict[str, Any]:
        owner = next(s for s in self.w.staff if s.sf_id == who["OwnerId"])
        subtype = self.rng.choices(("Call", "Email", "Task"), weights=(45, 25, 30))[0]
        subjects = {"Call": CALL_SUBJECTS, "Email": EMAIL_SUBJECTS, "Task": TASK_SUBJECTS}[subtype]
        created = self.gen.between(_parse_sf(who["CreatedDate"]))
        due = (created + timedelta(days=self.rng.randint(0, 14))).date()
        done = due <= self.gen.now.date() and self.gen.chance(0.85)
        what = who.get("AccountId")
        if what and opps.get(what) and self.gen.chance(0.5):
            what = self.rng.choice(opps[what])
        record = {
            "Id": self.ids.next("Task"),
            "Subject": f"{self.rng.choice(subjects)}",
            "WhoId": who["Id"],
            "WhatId": what,
            "ActivityDate": due.isoformat(),
            "Status": "Completed" if done else self.rng.choice(("Not Started", "In Progress")),
            "IsClosed": done,
            "Priority": self.rng.choices(("Normal", "High", "Low"), weights=(75, 20, 5))[0],
            "TaskSubtype": subtype,
            "Type": {"Call": "Call", "Email": "Email", "Task": "Other"}[subtype],
            "Description": self.rng.choice(NOTE_TEXTS) if self.gen.chance(0.3) else None,
            "OwnerId": owner.sf_id,
        }
        if who.get("_private"):
            record["_private"] = True
        return self._stamp(_drop_none(record), created, owner)


_SF_SYSTEM = frozenset(
    ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp", "CreatedById", "LastModifiedById")
)


def _stage_fields(stage: str) -> dict[str, Any]:
    """What Salesforce derives from a stage: probability, forecast category, closed/won flags."""
    spec = sf_schema.STAGE_BY_NAME[stage]
    return {
        "Probability": float(spec.probability),
        "ForecastCategoryName": spec.forecast_category_name,
        "ForecastCategory": spec.forecast_category,
        "IsClosed": spec.closed,
        "IsWon": spec.won,
    }


def _drop_none(record: dict[str, Any]) -> dict[str, Any]:
    """Unset fields are left out (the emulator reads a missing field as null)."""
    return {k: v for k, v in record.items() if v is not None}


def _parse_sf(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _deal_amount(rng: random.Random) -> int:
    """Log-normal around 28k: mostly 10k-80k, a long tail of large deals."""
    return max(1_000, round(math.exp(rng.gauss(math.log(28_000), 0.8)), -2))


# ---------------------------------------------------------------------------------------------
# HubSpot records.

_ENGAGEMENT_TYPES: dict[str, tuple[int, int]] = {  # type -> (weight, association type to contact)
    "calls": (25, 194),
    "emails": (30, 198),
    "meetings": (10, 200),
    "notes": (20, 202),
    "tasks": (15, 204),
}
_CONTACT_TO_COMPANY = 279
_DEAL_TO_CONTACT = 3
_DEAL_TO_COMPANY = 341
_SQL_LEAD_STATUSES = ("IN_PROGRESS", "CONNECTED", "ATTEMPTED_TO_CONTACT")
_LEAD_LEAD_STATUSES = ("NEW", "OPEN", "ATTEMPTED_TO_CONTACT", "UNQUALIFIED", "BAD_TIMING")


def _hs_record(
    record_id: str,
    properties: dict[str, Any],
    *,
    created: datetime,
    modified: datetime,
    source: str,
    by: _Staff | None = None,
) -> dict[str, Any]:
    """A v3 object: property values are strings (as the API returns them), unset ones left out.

    `_source` (and for edits in the UI the user behind them) is what history reports for the
    initial values: a CRM_UI value names its user, a FORM value its form.
    """
    props = {k: str(v) for k, v in properties.items() if v is not None and v != ""}
    record: dict[str, Any] = {
        "id": record_id,
        "properties": props,
        "createdAt": hs_datetime(created),
        "updatedAt": hs_datetime(modified),
        "archived": False,
        "_source": source,
    }
    if source == "CRM_UI" and by is not None and by.hs_user_id:
        record["_source_id"] = f"userId:{by.hs_user_id}"
        record["_updated_by"] = by.hs_user_id
    if source == "FORM" and props.get("recent_conversion_event_name"):
        record["_source_id"] = form_id(props["recent_conversion_event_name"])
    return record


def form_id(name: str) -> str:
    """The (stable, GUID-like) id of the website form called name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://www.{OUR_DOMAIN}/forms/{name}"))


def _numemployees(count: int) -> str:
    for upper, label in (*HS_NUMEMPLOYEES, *HS_NUMEMPLOYEES_TOP):
        if count <= upper:
            return label
    return HS_NUMEMPLOYEES_TOP[-1][1]


class _HubSpotRenderer:
    """Companies, contacts, deals, engagements and lists, with the HubSpot-side mess."""

    def __init__(self, world: _World) -> None:
        self.w = world
        self.gen = world.gen
        self.rng = world.gen.rng
        self.out: dict[str, list[dict[str, Any]]] = {
            k: [] for k in ("contacts", "companies", "deals", *_ENGAGEMENT_TYPES)
        }
        self.assoc: list[tuple[str, str, str, str, int]] = []
        self.stage_of: dict[int, str] = {}  # id(person) -> "customer" / "opportunity"
        self.owned: list[tuple[_Person, dict[str, Any]]] = []

    def render(
        self,
    ) -> tuple[
        dict[str, list[dict[str, Any]]], list[tuple[str, str, str, str, int]], list[dict[str, Any]]
    ]:
        for org in self.w.orgs:
            if org.in_hs:
                self._company(org)
        deals = self._deal_plan()
        for person in self.w.people:
            if person.in_hs:
                self._contact(person)
        for org, stage in deals:
            self._deal(org, stage)
        self._engagements()
        return self.out, self.assoc, self._lists()

    def _source(self, weights: Mapping[str, int]) -> str:
        return self.gen.pick(weights)

    def _company(self, org: _Org) -> None:
        org.hs_id = self.gen.hs_id("companies", 9_640_120_000, 400)
        created = self.gen.between(org.created)
        owner = org.owner.hs_owner_id if self.gen.chance(0.85) else None
        name = org.name if self.gen.chance(0.7) else f"{org.name} {org.legal}".strip()
        props = {
            "name": name,
            "domain": org.domain,
            "website": f"https://www.{org.domain}",
            "industry": HS_COMPANY_INDUSTRY[org.industry] if self.gen.chance(0.8) else None,
            "numberofemployees": org.employees if self.gen.chance(0.75) else None,
            "annualrevenue": org.revenue if self.gen.chance(0.5) else None,
            "city": org.city,
            "state": org.state,
            "country": org.country,
            "phone": org.phone if self.gen.chance(0.6) else None,
            "hubspot_owner_id": owner,
            "createdate": hs_datetime(created),
        }
        modified = self.gen.between(created)
        props["hs_lastmodifieddate"] = hs_datetime(modified)
        source = self._source({"IMPORT": 45, "CRM_UI": 35, "ANALYTICS": 20})
        self.out["companies"].append(
            _hs_record(
                org.hs_id, props, created=created, modified=modified, source=source, by=org.owner
            )
        )

    def _deal_plan(self) -> list[tuple[_Org, str]]:
        """Which companies have deals, decided before contacts so lifecycle stages agree."""
        orgs = [o for o in self.w.orgs if o.in_hs and any(p.in_hs for p in o.people)]
        if not orgs:
            return []
        weights = _cumulative(math.sqrt(o.employees) for o in orgs)
        plan = []
        for _ in range(self.w.count("deals")):
            org = self.rng.choices(orgs, cum_weights=weights)[0]
            stage = self.gen.pick(HS_DEAL_STAGE_WEIGHTS)
            plan.append((org, stage))
            for person in self.rng.sample(org.people, min(2, len(org.people))):
                if not person.in_hs or stage == "closedlost":
                    continue
                if stage == "closedwon":
                    self.stage_of[id(person)] = "customer"
                else:
                    self.stage_of.setdefault(id(person), "opportunity")
        return plan

    def _deal(self, org: _Org, stage: str) -> None:
        deal_id = self.gen.hs_id("deals", 18_230_540_000, 900)
        created = self.gen.between(org.created)
        closed = stage.startswith("closed")
        close = (
            self.gen.between(created)
            if closed
            else self.gen.now + timedelta(days=self.rng.randint(7, 180))
        )
        owner = org.owner.hs_owner_id or self.rng.choice(self.w.reps).hs_owner_id
        props = {
            "dealname": f"{org.name} - {self.rng.choice(PRODUCTS)}",
            "amount": _deal_amount(self.rng),
            "pipeline": "default",
            "dealstage": stage,
            "dealtype": "existingbusiness" if org.won else "newbusiness",
            "closedate": hs_datetime(close.replace(hour=0, minute=0, second=0)),
            "hubspot_owner_id": owner,
            "createdate": hs_datetime(created),
        }
        modified = self.gen.between(created)
        props["hs_lastmodifieddate"] = hs_datetime(modified)
        self.out["deals"].append(
            _hs_record(
                deal_id, props, created=created, modified=modified, source="CRM_UI", by=org.owner
            )
        )
        self.assoc.append(("deals", deal_id, "companies", org.hs_id or "", _DEAL_TO_COMPANY))
        members = [p for p in org.people if p.in_hs and p.hs_id]
        for person in self.rng.sample(members, min(len(members), self.rng.randint(1, 2))):
            self.assoc.append(("deals", deal_id, "contacts", person.hs_id or "", _DEAL_TO_CONTACT))

    def _contact(self, person: _Person) -> None:
        person.hs_id = self.gen.hs_id("contacts", 51, 3)
        created = person.created
        modified = self.gen.between(created)
        conversions = self._conversions(person)
        stage, status = self._lifecycle(person)
        owner = self._hs_owner(person)
        props = {
            "firstname": person.first if self.gen.chance(0.98) else None,
            "lastname": person.last,
            "email": self._hs_email(person),
            "phone": person.phone,
            "mobilephone": person.mobile,
            "company": self._company_text(person),
            "jobtitle": person.title,
            "lifecyclestage": stage,
            "hs_lead_status": status,
            HS_LEAD_SOURCE_PROPERTY: person.lead_source if self.gen.chance(0.85) else None,
            SCORE_PROPERTY: person.score,
            "industry": person.org.industry if person.org and self.gen.chance(0.3) else None,
            "numemployees": self._numemployees(person),
            "city": person.city if self.gen.chance(0.8) else None,
            "state": person.state if self.gen.chance(0.6) else None,
            "country": self._country_text(person),
            "website": f"https://{person.org.domain}"
            if person.org and self.gen.chance(0.2)
            else None,
            "hubspot_owner_id": owner,
            "createdate": hs_datetime(created),
            "lastmodifieddate": hs_datetime(modified),
            "hs_analytics_source": self.gen.pick(HS_ANALYTICS_SOURCE_WEIGHTS),
            **conversions,
            **self._email_engagement(person, created),
        }
        if person.primed:
            props["lifecyclestage"], props["hs_lead_status"] = "salesqualifiedlead", "OPEN"
        source = "FORM" if conversions and self.gen.chance(0.7) else self._contact_source(owner)
        editor = self.w.by_owner_id.get(owner or "", self.w.admin)
        record = _hs_record(
            person.hs_id, props, created=created, modified=modified, source=source, by=editor
        )
        self.out["contacts"].append(record)
        if owner:
            self.owned.append((person, record))
        if person.org and person.org.hs_id and not self.gen.chance(MESS["no_company_corporate"]):
            self.assoc.append(
                ("contacts", person.hs_id, "companies", person.org.hs_id, _CONTACT_TO_COMPANY)
            )

    def _contact_source(self, owner: str | None) -> str:
        weights = {"IMPORT": 50, "CRM_UI": 30 if owner else 5, "ANALYTICS": 10, "API": 10}
        return self._source(weights)

    def _hs_email(self, person: _Person) -> str | None:
        """Mostly clean; a few typed in by hand (mixed case, trailing space); a few missing."""
        if person.email is None or (person.sf_kind is None and self.gen.chance(MESS["no_email"])):
            return None
        if self.gen.chance(MESS["messy_email"]):
            local, domain = person.email.split("@")
            return f"{local.title()}@{domain.capitalize()} "
        return person.email

    def _company_text(self, person: _Person) -> str | None:
        if person.org is None:
            return (
                self.rng.choice(self.w.gen.last_names[person.locale]) + " Consulting"
                if (self.gen.chance(0.2))
                else None
            )
        return person.org.name if self.gen.chance(0.9) else None

    def _numemployees(self, person: _Person) -> str | None:
        if person.org is None or not self.gen.chance(0.3):
            return None
        return _numemployees(person.org.employees)

    def _country_text(self, person: _Person) -> str | None:
        if not self.gen.chance(0.75):
            return None
        variants = COUNTRY_VARIANTS.get(person.country)
        if variants and self.gen.chance(0.12):
            return self.rng.choice(variants)
        return person.country

    def _hs_owner(self, person: _Person) -> str | None:
        """Salesforce's owner when HubSpot knows them (the engineer has no seat); else a few."""
        if person.sf_kind and person.owner:
            return person.owner.hs_owner_id
        if self.gen.chance(0.3):
            return self.rng.choice(self.w.reps + self.w.marketers).hs_owner_id
        return None

    def _email_engagement(self, person: _Person, created: datetime) -> dict[str, Any]:
        """Marketing email counters (HubSpot computes them; the seed states their history)."""
        if person.email is None or not self.gen.chance(0.7):
            return {}
        delivered = self.rng.randint(1, 40)
        opened = sum(self.gen.chance(0.3) for _ in range(delivered))
        clicked = sum(self.gen.chance(0.15) for _ in range(opened))
        stats: dict[str, Any] = {
            "hs_email_delivered": delivered,
            "hs_email_open": opened,
            "hs_email_click": clicked,
            "hs_email_last_send_date": hs_datetime(self.gen.between(created)),
        }
        if opened:
            stats["hs_email_last_open_date"] = hs_datetime(self.gen.between(created))
        return stats

    def _conversions(self, person: _Person) -> dict[str, Any]:
        if not self.gen.chance(0.45):
            return {}
        event = self.gen.pick(CONVERSION_EVENTS)
        if event == DEMO_EVENT:
            person.score = min(100, person.score + self.rng.randint(20, 45))
        count = 1 + int(self.rng.expovariate(0.8))
        return {"recent_conversion_event_name": event, "num_conversion_events": count}

    def _lifecycle(self, person: _Person) -> tuple[str, str | None]:
        """Lifecycle stage and lead status that agree with the score, deals and Salesforce."""
        deal_stage = self.stage_of.get(id(person))
        if deal_stage == "customer" or (
            person.sf_kind == "Contact" and person.org is not None and person.org.won
        ):
            return "customer", None
        if deal_stage == "opportunity":
            return "opportunity", "OPEN_DEAL"
        if person.score >= MQL_THRESHOLD:
            if person.sf_kind and self.gen.chance(0.3):
                return "salesqualifiedlead", self.rng.choice(_SQL_LEAD_STATUSES)
            return "marketingqualifiedlead", self.rng.choice(("NEW", "OPEN", None))
        if person.sf_kind:
            stage = self.gen.pick(
                {"lead": 60, "salesqualifiedlead": 25, "marketingqualifiedlead": 15}
            )
            statuses = _SQL_LEAD_STATUSES if stage == "salesqualifiedlead" else _LEAD_LEAD_STATUSES
            return stage, self.rng.choice(statuses)
        stage = self.gen.pick({"subscriber": 38, "lead": 58, "other": 2, "evangelist": 2})
        status = self.rng.choice((*_LEAD_LEAD_STATUSES, None)) if stage == "lead" else None
        return stage, status

    def _engagements(self) -> None:
        contacts = self.out["contacts"]
        if not contacts:
            return
        types = {name: weight for name, (weight, _) in _ENGAGEMENT_TYPES.items()}
        for _ in range(self.w.count("engagements")):
            kind = self.gen.pick(types)
            if self.owned and self.gen.chance(0.8):
                _, contact = self.rng.choice(self.owned)
                owner = contact["properties"]["hubspot_owner_id"]
            else:
                contact = self.rng.choice(contacts)
                owner = self.rng.choice(self.w.reps + self.w.marketers).hs_owner_id
            self._engagement(kind, contact, owner)

    def _engagement(self, kind: str, contact: dict[str, Any], owner: str | None) -> None:
        eng_id = self.gen.hs_id("engagements", 41_203_770_000, 5_000)
        created = self.gen.between(_parse_hs(contact["createdAt"]))
        props = {"hs_timestamp": hs_datetime(created), "hubspot_owner_id": owner}
        props |= _ENGAGEMENT_PROPS[kind](self.rng, created)
        props["hs_createdate"] = hs_datetime(created)
        props["hs_lastmodifieddate"] = hs_datetime(created)
        source = "CRM_UI" if kind != "emails" else "EMAIL"
        self.out[kind].append(
            _hs_record(
                eng_id,
                props,
                created=created,
                modified=created,
                source=source,
                by=self.w.by_owner_id.get(owner or "", self.w.admin),
            )
        )
        self.assoc.append((kind, eng_id, "contacts", contact["id"], _ENGAGEMENT_TYPES[kind][1]))

    def _lists(self) -> list[dict[str, Any]]:
        """Lists whose memberships agree with the properties they are defined by."""
        contacts = self.out["contacts"]

        def members(test: Any) -> list[str]:
            return [c["id"] for c in contacts if test(c["properties"])]

        return [
            _hs_list("101", "MQLs - ready for sales", "DYNAMIC", members(_is_mql)),
            _hs_list("102", "Demo requested", "DYNAMIC", members(_asked_for_demo)),
            _hs_list("103", "Newsletter", "MANUAL", members(_reads_newsletter)),
        ]


def _is_mql(props: Mapping[str, str]) -> bool:
    return float(props.get(SCORE_PROPERTY) or 0) >= MQL_THRESHOLD


def _asked_for_demo(props: Mapping[str, str]) -> bool:
    return props.get("recent_conversion_event_name") == DEMO_EVENT


def _reads_newsletter(props: Mapping[str, str]) -> bool:
    return (
        props.get("lifecyclestage") == "subscriber"
        or props.get("recent_conversion_event_name") == "Newsletter signup"
    )


LIST_DEFINITIONS = {  # list name -> which contacts belong (the seed's memberships follow these)
    "MQLs - ready for sales": _is_mql,
    "Demo requested": _asked_for_demo,
    "Newsletter": _reads_newsletter,
}


def _hs_list(list_id: str, name: str, processing: str, members: list[str]) -> dict[str, Any]:
    return {
        "listId": list_id,
        "name": name,
        "processingType": processing,
        "objectTypeId": "0-1",
        "memberships": members,
    }


def _parse_hs(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _call_props(rng: random.Random, at: datetime) -> dict[str, Any]:
    return {
        "hs_call_title": rng.choice(CALL_SUBJECTS),
        "hs_call_body": rng.choice(NOTE_TEXTS),
        "hs_call_direction": rng.choice(("OUTBOUND", "OUTBOUND", "INBOUND")),
        "hs_call_duration": rng.randint(20, 2_400) * 1000,
        "hs_call_status": "COMPLETED",
    }


def _email_props(rng: random.Random, at: datetime) -> dict[str, Any]:
    return {
        "hs_email_subject": rng.choice(EMAIL_SUBJECTS),
        "hs_email_text": rng.choice(NOTE_TEXTS),
        "hs_email_direction": rng.choice(("EMAIL", "EMAIL", "INCOMING_EMAIL")),
        "hs_email_status": "SENT",
    }


def _meeting_props(rng: random.Random, at: datetime) -> dict[str, Any]:
    end = at + timedelta(minutes=rng.choice((30, 30, 45, 60)))
    return {
        "hs_meeting_title": rng.choice(MEETING_TITLES),
        "hs_meeting_body": rng.choice(NOTE_TEXTS),
        "hs_meeting_start_time": hs_datetime(at),
        "hs_meeting_end_time": hs_datetime(end),
        "hs_meeting_outcome": rng.choice(("COMPLETED", "COMPLETED", "SCHEDULED", "NO_SHOW")),
    }


def _note_props(rng: random.Random, at: datetime) -> dict[str, Any]:
    return {"hs_note_body": rng.choice(NOTE_TEXTS)}


def _task_props(rng: random.Random, at: datetime) -> dict[str, Any]:
    return {
        "hs_task_subject": rng.choice(TASK_SUBJECTS),
        "hs_task_body": rng.choice(NOTE_TEXTS),
        "hs_task_status": rng.choice(("COMPLETED", "COMPLETED", "NOT_STARTED", "IN_PROGRESS")),
        "hs_task_priority": rng.choice(("NONE", "LOW", "MEDIUM", "HIGH")),
        "hs_task_type": rng.choice(("CALL", "EMAIL", "TODO")),
    }


_ENGAGEMENT_PROPS = {
    "calls": _call_props,
    "emails": _email_props,
    "meetings": _meeting_props,
    "notes": _note_props,
    "tasks": _task_props,
}


# ---------------------------------------------------------------------------------------------
# Finding the mess (describe_mess).


def _score(contact: Mapping[str, Any]) -> float:
    value = contact["properties"].get(SCORE_PROPERTY)
    return float(value) if value not in (None, "") else 0.0


def _by_email(records: Iterable[Mapping[str, Any]], key: str) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        email = normalise_email(record.get(key))
        if email:
            groups[email].append(record)
    return groups


def _hs_contacts_by_email(hs: HubSpotSeed) -> dict[str, list[Mapping[str, Any]]]:
    return _by_email(
        (c["properties"] | {"id": c["id"]} for c in hs.records.get("contacts", [])), "email"
    )


def _mess_lead_and_contact(sf: SalesforceSeed, hs: HubSpotSeed) -> list[dict[str, Any]]:
    leads = _by_email((x for x in sf.records.get("Lead", []) if not x.get("IsConverted")), "Email")
    contacts = _by_email(sf.records.get("Contact", []), "Email")
    hs_contacts = _hs_contacts_by_email(hs)
    found = []
    for email in sorted(leads.keys() & contacts.keys()):
        found.append(
            {
                "email": email,
                "lead_ids": [x["Id"] for x in leads[email]],
                "contact_ids": [x["Id"] for x in contacts[email]],
                "hubspot_contact_ids": [x["id"] for x in hs_contacts.get(email, [])],
            }
        )
    return found


def _mess_duplicate_accounts(sf: SalesforceSeed) -> list[dict[str, Any]]:
    """Accounts that share a normalised name or website domain (joined transitively)."""
    accounts = sf.records.get("Account", [])
    parent = list(range(len(accounts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[str, int] = {}
    for index, account in enumerate(accounts):
        keys = [f"name:{normalise_org_name(account.get('Name'))}"]
        if account.get("Website"):
            keys.append(f"domain:{website_domain(account['Website'])}")
        for key in keys:
            if key in first_seen:
                parent[root(index)] = root(first_seen[key])
            else:
                first_seen[key] = index
    groups: dict[int, list[int]] = defaultdict(list)
    for index in range(len(accounts)):
        groups[root(index)].append(index)
    return [
        {
            "account_ids": [accounts[i]["Id"] for i in members],
            "names": [accounts[i].get("Name") for i in members],
            "domains": sorted({website_domain(accounts[i].get("Website")) for i in members} - {""}),
        }
        for members in groups.values()
        if len(members) > 1
    ]


def _mess_contacts_without_company(hs: HubSpotSeed) -> list[str]:
    linked = {a[1] for a in hs.associations if a[0] == "contacts" and a[2] == "companies"}
    linked |= {a[3] for a in hs.associations if a[0] == "companies" and a[2] == "contacts"}
    return [c["id"] for c in hs.records.get("contacts", []) if c["id"] not in linked]


def _mess_lead_sources(hs: HubSpotSeed) -> list[dict[str, Any]]:
    by_value: dict[str, list[str]] = defaultdict(list)
    for contact in hs.records.get("contacts", []):
        value = contact["properties"].get(HS_LEAD_SOURCE_PROPERTY)
        if value and value not in SF_LEAD_SOURCES:
            by_value[value].append(contact["id"])
    return [{"value": v, "hubspot_contact_ids": ids} for v, ids in sorted(by_value.items())]


def _mess_owner_emails(sf: SalesforceSeed, hs: HubSpotSeed) -> list[dict[str, Any]]:
    """A HubSpot owner and a Salesforce user with the same name and different emails."""
    users = {(u.get("FirstName"), u.get("LastName")): u for u in sf.users}
    found = []
    for owner in hs.owners:
        user = users.get((owner.get("firstName"), owner.get("lastName")))
        if user and normalise_email(user.get("Email")) != normalise_email(owner.get("email")):
            found.append(
                {
                    "name": f"{owner['firstName']} {owner['lastName']}",
                    "hubspot_owner_id": owner["id"],
                    "hubspot_email": owner["email"],
                    "salesforce_user_id": user["Id"],
                    "salesforce_email": user["Email"],
                }
            )
    return found


def _mess_inactive_owners(sf: SalesforceSeed, hs: HubSpotSeed) -> list[dict[str, Any]]:
    found = []
    for user in sf.users:
        if not user.get("IsActive", True):
            owned = [
                {"object": obj, "id": r["Id"]}
                for obj, records in sf.records.items()
                for r in records
                if r.get("OwnerId") == user["Id"]
            ]
            if owned:
                found.append({"system": "salesforce", "user_id": user["Id"], "records": owned})
    for owner in hs.owners:
        if owner.get("archived"):
            owned = [
                {"object": obj, "id": r["id"]}
                for obj, records in hs.records.items()
                for r in records
                if r["properties"].get("hubspot_owner_id") == owner["id"]
            ]
            if owned:
                found.append({"system": "hubspot", "owner_id": owner["id"], "records": owned})
    return found


def _mess_shared_emails(sf: SalesforceSeed) -> list[dict[str, Any]]:
    groups = _by_email(sf.records.get("Contact", []), "Email")
    return [
        {"email": email, "contact_ids": [c["Id"] for c in contacts]}
        for email, contacts in sorted(groups.items())
        if len(contacts) > 1
    ]


def _mess_automation_pair(sf: SalesforceSeed, hs: HubSpotSeed) -> list[dict[str, Any]]:
    """The two rules, each with the records primed for it (matching it, or its counterpart's)."""
    primed = [
        c for c in hs.records.get("contacts", []) if HUBSPOT_SQL_RULE.matches(c["properties"])
    ]
    emails = {normalise_email(c["properties"].get("email")) for c in primed} - {""}
    hot_leads = [
        x
        for x in sf.records.get("Lead", [])
        if not x.get("IsConverted")
        and (SALESFORCE_HOT_LEAD_RULE.matches(x) or normalise_email(x.get("Email")) in emails)
    ]
    return [
        HUBSPOT_SQL_RULE.public()
        | {"loop_field": AUTOMATION_LOOP_FIELDS["hubspot"], "records": [c["id"] for c in primed]},
        SALESFORCE_HOT_LEAD_RULE.public()
        | {
            "loop_field": AUTOMATION_LOOP_FIELDS["salesforce"],
            "records": [x["Id"] for x in hot_leads],
        },
    ]


def _mess_private(sf: SalesforceSeed) -> list[dict[str, Any]]:
    return [
        {"object": obj, "id": r["Id"], "owner_id": r.get("OwnerId")}
        for obj, records in sf.records.items()
        for r in records
        if r.get("_private")
    ]


def seed_counts(bundle: SeedBundle) -> dict[str, int]:
    """Records per object on each side (for reports and benchmarks)."""
    counts = {f"salesforce.{k}": len(v) for k, v in bundle.salesforce.records.items()}
    counts |= {f"hubspot.{k}": len(v) for k, v in bundle.hubspot.records.items()}
    counts["salesforce.User"] = len(bundle.salesforce.users)
    counts["hubspot.owners"] = len(bundle.hubspot.owners)
    counts["hubspot.associations"] = len(bundle.hubspot.associations)
    return counts


__all__ = [
    "AUTOMATION_RULES",
    "DEFAULT_CONTACTS",
    "DEFAULT_SEED",
    "HUBSPOT_SQL_RULE",
    "LIST_DEFINITIONS",
    "MQL_THRESHOLD",
    "SALESFORCE_HOT_LEAD_RULE",
    "AutomationRule",
    "build_seed",
    "build_seed_sized",
    "describe_mess",
    "form_id",
    "hs_datetime",
    "normalise_email",
    "normalise_org_name",
    "score_distribution",
    "seed_counts",
    "sf_datetime",
    "website_domain",
]
