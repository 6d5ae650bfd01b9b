"""What the activity sync reads from HubSpot besides search: archived engagements through the paged
list (with archivedAt), the account details (portal id and UI domain for record links), tracked
sales email counters and meetings booked on a scheduling page, through the real client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hubspot.crm.objects import SimplePublicObjectInputForCreate
from hubspot_fixtures import *  # noqa: F403
from hubspot_fixtures import HsPortal, contact_seed, refused

from sandbox.hubspot.emulator import DEFAULT_PORTAL_ID
from sync_engine.connectors.hubspot import HubSpotConnector


def _calls(portal: HsPortal, n: int) -> list[str]:
    batch = portal.client().crm.objects.batch_api
    ids: list[str] = []
    for start in range(0, n, 100):
        inputs = [
            {"properties": {"hs_timestamp": "2026-05-04T09:00:00Z", "hs_call_title": f"Call {i}"}}
            for i in range(start, min(n, start + 100))
        ]
        created = batch.create("calls", {"inputs": inputs})
        ids.extend(sorted((r.id for r in created.results), key=int))
    return ids


def test_archived_engagements_are_listed_with_archived_at_across_pages(hs_portal: HsPortal):
    ids = _calls(hs_portal, 205)
    api = hs_portal.client().crm.objects.basic_api
    gone = ids[3:203]  # 200 archived: two full pages of 100 and the last page empty of next
    hs_portal.emulator.clock.advance(timedelta(minutes=5))
    batch = hs_portal.client().crm.objects.batch_api
    for start in range(0, len(gone), 100):
        batch.archive("calls", {"inputs": [{"id": i} for i in gone[start : start + 100]]})
    first = api.get_page("calls", archived=True, limit=100, properties=["hs_call_title"])
    assert len(first.results) == 100 and first.paging.next.after
    assert all(r.archived and r.archived_at is not None for r in first.results)
    assert first.results[0].properties["hs_call_title"] == "Call 3"
    connector = HubSpotConnector(hs_portal.client())
    listed = list(connector.list_archived("calls", properties=["hs_call_title"]))
    assert [r["id"] for r in listed] == gone
    assert all(r["archived"] is True and r["archivedAt"] for r in listed)
    stamp = datetime.fromisoformat(listed[0]["archivedAt"].replace("Z", "+00:00"))
    assert stamp > datetime.fromisoformat(listed[0]["createdAt"].replace("Z", "+00:00"))
    assert connector.calls.total("hubspot") == 2  # 200 archived: two pages of 100
    live = api.get_page("calls", limit=100)
    assert {r.id for r in live.results} == set(ids) - set(gone)
    assert all(r.archived is False and r.archived_at is None for r in live.results)


def test_a_list_limit_over_100_is_refused(hs_portal: HsPortal):
    _calls(hs_portal, 1)
    failure = refused(
        hs_portal.client().crm.objects.basic_api.get_page, "calls", archived=True, limit=101
    )
    assert failure.status == 400


def test_account_details_give_the_portal_id_and_ui_domain(hs_portal: HsPortal):
    connector = HubSpotConnector(hs_portal.client())
    details = connector.account_details()
    assert details["portalId"] == DEFAULT_PORTAL_ID
    assert details["uiDomain"] == "app.hubspot.com"
    assert details["timeZone"] == "America/New_York"
    assert details["utcOffset"] in ("-05:00", "-04:00")
    assert details["utcOffsetMilliseconds"] in (-5 * 3_600_000, -4 * 3_600_000)
    assert {"accountType", "companyCurrency", "additionalCurrencies", "dataHostingLocation"} <= set(
        details
    )
    assert connector.calls.total("hubspot") == 1


def test_sales_email_opens_and_clicks_are_counted_on_the_email(hs_portal: HsPortal):
    api = hs_portal.client().crm.objects.basic_api
    email = api.create(
        "emails",
        SimplePublicObjectInputForCreate(
            properties={"hs_timestamp": "2026-05-04T09:00:00Z", "hs_email_subject": "Pricing"}
        ),
    )
    before = email.properties["hs_lastmodifieddate"]
    for kind in ("OPEN", "OPEN", "CLICK"):
        hs_portal.emulator.clock.advance(timedelta(seconds=1))
        hs_portal.admin("POST", "email-tracking", {"email_id": email.id, "type": kind})
    read = api.get_by_id(
        "emails",
        email.id,
        properties=["hs_email_open_count", "hs_email_click_count", "hs_email_reply_count"],
    )
    assert read.properties["hs_email_open_count"] == "2"
    assert read.properties["hs_email_click_count"] == "1"
    assert read.properties["hs_email_reply_count"] is None
    assert read.properties["hs_lastmodifieddate"] > before  # search by modification sees it
    # The counters are HubSpot's: an integration cannot write them.
    bad = refused(
        api.create,
        "emails",
        SimplePublicObjectInputForCreate(
            properties={"hs_timestamp": "2026-05-04T09:00:00Z", "hs_email_open_count": "9"}
        ),
    )
    assert bad.status == 400 and "hs_email_open_count" in bad.body["message"]


def test_a_meeting_booked_on_a_scheduling_page_has_its_source(hs_portal: HsPortal):
    hs_portal.load({"contacts": contact_seed(1)})
    start = datetime(2026, 5, 6, 15, tzinfo=UTC)
    booked = hs_portal.admin(
        "POST",
        "meeting-booked",
        {"contact_id": "1", "title": "Demo", "start": start.isoformat()},
    )
    client = hs_portal.client()
    meeting = client.crm.objects.basic_api.get_by_id(
        "meetings",
        booked["id"],
        properties=["hs_meeting_source", "hs_meeting_title", "hs_meeting_start_time"],
        associations=["contacts"],
    )
    assert meeting.properties["hs_meeting_source"] == "MEETINGS_PUBLIC"
    assert meeting.properties["hs_meeting_title"] == "Demo"
    assert [a.id for a in meeting.associations["contacts"].results] == ["1"]
    bad = refused(
        client.crm.objects.basic_api.create,
        "meetings",
        SimplePublicObjectInputForCreate(
            properties={"hs_timestamp": start.isoformat(), "hs_meeting_source": "MEETINGS_PUBLIC"}
        ),
    )
    assert bad.status == 400
