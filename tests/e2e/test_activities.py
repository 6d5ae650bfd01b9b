"""Activity sync against the seeded sandbox: engagements become Tasks selectively and bounded,
once each; rep-logged calls reach HubSpot once; Tasks go in collections of 200.

One seeded pair (500 contacts) for the module: the contact sync runs once so the links exist, then
each test drives `ActivitySync` directly with its own config (types it enables, filters that pick
out the records it made), and checks both systems as an admin would.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sync_engine.activities import CAP_CODE, ActivitySync, activity_status
from sync_engine.config import ActivitySync as ActivitySetting
from sync_engine.config import SyncConfig
from sync_engine.engine import SyncEngine
from tests.e2e.conftest import Pair, start_pair

TASK_UPSERT = "PATCH /composite/sobjects/Task/HubSpot_Engagement_Id__c"
CONTACT_TYPE = {"calls": 194, "emails": 198, "meetings": 200, "notes": 202}


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pair, SyncEngine]]:
    pair = start_pair(Path(tmp_path_factory.mktemp("activities")), seed=7, contacts=500)
    engine = pair.engine()
    engine.run_once()
    yield pair, engine
    pair.sandbox.stop()


def _config(engine: SyncEngine, **types: dict[str, Any]) -> SyncConfig:
    """The engine's config with only the named activity types set (others off)."""
    activities = tuple(
        replace(ActivitySetting(a.type), **types[a.type])
        if a.type in types
        else ActivitySetting(a.type)
        for a in engine.config.activities
    )
    return replace(engine.config, activities=activities)


def _sync(engine: SyncEngine, config: SyncConfig, **kw: Any) -> ActivitySync:
    return ActivitySync(config, salesforce=engine.sf, hubspot=engine.hs, store=engine.store, **kw)


def _links(engine: SyncEngine, obj: str) -> dict[str, tuple[str, str]]:
    with engine.store.read() as conn:
        rows = conn.execute(
            "SELECT hs_id, sf_object, sf_id FROM id_links WHERE object = ?", [obj]
        ).fetchall()
    return {hs: (o, sf) for hs, o, sf in rows}


def _tasks(pair: Pair, where: str = "HubSpot_Engagement_Id__c != null") -> list[dict[str, Any]]:
    return pair.soql(
        "SELECT Id, WhoId, WhatId, Subject, Description, Status, Type, HubSpot_Engagement_Id__c "
        f"FROM Task WHERE {where}"
    )


def _engagements(pair: Pair, hs_object: str) -> dict[str, list[str]]:
    """Every engagement of a type -> its associated contact ids (read as the admin)."""
    out: dict[str, list[str]] = {}
    after = None
    while True:
        params: dict[str, Any] = {"limit": 100, "associations": "contacts"}
        if after:
            params["after"] = after
        page = pair.hs("GET", f"/crm/v3/objects/{hs_object}", params=params)
        for row in page["results"]:
            linked = (row.get("associations") or {}).get("contacts", {}).get("results", [])
            out[row["id"]] = sorted({str(x["id"]) for x in linked})
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return out


def _create(pair: Pair, hs_object: str, items: list[tuple[dict[str, str], str]]) -> list[str]:
    """Engagements created by a rep in HubSpot, each associated with a contact."""
    rep = pair.person("hubspot", "rep")["token"]
    ids: list[str] = []
    for start in range(0, len(items), 100):
        inputs = [
            {
                "properties": {"hs_timestamp": datetime.now(UTC).isoformat(), **props},
                "associations": [
                    {
                        "to": {"id": contact},
                        "types": [
                            {
                                "associationCategory": "HUBSPOT_DEFINED",
                                "associationTypeId": CONTACT_TYPE[hs_object],
                            }
                        ],
                    }
                ],
            }
            for props, contact in items[start : start + 100]
        ]
        answer = pair.hs(
            "POST", f"/crm/v3/objects/{hs_object}/batch/create", json={"inputs": inputs}, token=rep
        )
        ids.extend(str(r["id"]) for r in answer["results"])
    return ids


def _linked_contacts(engine: SyncEngine, n: int) -> list[str]:
    contacts = sorted(_links(engine, "contact"))
    assert len(contacts) >= n
    return contacts[:n]


