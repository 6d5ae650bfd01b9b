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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.hubspot.emulator import DEFAULT_PORTAL_ID
from sync_engine.activities import CAP_CODE, ActivitySync, activity_status
from sync_engine.config import ActivitySync as ActivitySetting
from sync_engine.config import SyncConfig
from sync_engine.engine import SyncEngine
from sync_engine.models import DeletionPolicy
from tests.e2e.conftest import Pair, start_pair

TASK_UPSERT = "PATCH /composite/sobjects/Task/HubSpot_Engagement_Id__c"
CONTACT_TYPE = {"calls": 194, "emails": 198, "meetings": 200, "notes": 202}
COMPANY_TYPE = {"calls": 182, "emails": 186, "meetings": 188}


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pair, SyncEngine]]:
    pair = start_pair(Path(tmp_path_factory.mktemp("activities")), seed=7, contacts=500)
    engine = pair.engine()
    engine.run_once()
    yield pair, engine
    pair.sandbox.stop()


def _config(engine: SyncEngine, *, base: SyncConfig | None = None, **types: Any) -> SyncConfig:
    """The engine's config (or base) with only the named activity types set (others off)."""
    activities = tuple(
        replace(ActivitySetting(a.type), **types[a.type])
        if a.type in types
        else ActivitySetting(a.type)
        for a in engine.config.activities
    )
    return replace(base or engine.config, activities=activities)


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


def _create(
    pair: Pair,
    hs_object: str,
    items: list[tuple[dict[str, str], str]],
    *,
    company: str | None = None,
) -> list[str]:
    """Engagements created by a rep in HubSpot, each associated with a contact (and company)."""
    rep = pair.person("hubspot", "rep")["token"]
    ids: list[str] = []
    for start in range(0, len(items), 100):
        inputs = [
            {
                "properties": {"hs_timestamp": datetime.now(UTC).isoformat(), **props},
                "associations": [
                    _association(contact, CONTACT_TYPE[hs_object]),
                    *([_association(company, COMPANY_TYPE[hs_object])] if company else []),
                ],
            }
            for props, contact in items[start : start + 100]
        ]
        answer = pair.hs(
            "POST", f"/crm/v3/objects/{hs_object}/batch/create", json={"inputs": inputs}, token=rep
        )
        ids.extend(str(r["id"]) for r in answer["results"])
    return ids


def _association(to: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": to},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


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


def _api_calls(engine: SyncEngine, run_id: int, endpoint: str) -> int:
    with engine.store.read() as conn:
        (n,) = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM api_usage WHERE run_id = ? AND endpoint = ?",
            [run_id, endpoint],
        ).fetchone()
    return int(n)


def _archive(pair: Pair, hs_object: str, ids: list[str]) -> None:
    rep = pair.person("hubspot", "rep")["token"]
    body = {"inputs": [{"id": i} for i in ids]}
    pair.hs("POST", f"/crm/v3/objects/{hs_object}/batch/archive", json=body, token=rep)


