"""sObject Collections: per-record SaveResults, allOrNone rollback, the 200-record cap, and the
update, upsert and delete variants."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandbox.salesforce.ids import make_id

pytestmark = pytest.mark.sandbox


def _leads(count: int) -> list[dict]:
    return [
        {
            "attributes": {"type": "Lead"},
            "FirstName": "Batch",
            "LastName": f"Lead{i:03d}",
            "Company": "Collections Inc",
            "Email": f"batch{i}@collections.example",
            "LeadSource": "Web",
        }
        for i in range(count)
    ]


def _with_three_bad(records: list[dict]) -> list[dict]:
    records[10]["LeadSource"] = "Webinarz"
    del records[50]["LastName"]
    records[120]["Title"] = "T" * 129
    return records


def test_collection_insert_reports_each_bad_record(sf_org):
    sf = sf_org.client()

    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": False, "records": _with_three_bad(_leads(200))},
    )

    assert len(results) == 200
    assert sum(r["success"] for r in results) == 197
    failures = {i: r for i, r in enumerate(results) if not r["success"]}
    assert sorted(failures) == [10, 50, 120]
    assert failures[10]["errors"] == [
        {
            "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "message": "Lead Source: bad value for restricted picklist field: Webinarz",
            "fields": ["LeadSource"],
        }
    ]
    assert failures[50]["errors"] == [
        {
            "statusCode": "REQUIRED_FIELD_MISSING",
            "message": "Required fields are missing: [LastName]",
            "fields": ["LastName"],
        }
    ]
    too_long = failures[120]["errors"][0]
    assert too_long["statusCode"] == "STRING_TOO_LONG"
    assert too_long["fields"] == ["Title"]
    assert too_long["message"].startswith("Title: data value too large: TTT")
    assert too_long["message"].endswith("(max length=128)")
    assert all(r["id"].startswith("00Q") for r in results if r["success"])
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 197


def test_all_or_none_writes_nothing_when_one_record_fails(sf_org):
    sf = sf_org.client()

    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": True, "records": _with_three_bad(_leads(200))},
    )

    assert not any(r["success"] for r in results)
    codes = [r["errors"][0]["statusCode"] for r in results]
    assert codes.count("ALL_OR_NONE_OPERATION_ROLLED_BACK") == 197
    assert results[0]["errors"][0]["message"] == (
        "Record rolled back because not all records were valid and the request was using "
        "AllOrNone header"
    )
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_more_than_200_records_is_refused_whole(sf_org):
    sf = sf_org.client()

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/sobjects", method="POST", json={"records": _leads(201)})

    assert caught.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_update_and_delete_collections(sf_org, sf_lead):
    sf_org.load({"Lead": [sf_lead(i) for i in range(3)]})
    sf = sf_org.client()
    ids = [sf_lead(i)["Id"] for i in range(3)]

    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [
                {"attributes": {"type": "Lead"}, "id": ids[0], "Title": "VP Sales"},
                {"attributes": {"type": "Lead"}, "id": ids[1], "Status": "Not A Status"},
                {"attributes": {"type": "Lead"}, "Title": "no id"},
            ]
        },
    )
    deleted = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": f"{ids[2]},{ids[2]}"}
    )

    assert updated[0] == {"id": ids[0], "success": True, "errors": []}
    assert updated[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert updated[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert sf.Lead.get(ids[0])["Title"] == "VP Sales"
    assert deleted[0] == {"id": ids[2], "success": True, "errors": []}
    assert deleted[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


def test_an_update_collection_may_mix_object_types(sf_org, sf_lead):
    """The engine sends a contact plan's Lead and Contact updates in one collection, each type
    contiguous: Salesforce saves them in one chunk per run of a type, results in input order."""
    contact_id = make_id("003", 4_242)
    contact = {"Id": contact_id, "FirstName": "Cy", "LastName": "Contact", "Email": "cy@x.example"}
    sf_org.load({"Lead": [sf_lead(1), sf_lead(2)], "Contact": [contact]})
    sf = sf_org.client()
    lead_ids = [sf_lead(i)["Id"] for i in (1, 2)]

    answer = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Contact"}, "id": contact_id, "Title": "CFO"},
                {"attributes": {"type": "Lead"}, "id": lead_ids[0], "Title": "CTO"},
                {"attributes": {"type": "Lead"}, "id": lead_ids[1], "Status": "Not A Status"},
            ],
        },
    )

    assert [a["id"] for a in answer[:2]] == [contact_id, lead_ids[0]]
    assert [a["success"] for a in answer] == [True, True, False]
    assert sf.Contact.get(contact_id)["Title"] == "CFO"
    assert sf.Lead.get(lead_ids[0])["Title"] == "CTO"


def test_upsert_collection_by_external_id_reports_created(sf_org):
    sf = sf_org.client()
    records = [
        {"attributes": {"type": "Contact"}, "LastName": "One", "HubSpot_Contact_Id__c": "hs-1"},
        {"attributes": {"type": "Contact"}, "LastName": "Two", "HubSpot_Contact_Id__c": "hs-2"},
    ]
    path = "composite/sobjects/Contact/HubSpot_Contact_Id__c"

    first = sf.restful(path, method="PATCH", json={"allOrNone": False, "records": records})
    records[1]["LastName"] = "Two Again"
    second = sf.restful(path, method="PATCH", json={"allOrNone": False, "records": records})

    assert [r["created"] for r in first] == [True, True]
    assert [r["created"] for r in second] == [False, False]
    assert [r["id"] for r in first] == [r["id"] for r in second]
    assert sf.Contact.get(second[1]["id"])["LastName"] == "Two Again"


def test_unknown_field_or_type_fails_the_whole_collection(sf_org):
    sf = sf_org.client()
    bad_field = [{"attributes": {"type": "Lead"}, "LastName": "X", "Company": "Y", "Shoe__c": 1}]
    bad_type = [{"attributes": {"type": "Leed"}, "LastName": "X"}]

    with pytest.raises(SalesforceMalformedRequest) as field_error:
        sf.restful("composite/sobjects", method="POST", json={"records": bad_field})
    with pytest.raises(SalesforceMalformedRequest) as type_error:
        sf.restful("composite/sobjects", method="POST", json={"records": bad_type})

    assert field_error.value.content[0] == {
        "message": "No such column 'Shoe__c' on sobject of type Lead",
        "errorCode": "INVALID_FIELD",
    }
    assert type_error.value.content[0]["errorCode"] == "INVALID_TYPE"
