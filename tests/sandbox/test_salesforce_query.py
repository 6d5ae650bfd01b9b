"""SOQL over REST: filters and ordering, paging through nextRecordsUrl, queryAll and the recycle
bin, and the errors a bad query gets."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

pytestmark = pytest.mark.sandbox


def test_where_order_by_limit(sf_org, sf_lead):
    sf_org.load(
        {
            "Lead": [
                sf_lead(i, LeadSource="Web" if i % 2 else "Trade Show", NumberOfEmployees=i * 10)
                for i in range(1, 21)
            ]
        }
    )
    sf = sf_org.client()

    result = sf.query(
        "SELECT Id, LastName, NumberOfEmployees FROM Lead "
        "WHERE LeadSource = 'web' AND NumberOfEmployees >= 50 "
        "ORDER BY NumberOfEmployees DESC LIMIT 3"
    )

    assert result["done"] is True
    assert result["totalSize"] == 3
    assert [r["NumberOfEmployees"] for r in result["records"]] == [190, 170, 150]
    assert all(r["attributes"]["type"] == "Lead" for r in result["records"])


def test_five_thousand_rows_page_through_next_records_url(sf_org, sf_lead):
    sf_org.load({"Lead": [sf_lead(i) for i in range(5000)]})
    sf = sf_org.client()

    first = sf.query("SELECT Id, LastName FROM Lead ORDER BY LastName")
    assert first["done"] is False
    assert first["totalSize"] == 5000
    assert len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")

    before = sf_org.emulator.stats()["by_endpoint"].get("GET /query/{locator}", 0)
    everything = sf.query_all("SELECT Id, LastName FROM Lead ORDER BY LastName")
    names = [r["LastName"] for r in everything["records"]]

    assert everything["totalSize"] == 5000
    assert names == sorted(names) and len(set(names)) == 5000
    assert sf_org.emulator.stats()["by_endpoint"]["GET /query/{locator}"] - before == 2


def test_batch_size_header_sets_the_page_size(sf_org, sf_lead):
    sf_org.load({"Lead": [sf_lead(i) for i in range(450)]})
    sf = sf_org.client()

    page = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=200"})

    assert len(page["records"]) == 200
    assert page["nextRecordsUrl"].endswith("-200")
    rest = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
    assert len(rest["records"]) == 200 and rest["done"] is False


def test_query_all_returns_deleted_record_with_is_deleted_true(sf_org, sf_lead):
    sf_org.load({"Lead": [sf_lead(1), sf_lead(2)]})
    sf = sf_org.client()
    gone = sf_lead(1)["Id"]

    assert sf.Lead.delete(gone) == 204

    live = sf.query("SELECT Id FROM Lead")
    everything = sf.query_all("SELECT Id, IsDeleted FROM Lead", include_deleted=True)

    assert [r["Id"] for r in live["records"]] == [sf_lead(2)["Id"]]
    by_id = {r["Id"]: r["IsDeleted"] for r in everything["records"]}
    assert by_id == {gone: True, sf_lead(2)["Id"]: False}


def test_count_and_parent_relationship_fields(sf_org, sf_lead):
    sf_org.load({"Lead": [sf_lead(i) for i in range(7)]})
    sf = sf_org.client()

    counted = sf.query("SELECT COUNT() FROM Lead WHERE Email LIKE 'pat%'")
    users = sf.query("SELECT Id, Name, Email, IsActive, Profile.Name FROM User")

    assert counted["totalSize"] == 7 and counted["records"] == []
    profiles = {u["Name"]: u["Profile"]["Name"] for u in users["records"]}
    assert profiles["LeadBridge Integration"] == "LeadBridge Integration"
    assert profiles["Ada Admin"] == "System Administrator"


@pytest.mark.parametrize(
    ("soql", "code", "names"),
    [
        ("SELEC Id FROM Lead", "MALFORMED_QUERY", "SELEC"),
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY", "unexpected"),
        ("SELECT Id, Shoe_Size__c FROM Lead", "INVALID_FIELD", "Shoe_Size__c"),
        ("SELECT Id FROM Leed", "INVALID_TYPE", "Leed"),
        (
            "SELECT Id FROM Lead WHERE NumberOfEmployees = 'ten'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "NumberOfEmployees",
        ),
    ],
)
def test_bad_query_gets_salesforce_error_naming_the_problem(sf_org, soql, code, names):
    sf = sf_org.client()

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)

    assert caught.value.status == 400
    error = caught.value.content[0]
    assert error["errorCode"] == code
    assert names in error["message"]


def test_unknown_query_locator_is_refused(sf_org):
    sf = sf_org.client()

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more("01g5g0000000999AAA-2000")

    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