def test_calls_deleted_in_hubspot_delete_or_flag_their_tasks_at_the_checks_cadence(linked):
    pair, engine = linked
    contacts = _linked_contacts(engine, 8)[6:8]
    title = "Deletion test"
    ids = _create(pair, "calls", [({"hs_call_title": title}, c) for c in contacts])
    calls = {"enabled": True, "daily_cap": 100_000, "where": (("hs_call_title", (title,)),)}
    hourly = replace(engine.config, deletion_check_minutes=60)
    now = datetime.now(UTC)
    _sync(engine, _config(engine, base=hourly, calls=calls), clock=lambda: now).run()
    tasks = {t["HubSpot_Engagement_Id__c"]: t for t in _tasks(pair, f"Subject = 'Call: {title}'")}
    assert set(tasks) == {f"call-{i}" for i in ids}
    gone, kept = f"call-{ids[0]}", f"call-{ids[1]}"
    list_archived = "GET /crm/v3/objects/calls"

    # Policy archive: the first call is deleted in HubSpot, its Task is deleted in Salesforce,
    # but only at the next check of the archived list (an hour after the last one).
    _archive(pair, "calls", [ids[0]])
    archive = replace(hourly, deletion=DeletionPolicy.ARCHIVE)
    soon = now + timedelta(minutes=10)
    quiet = _sync(engine, _config(engine, base=archive, calls=calls), clock=lambda: soon).run()
    assert quiet.deleted == 0 and _api_calls(engine, quiet.run_id, list_archived) == 0
    later = now + timedelta(minutes=61)
    swept = _sync(engine, _config(engine, base=archive, calls=calls), clock=lambda: later).run()
    assert swept.deleted == 1 and _api_calls(engine, swept.run_id, list_archived) >= 1
    assert not _tasks(pair, f"HubSpot_Engagement_Id__c = '{gone}'")
    assert gone not in _links(engine, "activity")
    with engine.store.read() as conn:
        (field, new, reason) = conn.execute(
            "SELECT field, new_value, reason FROM field_changes WHERE hs_id = ? AND run_id = ?",
            [gone, swept.run_id],
        ).fetchone()
    assert field == "IsDeleted" and new in ("true", "True") and "deleted in HubSpot" in reason

    # Policy flag: the second call is deleted; its Task stays, marked, and a person is told.
    _archive(pair, "calls", [ids[1]])
    flag = replace(hourly, deletion=DeletionPolicy.FLAG, deletion_check_minutes=0)
    flagged = _sync(engine, _config(engine, base=flag, calls=calls)).run()
    assert flagged.deleted == 1
    (task,) = _tasks(pair, f"HubSpot_Engagement_Id__c = '{kept}'")
    assert task["Description"].startswith("[Deleted in HubSpot on ")
    with engine.store.read() as conn:
        (status, message) = conn.execute(
            "SELECT status, message FROM sync_errors WHERE code = 'DELETED_IN_HUBSPOT' "
            "AND record_id = ?",
            [kept],
        ).fetchone()
        (field,) = conn.execute(
            "SELECT field FROM field_changes WHERE hs_id = ? AND run_id = ?",
            [kept, flagged.run_id],
        ).fetchone()
    assert status == "open" and "is kept" in message and field == "Description"
    # Settled once: the next check finds nothing more to do, and nothing is re-created.
    again = _sync(engine, _config(engine, base=flag, calls=calls)).run()
    assert again.deleted == 0 and again.created == 0
    assert len(_tasks(pair, f"Subject = 'Call: {title}'")) == 1


def _rep_task(pair: Pair, engine: SyncEngine, nth: int, **fields: str) -> tuple[str, str]:
    """A Task a person (not the integration) logs in Salesforce on the nth linked contact:
    (HubSpot contact id, Task id)."""
    contact = _linked_contacts(engine, nth + 1)[nth]
    _sf_object, sf_id = _links(engine, "contact")[contact]
    body = {"WhoId": sf_id, "Status": "Completed", **fields}
    body["ActivityDate"] = datetime.now(UTC).date().isoformat()
    person = pair.person("salesforce", "admin")["token"]
    return contact, pair.sf("POST", "sobjects/Task/", token=person, json=body)["id"]


def test_a_reps_call_deleted_in_salesforce_archives_the_hubspot_call_made_of_it(linked):
    pair, engine = linked
    fields = {"Subject": "Rep call to delete", "TaskSubtype": "Call", "Type": "Call"}
    _contact, task_id = _rep_task(pair, engine, 8, **fields)
    config = _config(
        engine,
        base=replace(engine.config, deletion=DeletionPolicy.ARCHIVE),
        calls={"to_hubspot": True},
    )
    assert _sync(engine, config).run().to_hubspot >= 1
    key = next(k for k, (_o, task) in _links(engine, "activity").items() if task == task_id)
    call_id = key.split("-", 1)[1]
    assert pair.hs("GET", f"/crm/v3/objects/calls/{call_id}")["id"] == call_id
    pair.sf("DELETE", f"sobjects/Task/{task_id}", token=pair.person("salesforce", "admin")["token"])
    report = _sync(engine, config).run()
    assert report.deleted == 1
    archived = pair.hs("GET", f"/crm/v3/objects/calls/{call_id}", params={"archived": "true"})
    assert archived["archived"] is True
    with engine.store.read() as conn:
        (field, direction) = conn.execute(
            "SELECT field, direction FROM field_changes WHERE hs_id = ? AND run_id = ?",
            [key, report.run_id],
        ).fetchone()
    assert (field, direction) == ("archived", "salesforce_to_hubspot")
    assert _sync(engine, config).run().deleted == 0  # once


