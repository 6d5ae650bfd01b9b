"""Settings, error classification, retry schedule, call accounting and SOQL quoting."""

from __future__ import annotations

import random

import pytest

from sync_engine.connectors.hubspot import _map_hubspot_error
from sync_engine.connectors.salesforce import _status_error, soql_quote
from sync_engine.connectors.usage import (
    hubspot_endpoint,
    hubspot_quota,
    salesforce_endpoint,
    salesforce_quota,
)
from sync_engine.errors import (
    ApiLimitError,
    AuthenticationError,
    LeadBridgeError,
    RecordError,
    RetriableError,
    SessionExpiredError,
    classify,
)
from sync_engine.retry import RetryPolicy, backoff, call_with_retry
from sync_engine.settings import load_settings

pytestmark = pytest.mark.unit


def test_settings_mask_every_secret_in_repr(tmp_path):
    env = {
        "SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com",
        "SALESFORCE_SESSION_ID": "00D-secret-session",
        "SALESFORCE_PASSWORD": "hunter2-password",
        "HUBSPOT_ACCESS_TOKEN": "pat-na1-secret-token",
    }
    settings = load_settings(env, secrets_path=tmp_path / "none.toml")
    text = repr(settings) + str(settings)
    for secret in env.values():
        if "secret" in secret or "password" in secret:
            assert secret not in text
    assert settings.has_credentials
    assert set(settings.secrets) == {
        "00D-secret-session",
        "hunter2-password",
        "pat-na1-secret-token",
    }


