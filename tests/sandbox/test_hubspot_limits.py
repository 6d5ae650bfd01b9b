"""Authentication, HubSpot's rate limits and injected faults, seen through hubspot-api-client."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import requests
import urllib3
from hubspot_fixtures import *  # noqa: F403  (fixtures: hs_server, hs_portal)
from hubspot_fixtures import HsPortal, refused

pytestmark = pytest.mark.sandbox

SEARCH = {"limit": 10, "after": "0", "properties": [], "sorts": [], "filterGroups": []}


def _get(client: Any) -> tuple[int, Any]:
    _data, status, headers = client.crm.contacts.basic_api.get_page_with_http_info(limit=1)
    return status, headers


def test_missing_or_unknown_token_is_401(hs_portal: HsPortal):
    for token in ("pat-na1-not-a-real-token", "   "):
        answer = refused(hs_portal.client(token).crm.contacts.basic_api.get_page)
        assert answer.status == 401
        assert answer.body["category"] == "INVALID_AUTHENTICATION"
        assert answer.body["message"].startswith("Authentication credentials not found")
        assert answer.body["correlationId"]


def test_the_191st_call_in_ten_seconds_is_429_and_headers_count_down(hs_portal: HsPortal):
    client = hs_portal.client()
    remaining = []
    for _ in range(190):
        status, headers = _get(client)
        assert status == 200
        remaining.append(int(headers["X-HubSpot-RateLimit-Remaining"]))
    assert remaining == list(range(189, -1, -1))
    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert (
        int(headers["X-HubSpot-RateLimit-Daily"])
        - int(headers["X-HubSpot-RateLimit-Daily-Remaining"])
        == 190
    )

    answer = refused(client.crm.contacts.basic_api.get_page, limit=1)
    assert answer.status == 429
    assert answer.body["category"] == "RATE_LIMITS"
    assert answer.body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert answer.body["errorType"] == "RATE_LIMIT"
    assert answer.body["message"] == "You have reached your ten_secondly_rolling limit."
    assert answer.body["groupName"].startswith("publicapi:")
    assert answer.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert 1 <= int(answer.headers["Retry-After"]) <= 10

    # Another person's token has a window of its own; the app's frees up as time passes.
    assert _get(hs_portal.as_role("rep"))[0] == 200
    hs_portal.emulator.clock.advance(timedelta(seconds=10))
    status, headers = _get(client)
    assert status == 200 and headers["X-HubSpot-RateLimit-Remaining"] == "189"
    assert hs_portal.emulator.stats()["rate_limited"] == 1


def test_another_integration_can_have_used_most_of_the_day(hs_portal: HsPortal):
    hs_portal.admin("POST", "limits", {"daily": 10, "used_today": 9})
    client = hs_portal.client()
    assert _get(client)[1]["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    assert refused(client.crm.contacts.basic_api.get_page).body["policyName"] == "DAILY"
    answer = requests.post(f"{hs_portal.url}/__sandbox/limits", json={"used_today": -1}, timeout=10)
    assert answer.status_code == 400 and "used_today" in answer.text


def test_daily_limit_is_429_daily_until_the_next_day(hs_portal: HsPortal):
    hs_portal.admin("POST", "limits", {"daily": 3})
    client = hs_portal.client()
    left = [int(_get(client)[1]["X-HubSpot-RateLimit-Daily-Remaining"]) for _ in range(3)]
    assert left == [2, 1, 0]
    answer = refused(client.crm.contacts.basic_api.get_page)
    assert answer.status == 429 and answer.body["policyName"] == "DAILY"
    assert answer.body["category"] == "RATE_LIMITS"
    assert "Retry-After" not in answer.headers  # a retry would wait until tomorrow
    stats = hs_portal.admin("GET", "stats")
    assert (stats["today"], stats["daily_limit"]) == (3, 3)
    hs_portal.admin("POST", "clock", {"advance_seconds": 86_400})
    assert _get(client)[0] == 200


def test_search_is_four_per_second_exempt_from_burst_and_carries_no_limit_headers(
    hs_portal: HsPortal,
):
    client = hs_portal.client()
    search = client.crm.objects.search_api.do_search_with_http_info
    for _ in range(4):
        _data, status, headers = search("contacts", SEARCH)
        assert status == 200
        assert not [h for h in headers if h.lower().startswith("x-hubspot-ratelimit")]
    answer = refused(client.crm.objects.search_api.do_search, "contacts", SEARCH)
    assert answer.status == 429
    assert answer.body["category"] == "RATE_LIMITS" and answer.body["policyName"] == "SECONDLY"
    hs_portal.emulator.clock.advance(timedelta(seconds=1))
    assert search("contacts", SEARCH)[1] == 200
    # Search does not spend the ten-second burst: the first plain call still has 189 left.
    assert _get(client)[1]["X-HubSpot-RateLimit-Remaining"] == "189"


@pytest.mark.parametrize(("kind", "status"), [("502", 502), ("503", 503), ("429", 429)])
def test_injected_faults_answer_as_hubspot(hs_portal: HsPortal, kind: str, status: int):
    hs_portal.admin("POST", "faults", {"rate": 1.0, "kinds": [kind]})
    answer = refused(hs_portal.client().crm.contacts.basic_api.get_page)
    assert answer.status == status
    if kind == "429":
        assert answer.body["policyName"] == "TEN_SECONDLY_ROLLING"
    if kind == "503":
        assert answer.body["correlationId"]
    assert hs_portal.admin("GET", "users")  # the admin set itself never fails
    hs_portal.admin("POST", "faults", {"rate": 0})
    assert _get(hs_portal.client())[0] == 200


@pytest.mark.parametrize(("kind", "retry_after"), [("429", "1"), ("429_no_retry_after", None)])
def test_injected_429_comes_with_or_without_retry_after(
    hs_portal: HsPortal, kind: str, retry_after: str | None
):
    hs_portal.admin("POST", "faults", {"rate": 1.0, "kinds": [kind]})
    answer = refused(hs_portal.client().crm.contacts.basic_api.get_page)
    hs_portal.admin("POST", "faults", {"rate": 0})

    assert answer.status == 429
    assert answer.body["errorType"] == "RATE_LIMIT"
    assert answer.body["category"] == "RATE_LIMITS"
    assert answer.headers.get("Retry-After") == retry_after
    assert answer.headers.get("X-HubSpot-RateLimit-Remaining") == "0"


def test_malformed_fault_garbles_the_answer_after_the_write(hs_portal: HsPortal):
    hs_portal.admin("POST", "faults", {"rate": 1.0, "kinds": ["malformed"]})
    contacts = hs_portal.client().crm.contacts.basic_api
    # hubspot-api-client does not raise on a body that is not JSON: with client-side validation
    # off it builds its model from nothing, so every field comes back None.
    garbled = contacts.create({"properties": {"email": "half@example.com"}, "associations": []})
    assert (garbled.id, garbled.properties) == (None, None)
    hs_portal.admin("POST", "faults", {"rate": 0})
    found = contacts.get_by_id("half@example.com", id_property="email")
    assert found.properties["email"] == "half@example.com"


def test_reset_and_timeout_faults_break_the_connection(hs_portal: HsPortal):
    hs_portal.admin("POST", "fault-settings", {"timeout_seconds": 1.0})
    client = hs_portal.client(retry=urllib3.Retry(0, read=0, connect=0))
    hs_portal.admin("POST", "faults", {"rate": 1.0, "kinds": ["reset"]})
    with pytest.raises(urllib3.exceptions.HTTPError):
        client.crm.contacts.basic_api.get_page()
    hs_portal.admin("POST", "faults", {"rate": 1.0, "kinds": ["timeout"]})
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.HTTPError):
        client.crm.contacts.basic_api.get_page(_request_timeout=0.3)
    assert time.monotonic() - started < 1.0
    hs_portal.admin("POST", "faults", {"rate": 0})
    time.sleep(0.8)  # let the sleeping handler finish before the next test
    assert _get(hs_portal.client())[0] == 200


def test_unknown_fault_kind_is_refused(hs_portal: HsPortal):
    response = hs_portal.emulator.faults
    with pytest.raises(ValueError, match="unknown fault kinds"):
        response.configure(kinds=["teapot"])


def test_stats_count_calls_by_endpoint_and_token_owner(hs_portal: HsPortal):
    client = hs_portal.client()
    created = client.crm.contacts.basic_api.create({"properties": {}, "associations": []})
    client.crm.contacts.basic_api.get_by_id(created.id)
    hs_portal.as_role("marketer").crm.contacts.basic_api.get_by_id(created.id)
    stats = hs_portal.admin("GET", "stats")
    assert stats["by_endpoint"] == {
        "GET /crm/v3/objects/contacts/{id}": 2,
        "POST /crm/v3/objects/contacts": 1,
    }
    marketer = hs_portal.person("marketer").name
    app = next(p for p in hs_portal.emulator.people() if p.role == "integration").name
    assert stats["by_token_owner"] == {app: 2, marketer: 1}
    assert stats["total"] == 3 and stats["records"]["contacts"] == 1