def test_a_reps_meeting_waits_for_its_toggle_and_then_reaches_hubspot_once(linked):
    pair, engine = linked
    subject = "Rep meeting behind its toggle"
    contact, _task_id = _rep_task(pair, engine, 9, Subject=subject, Type="Meeting")
    search = {
        "filterGroups": [
            {"filters": [{"propertyName": "hs_meeting_title", "operator": "EQ", "value": subject}]}
        ]
    }
    calls_only = _config(engine, calls={"to_hubspot": True})
    _sync(engine, calls_only).run()
    assert pair.hs("POST", "/crm/v3/objects/meetings/search", json=search)["total"] == 0
    both = _config(engine, calls={"to_hubspot": True}, meetings={"to_hubspot": True})
    first = _sync(engine, both).run()
    second = _sync(engine, both).run()
    assert first.to_hubspot >= 1 and second.to_hubspot == 0
    (meeting,) = pair.hs("POST", "/crm/v3/objects/meetings/search", json=search)["results"]
    linked_to = pair.hs("GET", f"/crm/v4/objects/meetings/{meeting['id']}/associations/contacts")
    assert [str(a["toObjectId"]) for a in linked_to["results"]] == [contact]


def _contact_with_account(pair: Pair, engine: SyncEngine) -> tuple[str, str, str, str]:
    """A HubSpot contact linked to a Salesforce Contact, and its company linked to an Account."""
    people, accounts = _links(engine, "contact"), _links(engine, "company")
    for contact, (sf_object, sf_id) in sorted(people.items())[20:]:
        if sf_object != "Contact":
            continue
        found = pair.hs("GET", f"/crm/v4/objects/contacts/{contact}/associations/companies")
        for row in found["results"]:
            company = str(row["toObjectId"])
            if company in accounts:
                return contact, sf_id, company, accounts[company][1]
    raise AssertionError("the seed has no contact whose company is in Salesforce")


def test_sales_email_clicks_booked_meetings_and_recordings_on_contact_and_account(linked):
    pair, engine = linked
    contact, sf_contact, company, account = _contact_with_account(pair, engine)
    clicked, opened = _create(
        pair,
        "emails",
        [({"hs_email_subject": "Audit clicked", "hs_email_status": "SENT"}, contact),
         ({"hs_email_subject": "Audit opened", "hs_email_status": "SENT"}, contact)],
        company=company,
    )  # fmt: skip
    for email, kind in ((clicked, "OPEN"), (clicked, "CLICK"), (opened, "OPEN")):
        pair.admin("hubspot", "email-tracking", {"email_id": email, "type": kind})
    booked = pair.admin("hubspot", "meeting-booked", {"contact_id": contact, "title": "Audit"})
    (logged,) = _create(pair, "meetings", [({"hs_meeting_title": "Audit"}, contact)])  # by a rep
    recording = "https://recordings.example.com/audit.mp3"
    (call,) = _create(
        pair,
        "calls",
        [({"hs_call_title": "Audit call", "hs_call_recording_url": recording,
           "hs_call_to_number": "+15550100"}, contact)],
        company=company,
    )  # fmt: skip
    subjects = ("Audit clicked", "Audit opened")
    config = _config(
        engine,
        emails={"enabled": True, "only_clicked": True,
                "where": (("hs_email_subject", subjects),)},
        meetings={"enabled": True, "where": (("hs_meeting_source", ("MEETINGS_PUBLIC",)),)},
        calls={"enabled": True, "where": (("hs_call_to_number", ("+15550100",)),)},
    )  # fmt: skip
    report = _sync(engine, config).run()
    mine = f"WhoId = '{sf_contact}' AND HubSpot_Engagement_Id__c != null"
    tasks = {t["HubSpot_Engagement_Id__c"]: t for t in _tasks(pair, mine)}
    assert f"email-{clicked}" in tasks and f"email-{opened}" not in tasks  # no click: filtered
    assert f"meeting-{booked['id']}" in tasks
    assert f"meeting-{logged}" not in tasks  # logged in the CRM, not booked: filtered
    assert f"call-{call}" in tasks and report.created == 3
    email_task, call_task = tasks[f"email-{clicked}"], tasks[f"call-{call}"]
    assert "opens: 1, clicks: 1" in email_task["Description"]
    assert f"Recording: {recording}" in call_task["Description"]
    assert "scheduling page" in tasks[f"meeting-{booked['id']}"]["Description"]
    link = f"https://app.hubspot.com/contacts/{DEFAULT_PORTAL_ID}/record/0-1/{contact}"
    made = [tasks[k] for k in (f"email-{clicked}", f"meeting-{booked['id']}", f"call-{call}")]
    assert all(t["Description"].endswith(f"View in HubSpot: {link}") for t in made)
    assert email_task["WhatId"] == call_task["WhatId"] == account
