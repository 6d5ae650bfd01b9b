"""Bad input of every kind gets Salesforce's 4xx answer and error code, never a 500."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from sandbox.salesforce.ids import make_id

pytestmark = pytest.mark.sandbox

LEAD = {"LastName": "X", "Company": "Y"}
MISSING_ID = make_id("00Q", 99_999_999)
MISSING_ACCOUNT = make_id("001", 99_999_999)
MISSING_CONTACT = make_id("003", 99_999_999)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("POST", "sobjects/Lead", {"data": '{"LastName": "X",'}, 400, "JSON_PARSER_ERROR"),
        ("POST", "sobjects/Lead", {"data": ""}, 400, "JSON_PARSER_ERROR"),
        ("POST", "sobjects/Lead", {"data": b"\xff\xfe"}, 400, "JSON_PARSER_ERROR"),
        ("POST", "sobjects/Lead", {"json": [LEAD]}, 400, "JSON_PARSER_ERROR"),
        (
            "POST",
            "sobjects/Lead",
            {"json": {**LEAD, "NumberOfEmployees": "many"}},
            400,
            "JSON_PARSER_ERROR",
        ),
        (
            "POST",
            "sobjects/Lead",
            {"json": {**LEAD, "HasOptedOutOfEmail": "maybe"}},
            400,
            "JSON_PARSER_ERROR",
        ),
        (
            "POST",
            "sobjects/Opportunity",
            {"json": {"Name": "D", "StageName": "Prospecting", "CloseDate": "2026-13-45"}},
            400,
            "JSON_PARSER_ERROR",
        ),
        (
            "POST",
            "sobjects/Lead",
            {"json": {**LEAD, "Title": {"nested": True}}},
            400,
            "JSON_PARSER_ERROR",
        ),
        (
            "POST",
            "sobjects/Lead",
            {"json": {**LEAD, "Id": MISSING_ID}},
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
        ),
        (
            "POST",
            "sobjects/Lead",
            {"json": {**LEAD, "AnnualRevenue": 1e30}},
            400,
            "NUMBER_OUTSIDE_VALID_RANGE",
        ),
        (
            "POST",
            "sobjects/Contact",
            {"json": {"LastName": "X", "AccountId": MISSING_ID}},
            400,
            "FIELD_INTEGRITY_EXCEPTION",
        ),
        (
            "POST",
            "sobjects/Contact",
            {"json": {"LastName": "X", "AccountId": MISSING_ACCOUNT}},
            400,
            "INVALID_CROSS_REFERENCE_KEY",
        ),
        (
            "POST",
            "sobjects/User",
            {"json": {"LastName": "New"}},
            400,
            "INSUFFICIENT_ACCESS_OR_READONLY",
        ),
        ("GET", "sobjects/Leed", {}, 404, "NOT_FOUND"),
        ("POST", "sobjects/Leed", {"json": LEAD}, 404, "NOT_FOUND"),
        ("GET", "sobjects/Leed/describe", {}, 404, "NOT_FOUND"),
        ("GET", "no/such/resource", {}, 404, "NOT_FOUND"),
        ("PUT", "sobjects/Lead", {"json": LEAD}, 405, "METHOD_NOT_ALLOWED"),
        ("GET", "sobjects/Lead/not-an-id", {}, 404, "NOT_FOUND"),
        ("GET", f"sobjects/Lead/{MISSING_ID}", {}, 404, "NOT_FOUND"),
        ("GET", f"sobjects/Lead/{MISSING_CONTACT}", {}, 404, "NOT_FOUND"),
        ("PATCH", f"sobjects/Lead/{MISSING_ID}", {"json": {"Title": "x"}}, 404, "NOT_FOUND"),
        ("PATCH", "sobjects/Lead/short", {"json": {"Title": "x"}}, 404, "NOT_FOUND"),
        ("DELETE", f"sobjects/Lead/{MISSING_ID}", {}, 404, "NOT_FOUND"),
        ("PATCH", "sobjects/Lead/Title/CEO", {"json": {"Title": "x"}}, 404, "NOT_FOUND"),
        ("GET", "sobjects/Lead/HubSpot_Contact_Id__c/none", {}, 404, "NOT_FOUND"),
        ("GET", "query", {}, 400, "MALFORMED_QUERY"),
        ("GET", "query", {"params": {"q": "SELECT Id FROM Lead LIMIT"}}, 400, "MALFORMED_QUERY"),
        ("GET", "query/garbage", {}, 400, "INVALID_QUERY_LOCATOR"),
        (
            "GET",
            "sobjects/Lead/deleted",
            {"params": {"start": "yesterday"}},
            400,
            "INVALID_REPLICATION_DATE",
        ),
        ("POST", "composite/sobjects", {"json": {"recs": []}}, 400, "JSON_PARSER_ERROR"),
        (
            "POST",
            "composite/sobjects",
            {"json": {"records": [{"LastName": "no type"}]}},
            400,
            "INVALID_TYPE",
        ),
        (
            "POST",
            "composite/sobjects",
            {"json": {"records": [{"attributes": {"type": "Lead"}, "Id": MISSING_ID}]}},
            400,
            "INVALID_FIELD",
        ),
        (
            "DELETE",
            "composite/sobjects",
            {"params": {"ids": ",".join([MISSING_ID] * 201)}},
            400,
            "EXCEEDED_ID_LIMIT",
        ),
        ("DELETE", "composite/sobjects", {}, 400, "MISSING_ARGUMENT"),
        (
            "GET",
            "composite/sobjects/Lead",
            {"params": {"ids": MISSING_ID, "fields": "Nope"}},
            400,
            "INVALID_FIELD",
        ),
        ("PATCH", "composite/sobjects/Lead/Email", {"json": {"records": []}}, 404, "NOT_FOUND"),
        ("POST", "composite", {"json": {"compositeRequest": []}}, 400, "INVALID_BATCH_REQUEST"),
        (
            "POST",
            "composite",
            {"json": {"compositeRequest": [{"method": "GET", "url": "/x"}]}},
            400,
            "INVALID_BATCH_REQUEST",
        ),
        (
            "POST",
            "composite",
            {
                "json": {
                    "compositeRequest": [
                        {
                            "method": "GET",
                            "url": "/services/data/v59.0/limits",
                            "referenceId": "bad-ref",
                        }
                    ]
                }
            },
            400,
            "INVALID_BATCH_REQUEST",
        ),
        (
            "POST",
            "composite",
            {
                "json": {
                    "compositeRequest": [
                        {
                            "method": "GET",
                            "url": "/services/data/v59.0/limits",
                            "referenceId": f"r{i}",
                        }
                        for i in range(26)
                    ]
                }
            },
            400,
            "INVALID_BATCH_REQUEST",
        ),
    ],
)
def test_bad_input_gets_a_salesforce_error(sf_org, method, path, kwargs, status, code):
    sf = sf_org.client()

    with pytest.raises(SalesforceError) as caught:
        sf.restful(path, method=method, **kwargs)

    assert caught.value.status == status
    assert caught.value.content[0]["errorCode"] == code
    assert caught.value.content[0]["message"]


@pytest.mark.parametrize("token", ["wrong-token", ""])
def test_wrong_or_missing_token_is_invalid_session(sf_org, token):
    sf = Salesforce(instance_url=sf_org.url, session_id=token, session=sf_org.session())

    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Lead")

    assert caught.value.status == 401
    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_inactive_users_token_is_refused(sf_org):
    leaver = sf_org.person("rep", 1)
    sf_org.admin("POST", "user-active", {"user": leaver.id, "active": False})

    with pytest.raises(SalesforceExpiredSession):
        sf_org.client(leaver.token).query("SELECT Id FROM Lead")


def test_oauth_scheme_is_accepted_too(sf_org):
    sf = sf_org.client()

    answer = sf.restful(
        "limits", headers={"Authorization": f"OAuth {sf_org.emulator.integration_token}"}
    )

    assert "DailyApiRequests" in answer


def test_unsupported_version_is_not_found_and_versions_are_listed(sf_org):
    old = Salesforce(
        instance_url=sf_org.url,
        session_id=sf_org.emulator.integration_token,
        session=sf_org.session(),
        version="42.0",
    )

    with pytest.raises(SalesforceError) as caught:
        old.query("SELECT Id FROM Lead")
    versions = sf_org.client().session.get(f"{sf_org.url}/services/data/").json()

    assert caught.value.status == 404
    assert caught.value.content[0]["errorCode"] == "NOT_FOUND"
    assert versions[0] == {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"}
    assert {"59.0", "60.0", "62.0"} <= {v["version"] for v in versions}


def test_composite_reference_to_a_failed_subrequest_is_halted(sf_org):
    sf = sf_org.client()
    body = {
        "allOrNone": False,
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v59.0/sobjects/Account",
                "referenceId": "acc",
                "body": {},
            },
            {
                "method": "POST",
                "url": "/services/data/v59.0/sobjects/Contact",
                "referenceId": "con",
                "body": {"LastName": "C", "AccountId": "@{acc.id}"},
            },
            {"method": "GET", "url": "/services/data/v59.0/nowhere", "referenceId": "lost"},
            {
                "method": "POST",
                "url": "/services/data/v59.0/sobjects/Contact",
                "referenceId": "ok",
                "body": {"LastName": "Fine"},
            },
        ],
    }

    answer = sf.restful("composite", method="POST", json=body)["compositeResponse"]

    assert [r["httpStatusCode"] for r in answer] == [400, 400, 404, 201]
    assert answer[0]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert answer[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 1


def test_composite_all_or_none_rolls_back_every_subrequest(sf_org):
    sf = sf_org.client()
    body = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v59.0/sobjects/Account",
                "referenceId": "acc",
                "body": {"Name": "Rolled"},
            },
            {
                "method": "POST",
                "url": "/services/data/v59.0/composite/sobjects",
                "referenceId": "batch",
                "body": {
                    "allOrNone": False,
                    "records": [
                        {
                            "attributes": {"type": "Contact"},
                            "LastName": "A",
                            "AccountId": "@{acc.id}",
                        },
                        {"attributes": {"type": "Contact"}, "Email": "bad"},
                    ],
                },
            },
            {"method": "GET", "url": "/services/data/v59.0/limits", "referenceId": "after"},
        ],
    }

    answer = sf.restful("composite", method="POST", json=body)["compositeResponse"]

    assert [r["httpStatusCode"] for r in answer] == [400, 200, 400]
    assert answer[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    batch = answer[1]["body"]
    assert batch[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert {e["statusCode"] for e in batch[1]["errors"]} == {
        "REQUIRED_FIELD_MISSING",
        "INVALID_EMAIL_ADDRESS",
    }
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def test_emulator_bug_answers_unknown_exception_not_a_traceback(sf_org, monkeypatch):
    """The last line of defence: an exception inside a handler is a 500 UNKNOWN_EXCEPTION in
    Salesforce's shape, and nothing it half-wrote survives (the emulator is broken on purpose)."""
    from sandbox.salesforce import app

    def broken(call):
        call.dml().create("Account", {"Name": "Half written"})
        raise RuntimeError("boom")

    sf = sf_org.client()
    monkeypatch.setattr(app, "ROUTES", (app._route(r"/limits", "/limits", GET=broken), *app.ROUTES))

    with pytest.raises(SalesforceError) as caught:
        sf.limits()
    monkeypatch.undo()

    assert caught.value.status == 500
    assert caught.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert "boom" not in caught.value.content[0]["message"]
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
