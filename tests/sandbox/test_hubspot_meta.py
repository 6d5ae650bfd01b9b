"""Properties, pipelines, owners, lists and the admin actions, through hubspot-api-client."""

from __future__ import annotations

from typing import Any

import pytest
from hubspot_fixtures import *  # noqa: F403  (fixtures: hs_server, hs_portal)
from hubspot_fixtures import HsPortal, contact_seed, refused

pytestmark = pytest.mark.sandbox


# --------------------------------------------------------------------------- properties


def test_contact_properties_carry_enumeration_options(hs_portal: HsPortal):
    core = hs_portal.client().crm.properties.core_api
    by_name = {p.name: p for p in core.get_all("contacts").results}
    for name in ("firstname", "email", "phone", "jobtitle", "hubspot_owner_id", "lastmodifieddate"):
        assert name in by_name
    stages = [o.value for o in by_name["lifecyclestage"].options]
    assert stages == [
        "subscriber",
        "lead",
        "marketingqualifiedlead",
        "salesqualifiedlead",
        "opportunity",
        "customer",
        "evangelist",
        "other",
    ]
    assert "BAD_TIMING" in {o.value for o in by_name["hs_lead_status"].options}
    assert by_name["lead_source"].hubspot_defined is None  # a custom property
    assert {"Web", "Webinar"} <= {o.value for o in by_name["lead_source"].options}
    assert by_name["hubspotscore"].modification_metadata.read_only_value is True
    owners = {o.value for o in by_name["hubspot_owner_id"].options}
    assert hs_portal.owner_id(0) in owners
    industry = core.get_by_name("companies", "industry")
    assert industry.type == "enumeration" and "COMPUTER_SOFTWARE" in {
        o.value for o in industry.options
    }
    missing = refused(core.get_by_name, "contacts", "favourite_colour")
    assert missing.status == 404 and "favourite_colour" in missing.body["message"]


def test_deal_pipelines_and_stages(hs_portal: HsPortal):
    client = hs_portal.client().crm.pipelines
    pipelines = client.pipelines_api.get_all("deals").results
    assert [p.id for p in pipelines] == ["default", "75112203"]
    default = pipelines[0]
    assert [s.id for s in default.stages] == [
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
        "closedwon",
        "closedlost",
    ]
    won = client.pipeline_stages_api.get_by_id("deals", "default", "closedwon")
    assert won.metadata == {"isClosed": "true", "probability": "1.0"}
    assert client.pipelines_api.get_by_id("deals", "75112203").label == "Renewals"
    assert refused(client.pipelines_api.get_by_id, "deals", "nope").status == 404
    assert refused(client.pipelines_api.get_all, "widgets").status == 400


# --------------------------------------------------------------------------- owners


def test_owners_page_filter_and_fetch(hs_portal: HsPortal):
    owners = hs_portal.client().crm.owners.owners_api
    first = owners.get_page(limit=2)
    assert len(first.results) == 2 and first.paging.next.after
    rest = owners.get_page(limit=100, after=first.paging.next.after)
    everyone = [*first.results, *rest.results]
    assert len(everyone) == len(hs_portal.emulator.directory.owners)
    target = everyone[2]
    assert [o.id for o in owners.get_page(email=target.email.upper()).results] == [target.id]
    assert owners.get_by_id(target.id).email == target.email
    assert owners.get_by_id(str(target.user_id), id_property="userId").id == target.id
    assert owners.get_page(archived=True).results == []


# --------------------------------------------------------------------------- lists


@pytest.fixture
def with_lists(hs_portal: HsPortal) -> HsPortal:
    hs_portal.load(
        {"contacts": contact_seed(5)},
        lists=[
            {
                "listId": "11",
                "name": "Webinar attendees",
                "processingType": "MANUAL",
                "objectTypeId": "0-1",
                "memberships": ["1", "2", "3"],
            },
            {
                "listId": "12",
                "name": "MQL - ready for sales",
                "processingType": "DYNAMIC",
                "objectTypeId": "0-1",
                "memberships": ["4"],
            },
        ],
    )
    return hs_portal


def test_lists_by_id_by_name_and_search(with_lists: HsPortal):
    lists = with_lists.client().crm.lists.lists_api
    found = lists.get_by_id("11").list
    assert (found.name, found.processing_type, found.size) == ("Webinar attendees", "MANUAL", 3)
    assert lists.get_by_name("MQL - ready for sales", "0-1").list.list_id == "12"
    hits = lists.do_search({"query": "webinar", "offset": 0, "additionalProperties": []})
    assert [x.list_id for x in hits.lists] == ["11"] and hits.total == 1
    assert hits.lists[0].additional_properties["hs_list_size"] == "3"
    assert refused(lists.get_by_id, "999").status == 404


