"""The daily API allowance: Sforce-Limit-Info on every answer, one call per request (a composite
of 25 subrequests included), `/limits`, and 403 REQUEST_LIMIT_EXCEEDED past the maximum."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

pytestmark = pytest.mark.sandbox


def _used(sf) -> int:
    return sf.api_usage["api-usage"].used


def test_each_call_moves_api_usage_by_exactly_one(sf_org):
    sf = sf_org.client()
    sf_org.admin("POST", "limits", {"daily_max": 5000})

    sf.query("SELECT Id FROM Lead")
    start = _used(sf)
    sf.query("SELECT Id FROM Account")
    after_query = _used(sf)
    sf.restful("sobjects/Lead/describe")
    after_describe = _used(sf)
    sf.restful("composite/sobjects", method="POST", json={"records": []})
    after_collection = _used(sf)

    assert [after_query, after_describe, after_collection] == [start + 1, start + 2, start + 3]
    assert sf.api_usage["api-usage"].total == 5000


def test_composite_of_25_subrequests_counts_as_one_call(sf_org):
    sf = sf_org.client()
    sf.query("SELECT Id FROM Lead")
    start = _used(sf)
    body = {
        "allOrNone": False,
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v59.0/sobjects/Account",
                "referenceId": f"acc{i}",
                "body": {"Name": f"Composite {i}"},
            }
            for i in range(25)
        ],
    }

    answer = sf.restful("composite", method="POST", json=body)

    assert [r["httpStatusCode"] for r in answer["compositeResponse"]] == [201] * 25
    assert _used(sf) == start + 1
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 25


def test_refused_calls_count_but_unauthenticated_ones_do_not(sf_org):
    sf = sf_org.client()
    sf.query("SELECT Id FROM Lead")
    start = _used(sf)

    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT Nope FROM Lead")
    with pytest.raises(SalesforceExpiredSession):
        sf_org.client("not-a-token").query("SELECT Id FROM Lead")
    sf.query("SELECT Id FROM Lead")

    assert _used(sf) == start + 2


def test_limits_resource_reports_daily_api_requests(sf_org):
    sf = sf_org.client()
    sf_org.admin("POST", "limits", {"daily_max": 1000, "used_today": 10})

    limits = sf.limits()

    assert limits["DailyApiRequests"] == {"Max": 1000, "Remaining": 989}
    assert _used(sf) == 11


def test_past_the_daily_maximum_calls_are_refused_until_the_next_day(sf_org):
    sf = sf_org.client()
    sf_org.admin("POST", "limits", {"daily_max": 3})

    for _ in range(3):
        sf.query("SELECT Id FROM Lead")
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Lead")
    refused_usage = sf_org.emulator.stats()["today"]
    sf_org.admin("POST", "clock", {"advance_seconds": 86_400})
    sf.query("SELECT Id FROM Lead")

    assert caught.value.status == 403
    assert caught.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert refused_usage == 3
    assert sf.api_usage["api-usage"].used == 1


def test_usage_statistics_by_endpoint_and_user(sf_org):
    sf = sf_org.client()
    rep = sf_org.person("rep")
    lead = sf.Lead.create({"LastName": "Stats", "Company": "Counted"})
    sf.Lead.update(lead["id"], {"Title": "Counted"})
    sf_org.client(rep.token).query("SELECT Id FROM Lead")

    stats = sf_org.admin("GET", "stats")

    assert stats["by_endpoint"] == {
        "POST /sobjects/Lead": 1,
        "PATCH /sobjects/Lead/{id}": 1,
        "GET /query": 1,
    }
    assert stats["by_user"] == {sf_org.person("integration").id: 2, rep.id: 1}
    assert stats["today"] == stats["total"] == 3


def _queries(count: int) -> dict:
    return {
        "allOrNone": False,
        "compositeRequest": [
            {
                "method": "GET",
                "url": "/services/data/v59.0/queryAll/?q=SELECT+Id+FROM+Lead",
                "referenceId": f"q{i}",
            }
            for i in range(count)
        ],
    }


def test_a_composite_takes_five_query_subrequests_and_refuses_six(sf_org):
    """Salesforce allows at most 5 query (or sObject Collections) subrequests per Composite
    request: a client batching more must split them, as it would against a real org."""
    sf = sf_org.client()

    answer = sf.restful("composite", method="POST", json=_queries(5))
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite", method="POST", json=_queries(6))

    assert [r["httpStatusCode"] for r in answer["compositeResponse"]] == [200] * 5
    assert caught.value.status == 400
    assert caught.value.content[0]["errorCode"] == "INVALID_BATCH_REQUEST"
    assert "limit is 5" in caught.value.content[0]["message"]


def test_answers_are_dated_by_the_orgs_clock(sf_org):
    """The `Date` header is the org's time, the clock that stamps its records: a client bounding
    Salesforce's time by it sees the simulated days the admin endpoints add."""
    session = sf_org.session()
    url = f"{sf_org.url}/services/data/v59.0/limits"
    headers = {"Authorization": f"Bearer {sf_org.emulator.integration_token}"}
    sf_org.admin("POST", "clock", {"advance_seconds": 3 * 86_400})

    response = session.get(url, headers=headers)
    dated = parsedate_to_datetime(response.headers["Date"])
    org_now = sf_org.emulator.clock.now()

    assert len(response.raw.headers.getlist("Date")) == 1
    assert abs((org_now - dated).total_seconds()) < 2
    assert (dated - datetime.now(UTC)).total_seconds() > 2 * 86_400
