"""The marketing reads HubSpot serves outside the CRM: email events, forms, form submissions,
through hubspot-api-client's own API client (via the activity sync's reader)."""

from __future__ import annotations

import pytest
import requests
from hubspot_fixtures import *  # noqa: F403
from hubspot_fixtures import HsPortal, contact_seed

from sync_engine.activity_sources import MarketingReader
from sync_engine.connectors.hubspot import HubSpotConnector
from sync_engine.errors import RecordError


def _reader(portal: HsPortal) -> MarketingReader:
    return MarketingReader(HubSpotConnector(portal.client()))


def test_email_events_filter_by_type_and_time_newest_first(hs_portal: HsPortal) -> None:
    hs_portal.load({"contacts": contact_seed(2)})
    for kind in ("SENT", "OPEN", "OPEN", "CLICK"):
        hs_portal.admin(
            "POST",
            "email-event",
            {
                "type": kind,
                "contact_id": "1",
                "email_name": "Newsletter",
                "email_campaign_id": "77",
            },
        )
    token = hs_portal.emulator.integration_token
    response = requests.get(
        f"{hs_portal.url}/email/public/v1/events",
        params={"eventType": "OPEN", "limit": 1},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200
    page = response.json()
    assert page["hasMore"] is True and page["offset"]
    (event,) = page["events"]
    assert event["type"] == "OPEN"
    assert event["recipient"] == "person00000@example.com"
    assert event["emailCampaignId"] == 77 and isinstance(event["created"], int)

    reader = _reader(hs_portal)
    opens = reader.email_events(since_ms=0, event_types=["OPEN"])
    assert [e["type"] for e in opens] == ["OPEN", "OPEN"]
    assert opens[0]["created"] <= opens[1]["created"]
    later = reader.email_events(since_ms=opens[-1]["created"] + 1, event_types=["OPEN", "CLICK"])
    assert all(e["created"] > opens[-1]["created"] for e in later)
    assert reader.hs.calls.total("hubspot") >= 3  # every page counted


def test_email_events_refuses_a_limit_over_1000(hs_portal: HsPortal) -> None:
    token = hs_portal.emulator.integration_token
    response = requests.get(
        f"{hs_portal.url}/email/public/v1/events?limit=1001",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_forms_and_their_submissions_paged(hs_portal: HsPortal) -> None:
    hs_portal.load({"contacts": contact_seed(1)})
    for n in range(55):
        hs_portal.admin(
            "POST",
            "form-submission",
            {
                "email": f"visitor{n}@example.com",
                "form_id": "f-demo",
                "form_name": "Demo request",
                "page_url": "https://www.example.com/pricing",
            },
        )
    reader = _reader(hs_portal)
    (form,) = reader.forms()
    assert (form["id"], form["name"]) == ("f-demo", "Demo request")
    subs = reader.form_submissions("f-demo", since_ms=0)
    assert len(subs) == 55  # two pages of at most 50
    emails = [v["value"] for s in subs for v in s["values"] if v["name"] == "email"]
    assert emails[0] == "visitor0@example.com" and emails[-1] == "visitor54@example.com"
    assert subs[0]["pageUrl"] == "https://www.example.com/pricing"
    with pytest.raises(RecordError):
        reader.form_submissions("no-such-form", since_ms=0)
