"""Describe metadata a sync engine relies on: types, lengths, required fields, restricted
picklists with their values and defaults, references and external ids."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sandbox


def _fields(sf, sobject: str) -> dict[str, dict]:
    return {f["name"]: f for f in sf.restful(f"sobjects/{sobject}/describe")["fields"]}


def _required(field: dict) -> bool:
    return field["createable"] and not field["nillable"] and not field["defaultedOnCreate"]


def test_global_describe_lists_the_objects_with_key_prefixes(sf_org):
    described = sf_org.client().describe()

    prefixes = {o["name"]: o["keyPrefix"] for o in described["sobjects"]}
    assert described["maxBatchSize"] == 200
    assert {
        k: prefixes[k] for k in ("Lead", "Contact", "Account", "Opportunity", "Task", "User")
    } == {
        "Lead": "00Q",
        "Contact": "003",
        "Account": "001",
        "Opportunity": "006",
        "Task": "00T",
        "User": "005",
    }


def test_lead_fields(sf_org):
    lead = _fields(sf_org.client(), "Lead")

    assert (lead["LastName"]["type"], lead["LastName"]["length"]) == ("string", 80)
    assert _required(lead["LastName"]) and _required(lead["Company"])
    assert not _required(lead["FirstName"])
    assert (lead["Email"]["type"], lead["Title"]["length"]) == ("email", 128)
    assert (lead["Description"]["type"], lead["Description"]["length"]) == ("textarea", 32000)
    assert lead["Name"]["createable"] is False and lead["Name"]["updateable"] is False
    assert lead["IsConverted"]["updateable"] is False
    assert lead["SystemModstamp"]["type"] == "datetime"
    assert (lead["OwnerId"]["referenceTo"], lead["OwnerId"]["relationshipName"]) == (
        ["User"],
        "Owner",
    )
    external = lead["HubSpot_Contact_Id__c"]
    assert (external["externalId"], external["unique"], external["length"]) == (True, True, 50)
    assert external["custom"] is True


def test_restricted_picklists_with_values_and_defaults(sf_org):
    sf = sf_org.client()
    lead = _fields(sf, "Lead")
    opportunity = _fields(sf, "Opportunity")

    for field in (lead["LeadSource"], lead["Status"], lead["Industry"], opportunity["StageName"]):
        assert field["type"] == "picklist"
        assert field["restrictedPicklist"] is True
    status_values = {p["value"]: p for p in lead["Status"]["picklistValues"]}
    assert status_values["Open - Not Contacted"]["defaultValue"] is True
    assert "Closed - Converted" in status_values
    assert lead["Status"]["nillable"] is False and lead["Status"]["defaultedOnCreate"] is True
    assert {"Web", "Trade Show", "Partner Referral"} <= {
        p["value"] for p in lead["LeadSource"]["picklistValues"]
    }
    assert {"Technology", "Banking", "Healthcare"} <= {
        p["value"] for p in lead["Industry"]["picklistValues"]
    }
    stages = [p["value"] for p in opportunity["StageName"]["picklistValues"]]
    assert stages[0] == "Prospecting" and stages[-2:] == ["Closed Won", "Closed Lost"]
    assert _required(opportunity["StageName"]) and _required(opportunity["CloseDate"])
    assert opportunity["CloseDate"]["type"] == "date"
    assert lead["Rating"]["restrictedPicklist"] is False


def test_task_and_user_fields(sf_org):
    sf = sf_org.client()
    task = _fields(sf, "Task")
    user = _fields(sf, "User")

    assert {"Task", "Email", "Call"} <= {p["value"] for p in task["TaskSubtype"]["picklistValues"]}
    assert task["Status"]["restrictedPicklist"] is True
    assert task["WhoId"]["referenceTo"] == ["Contact", "Lead"]
    assert task["CallDurationInSeconds"]["type"] == "int"
    assert user["ProfileId"]["relationshipName"] == "Profile"
    assert user["IsActive"]["type"] == "boolean"
