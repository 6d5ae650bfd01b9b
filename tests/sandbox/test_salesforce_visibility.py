"""Record visibility per user: records not shared with the integration user stay invisible to
its queries, queryAll, GETs and writes; their owner and View All users still see them."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

pytestmark = pytest.mark.sandbox


@pytest.fixture
def shared_and_private(sf_org, sf_lead):
    """Four Leads of one rep: two shared with everyone, two private to the rep."""
    rep = sf_org.person("rep")
    leads = [sf_lead(i, OwnerId=rep.id, _private=i >= 2) for i in range(4)]
    sf_org.load({"Lead": leads})
    return rep, [lead["Id"] for lead in leads]


def test_private_records_are_invisible_to_the_integration_user(sf_org, shared_and_private):
    _, ids = shared_and_private
    sf = sf_org.client()

    queried = sf.query_all("SELECT Id FROM Lead")
    with_deleted = sf.query_all("SELECT Id FROM Lead", include_deleted=True)
    counted = sf.query("SELECT COUNT() FROM Lead")

    assert sorted(r["Id"] for r in queried["records"]) == sorted(ids[:2])
    assert sorted(r["Id"] for r in with_deleted["records"]) == sorted(ids[:2])
    assert counted["totalSize"] == 2
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Lead.get(ids[3])
    assert caught.value.content[0]["errorCode"] == "NOT_FOUND"


def test_owner_and_admin_see_private_records(sf_org, shared_and_private):
    rep, _ = shared_and_private

    as_owner = sf_org.client(rep.token).query("SELECT Id FROM Lead")
    as_admin = sf_org.as_role("admin").query("SELECT Id FROM Lead")

    assert as_owner["totalSize"] == 4
    assert as_admin["totalSize"] == 4


def test_writing_an_invisible_record_is_insufficient_access(sf_org, shared_and_private):
    _, ids = shared_and_private
    sf = sf_org.client()

    with pytest.raises(SalesforceMalformedRequest) as single:
        sf.Lead.update(ids[2], {"Title": "Snooping"})
    batch = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Lead"}, "id": ids[3], "Title": "Snooping"}]},
    )

    assert single.value.content[0]["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert batch[0]["errors"][0]["statusCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert sf_org.as_role("admin").Lead.get(ids[2])["Title"] is None


def test_sharing_a_record_makes_it_visible(sf_org, shared_and_private):
    _, ids = shared_and_private
    sf = sf_org.client()

    sf_org.admin("POST", "share", {"id": ids[2], "private": False})

    assert sf.Lead.get(ids[2])["Id"] == ids[2]
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 3