def test_environment_overrides_secrets_file(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('HUBSPOT_ACCESS_TOKEN = "from-file"\nSYNC_DB = "x.duckdb"\n')
    settings = load_settings({"HUBSPOT_ACCESS_TOKEN": "from-env"}, secrets_path=secrets)
    assert settings.hubspot.access_token == "from-env"
    assert str(settings.db_path) == "x.duckdb"
    assert not settings.has_credentials  # Salesforce is missing: the sandbox runs instead


@pytest.mark.parametrize(
    ("env", "method"),
    [
        ({"SALESFORCE_INSTANCE_URL": "https://x", "SALESFORCE_SESSION_ID": "s"}, "session"),
        ({"SALESFORCE_USERNAME": "u", "SALESFORCE_PASSWORD": "p"}, "password"),
        (
            {
                "SALESFORCE_CLIENT_ID": "c",
                "SALESFORCE_CLIENT_SECRET": "s",
                "SALESFORCE_DOMAIN": "acme.my",
            },
            "client_credentials",
        ),
        ({"SALESFORCE_USERNAME": "u"}, None),
    ],
)
def test_salesforce_login_method(env, method, tmp_path):
    assert load_settings(env, secrets_path=tmp_path / "x").salesforce.method == method


@pytest.mark.parametrize(
    ("status", "code", "kind", "category"),
    [
        (403, "REQUEST_LIMIT_EXCEEDED", ApiLimitError, "api_limit"),
        (429, None, ApiLimitError, "api_limit"),
        (429, "RATE_LIMITS", ApiLimitError, "api_limit"),
        (503, None, RetriableError, "transient"),
        (400, "UNABLE_TO_LOCK_ROW", RetriableError, "transient"),
        (401, "INVALID_SESSION_ID", SessionExpiredError, "permissions"),
        (403, "Bad_OAuth_Token", SessionExpiredError, "permissions"),
        (401, None, AuthenticationError, "permissions"),
        (400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", RecordError, "property_value"),
        (400, "DUPLICATES_DETECTED", RecordError, "duplicates"),
        (409, "CONFLICT", RecordError, "duplicates"),
        (400, "INVALID_FIELD_FOR_INSERT_UPDATE", RecordError, "permissions"),
        (404, "OBJECT_NOT_FOUND", RecordError, "associations"),
        (400, "SOMETHING_NEW", RecordError, "property_value"),
    ],
)
def test_classify(status, code, kind, category):
    result = classify(status, code)
    assert result.kind is kind
    assert result.category == category


def test_backoff_grows_caps_and_honours_retry_after():
    policy = RetryPolicy(base=1, factor=2, cap=8, jitter=0)
    waits = [backoff(policy, n, retry_after=None, rand=0.5) for n in range(1, 6)]
    assert waits == [1, 2, 4, 8, 8]
    assert backoff(policy, 1, retry_after=10, rand=0.5) == 10
    assert backoff(policy, 1, retry_after=10_000, rand=0.5) == policy.max_retry_after


def test_call_with_retry_retries_transient_then_succeeds():
    attempts, slept = [], []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise RetriableError("503", retry_after=2)
        return "ok"

    result = call_with_retry(flaky, sleep=slept.append, rng=random.Random(1))
    assert result == "ok"
    assert len(attempts) == 3
    assert all(wait >= 2 for wait in slept)


def test_call_with_retry_gives_up_and_never_retries_record_errors():
    def refused():
        raise RecordError("bad picklist", code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")

    with pytest.raises(RecordError):
        call_with_retry(refused, sleep=lambda _s: pytest.fail("slept"))

    def always_down():
        raise RetriableError("down")

    with pytest.raises(RetriableError):
        call_with_retry(always_down, policy=RetryPolicy(attempts=2), sleep=lambda _s: None)


def test_daily_limit_is_not_waited_out():
    def daily():
        raise ApiLimitError("daily", retry_after=3600)

    with pytest.raises(ApiLimitError):
        call_with_retry(daily, sleep=lambda _s: pytest.fail("slept until tomorrow"))


def _sf_limit(message: str) -> LeadBridgeError:
    return _status_error(403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": message}])


def _hs_limit(policy: str, headers: dict[str, str]) -> LeadBridgeError:
    body = f'{{"category": "RATE_LIMITS", "errorType": "RATE_LIMIT", "policyName": "{policy}"}}'
    return _map_hubspot_error(429, body, headers)


@pytest.mark.parametrize(
    ("error", "daily"),
    [
        # Salesforce: one code for two limits, told apart by the message alone
        (lambda: _sf_limit("TotalRequests Limit exceeded."), True),
        (lambda: _sf_limit("ConcurrentRequests (Concurrent API Requests) Limit exceeded."), False),
        # HubSpot: the policy that refused the call
        (lambda: _hs_limit("DAILY", {}), True),
        (lambda: _hs_limit("TEN_SECONDLY_ROLLING", {"Retry-After": "2"}), False),
    ],
)
def test_a_daily_limit_is_told_from_a_burst_and_not_retried(error, daily):
    exc = error()
    assert isinstance(exc, ApiLimitError) and exc.daily is daily
    tries = []

    def refused():
        tries.append(1)
        raise exc

    with pytest.raises(ApiLimitError):
        call_with_retry(refused, policy=RetryPolicy(attempts=3), sleep=lambda _s: None)
    assert len(tries) == (1 if daily else 3)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/services/data/v59.0/sobjects/Lead/00Q5g0000004C92EAE", "GET /sobjects/Lead/{id}"),
        ("GET", "/services/data/v59.0/query/", "GET /query"),
        ("GET", "/services/data/v59.0/query/01g5g0000004C92-2000", "GET /query"),
        ("POST", "/services/data/v60.0/composite/sobjects", "POST /composite/sobjects"),
        ("POST", "/services/data/v59.0/composite", "POST /composite"),
    ],
)
def test_salesforce_endpoint_templates(method, path, expected):
    assert salesforce_endpoint(method, path) == expected


def test_quota_headers():
    assert salesforce_quota({"Sforce-Limit-Info": "api-usage=18/15000"}) == (18, 15000)
    assert salesforce_quota({}) == (None, None)
    headers = {
        "X-HubSpot-RateLimit-Daily": "500000",
        "X-HubSpot-RateLimit-Daily-Remaining": "499990",
    }
    assert hubspot_quota(headers) == (10, 500000)
    assert hubspot_endpoint("GET", "/crm/v3/objects/contacts/51?a=b") == (
        "GET /crm/v3/objects/contacts/{id}"
    )


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", "'plain'"),
        ("O'Brien", "'O\\'Brien'"),
        ("back\\slash", "'back\\\\slash'"),
        ("x' OR Name != '", "'x\\' OR Name != \\''"),
        ("line\nbreak", "'line\\nbreak'"),
    ],
)
def test_soql_quote_keeps_input_a_value(value, literal):
    assert soql_quote(value) == literal


def test_soql_quote_refuses_null_bytes():
    with pytest.raises(ValueError, match="null byte"):
        soql_quote("a\x00b")
