"""Activity sync decisions: filters, the daily cap, WhoId/WhatId, one Task per marketing email,
the projection, and the activity settings' round trip through sync.toml."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sync_engine.activities import (
    CRM_SOURCES,
    Activity,
    Deletion,
    Links,
    PersonLink,
    Portal,
    archived_check_due,
    crm_activity,
    decide,
    deletion_reason,
    filter_reason,
    flagged_description,
    form_activity,
    hubspot_deletions,
    marketing_activities,
    project_daily_volume,
    salesforce_deletions,
    task_values,
    type_label,
)
from sync_engine.config import ActivitySync as Setting
from sync_engine.config import ConfigError, SyncConfig, dump_config, parse_config
from sync_engine.models import DeletionPolicy

T0 = datetime(2026, 5, 4, 9, tzinfo=UTC)
LINKS = Links(
    contacts={"101": PersonLink("Contact", "003A"), "102": PersonLink("Lead", "00QB")},
    accounts={"5001": "001X"},
    opportunities={"9001": "006Y"},
    tasks={"meeting-7": "00TZ"},
)


def meeting(n: int, *, contact: str = "101", outcome: str = "COMPLETED") -> Activity:
    return Activity(
        key=f"meeting-{n}",
        type="meetings",
        source_id=str(n),
        occurred_at=T0 + timedelta(minutes=n),
        subject=f"Meeting: demo {n}",
        contact_ids=(contact,),
        company_ids=("5001",),
        deal_ids=("9001",),
        task_type="Meeting",
        properties={"hs_meeting_outcome": outcome},
    )


def settings(**types: dict) -> dict[str, Setting]:
    return {t: replace(Setting(t), **kw) for t, kw in types.items()}


def test_the_cap_holds_the_oldest_first_and_updates_never_count():
    items = [meeting(n) for n in range(8, 13)] + [meeting(7)]  # meeting-7 has its Task already
    out = decide(
        items,
        settings=settings(meetings={"enabled": True, "daily_cap": 3}),
        links=LINKS,
        created_today={"meetings": 1},
    )
    by_key = {d.activity.key: d for d in out}
    assert by_key["meeting-7"].status == "written" and not by_key["meeting-7"].creates
    assert [k for k, d in by_key.items() if d.creates] == ["meeting-8", "meeting-9"]
    waiting = [k for k, d in by_key.items() if d.status == "waiting_cap"]
    assert waiting == ["meeting-10", "meeting-11", "meeting-12"]
    assert "daily cap of 3" in by_key["meeting-10"].reason


@pytest.mark.parametrize(
    ("setting", "item", "status"),
    [
        ({"enabled": False}, meeting(1), "disabled"),
        ({"enabled": True}, meeting(1, contact="999"), "no_contact"),
        (
            {"enabled": True, "where": (("hs_meeting_outcome", ("COMPLETED",)),)},
            meeting(1, outcome="NO_SHOW"),
            "filtered",
        ),
        (
            {"enabled": True, "where": (("hs_meeting_outcome", ("COMPLETED",)),)},
            meeting(1),
            "written",
        ),
    ],
)
def test_each_activity_gets_a_status_with_its_reason(setting, item, status):
    (decision,) = decide([item], settings=settings(meetings=setting), links=LINKS, created_today={})
    assert decision.status == status
    assert decision.reason


def test_a_contact_task_is_on_the_opportunity_a_lead_task_has_no_what():
    on_contact = task_values(meeting(1), LINKS)
    assert on_contact is not None
    assert (on_contact["WhoId"], on_contact["WhatId"]) == ("003A", "006Y")
    assert on_contact["HubSpot_Engagement_Id__c"] == "meeting-1"
    on_lead = task_values(meeting(1, contact="102"), LINKS)
    assert on_lead is not None and (on_lead["WhoId"], on_lead["WhatId"]) == ("00QB", None)
    assert task_values(meeting(1, contact="404"), LINKS) is None


def _event(n: int, kind: str, *, recipient: str = "ann@example.com", campaign: int = 77) -> dict:
    created = int((T0 + timedelta(minutes=n)).timestamp() * 1000)
    return {"id": f"e{n}", "type": kind, "created": created, "recipient": recipient,
            "emailCampaignId": campaign, "subject": "Spring launch"}  # fmt: skip


def test_opens_of_one_email_by_one_contact_are_one_activity_counted_once():
    contacts = {"ann@example.com": "101", "bob@example.com": "102"}
    events = [_event(1, "OPEN"), _event(2, "OPEN"), _event(3, "OPEN", recipient="bob@example.com")]
    first = {a.key: a for a in marketing_activities(events, contact_of=contacts, previous={})}
    assert set(first) == {"mkt-77-101", "mkt-77-102"}
    assert first["mkt-77-101"].counts == {"OPEN": 2}
    again = [_event(2, "OPEN"), _event(4, "OPEN"), _event(5, "CLICK")]  # e2 was counted already
    (merged,) = marketing_activities(again, contact_of=contacts, previous=first)
    assert merged.counts == {"OPEN": 3, "CLICK": 1}
    assert merged.occurred_at == T0 + timedelta(minutes=1)
    assert "opens: 3" in merged.description


def test_high_value_filters_for_marketing_emails_and_forms():
    contacts = {"ann@example.com": "101"}
    (opened,) = marketing_activities([_event(1, "OPEN")], contact_of=contacts, previous={})
    clicked_only = Setting("marketing_emails", enabled=True, only_clicked=True)
    assert "no click" in (filter_reason(opened, clicked_only) or "")
    assert filter_reason(opened, Setting("marketing_emails", events=("OPEN",))) is None
    demo = form_activity(
        {"id": "f1", "name": "Demo request"},
        {"submittedAt": 1_700_000_000_000, "pageUrl": "https://x.io/pricing"},
        "101",
    )
    assert filter_reason(demo, Setting("form_submissions", forms=("Demo request",))) is None
    assert filter_reason(demo, Setting("form_submissions", forms=("Newsletter",)))
    assert filter_reason(demo, Setting("form_submissions", page_url_contains=("pricing",))) is None
    assert filter_reason(demo, Setting("form_submissions", page_url_contains=("blog",)))
    assert len(demo.key) <= 50  # fits HubSpot_Engagement_Id__c


def test_the_projection_counts_tasks_not_events_per_day():
    contacts = {f"p{n}@example.com": str(n) for n in range(10)}
    events = [
        _event(n * 60 + k, "OPEN", recipient=f"p{n}@example.com") for n in range(10) for k in (0, 1)
    ]
    items = marketing_activities(events, contact_of=contacts, previous={})
    setting = Setting("marketing_emails", daily_cap=3, events=("OPEN",))
    projected = project_daily_volume(items, setting, days=2, linked_contacts={"1", "2", "3", "4"})
    assert projected.observed == 4 and projected.tasks_per_day == 2
    assert projected.message() == "enabling marketing email opens would create about 2 Tasks a day"
    flood = project_daily_volume(items, setting, days=1, linked_contacts=set(contacts.values()))
    assert "daily cap of 3" in flood.message()
    assert type_label(Setting("form_submissions")) == "form submissions"


def test_activity_settings_round_trip_through_toml():
    config = SyncConfig()
    chosen = {
        "meetings": {"enabled": True, "to_hubspot": True,
                     "where": (("hs_meeting_outcome", ("COMPLETED", "SCHEDULED")),)},
        "marketing_emails": {"enabled": True, "events": ("OPEN", "CLICK"), "only_clicked": True},
        "form_submissions": {"forms": ("Demo request",), "page_url_contains": ("pricing",),
                             "daily_cap": 50},
    }  # fmt: skip
    chosen["emails"] = {"enabled": True, "only_clicked": True}
    activities = tuple(replace(a, **chosen.get(a.type, {})) for a in config.activities)
    config = replace(config, activities=activities, deletion_check_minutes=15)
    assert parse_config(dump_config(config)) == config
    assert parse_config("").deletion_check_minutes == 60


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[activities.marketing_emails]\nevents = ["BOUNCE"]\n', "BOUNCE is not a marketing"),
        ("[activities.notes]\nto_hubspot = true\n", "unknown key 'to_hubspot'"),
        ('[activities.calls]\nforms = ["x"]\n', "unknown key 'forms'"),
        ("[deletion]\nactivities_check_minutes = -1\n", "activities_check_minutes"),
    ],
)
def test_bad_activity_settings_are_named(text, fragment):
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert fragment in str(caught.value)


PORTAL = Portal(24_681_357, "app-eu1.hubspot.com")


def test_a_task_links_back_to_the_contact_record_on_the_portals_domain():
    task = task_values(meeting(1, contact="102"), LINKS, portal=PORTAL)
    assert task is not None
    link = "View in HubSpot: https://app-eu1.hubspot.com/contacts/24681357/record/0-1/102"
    assert task["Description"].endswith(link)
    long = replace(meeting(2), description="x" * 40_000)
    capped = task_values(long, LINKS, portal=PORTAL)
    assert capped is not None and len(capped["Description"]) <= 32_000
    assert capped["Description"].endswith("/record/0-1/101")
    assert Portal.from_details({"portalId": 7}).contact_url("9") == (
        "https://app.hubspot.com/contacts/7/record/0-1/9"
    )


def _engagement(object_: str, **props: str) -> Activity:
    record = {"id": "31", "properties": {"hs_timestamp": "2026-05-04T09:00:00Z", **props}}
    return crm_activity(CRM_SOURCES[object_], record, {"contacts": ["101"]})


def test_sales_email_tracking_booked_meetings_and_recordings_reach_the_description():
    email = _engagement(
        "emails", hs_email_subject="Pricing", hs_email_status="SENT", hs_email_open_count="2",
        hs_email_click_count="1",
    )  # fmt: skip
    assert "Sent; opens: 2, clicks: 1, replies: 0" in email.description
    assert email.subject == "Email: Pricing" and email.task_type == "Email"
    booked = _engagement("meetings", hs_meeting_title="Demo", hs_meeting_source="MEETINGS_PUBLIC")
    assert "Booked by the contact through a HubSpot scheduling page" in booked.description
    logged = _engagement("meetings", hs_meeting_title="Demo", hs_meeting_source="CRM_UI")
    assert "scheduling page" not in logged.description
    call = _engagement("calls", hs_call_recording_url="https://rec.example/1.mp3")
    assert "Recording: https://rec.example/1.mp3" in call.description


@pytest.mark.parametrize(("clicks", "passes"), [(None, False), ("0", False), ("3", True)])
def test_only_clicked_sales_emails(clicks, passes):
    props = {"hs_email_subject": "Hi"} | ({"hs_email_click_count": clicks} if clicks else {})
    email = _engagement("emails", **props)
    setting = Setting("emails", enabled=True, only_clicked=True)
    assert (filter_reason(email, setting) is None) is passes
    assert filter_reason(email, Setting("emails", enabled=True)) is None


ARCHIVED_AT = T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("policy", "action"), [(DeletionPolicy.ARCHIVE, "delete"), (DeletionPolicy.FLAG, "flag")]
)
def test_an_archived_engagement_with_a_task_follows_the_policy_once(policy, action):
    archived = {"meeting-7": ARCHIVED_AT, "meeting-8": ARCHIVED_AT, "call-9": None}
    tasks = {"meeting-7": "00TZ", "call-9": "00TC"}
    found = hubspot_deletions(archived, tasks=tasks, settled={"call-9"}, policy=policy)
    assert found == [Deletion("meeting-7", "meetings", "hubspot", "00TZ", action, ARCHIVED_AT)]
    assert "HubSpot meeting 7 was deleted in HubSpot" in deletion_reason(found[0])


def test_a_deleted_salesforce_task_archives_only_what_leadbridge_made_of_it():
    deleted = [
        {"Id": "00T1", "IsDeleted": True, "SystemModstamp": "2026-05-04T10:00:00.000+0000"},
        {"Id": "00T2", "IsDeleted": True},
        {"Id": "00T3", "IsDeleted": True},
        {"Id": "00T4", "IsDeleted": True},
    ]
    keys = {"00T1": "call-1", "00T2": "meeting-2", "00T3": "call-3"}  # 00T4: not linked
    statuses = {"call-1": "from_salesforce", "meeting-2": "written", "call-3": "deleted"}
    found = salesforce_deletions(
        deleted, keys=keys, statuses=statuses, policy=DeletionPolicy.ARCHIVE
    )
    assert [(d.key, d.action, d.task_id) for d in found] == [
        ("call-1", "delete", "00T1"),  # a rep's call LeadBridge sent: archived in HubSpot
        ("meeting-2", "stop", "00T2"),  # a Task LeadBridge made: HubSpot keeps the meeting
    ]
    assert found[0].at == datetime(2026, 5, 4, 10, tzinfo=UTC)
    flagged = salesforce_deletions(
        deleted, keys=keys, statuses=statuses, policy=DeletionPolicy.FLAG
    )
    assert [d.action for d in flagged] == ["flag", "stop"]


@pytest.mark.parametrize(
    ("last", "now", "due"),
    [
        (None, T0, True),
        (T0, T0 + timedelta(minutes=59), False),
        (T0, T0 + timedelta(minutes=60), True),
        (T0, T0 - timedelta(days=1), True),  # the clock went back: read again
    ],
)
def test_the_archived_list_is_read_at_its_cadence(last, now, due):
    assert archived_check_due(last, now, minutes=60) is due


def test_a_flagged_task_is_marked_once_and_keeps_what_a_rep_wrote():
    d = Deletion("call-5", "calls", "hubspot", "00T5", "flag", ARCHIVED_AT)
    once = flagged_description("Rep notes", d)
    assert once.startswith("[Deleted in HubSpot on 2026-05-04") and once.endswith("Rep notes")
    assert flagged_description(once, d) == once
    assert flagged_description(None, d).startswith("[Deleted in HubSpot")
