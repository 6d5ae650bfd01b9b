"""People acting in the org (tokens, the admin `act` endpoint), the replication feeds, and
concurrent clients."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

pytestmark = pytest.mark.sandbox


def test_every_person_has_a_token_and_the_integration_user_is_listed(sf_org):
    users = sf_org.admin("GET", "users")

    roles = {u["role"] for u in users}
    assert {"integration", "admin", "rep", "marketer"} <= roles
    assert all(u["system"] == "salesforce" and u["token"] for u in users)
    integration = next(u for u in users if u["role"] == "integration")
    assert integration["token"] == sf_org.emulator.integration_token
    me = sf_org.client().query(f"SELECT Name FROM User WHERE Id = '{integration['id']}'")
    assert me["records"][0]["Name"] == integration["name"]


def test_a_rep_edit_in_the_ui_is_theirs_and_costs_no_api_call(sf_org):
    sf = sf_org.client()
    rep = sf_org.person("rep")
    lead = sf.Lead.create({"LastName": "Phone", "Company": "UI"})
    used = sf_org.emulator.stats()["today"]

    answer = sf_org.admin(
        "POST",
        "act",
        {
            "as_user": rep.email,
            "method": "PATCH",
            "url": f"/services/data/v59.0/sobjects/Lead/{lead['id']}",
            "body": {"Phone": "+44 20 7946 0000"},
        },
    )
    edited = sf.Lead.get(lead["id"])

    assert answer == {"httpStatusCode": 204, "body": None}
    assert (edited["Phone"], edited["LastModifiedById"]) == ("+44 20 7946 0000", rep.id)
    assert sf_org.emulator.stats()["today"] == used + 1  # the GET above, not the edit


def test_deleted_and_updated_feeds(sf_org):
    sf = sf_org.client()
    start = sf_org.emulator.clock.now() - timedelta(minutes=1)
    kept = sf.Contact.create({"LastName": "Kept"})["id"]
    gone = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.delete(gone)
    sf_org.admin("POST", "clock", {"advance_seconds": 120})
    end = sf_org.emulator.clock.now()

    deleted = sf.Contact.deleted(start, end)
    updated = sf.Contact.updated(start, end)

    assert [r["id"] for r in deleted["deletedRecords"]] == [gone]
    assert deleted["deletedRecords"][0]["deletedDate"].endswith(".000+0000")
    assert updated["ids"] == [kept]


def test_concurrent_collection_writes_all_land(sf_org):
    def write(worker: int) -> list[bool]:
        sf = sf_org.client()
        outcomes = []
        for batch in range(5):
            records = [
                {
                    "attributes": {"type": "Account"},
                    "Name": f"Worker {worker} batch {batch} #{i}",
                }
                for i in range(50)
            ]
            results = sf.restful("composite/sobjects", method="POST", json={"records": records})
            outcomes += [r["success"] for r in results]
        return outcomes

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = [ok for chunk in pool.map(write, range(4)) for ok in chunk]
    ids = sf_org.client().query_all("SELECT Id FROM Account")["records"]

    assert outcomes.count(True) == 1000
    assert len({r["Id"] for r in ids}) == 1000
    assert sf_org.emulator.stats()["by_endpoint"]["POST /composite/sobjects"] == 20