def test_only_enabled_types_become_tasks_on_the_right_person(linked):
    pair, engine = linked
    big = {"enabled": True, "daily_cap": 100_000}
    report = _sync(engine, _config(engine, emails=big, meetings=big)).run()
    people = _links(engine, "contact")
    expected = {
        f"{prefix}-{eid}": contacts
        for hs_object, prefix in (("emails", "email"), ("meetings", "meeting"))
        for eid, contacts in _engagements(pair, hs_object).items()
        if any(c in people for c in contacts)
    }
    tasks = {t["HubSpot_Engagement_Id__c"]: t for t in _tasks(pair)}
    assert expected and set(tasks) == set(expected)  # no calls, notes, tasks: they are off
    assert report.created == len(expected)
    for key, task in tasks.items():
        whos = {people[c][1] for c in expected[key] if c in people}
        assert task["WhoId"] in whos
        assert task["Subject"].startswith(("Email: ", "Meeting: "))
        assert task["Type"] in ("Email", "Meeting")
    # Turn sales emails off: a new email stays in HubSpot, a new meeting becomes a Task.
    contact = _linked_contacts(engine, 1)[0]
    (email_id,) = _create(pair, "emails", [({"hs_email_subject": "Pricing follow-up"}, contact)])
    (meeting_id,) = _create(pair, "meetings", [({"hs_meeting_title": "Kick-off"}, contact)])
    _sync(engine, _config(engine, meetings=big)).run()
    keys = {t["HubSpot_Engagement_Id__c"] for t in _tasks(pair)}
    assert f"meeting-{meeting_id}" in keys
    assert f"email-{email_id}" not in keys
    # Running again creates nothing new: every engagement is one Task.
    again = _sync(engine, _config(engine, emails=big, meetings=big)).run()
    assert again.created == 1  # only the email made while emails were off
    assert len(_tasks(pair)) == len(keys) + 1


def test_three_opens_of_one_marketing_email_make_one_updated_task(linked):
    pair, engine = linked
    contact = _linked_contacts(engine, 2)[1]
    config = _config(engine, marketing_emails={"enabled": True, "events": ("OPEN",)})
    body = {"type": "OPEN", "contact_id": contact, "email_name": "Spring launch"}
    body["email_campaign_id"] = "424242"
    for _ in range(2):
        pair.admin("hubspot", "email-event", body)
    first = _sync(engine, config).run()
    pair.admin("hubspot", "email-event", body)
    second = _sync(engine, config).run()
    (task,) = _tasks(pair, f"HubSpot_Engagement_Id__c = 'mkt-424242-{contact}'")
    assert (first.created, second.created, second.updated) == (1, 0, 1)
    assert "opens: 3" in task["Description"]
    assert task["WhoId"] == _links(engine, "contact")[contact][1]
    with engine.store.read() as conn:
        changes = conn.execute(
            'SELECT reason, field, new_value FROM field_changes WHERE hs_id = ? ORDER BY "at"',
            [f"mkt-424242-{contact}"],
        ).fetchall()
    assert any(r.startswith("activity updated") and f == "Description" for r, f, _v in changes)


def test_the_daily_cap_holds_the_101st_until_the_next_day(linked):
    pair, engine = linked
    contacts = _linked_contacts(engine, 5)
    _create(pair, "calls", [({"hs_call_title": "Cap test"}, contacts[n % 5]) for n in range(101)])
    config = _config(
        engine,
        calls={"enabled": True, "daily_cap": 100, "where": (("hs_call_title", ("Cap test",)),)},
    )
    day1 = datetime(2031, 3, 1, 9, tzinfo=UTC)
    first = _sync(engine, config, clock=lambda: day1).run()
    assert first.created_by_type["calls"] == 100
    assert first.waiting_by_type["calls"] == 1
    assert len(_tasks(pair, "Subject = 'Call: Cap test'")) == 100
    with engine.store.read() as conn:
        (message, status) = conn.execute(
            "SELECT message, status FROM sync_errors WHERE code = ? AND record_id = ?",
            [CAP_CODE, "activities.calls"],
        ).fetchone()
    assert status == "retrying"
    assert "daily cap of 100" in message and "2031-03-02" in message
    held = [r for r in activity_status(engine.store, day=day1.date()) if r["type"] == "calls"]
    assert {r["status"]: r["count"] for r in held}.get("waiting_cap") == 1
    same_day = _sync(engine, config, clock=lambda: day1).run()
    assert same_day.created == 0
    day2 = datetime(2031, 3, 2, 0, 5, tzinfo=UTC)
    second = _sync(engine, config, clock=lambda: day2).run()
    assert second.created_by_type["calls"] == 1
    assert len(_tasks(pair, "Subject = 'Call: Cap test'")) == 101
    with engine.store.read() as conn:
        (status,) = conn.execute(
            "SELECT status FROM sync_errors WHERE code = ? AND record_id = ?",
            [CAP_CODE, "activities.calls"],
        ).fetchone()
    assert status == "resolved"


