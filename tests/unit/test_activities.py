"""Activity sync decisions: filters, the daily cap, WhoId/WhatId, one Task per marketing email,
the projection, and the activity settings' round trip through sync.toml."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sync_engine.activities import (
    Activity,
    Links,
    PersonLink,
    decide,
    filter_reason,
    form_activity,
    marketing_activities,
    project_daily_volume,
    task_values,
    type_label,
)
from sync_engine.config import ActivitySync as Setting
from sync_engine.config import ConfigError, SyncConfig, dump_config, parse_config

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
    activities = tuple(replace(a, **chosen.get(a.type, {})) for a in config.activities)
    config = replace(config, activities=activities)
    assert parse_config(dump_config(config)) == config


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[activities.marketing_emails]\nevents = ["BOUNCE"]\n', "BOUNCE is not a marketing"),
        ("[activities.notes]\nto_hubspot = true\n", "unknown key 'to_hubspot'"),
        ('[activities.calls]\nforms = ["x"]\n', "unknown key 'forms'"),
    ],
)
def test_bad_activity_settings_are_named(text, fragment):
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert fragment in str(caught.value)
