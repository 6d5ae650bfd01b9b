"""Single-record REST: CRUD status codes, upsert by external id, validation errors, the duplicate
rule, field-level security, owners, and the audit stamps of the acting user."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

pytestmark = pytest.mark.sandbox


def test_crud_round_trip_with_salesforce_status_codes(sf_org):
    sf = sf_org.client()

    created = sf.Account.create({"Name": "Globex", "Industry": "Energy", "NumberOfEmployees": 40})
    record = sf.Account.get(created["id"])
    status_update = sf.Account.update(created["id"], {"Website": "https://globex.example"})
    status_delete = sf.Account.delete(created["id"])

    assert created["success"] is True and created["errors"] == []
    assert created["id"].startswith("001") and len(created["id"]) == 18
    assert record["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{created['id']}",
    }
    assert record["Name"] == "Globex" and record["NumberOfEmployees"] == 40
    assert status_update == 204 and status_delete == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Account.get(created["id"])
    assert caught.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_upsert_by_external_id_creates_then_updates_then_sees_duplicates(sf_org, sf_lead):
    sf_org.load(
        {
            "Lead": [
                sf_lead(1, HubSpot_Contact_Id__c="dup-7"),
                sf_lead(2, HubSpot_Contact_Id__c="dup-7"),
            ]
        }
    )
    sf = sf_org.client()

    created = sf.Lead.upsert("HubSpot_Contact_Id__c/hs 42", {"LastName": "Up", "Company": "Sert"})
    updated = sf.Lead.upsert("HubSpot_Contact_Id__c/hs 42", {"Title": "CEO"})
    found = sf.Lead.get_by_custom_id("HubSpot_Contact_Id__c", "hs 42")

    assert (created, updated) == (201, 200)
    assert found["Title"] == "CEO" and found["LastName"] == "Up"
    with pytest.raises(SalesforceMoreThanOneRecord) as caught:
        sf.Lead.upsert("HubSpot_Contact_Id__c/dup-7", {"Title": "Which one?"})
    assert sorted(caught.value.content) == sorted(
        f"/services/data/v59.0/sobjects/Lead/{sf_lead(i)['Id']}" for i in (1, 2)
    )


def test_upsert_update_answers_200_with_created_false(sf_org):
    sf = sf_org.client()
    path = "sobjects/Contact/HubSpot_Contact_Id__c/hs-9"

    first = sf.restful(path, method="PATCH", json={"LastName": "Nine"})
    second = sf.restful(path, method="PATCH", json={"Title": "Nine's title"})

    assert first["created"] is True and first["success"] is True
    assert second == {"id": first["id"], "success": True, "errors": [], "created": False}


@pytest.mark.parametrize(
    ("body", "code", "message", "fields"),
    [
        (
            {"Company": "Acme"},
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [LastName]",
            ["LastName"],
        ),
        (
            {"LastName": "X", "Company": "Acme", "Email": "foo"},
            "INVALID_EMAIL_ADDRESS",
            "Email: invalid email address: foo",
            ["Email"],
        ),
        (
            {"LastName": "X", "Company": "Acme", "Industry": "Space"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "Industry: bad value for restricted picklist field: Space",
            ["Industry"],
        ),
        (
            {"LastName": "X", "Company": "Acme", "Status": "Maybe"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "Status: bad value for restricted picklist field: Maybe",
            ["Status"],
        ),
        (
            {"LastName": "X", "Company": "Acme", "IsConverted": True},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "Unable to create/update fields: IsConverted. Please check the security settings of "
            "this field and verify that it is read/write for your profile or permission set.",
            ["IsConverted"],
        ),
        (
            {"LastName": "X", "Company": "Acme", "OwnerId": "nonsense"},
            "MALFORMED_ID",
            "Owner ID: id value of incorrect type: nonsense",
            ["OwnerId"],
        ),
    ],
)
def test_validation_errors_have_salesforce_codes_and_shapes(sf_org, body, code, message, fields):
    sf = sf_org.client()

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.create(body)

    assert caught.value.content == [{"message": message, "errorCode": code, "fields": fields}]


def test_stage_name_is_a_required_restricted_picklist_with_stage_defaults(sf_org):
    sf = sf_org.client()

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Opportunity.create({"Name": "Deal", "CloseDate": "2026-12-31", "StageName": "Won-ish"})
    created = sf.Opportunity.create(
        {"Name": "Deal", "CloseDate": "2026-12-31", "StageName": "Closed Won"}
    )
    deal = sf.Opportunity.get(created["id"])

    assert caught.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert (deal["IsClosed"], deal["IsWon"], deal["Probability"]) == (True, True, 100.0)
    assert deal["ForecastCategory"] == "Closed"


def test_second_lead_with_an_existing_contacts_email_is_a_duplicate(sf_org):
    sf = sf_org.client()
    contact = sf.Contact.create({"LastName": "Lovelace", "Email": "ada@analytical.example"})

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.create({"LastName": "Lovelace", "Company": "AE", "Email": "ADA@analytical.example"})

    error = caught.value.content[0]
    assert error["errorCode"] == "DUPLICATES_DETECTED"
    assert error["message"] == "Use one of these records?"
    result = error["duplicateResult"]
    assert result["allowSave"] is False
    assert result["duplicateRuleEntityType"] == "Lead"
    matches = result["matchResults"]
    assert [m["entityType"] for m in matches] == ["Contact"]
    assert matches[0]["matchRecords"][0]["record"]["Id"] == contact["id"]
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_duplicate_rule_can_be_switched_off(sf_org):
    sf = sf_org.client()
    sf.Lead.create({"LastName": "One", "Company": "A", "Email": "same@example.com"})

    rule = sf_org.admin("POST", "duplicate-rule", {"active": False})
    second = sf.Lead.create({"LastName": "Two", "Company": "B", "Email": "same@example.com"})

    assert rule["active"] is False
    assert second["success"] is True


def test_alert_rule_lets_the_duplicate_header_save(sf_org):
    sf = sf_org.client()
    sf.Contact.create({"LastName": "One", "Email": "alert@example.com"})
    sf_org.admin("POST", "duplicate-rule", {"action": "alert"})

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.create({"LastName": "Two", "Email": "alert@example.com"})
    saved = sf.Contact.create(
        {"LastName": "Two", "Email": "alert@example.com"},
        headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"},
    )

    assert caught.value.content[0]["duplicateResult"]["allowSave"] is True
    assert saved["success"] is True


def test_an_active_lead_assignment_rule_routes_leads_unless_the_request_says_not_to(sf_org):
    """The REST API runs the active assignment rule on every Lead created or updated, over the
    OwnerId sent, unless `Sforce-Auto-Assign: FALSE` (documented default: TRUE); the header
    holds for sObject Collections too."""
    sf = sf_org.client()
    rep, manager = sf_org.person("rep"), sf_org.person("rep", 1)
    kept = sf.Lead.create({"LastName": "Before", "Company": "A", "OwnerId": manager.id})
    rule = sf_org.admin("POST", "assignment-rule", {"active": True, "owner": rep.id})

    routed = sf.Lead.create({"LastName": "New", "Company": "B", "OwnerId": manager.id})
    sf.Lead.update(kept["id"], {"Title": "CTO"}, headers={"Sforce-Auto-Assign": "FALSE"})
    after_kept = sf.Lead.get(kept["id"])["OwnerId"]
    answer = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Lead"}, "Id": kept["id"], "Phone": "1"}]},
        headers={"Sforce-Auto-Assign": "false"},
    )
    after_collection = sf.Lead.get(kept["id"])["OwnerId"]
    sf.Lead.update(kept["id"], {"Title": "CEO"})
    account = sf.Account.create({"Name": "Not a Lead", "OwnerId": manager.id})

    assert rule == {"active": True, "owner_id": rep.id}
    assert sf.Lead.get(routed["id"])["OwnerId"] == rep.id
    assert after_kept == after_collection == manager.id and answer[0]["success"] is True
    assert sf.Lead.get(kept["id"])["OwnerId"] == rep.id
    assert sf.Account.get(account["id"])["OwnerId"] == manager.id


def test_write_as_user_a_is_stamped_with_a_and_moves_system_modstamp(sf_org):
    integration = sf_org.client()
    rep = sf_org.person("rep")
    created = integration.Lead.create({"LastName": "Stamp", "Company": "Clock"})
    before = integration.Lead.get(created["id"])

    sf_org.admin("POST", "clock", {"advance_seconds": 90})
    sf_org.client(rep.token).Lead.update(created["id"], {"Phone": "+1 555 0100"})
    after = integration.Lead.get(created["id"])

    assert before["LastModifiedById"] == before["CreatedById"] != rep.id
    assert after["LastModifiedById"] == rep.id
    assert after["CreatedById"] == before["CreatedById"]
    assert after["SystemModstamp"] > before["SystemModstamp"]
    assert after["LastModifiedDate"] == after["SystemModstamp"]
    assert after["SystemModstamp"].endswith(".000+0000") and len(after["SystemModstamp"]) == 28


def test_field_the_integration_profile_may_not_edit(sf_org):
    integration = sf_org.client()
    admin = sf_org.as_role("admin")
    lead = integration.Lead.create({"LastName": "Scored", "Company": "FLS"})

    with pytest.raises(SalesforceMalformedRequest) as caught:
        integration.Lead.update(lead["id"], {"Internal_Score__c": 99})
    described = {f["name"]: f for f in integration.Lead.describe()["fields"]}
    admin_described = {f["name"]: f for f in admin.Lead.describe()["fields"]}

    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert caught.value.content[0]["fields"] == ["Internal_Score__c"]
    assert described["Internal_Score__c"]["updateable"] is False
    assert admin_described["Internal_Score__c"]["updateable"] is True
    assert admin.Lead.update(lead["id"], {"Internal_Score__c": 99}) == 204


def test_inactive_owner_is_refused(sf_org):
    sf = sf_org.client()
    leaver = sf_org.person("rep", 1)
    sf_org.admin("POST", "user-active", {"user": leaver.email, "active": False})

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.create({"LastName": "Orphan", "Company": "Gone", "OwnerId": leaver.id})

    assert caught.value.content[0]["errorCode"] == "INACTIVE_OWNER_OR_USER"
    assert caught.value.content[0]["message"] == (
        f"operation performed with inactive user [{leaver.id}] as owner of lead"
    )


def test_unknown_field_in_body_is_invalid_field(sf_org):
    sf = sf_org.client()

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.create({"LastName": "X", "Company": "Y", "Favourite_Colour__c": "blue"})

    assert caught.value.content == [
        {
            "message": "No such column 'Favourite_Colour__c' on sobject of type Lead",
            "errorCode": "INVALID_FIELD",
        }
    ]


def test_get_with_fields_and_15_character_id(sf_org):
    sf = sf_org.client()
    created = sf.Contact.create({"FirstName": "Grace", "LastName": "Hopper"})

    record = sf.Contact.get(created["id"][:15], params={"fields": "Name,Email"})

    assert record == {
        "attributes": {
            "type": "Contact",
            "url": f"/services/data/v59.0/sobjects/Contact/{created['id']}",
        },
        "Name": "Grace Hopper",
        "Email": None,
    }


# Salesforce help 000384328 and "Set Up Email Address Internationalization" (EAI is on by default
# in orgs created since Summer '20): RFC characters, non-Latin characters, quoted local parts and
# inner or trailing double dots are accepted; a leading dot, a missing or doubled @, spaces and a
# single-label domain are refused.
@pytest.mark.parametrize(
    "email",
    [
        "jo.plus+events@example.com",
        "O'Brien@Example.COM",
        '"jo doe"@example.com',
        "user@bücher.de",
        "用户@例子.广告",
        "a..b@test.jp",
        "a..@test.jp",
        "x@y.co",
    ],
)
def test_emails_salesforce_accepts_are_stored(sf_org, email):
    sf = sf_org.client()
    created = sf.Lead.create({"LastName": "E", "Company": "C", "Email": email})
    assert sf.Lead.get(created["id"])["Email"] == email


@pytest.mark.parametrize(
    "email",
    [
        ".a@test.jp",
        "no-at.example.com",
        "a@@example.com",
        "a b@example.com",
        "a@localhost",
        "a@-x.com",
    ],
)
def test_emails_salesforce_refuses_fail_with_invalid_email_address(sf_org, email):
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf_org.client().Lead.create({"LastName": "E", "Company": "C", "Email": email})
    assert caught.value.content == [
        {
            "message": f"Email: invalid email address: {email}",
            "errorCode": "INVALID_EMAIL_ADDRESS",
            "fields": ["Email"],
        }
    ]
