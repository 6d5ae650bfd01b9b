"""Field conversion between HubSpot and Salesforce: identity normalisation, value maps,
transforms, owners, whole records, and values reported (never raised) when they cannot map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sync_engine.config import FieldMapping, ObjectSync, ValueMap, load_config
from sync_engine.mapping import (
    MappingContext,
    OwnerDirectory,
    canonical_from_hubspot,
    canonical_from_salesforce,
    canonical_to_hubspot,
    canonical_to_salesforce,
    hubspot_to_salesforce,
    normalize_domain,
    normalize_email,
    precheck_salesforce,
    salesforce_to_hubspot,
    same_value,
)
from sync_engine.models import Direction, FieldMeta, System, Transform

pytestmark = pytest.mark.unit

SHIPPED = load_config(Path(__file__).resolve().parents[2] / "sync.toml")

SF_REP = "0055g00000AbCdEAAZ"
SF_LEFT = "0055g00000XyZaBAAZ"
OWNERS = OwnerDirectory.build(
    [
        {"id": "101", "email": "Ana.Rep@Brightwave.io"},
        {"id": "102", "email": "j.smith@brightwave.io"},
        {"id": "103", "email": "gone@brightwave.io", "archived": True},
    ],
    [
        {"Id": SF_REP, "Email": "ana.rep@brightwave.io", "IsActive": True},
        {"Id": "0055g00000SmItHAAZ", "Email": "jsmith@brightwave.com", "IsActive": True},
        {"Id": SF_LEFT, "Email": "left@brightwave.io", "IsActive": False},
    ],
    aliases=[("j.smith@brightwave.io", "jsmith@brightwave.com")],
)
CONTEXT = MappingContext.from_config(SHIPPED, owners=OWNERS)


def contact() -> ObjectSync:
    found = SHIPPED.object("contact")
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Jo.Smith+Events@Acme.COM ", "jo.smith+events@acme.com"),
        ("a@b.io", "a@b.io"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_normalize_email_strips_lowercases_and_keeps_plus_addressing(
    raw: Any, expected: str | None
) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Acme.com/about", "acme.com"),
        ("acme.com", "acme.com"),
        ("http://shop.acme.co.uk", "shop.acme.co.uk"),
        ("WWW.ACME.COM.", "acme.com"),
        ("", None),
        ("[X]", "[x]"),  # urlparse raises on it: kept as typed, the sync goes on
    ],
)
def test_normalize_domain(raw: str, expected: str | None) -> None:
    assert normalize_domain(raw) == expected


# ------------------------------------------------------------------ value maps

SOURCES = ValueMap(
    "src",
    to_salesforce=(("Web", "Web"), ("Organic  Search", "Web"), ("Partner", "Partner Referral")),
    to_hubspot=(("Advertisement", "Paid Social"),),
)


@pytest.mark.parametrize(
    ("hubspot", "salesforce"),
    [("web", "Web"), (" organic search ", "Web"), ("PARTNER", "Partner Referral"), ("Nope", None)],
)
def test_value_map_lookup_ignores_case_and_spacing(hubspot: str, salesforce: str | None) -> None:
    assert SOURCES.salesforce_for(hubspot) == salesforce


@pytest.mark.parametrize(
    ("salesforce", "hubspot"),
    [
        ("Web", "Web"),  # the first HubSpot value mapped to it
        ("partner referral", "Partner"),
        ("Advertisement", "Paid Social"),  # explicit way back
        ("Other", None),
    ],
)
def test_value_map_way_back(salesforce: str, hubspot: str | None) -> None:
    assert SOURCES.hubspot_for(salesforce) == hubspot


def test_pass_unmapped_lets_values_through_in_known_spelling() -> None:
    loose = ValueMap("industry", (("Software", "Technology"),), pass_unmapped=True)
    assert loose.salesforce_for("software") == "Technology"
    assert loose.salesforce_for("technology") == "Technology"
    assert loose.salesforce_for("Healthcare") == "Healthcare"


def test_value_map_coverage_lists_gaps_for_the_dashboard() -> None:
    no_sf, no_hs = SOURCES.coverage(
        hubspot_options=["Web", "Paid Social"], salesforce_values=["Web", "Other"]
    )
    assert no_sf == ("Paid Social",)
    assert no_hs == ("Other",)


def test_lead_source_maps_case_insensitively_and_reports_missing_entries() -> None:
    mapping = next(m for m in contact().fields if m.hubspot == "lead_source")
    assert canonical_from_hubspot(mapping, "organic search", CONTEXT).value == "Web"
    missing = canonical_from_hubspot(mapping, "Paid Social", CONTEXT)
    assert missing.issue is not None
    assert missing.issue.field == "LeadSource" and missing.issue.system is System.SALESFORCE
    assert "[value_maps.lead_source.to_salesforce]" in missing.issue.fix
    assert canonical_from_salesforce(mapping, "web", CONTEXT).value == "Web"
    assert canonical_to_hubspot(mapping, "Partner", CONTEXT).value == "Partner Referral"


def test_deal_stage_map_follows_the_pipeline() -> None:
    deal = SHIPPED.object("deal")
    assert deal is not None
    stage = next(m for m in deal.fields if m.hubspot == "dealstage")
    renewals = CONTEXT.with_pipeline("75112203")
    assert canonical_from_hubspot(stage, "contractsent", CONTEXT).value == "Proposal/Price Quote"
    assert canonical_from_hubspot(stage, "146342716", renewals).value == "Proposal/Price Quote"
    assert canonical_to_hubspot(stage, "Negotiation/Review", CONTEXT).value == "contractsent"
    assert canonical_to_hubspot(stage, "Negotiation/Review", renewals).value == "146342716"


# ------------------------------------------------------------------ transforms


def field(transform: Transform) -> FieldMapping:
    return FieldMapping("p", "F", transform=transform)


@pytest.mark.parametrize(
    ("transform", "hubspot", "salesforce", "hubspot_back"),
    [
        (Transform.TEXT, "  Acme  ", "Acme", "Acme"),
        (Transform.EMAIL, " Jo@Acme.COM", "jo@acme.com", "jo@acme.com"),
        (Transform.NUMBER, "1000.50", 1000.5, "1000.5"),
        (Transform.NUMBER, "1200", 1200, "1200"),
        (Transform.NUMBER, "1,200.00", 1200, "1200"),
        (Transform.INTEGER, "250", 250, "250"),
        (Transform.BOOLEAN, "true", True, "true"),
        (Transform.BOOLEAN, "false", False, "false"),
        (Transform.DATE, "2026-03-01", "2026-03-01", "2026-03-01"),
        (Transform.DATE, "1772323200000", "2026-03-01", "2026-03-01"),
        (
            Transform.DATETIME,
            "2026-11-28T20:49:32.123Z",
            "2026-11-28T20:49:32.123+0000",
            "2026-11-28T20:49:32.123Z",
        ),
        (
            Transform.DATETIME,
            "1795897772000",
            "2026-11-28T20:29:32.000+0000",
            "2026-11-28T20:29:32.000Z",
        ),
        (
            Transform.DATETIME_TO_DATE,
            "2026-03-01T00:00:00.000Z",
            "2026-03-01",
            "2026-03-01T00:00:00Z",
        ),
        (Transform.DOMAIN_URL, "Acme.com", "https://acme.com", "acme.com"),
        (Transform.EMPLOYEE_RANGE, "25-50", 50, "25-50"),
        (Transform.EMPLOYEE_RANGE, "1000+", 1001, "1000+"),
        (Transform.PHONE, "+1 (555) 010-2000", "+1 (555) 010-2000", "+1 (555) 010-2000"),
    ],
)
def test_transforms_convert_both_ways(
    transform: Transform, hubspot: str, salesforce: Any, hubspot_back: str
) -> None:
    mapping = field(transform)
    canonical = canonical_from_hubspot(mapping, hubspot, CONTEXT)
    assert canonical.ok
    sent = canonical_to_salesforce(mapping, canonical.value, CONTEXT)
    assert sent.value == salesforce and type(sent.value) is type(salesforce)
    back = canonical_from_salesforce(mapping, salesforce, CONTEXT)
    assert canonical_to_hubspot(mapping, back.value, CONTEXT).value == hubspot_back


@pytest.mark.parametrize(
    ("transform", "a_hubspot", "b_salesforce"),
    [
        (Transform.DOMAIN_URL, "acme.com", "https://www.acme.com/"),
        (Transform.PHONE, "+1 555 010 2000", "+1 (555) 010-2000"),
        (Transform.EMAIL, "JO@acme.com", "jo@acme.com"),
        (Transform.NUMBER, "50", 50.0),
        (Transform.DATETIME_TO_DATE, "2026-03-01T17:00:00.000Z", "2026-03-01"),
        (Transform.EMPLOYEE_RANGE, "25-50", 37),
        (Transform.DATETIME, "2026-11-28T20:49:32Z", "2026-11-28T20:49:32.000+0000"),
        (Transform.BOOLEAN, "", False),
    ],
)
def test_equal_values_in_different_shapes_compare_equal(
    transform: Transform, a_hubspot: str, b_salesforce: Any
) -> None:
    mapping = field(transform)
    a = canonical_from_hubspot(mapping, a_hubspot, CONTEXT).value
    b = canonical_from_salesforce(mapping, b_salesforce, CONTEXT).value
    assert same_value(mapping, a, b)


@pytest.mark.parametrize(
    ("transform", "value", "reason"),
    [
        (Transform.NUMBER, "12 apples", "'12 apples' is not a number"),
        (Transform.INTEGER, "12.5", "12.5 is not a whole number"),
        (Transform.BOOLEAN, "maybe", "'maybe' is not true or false"),
        (Transform.DATE, "next tuesday", "'next tuesday' is not a date"),
        (Transform.EMAIL, "not-an-email", "is not a valid email address"),
        (Transform.EMPLOYEE_RANGE, "lots", "'lots' is not an employee range"),
    ],
)
def test_bad_values_become_issues_not_exceptions(
    transform: Transform, value: str, reason: str
) -> None:
    converted = canonical_from_hubspot(field(transform), value, CONTEXT)
    assert converted.issue is not None and reason in converted.issue.reason
    assert converted.issue.field == "F" and converted.issue.source_field == "p"


# ------------------------------------------------------------------ owners


def owner() -> FieldMapping:
    return FieldMapping("hubspot_owner_id", "OwnerId", transform=Transform.OWNER_BY_EMAIL)


def test_owner_maps_by_email_case_insensitively_and_through_aliases() -> None:
    assert (
        canonical_to_salesforce(
            owner(), canonical_from_hubspot(owner(), "101", CONTEXT).value, CONTEXT
        ).value
        == SF_REP
    )
    via_alias = canonical_from_hubspot(owner(), "102", CONTEXT).value
    assert via_alias == "jsmith@brightwave.com"
    assert canonical_to_salesforce(owner(), via_alias, CONTEXT).value == "0055g00000SmItHAAZ"
    sf_side = canonical_from_salesforce(owner(), "0055g00000SmItHAAZ", CONTEXT).value
    assert canonical_to_hubspot(owner(), sf_side, CONTEXT).value == "102"


@pytest.mark.parametrize(
    ("step", "value", "reason"),
    [
        ("from_hubspot", "103", "HubSpot owner 103 is unknown or archived"),
        ("to_salesforce", "left@brightwave.io", "is inactive"),
        ("to_salesforce", "nobody@brightwave.io", "has no Salesforce user with the email"),
        ("to_hubspot", "left@brightwave.io", "has no active HubSpot owner with the email"),
    ],
)
def test_owner_problems_are_reported_with_a_fix(step: str, value: str, reason: str) -> None:
    """Each refusal names the people on both sides it concerns, and the fix."""
    functions = {
        "from_hubspot": canonical_from_hubspot,
        "to_salesforce": canonical_to_salesforce,
        "to_hubspot": canonical_to_hubspot,
    }
    converted = functions[step](owner(), value, CONTEXT)
    assert converted.issue is not None
    assert reason in converted.issue.reason and converted.issue.fix


# ------------------------------------------------------------------ whole records

HS_CONTACT = {
    "email": " Jo@Acme.com ",
    "firstname": "Jo",
    "lastname": "Smith",
    "phone": "+1 (555) 010-2000",
    "company": "Acme",
    "jobtitle": "VP Sales",
    "hs_lead_status": "NEW",
    "lead_source": "Organic Search",
    "industry": "software",
    "city": "Paris",
    "hubspot_owner_id": "101",
    "hubspotscore": "80",
}


def test_hubspot_contact_to_lead_applies_maps_and_direction() -> None:
    mapped = hubspot_to_salesforce(HS_CONTACT, contact(), "Lead", context=CONTEXT)
    assert mapped.issues == ()
    assert mapped.non_blank() == {
        "Email": "jo@acme.com",
        "FirstName": "Jo",
        "LastName": "Smith",
        "Phone": "+1 (555) 010-2000",
        "Company": "Acme",
        "Title": "VP Sales",
        "Status": "Open - Not Contacted",
        "LeadSource": "Web",
        "Industry": "Technology",
        "City": "Paris",
    }
    # Salesforce-owned (OwnerId) and disabled (Internal_Score__c) fields are never sent.
    assert "OwnerId" not in mapped.values and "Internal_Score__c" not in mapped.values


def test_hubspot_contact_to_contact_uses_contact_fields() -> None:
    mapped = hubspot_to_salesforce(HS_CONTACT, contact(), "Contact", context=CONTEXT)
    assert mapped.values["MailingCity"] == "Paris"
    assert not {"City", "Company", "Status", "Industry"} & set(mapped.values)


def test_unmappable_values_are_left_out_and_reported() -> None:
    record = {**HS_CONTACT, "lead_source": "Content Download"}
    mapped = hubspot_to_salesforce(record, contact(), "Lead", context=CONTEXT)
    assert "LeadSource" not in mapped.values
    assert [(i.field, i.value) for i in mapped.issues] == [("LeadSource", "Content Download")]
    assert mapped.values["Email"] == "jo@acme.com"


def test_precheck_catches_what_salesforce_would_refuse() -> None:
    fields = {
        "LeadSource": FieldMeta(
            "LeadSource", "picklist", picklist_values=("Web", "Other"), restricted_picklist=True
        ),
        "Company": FieldMeta("Company", "string", length=5, nillable=False),
        "LastName": FieldMeta("LastName", "string", nillable=False),
        "Status": FieldMeta(
            "Status",
            "picklist",
            picklist_values=("Open - Not Contacted",),
            restricted_picklist=True,
        ),
    }
    record = {**HS_CONTACT, "lead_source": "Phone Inquiry", "lastname": ""}
    mapped = hubspot_to_salesforce(record, contact(), "Lead", context=CONTEXT, sf_fields=fields)
    reasons = {i.field: i.reason for i in mapped.issues}
    # A blank is left for the record-level required check (Salesforce defaults some fields).
    assert reasons == {"LeadSource": "'Phone Inquiry' is not in the restricted picklist"}
    assert mapped.values["LastName"] in (None, "")
    assert all(i.source_field for i in mapped.issues)
    assert mapped.values["Status"] == "Open - Not Contacted"


@pytest.mark.parametrize(
    ("meta", "value", "problem"),
    [
        (FieldMeta("Company", "string", length=5), "Acme Corp", "9 characters exceed"),
        (FieldMeta("LastName", "string", nillable=False), None, "the field is required"),
        (
            FieldMeta("LeadSource", "picklist", picklist_values=("Web",), restricted_picklist=True),
            "Podcast",
            "'Podcast' is not in the restricted picklist",
        ),
        (FieldMeta("LeadSource", "picklist", picklist_values=("Web",)), "Podcast", None),
        (FieldMeta("HasOptedOutOfEmail", "boolean", nillable=False), None, None),
    ],
)
def test_precheck_salesforce(meta: FieldMeta, value: Any, problem: str | None) -> None:
    issue = precheck_salesforce(meta, value)
    if problem is None:
        assert issue is None
    else:
        assert issue is not None and problem in issue.reason and issue.fix


def test_salesforce_lead_to_hubspot_strings_with_blanks_cleared() -> None:
    lead = {
        "Email": "Jo@Acme.com",
        "FirstName": "Jo",
        "LastName": "Smith",
        "Status": "Working - Contacted",
        "LeadSource": "Advertisement",
        "NumberOfEmployees": 37,
        "OwnerId": SF_REP,
        "Phone": None,
    }
    mapped = salesforce_to_hubspot(lead, contact(), "Lead", context=CONTEXT)
    assert mapped.issues == ()
    assert mapped.values["hs_lead_status"] == "IN_PROGRESS"
    assert mapped.values["lead_source"] == "Paid Social"
    assert mapped.values["numemployees"] == "25-50"
    assert mapped.values["hubspot_owner_id"] == "101"
    assert mapped.values["phone"] == ""
    assert mapped.values["email"] == "jo@acme.com"
    # HubSpot -> Salesforce only: never written back to HubSpot.
    assert "industry" not in mapped.values


def test_opportunity_to_deal_in_the_default_pipeline() -> None:
    deal = SHIPPED.object("deal")
    assert deal is not None
    opportunity = {
        "Name": "Acme - Insights",
        "Amount": 12000.0,
        "StageName": "Negotiation/Review",
        "CloseDate": "2026-06-30",
        "OwnerId": SF_REP,
    }
    mapped = salesforce_to_hubspot(opportunity, deal, "Opportunity", context=CONTEXT)
    assert mapped.values == {
        "dealname": "Acme - Insights",
        "amount": "12000",
        "dealstage": "contractsent",
        "closedate": "2026-06-30T00:00:00Z",
        "hubspot_owner_id": "101",
    }
    # Read-only by default: nothing goes from a deal to the Opportunity.
    assert (
        hubspot_to_salesforce({"dealname": "x"}, deal, "Opportunity", context=CONTEXT).values == {}
    )


def test_enabling_deal_to_opportunity_is_one_switch() -> None:
    deal = SHIPPED.object("deal")
    assert deal is not None
    two_way = ObjectSync(**{**deal.__dict__, "direction": Direction.TWO_WAY})
    mapped = hubspot_to_salesforce(
        {"dealname": "Acme", "amount": "100.5", "dealstage": "closedwon", "pipeline": "default"},
        two_way,
        "Opportunity",
        context=CONTEXT,
    )
    assert mapped.non_blank() == {"Name": "Acme", "Amount": 100.5, "StageName": "Closed Won"}


def test_seeded_lead_sources_outside_the_map_become_issues_with_a_fix() -> None:
    seed = pytest.importorskip("sandbox.seed")
    bundle = seed.build_seed_sized(7, contacts=300)
    sources = {r["properties"].get("lead_source") for r in bundle.hubspot.records["contacts"]} - {
        None
    }
    mapping = next(m for m in contact().fields if m.hubspot == "lead_source")
    refused = {
        value: converted.issue
        for value in sources
        if (converted := canonical_from_hubspot(mapping, value, CONTEXT)).issue is not None
    }
    # The shipped map lacks some of the seed's values on purpose (the guards issue shows them).
    assert refused and len(refused) < len(sources)
    for value, issue in refused.items():
        assert issue is not None and f'add "{value}" = "<Salesforce value>"' in issue.fix


def test_an_owner_mismatch_names_both_people() -> None:
    directory = OwnerDirectory.build(
        [{"id": "7", "email": "t.blankenship@brightwave.io", "firstName": "Tom", "lastName": "B"}],
        [{"Id": "0055g0000000001AAA", "Email": "tblankenship@brightwave.com", "Name": "Tom B"}],
    )
    context = MappingContext(owners=directory)
    sf_side = canonical_from_salesforce(owner(), "0055g0000000001AAA", context).value
    refused = canonical_to_hubspot(owner(), sf_side, context).issue
    assert refused is not None
    assert "Salesforce user Tom B (tblankenship@brightwave.com)" in refused.reason
    assert "HubSpot owner Tom B uses t.blankenship@brightwave.io" in refused.reason
    assert "[owners.aliases]" in refused.fix