def test_list_memberships_page_and_change(with_lists: HsPortal):
    memberships = with_lists.client().crm.lists.memberships_api
    first = memberships.get_page("11", limit=2)
    assert [m.record_id for m in first.results] == ["1", "2"]
    second = memberships.get_page("11", limit=2, after=first.paging.next.after)
    assert [m.record_id for m in second.results] == ["3"] and second.paging is None

    changed = memberships.add_and_remove(
        "11", {"recordIdsToAdd": ["5", "404"], "recordIdsToRemove": ["1"]}
    )
    assert (changed.records_ids_added, changed.record_ids_removed) == (["5"], ["1"])
    assert changed.record_ids_missing == ["404"]
    assert [m.record_id for m in memberships.get_page("11").results] == ["2", "3", "5"]
    dynamic = refused(memberships.add, "12", ["1"])
    assert dynamic.status == 400 and "DYNAMIC" in dynamic.body["message"]
    of_record = memberships.get_lists("0-1", "2")
    assert [x.list_id for x in of_record.results] == ["11"]

    with_lists.admin("POST", "list-membership", {"list_id": "12", "add": ["2"], "remove": ["4"]})
    assert [m.record_id for m in memberships.get_page("12").results] == ["2"]


# --------------------------------------------------------------------------- admin actions


def _history(hs_portal: HsPortal, contact_id: str, *names: str) -> dict[str, Any]:
    read = hs_portal.client().crm.contacts.basic_api.get_by_id(
        contact_id, properties=list(names), properties_with_history=list(names)
    )
    return {"properties": read.properties, "history": read.properties_with_history}


def test_form_submission_creates_then_updates_a_contact_as_form(hs_portal: HsPortal):
    body = {
        "email": "visitor@example.org",
        "form_id": "5f0c1c1e-demo",
        "form_name": "Demo request",
        "page_url": "https://example.com/demo",
        "properties": {"firstname": "Vera"},
    }
    first = hs_portal.admin("POST", "form-submission", body)
    assert first["created"] is True
    hs_portal.admin("POST", "form-submission", {**body, "form_name": "Pricing", "properties": {}})
    seen = _history(
        hs_portal,
        first["contact_id"],
        "firstname",
        "recent_conversion_event_name",
        "first_conversion_event_name",
        "num_conversion_events",
    )
    assert seen["properties"]["recent_conversion_event_name"] == "Pricing"
    assert seen["properties"]["first_conversion_event_name"] == "Demo request"
    assert seen["properties"]["num_conversion_events"] == "2"
    entry = seen["history"]["firstname"][0]
    assert (entry.source_type, entry.source_id) == ("FORM", "5f0c1c1e-demo")
    assert len(hs_portal.admin("GET", "form-submissions")) == 2


def test_email_events_update_hs_email_properties_and_are_kept(hs_portal: HsPortal):
    contact = hs_portal.client().crm.contacts.basic_api.create(
        {"properties": {"email": "reader@example.org"}, "associations": []}
    )
    for kind in ("SENT", "OPEN", "OPEN", "CLICK"):
        hs_portal.admin(
            "POST",
            "email-event",
            {
                "contact_id": contact.id,
                "email_campaign_id": "987654",
                "email_name": "March newsletter",
                "type": kind,
            },
        )
    seen = _history(
        hs_portal, contact.id, "hs_email_open", "hs_email_click", "hs_email_last_email_name"
    )
    assert seen["properties"]["hs_email_open"] == "2"
    assert seen["properties"]["hs_email_click"] == "1"
    assert seen["properties"]["hs_email_last_email_name"] == "March newsletter"
    newest = seen["history"]["hs_email_open"][0]
    assert (newest.value, newest.source_type, newest.source_id) == ("2", "EMAIL", "987654")
    events = hs_portal.admin("GET", "email-events")
    assert [e["type"] for e in events] == ["SENT", "OPEN", "OPEN", "CLICK"]
    assert {e["recipient"] for e in events} == {"reader@example.org"}


def test_score_changes_are_calculated_not_api_writes(hs_portal: HsPortal):
    contact = hs_portal.client().crm.contacts.basic_api.create(
        {"properties": {"email": "scored@example.org"}, "associations": []}
    )
    hs_portal.admin("POST", "score", {"contact_id": contact.id, "score": 72})
    seen = _history(hs_portal, contact.id, "hubspotscore")
    assert seen["properties"]["hubspotscore"] == "72"
    assert seen["history"]["hubspotscore"][0].source_type == "CALCULATED"


def test_users_have_working_tokens_and_survive_a_clear(hs_portal: HsPortal):
    users = hs_portal.admin("GET", "users")
    roles = [u["role"] for u in users]
    assert roles[0] == "integration" and {"rep", "marketer", "admin"} <= set(roles)
    assert all(u["system"] == "hubspot" and u["token"] for u in users)
    for user in users:
        assert hs_portal.client(user["token"]).crm.contacts.basic_api.get_page().results == []
    hs_portal.admin("POST", "reset", {"seed": "empty"})
    assert hs_portal.admin("GET", "users") == users
