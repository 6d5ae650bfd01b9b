"""Lead conversion (the `/__sandbox/convert-lead` admin endpoint, run as a named rep)."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

pytestmark = pytest.mark.sandbox


def _lead(sf) -> str:
    return sf.Lead.create(
        {
            "FirstName": "Linus",
            "LastName": "Convert",
            "Company": "Qualified Corp",
            "Email": "linus@qualified.example",
            "Industry": "Technology",
            "Title": "CTO",
            "LeadSource": "Webinar",
            "HubSpot_Contact_Id__c": "hs-501",
        }
    )["id"]


def test_converting_a_lead_links_it_to_its_contact_and_account(sf_org):
    sf = sf_org.client()
    rep = sf_org.person("rep")
    lead_id = _lead(sf)

    result = sf_org.admin(
        "POST",
        "convert-lead",
        {"lead_id": lead_id, "as_user": rep.email, "create_opportunity": True},
    )
    lead = sf.Lead.get(lead_id)
    contact = sf.Contact.get(result["contactId"])
    account = sf.Account.get(result["accountId"])
    opportunity = sf.Opportunity.get(result["opportunityId"])

    assert result["success"] is True and result["leadId"] == lead_id
    assert lead["IsConverted"] is True
    assert lead["ConvertedContactId"] == contact["Id"]
    assert lead["ConvertedAccountId"] == account["Id"]
    assert lead["ConvertedOpportunityId"] == opportunity["Id"]
    assert lead["Status"] == "Closed - Converted"
    assert lead["LastModifiedById"] == rep.id
    assert (contact["Email"], contact["Title"], contact["AccountId"]) == (
        "linus@qualified.example",
        "CTO",
        account["Id"],
    )
    assert contact["HubSpot_Contact_Id__c"] == "hs-501"
    assert (account["Name"], account["Industry"]) == ("Qualified Corp", "Technology")
    assert opportunity["AccountId"] == account["Id"] and opportunity["StageName"] == "Prospecting"


def test_conversion_without_opportunity_into_an_existing_account(sf_org):
    sf = sf_org.client()
    account = sf.Account.create({"Name": "Existing Ltd", "Industry": "Banking"})["id"]
    lead_id = _lead(sf)

    result = sf_org.admin(
        "POST",
        "convert-lead",
        {
            "lead_id": lead_id,
            "as_user": sf_org.person("rep").id,
            "account_id": account,
            "create_opportunity": False,
        },
    )

    assert result["accountId"] == account
    assert result["opportunityId"] is None
    assert sf.Account.get(account)["Industry"] == "Banking"
    assert sf.Lead.get(lead_id)["ConvertedOpportunityId"] is None


def test_converted_lead_is_read_only_and_cannot_convert_twice(sf_org):
    sf = sf_org.client()
    lead_id = _lead(sf)
    sf_org.admin("POST", "convert-lead", {"lead_id": lead_id, "as_user": sf_org.person("rep").id})

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.update(lead_id, {"Title": "Too late"})
    again = sf_org.session().post(
        f"{sf_org.url}/__sandbox/convert-lead",
        json={"lead_id": lead_id, "as_user": sf_org.person("rep").id},
    )

    assert caught.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert again.status_code == 400
    assert again.json()[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 1
