"""Injected faults: the share of calls that fail, how each kind looks to simple-salesforce, and
that a call failing by a strain fault changes nothing."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
)

pytestmark = pytest.mark.sandbox

CALLS = 200


def test_a_fifth_of_calls_fail_like_salesforce_under_strain(sf_org, sf_lead):
    sf_org.load({"Lead": [sf_lead(i) for i in range(CALLS)]})
    sf = sf_org.client()
    config = sf_org.admin("POST", "faults", {"rate": 0.2, "seed": 7})
    outcomes: dict[str, int] = {}

    for i in range(CALLS):
        try:
            sf.Lead.update(sf_lead(i)["Id"], {"Title": "Updated"})
            kind = "ok"
        except SalesforceError as exc:
            kind = f"{exc.status} {exc.content[0]['errorCode']}"
        outcomes[kind] = outcomes.get(kind, 0) + 1
    sf_org.admin("POST", "faults", {"rate": 0})
    written = sf.query("SELECT COUNT() FROM Lead WHERE Title = 'Updated'")["totalSize"]

    assert config["kinds"] == ["503", "UNABLE_TO_LOCK_ROW"]
    failed = CALLS - outcomes["ok"]
    assert 0.12 * CALLS <= failed <= 0.28 * CALLS
    assert set(outcomes) == {"ok", "503 SERVER_UNAVAILABLE", "400 UNABLE_TO_LOCK_ROW"}
    assert written == outcomes["ok"]


def test_lock_failure_in_a_collection_is_reported_per_record(sf_org):
    sf = sf_org.client()
    sf_org.admin("POST", "faults", {"rate": 1.0, "kinds": ["UNABLE_TO_LOCK_ROW"]})
    records = [{"attributes": {"type": "Account"}, "Name": f"Locked {i}"} for i in range(3)]

    results = sf.restful("composite/sobjects", method="POST", json={"records": records})
    sf_org.admin("POST", "faults", {"rate": 0})

    assert [r["success"] for r in results] == [False] * 3
    assert results[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert results[0]["errors"][0]["message"].startswith("unable to obtain exclusive access")
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_reads_under_strain_get_503(sf_org):
    sf = sf_org.client()
    sf_org.admin("POST", "faults", {"rate": 1.0, "kinds": ["UNABLE_TO_LOCK_ROW"]})

    with pytest.raises(SalesforceGeneralError) as caught:
        sf.query("SELECT Id FROM Lead")

    assert caught.value.status == 503
    assert caught.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"


def test_expired_session_fault(sf_org):
    sf = sf_org.client()
    sf_org.admin("POST", "faults", {"rate": 1.0, "kinds": ["expired_session"]})

    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Lead")

    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_reset_fault_drops_the_connection(sf_org):
    sf = sf_org.client()
    sf_org.admin("POST", "faults", {"rate": 1.0, "kinds": ["reset"]})

    with pytest.raises(requests.exceptions.ConnectionError):
        sf.query("SELECT Id FROM Lead")


def test_malformed_fault_truncates_the_body_after_doing_the_work(sf_org):
    sf = sf_org.client()
    sf_org.admin("POST", "faults", {"rate": 1.0, "kinds": ["malformed"]})

    with pytest.raises(requests.exceptions.JSONDecodeError):
        sf.restful("sobjects/Account", method="POST", json={"Name": "Half an answer"})
    sf_org.admin("POST", "faults", {"rate": 0})

    assert sf.query("SELECT Name FROM Account")["records"][0]["Name"] == "Half an answer"


def test_timeout_fault_outlasts_the_client_timeout(sf_org):
    sf = sf_org.client()
    sf_org.admin("POST", "faults", {"rate": 1.0, "kinds": ["timeout"], "timeout_seconds": 0.5})

    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.query("SELECT Id FROM Lead", timeout=0.1)


def test_unknown_fault_kind_is_refused(sf_org):
    response = sf_org.session().post(
        f"{sf_org.url}/__sandbox/faults", json={"rate": 0.5, "kinds": ["gremlins"]}
    )

    assert response.status_code == 400
    assert "gremlins" in response.json()["message"]
    with pytest.raises(SalesforceMalformedRequest):
        sf_org.client().query("SELECT Bogus FROM Lead")