def test_a_reps_call_in_salesforce_becomes_one_hubspot_call(linked):
    pair, engine = linked
    contact = _linked_contacts(engine, 3)[2]
    _sf_object, sf_id = _links(engine, "contact")[contact]
    person = pair.person("salesforce", "admin")["token"]  # a person, not the integration
    created = pair.sf(
        "POST",
        "sobjects/Task/",
        token=person,
        json={
            "Subject": "Discovery call with LeadBridge test",
            "WhoId": sf_id,
            "Status": "Completed",
            "TaskSubtype": "Call",
            "Type": "Call",
            "CallType": "Outbound",
            "CallDurationInSeconds": 300,
            "ActivityDate": datetime.now(UTC).date().isoformat(),
        },
    )
    config = _config(engine, calls={"to_hubspot": True, "enabled": True, "daily_cap": 100_000})
    first = _sync(engine, config).run()
    second = _sync(engine, config).run()
    assert first.to_hubspot >= 1 and second.to_hubspot == 0
    found = pair.hs(
        "POST",
        "/crm/v3/objects/calls/search",
        json={
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "hs_call_title",
                            "operator": "EQ",
                            "value": "Discovery call with LeadBridge test",
                        }
                    ]
                }
            ],
            "properties": ["hs_call_title", "hs_call_duration", "hs_call_direction"],
        },
    )
    (call,) = found["results"]
    assert call["properties"]["hs_call_duration"] == "300000"
    assoc = pair.hs("GET", f"/crm/v4/objects/calls/{call['id']}/associations/contacts")
    assert [str(a["toObjectId"]) for a in assoc["results"]] == [contact]
    # The call engagement never comes back to Salesforce as a second Task.
    assert not _tasks(pair, f"HubSpot_Engagement_Id__c = 'call-{call['id']}'")
    assert created["id"]


def test_tasks_go_in_collections_of_200(linked):
    pair, engine = linked
    contacts = _linked_contacts(engine, 20)
    _create(pair, "notes", [({"hs_note_body": "Batch test"}, contacts[n % 20]) for n in range(450)])
    config = _config(
        engine,
        notes={"enabled": True, "daily_cap": 1_000, "where": (("hs_note_body", ("Batch test",)),)},
    )
    before = pair.stats("salesforce")["by_endpoint"].get(TASK_UPSERT, 0)
    report = _sync(engine, config).run()
    after = pair.stats("salesforce")["by_endpoint"].get(TASK_UPSERT, 0)
    assert report.created == 450
    assert after - before == math.ceil(450 / 200) == 3
    with engine.store.read() as conn:
        (counted,) = conn.execute(
            "SELECT sum(calls) FROM api_usage WHERE system = 'salesforce' AND endpoint = ? "
            "AND run_id = ?",
            [TASK_UPSERT, report.run_id],
        ).fetchone()
    assert counted == 3


def test_only_demo_form_submissions_become_tasks_and_opens_are_projected_first(linked):
    pair, engine = linked
    contacts = _linked_contacts(engine, 6)
    emails = {c: pair.hs_contact(c)["properties"]["email"] for c in contacts[3:6]}
    for contact, email in emails.items():
        for form in ("Demo request", "Newsletter signup"):
            pair.admin(
                "hubspot",
                "form-submission",
                {"email": email, "form_id": f"form-{form[:4]}", "form_name": form},
            )
        body = {"type": "OPEN", "contact_id": contact, "email_name": "Digest"}
        pair.admin("hubspot", "email-event", {**body, "email_campaign_id": "515151"})
    sync = _sync(
        engine,
        _config(
            engine,
            form_submissions={"enabled": True, "forms": ("Demo request",)},
            marketing_emails={"enabled": False, "events": ("OPEN",)},
        ),
    )
    projected = sync.projection("marketing_emails", days=1)
    assert projected.observed >= len(emails)  # one Task per contact for the digest's opens
    assert projected.message().startswith("enabling marketing email opens would create about ")
    before = len(_tasks(pair, "HubSpot_Engagement_Id__c LIKE 'mkt-515151-%'"))
    report = sync.run()
    forms = _tasks(pair, "Subject LIKE 'Form submitted: %'")
    people = _links(engine, "contact")
    assert report.created == len(forms) == len(emails)
    assert {t["WhoId"] for t in forms} == {people[c][1] for c in emails}
    assert all(t["Subject"] == "Form submitted: Demo request" for t in forms)
    # The projection wrote nothing: the opens are still not Tasks (the type is off).
    assert len(_tasks(pair, "HubSpot_Engagement_Id__c LIKE 'mkt-515151-%'")) == before == 0
