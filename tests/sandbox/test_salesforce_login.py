"""Logging in to the emulated org with simple-salesforce's own login calls (SOAP `login()` and
the OAuth client credentials flow), sessions that expire, and the concurrent-request limit."""

from __future__ import annotations

import base64

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
)
from simple_salesforce.login import SalesforceLogin, token_login

pytestmark = pytest.mark.sandbox


def _password_login(sf_org, **override: str) -> tuple[str, str]:
    secrets = {**sf_org.admin("GET", "login"), **override}
    return SalesforceLogin(
        username=secrets["username"],
        password=secrets["password"],
        security_token=secrets["security_token"],
        session=sf_org.session(),
        scratch_url=sf_org.url,  # the SOAP endpoint is {scratch_url}/services/Soap/u/{version}
    )


def _client_credentials_login(sf_org, **override: str) -> tuple[str, str]:
    secrets = {**sf_org.admin("GET", "login"), **override}
    pair = f"{secrets['client_id']}:{secrets['client_secret']}".encode()
    return token_login(
        f"{sf_org.url}/services/oauth2/token",
        {"grant_type": "client_credentials"},
        "sandbox",
        secrets["client_id"],
        {"Authorization": f"Basic {base64.b64encode(pair).decode()}"},
        None,
        sf_org.session(),
    )


def _client(sf_org, session_id: str, instance: str) -> Salesforce:
    return Salesforce(
        instance_url=f"https://{instance}", session_id=session_id, session=sf_org.session()
    )


@pytest.mark.parametrize("login", [_password_login, _client_credentials_login])
def test_a_login_gives_a_session_of_the_integration_user(sf_org, login):
    before = sf_org.admin("GET", "stats")["logins"]["logins"]
    session_id, instance = login(sf_org)
    sf = _client(sf_org, session_id, instance)

    who = sf.query("SELECT Id FROM User WHERE Id = '" + _integration_id(sf_org) + "'")
    assert instance == sf_org.url.removeprefix("https://")
    assert session_id.startswith("00D") and "!" in session_id
    assert who["totalSize"] == 1
    stats = sf_org.admin("GET", "stats")
    assert stats["logins"]["logins"] == before + 1
    assert "POST /services/Soap/u/59.0" not in stats["by_endpoint"]  # logins are not API calls


@pytest.mark.parametrize(
    ("login", "wrong", "code", "message"),
    [
        (_password_login, {"password": "nope"}, "INVALID_LOGIN", "Invalid username, password"),
        (_password_login, {"security_token": ""}, "INVALID_LOGIN", "security token"),
        (_password_login, {"username": "x@y.example"}, "INVALID_LOGIN", "user locked out"),
        (_client_credentials_login, {"client_secret": "x"}, "invalid_client", "invalid client"),
    ],
)
def test_wrong_credentials_are_refused_as_salesforce_refuses_them(
    sf_org, login, wrong, code, message
):
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        login(sf_org, **wrong)

    assert caught.value.code == code
    assert message in str(caught.value)


def test_an_unsupported_grant_type_is_refused(sf_org):
    response = sf_org.session().post(
        f"{sf_org.url}/services/oauth2/token", data={"grant_type": "authorization_code"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_an_expired_login_session_stays_expired_until_the_next_login(sf_org):
    sf = _client(sf_org, *_password_login(sf_org))
    sf.query("SELECT Id FROM Lead")  # a session is never expired on its first call
    sf_org.admin("POST", "faults", {"rate": 1.0, "kinds": ["expired_session"]})
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Lead")
    sf_org.admin("POST", "faults", {"rate": 0})

    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Lead")
    assert caught.value.content[0]["errorCode"] == "INVALID_SESSION_ID"
    assert _client(sf_org, *_password_login(sf_org)).query("SELECT Id FROM Lead")["done"]


def test_a_fresh_session_is_not_expired_on_its_first_call(sf_org):
    sf_org.admin("POST", "faults", {"rate": 1.0, "kinds": ["expired_session"]})
    sf = _client(sf_org, *_client_credentials_login(sf_org))

    assert sf.query("SELECT Id FROM Lead")["done"]
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Lead")


def test_the_people_s_long_lived_tokens_are_refused_once_not_revoked(sf_org):
    sf = sf_org.client()
    sf_org.admin("POST", "faults", {"rate": 1.0, "kinds": ["expired_session"]})
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Lead")
    sf_org.admin("POST", "faults", {"rate": 0})

    assert sf.query("SELECT Id FROM Lead")["done"]


def test_concurrent_limit_fault_is_403_request_limit_exceeded_and_writes_nothing(sf_org):
    sf = sf_org.client()
    sf_org.admin("POST", "faults", {"rate": 1.0, "kinds": ["concurrent_limit"]})
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.Account.create({"Name": "Refused"})
    sf_org.admin("POST", "faults", {"rate": 0})

    assert caught.value.status == 403
    assert caught.value.content == [
        {
            "message": "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
            "errorCode": "REQUEST_LIMIT_EXCEEDED",
        }
    ]
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_concurrent_limit_fault_sends_no_retry_after(sf_org):
    sf_org.admin("POST", "faults", {"rate": 1.0, "kinds": ["concurrent_limit"]})
    response = sf_org.session().get(
        f"{sf_org.url}/services/data/v59.0/limits",
        headers={"Authorization": f"Bearer {sf_org.emulator.integration_token}"},
    )
    sf_org.admin("POST", "faults", {"rate": 0})

    assert response.status_code == 403
    assert "Retry-After" not in response.headers


def _integration_id(sf_org) -> str:
    return sf_org.person("integration").id
