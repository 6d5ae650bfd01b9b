"""HubSpot CRM objects through hubspot-api-client: CRUD, batches, history, conflicts, validation."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot_fixtures import *  # noqa: F403  (fixtures: hs_server, hs_portal)
from hubspot_fixtures import HsPortal, contact_seed, refused

pytestmark = pytest.mark.sandbox


def _create(props: dict[str, Any]) -> SimplePublicObjectInputForCreate:
    return SimplePublicObjectInputForCreate(properties=props, associations=[])


def _inputs(count: int, *, traced: bool, bad: dict[int, dict[str, str]] | None = None) -> Any:
    inputs = []
    for n in range(count):
        props = {"email": f"batch{n:03d}@example.com", "firstname": f"B{n}", "lastname": "Batch"}
        props |= (bad or {}).get(n, {})
        item: dict[str, Any] = {"properties": props, "associations": []}
        if traced:
            item["objectWriteTraceId"] = f"trace-{n}"
        inputs.append(item)
    return BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs)


# --------------------------------------------------------------------------- basic CRUD


def test_create_read_update_archive_round_trip(hs_portal: HsPortal):
    contacts = hs_portal.client().crm.contacts.basic_api
    created = contacts.create(
        _create({"email": "ada@example.com", "firstname": "Ada", "lifecyclestage": "lead"})
    )
    assert created.id and created.properties["email"] == "ada@example.com"
    assert created.properties["hs_object_id"] == created.id
    assert created.properties["createdate"] == created.properties["lastmodifieddate"]

    hs_portal.emulator.clock.advance(timedelta(seconds=5))
    updated = contacts.update(created.id, SimplePublicObjectInput(properties={"jobtitle": "CTO"}))
    assert updated.properties["jobtitle"] == "CTO"
    assert updated.properties["lastmodifieddate"] > created.properties["lastmodifieddate"]
    assert updated.updated_at > created.updated_at

    read = contacts.get_by_id(created.id, properties=["email", "jobtitle", "phone"])
    assert read.properties["jobtitle"] == "CTO"
    assert read.properties["phone"] is None  # known, never set: null, as HubSpot answers
    assert set(read.properties) == {
        "email",
        "jobtitle",
        "phone",
        "createdate",
        "lastmodifieddate",
        "hs_object_id",
    }

    contacts.archive(created.id)
    assert refused(contacts.get_by_id, created.id).status == 404
    archived = contacts.get_by_id(created.id, archived=True)
    assert archived.archived is True and archived.archived_at is not None
    listed = contacts.get_page(archived=True, limit=10)
    assert [r.id for r in listed.results] == [created.id]
    assert contacts.get_page(limit=10).results == []


def test_default_properties_and_unknown_names_ignored(hs_portal: HsPortal):
    client = hs_portal.client()
    contact = client.crm.contacts.basic_api.create(_create({"email": "x@example.com"}))
    plain = client.crm.contacts.basic_api.get_by_id(contact.id)
    assert set(plain.properties) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    }
    odd = client.crm.contacts.basic_api.get_by_id(contact.id, properties=["no_such_thing"])
    assert "no_such_thing" not in odd.properties
    company = client.crm.companies.basic_api.create(_create({"name": "Acme", "domain": "acme.io"}))
    assert set(client.crm.companies.basic_api.get_by_id(company.id).properties) == {
        "createdate",
        "domain",
        "hs_lastmodifieddate",
        "hs_object_id",
        "name",
    }


def test_read_by_email_id_property(hs_portal: HsPortal):
    contacts = hs_portal.client().crm.contacts.basic_api
    created = contacts.create(_create({"email": "Grace@Example.com"}))
    found = contacts.get_by_id("grace@example.com", id_property="email")
    assert found.id == created.id


def test_every_write_moves_the_last_modified_property_of_each_type(hs_portal: HsPortal):
    client = hs_portal.client()
    clock = hs_portal.emulator.clock
    for api, props, stamp in (
        (client.crm.companies.basic_api, {"name": "Initech"}, "hs_lastmodifieddate"),
        (client.crm.deals.basic_api, {"dealname": "Big one"}, "hs_lastmodifieddate"),
        (
            client.crm.objects.notes.basic_api,
            {"hs_note_body": "hello", "hs_timestamp": "1704067200000"},
            "hs_lastmodifieddate",
        ),
    ):
        record = api.create(_create(props))
        clock.advance(timedelta(seconds=2))
        api.update(record.id, SimplePublicObjectInput(properties={}))
        after = api.get_by_id(record.id, properties=[stamp])
        assert after.properties[stamp] > record.properties[stamp]


# --------------------------------------------------------------------------- history


def test_history_names_the_integration_app_and_the_person(hs_portal: HsPortal):
    app = hs_portal.client()
    contact = app.crm.contacts.basic_api.create(_create({"email": "h@example.com"}))
    hs_portal.emulator.clock.advance(timedelta(seconds=1))
    app.crm.contacts.basic_api.update(
        contact.id, SimplePublicObjectInput(properties={"phone": "+1 555 0100"})
    )
    rep = hs_portal.person("rep")
    hs_portal.emulator.clock.advance(timedelta(seconds=1))
    hs_portal.client(rep.token).crm.contacts.basic_api.update(
        contact.id, SimplePublicObjectInput(properties={"phone": "+1 555 0199"})
    )
    read = app.crm.contacts.basic_api.get_by_id(contact.id, properties_with_history=["phone"])
    newest, oldest = read.properties_with_history["phone"]
    assert (newest.value, newest.source_type) == ("+1 555 0199", "CRM_UI")
    assert newest.source_id == f"userId:{rep.id}" and newest.updated_by_user_id == int(rep.id)
    app_id = next(p for p in hs_portal.emulator.people() if p.role == "integration").id
    assert (oldest.value, oldest.source_type, oldest.source_id) == (
        "+1 555 0100",
        "INTEGRATION",
        app_id,
    )
    assert oldest.updated_by_user_id is None
    assert newest.timestamp > oldest.timestamp


def test_seeded_values_carry_the_seed_source(hs_portal: HsPortal):
    seeded = contact_seed(1)
    seeded[0]["_source"] = "FORM"
    hs_portal.load({"contacts": seeded})
    read = hs_portal.client().crm.contacts.basic_api.get_by_id(
        "1", properties_with_history=["email", "firstname"]
    )
    assert read.properties_with_history["email"][0].source_type == "FORM"
    assert read.updated_at.isoformat().startswith("2024-01-01T00:00:00")


# --------------------------------------------------------------------------- conflicts


def test_duplicate_email_is_409_conflict_with_the_existing_id(hs_portal: HsPortal):
    contacts = hs_portal.client().crm.contacts.basic_api
    first = contacts.create(_create({"email": "dup@example.com"}))
    answer = refused(contacts.create, _create({"email": "DUP@example.com"}))
    assert answer.status == 409
    assert answer.body["category"] == "CONFLICT"
    assert answer.body["message"] == f"Contact already exists. Existing ID: {first.id}"
    other = contacts.create(_create({"email": "other@example.com"}))
    change = SimplePublicObjectInput(properties={"email": "dup@example.com"})
    assert refused(contacts.update, other.id, change).status == 409


def test_archived_contact_frees_its_email(hs_portal: HsPortal):
    contacts = hs_portal.client().crm.contacts.basic_api
    first = contacts.create(_create({"email": "gone@example.com"}))
    contacts.archive(first.id)
    again = contacts.create(_create({"email": "gone@example.com"}))
    assert again.id != first.id


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("props", "code", "name", "fragment"),
    [
        ({"no_such_prop": "1"}, "PROPERTY_DOESNT_EXIST", "no_such_prop", 'Property "no_such_prop"'),
        ({"lifecyclestage": "hot"}, "INVALID_OPTION", "lifecyclestage", "allowed options"),
        ({"email": "not-an-email"}, "INVALID_EMAIL", "email", "not-an-email"),
        ({"hubspotscore": "80"}, "READ_ONLY_VALUE", "hubspotscore", "calculated property"),
        ({"hubspot_owner_id": "999"}, "INVALID_OWNER_ID", "hubspot_owner_id", "999"),
        ({"createdate": "yesterday"}, "INVALID_DATETIME", "createdate", "yesterday"),
    ],
)
def test_bad_property_values_are_400_naming_the_property(
    hs_portal: HsPortal, props: dict[str, str], code: str, name: str, fragment: str
):
    contacts = hs_portal.client().crm.contacts.basic_api
    answer = refused(contacts.create, _create({"email": "v@example.com", **props}))
    assert answer.status == 400
    body = answer.body
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    listed = json.loads(body["message"].removeprefix("Property values were not valid: "))
    assert [(x["name"], x["error"]) for x in listed] == [(name, code)]
    assert fragment in listed[0]["message"]
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["context"] == {"propertyName": [name]}
    assert contacts.get_page(limit=10).results == []  # nothing was written


def test_deal_stage_must_belong_to_the_deals_pipeline(hs_portal: HsPortal):
    deals = hs_portal.client().crm.deals.basic_api
    ok = deals.create(
        _create({"dealname": "Renewal", "pipeline": "75112203", "dealstage": "146342715"})
    )
    assert ok.properties["dealstage"] == "146342715"
    default = deals.create(_create({"dealname": "New", "dealstage": "qualifiedtobuy"}))
    assert default.properties["pipeline"] == "default"
    answer = refused(
        deals.update, ok.id, SimplePublicObjectInput(properties={"dealstage": "closedwon"})
    )
    listed = json.loads(answer.body["message"].split(": ", 1)[1])
    assert listed[0]["error"] == "INVALID_OPTION" and "146342717" in listed[0]["message"]


def test_dates_are_normalised_to_iso_milliseconds(hs_portal: HsPortal):
    deals = hs_portal.client().crm.deals.basic_api
    deal = deals.create(
        _create({"dealname": "Dated", "closedate": "1735689600000", "amount": 1200})
    )
    read = deals.get_by_id(deal.id, properties=["closedate", "amount"])
    assert read.properties["closedate"] == "2025-01-01T00:00:00Z"  # no fraction at .000
    assert read.properties["amount"] == "1200"


# --------------------------------------------------------------------------- batches


def test_batch_create_with_trace_ids_answers_207_with_98_created_and_2_errors(hs_portal: HsPortal):
    batch = hs_portal.client().crm.contacts.batch_api
    bad = {17: {"lifecyclestage": "warm"}, 63: {"email": "broken@"}}
    answer = batch.create(_inputs(100, traced=True, bad=bad))
    assert answer.status == "COMPLETE"
    assert len(answer.results) == 98 and answer.num_errors == 2
    errors = {e.context["objectWriteTraceId"][0]: e for e in answer.errors}
    assert set(errors) == {"trace-17", "trace-63"}
    assert errors["trace-17"].category == "VALIDATION_ERROR"
    assert errors["trace-17"].errors[0].code == "INVALID_OPTION"
    assert errors["trace-63"].errors[0].code == "INVALID_EMAIL"
    traces = {r.object_write_trace_id for r in answer.results}
    assert "trace-17" not in traces and len(traces) == 98
    stored = hs_portal.client().crm.contacts.basic_api.get_page(limit=100)
    assert len(stored.results) == 98


def test_batch_create_without_trace_ids_fails_whole_batch_with_400(hs_portal: HsPortal):
    batch = hs_portal.client().crm.contacts.batch_api
    answer = refused(batch.create, _inputs(10, traced=False, bad={4: {"lifecyclestage": "warm"}}))
    assert answer.status == 400
    assert answer.body["category"] == "VALIDATION_ERROR"
    assert hs_portal.client().crm.contacts.basic_api.get_page(limit=10).results == []
    clean = batch.create(_inputs(10, traced=False))
    assert len(clean.results) == 10 and not hasattr(clean, "errors")


def test_batch_create_conflicting_email_is_409_or_a_per_input_conflict(hs_portal: HsPortal):
    client = hs_portal.client()
    existing = client.crm.contacts.basic_api.create(_create({"email": "batch003@example.com"}))
    assert refused(client.crm.contacts.batch_api.create, _inputs(5, traced=False)).status == 409
    answer = client.crm.contacts.batch_api.create(_inputs(5, traced=True))
    assert len(answer.results) == 4
    assert answer.errors[0].category == "CONFLICT"
    assert answer.errors[0].message == f"Contact already exists. Existing ID: {existing.id}"


def test_batch_over_100_inputs_is_400(hs_portal: HsPortal):
    answer = refused(hs_portal.client().crm.contacts.batch_api.create, _inputs(101, traced=True))
    assert answer.status == 400
    body = answer.body
    assert body["category"] == "VALIDATION_ERROR" and "100" in body["message"]


def test_batch_read_update_upsert_archive(hs_portal: HsPortal):
    client = hs_portal.client()
    batch = client.crm.contacts.batch_api
    made = batch.create(_inputs(3, traced=False)).results
    ids = sorted(r.id for r in made)

    read = batch.read(
        {
            "inputs": [{"id": i} for i in [*ids, "987654"]],
            "properties": ["email"],
            "propertiesWithHistory": [],
        }
    )
    assert sorted(r.id for r in read.results) == ids
    assert read.errors[0].category == "OBJECT_NOT_FOUND"
    assert read.errors[0].context == {"ids": ["987654"]}

    updated = batch.update({"inputs": [{"id": i, "properties": {"jobtitle": "VP"}} for i in ids]})
    assert {r.properties["jobtitle"] for r in updated.results} == {"VP"}
    twice = {"inputs": [{"id": ids[0], "properties": {}}, {"id": ids[0], "properties": {}}]}
    assert "Duplicate IDs found in batch input" in refused(batch.update, twice).body["message"]

    upserted = batch.upsert(
        {
            "inputs": [
                {
                    "id": "batch000@example.com",
                    "idProperty": "email",
                    "properties": {"firstname": "Up"},
                },
                {
                    "id": "fresh@example.com",
                    "idProperty": "email",
                    "properties": {"firstname": "New"},
                },
            ]
        }
    )
    by_email = {r.properties["email"]: r for r in upserted.results}
    assert by_email["batch000@example.com"].new is False
    assert by_email["fresh@example.com"].new is True
    assert (
        client.crm.contacts.basic_api.get_by_id(by_email["batch000@example.com"].id).properties[
            "firstname"
        ]
        == "Up"
    )

    batch.archive(BatchInputSimplePublicObjectId(inputs=[{"id": i} for i in ids]))
    left = {r.id for r in client.crm.contacts.basic_api.get_page(limit=10).results}
    assert left == {by_email["fresh@example.com"].id}


def test_engagement_created_with_inline_association(hs_portal: HsPortal):
    client = hs_portal.client()
    contact = client.crm.contacts.basic_api.create(_create({"email": "n@example.com"}))
    note = client.crm.objects.notes.basic_api.create(
        {
            "properties": {"hs_note_body": "Called", "hs_timestamp": "2025-02-03T10:00:00Z"},
            "associations": [
                {
                    "to": {"id": contact.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
                }
            ],
        }
    )
    read = client.crm.contacts.basic_api.get_by_id(contact.id, associations=["notes"])
    assert [(a.id, a.type) for a in read.associations["notes"].results] == [
        (note.id, "contact_to_note")
    ]
    wrong_type = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}
    answer = refused(
        client.crm.objects.notes.basic_api.create,
        {
            "properties": {"hs_note_body": "x"},
            "associations": [{"to": {"id": contact.id}, "types": [wrong_type]}],
        },
    )
    assert answer.status == 400
    assert answer.body["message"] == (
        "invalid from object type 0-46 for associations to be created. expected: 0-1"
    )


def test_concurrent_writers_never_duplicate_an_email(hs_portal: HsPortal):
    """The server is threaded: the email check and the create happen under one lock."""

    def race(_n: int) -> tuple[int, int]:
        client = hs_portal.client()
        created = len(client.crm.contacts.batch_api.create(_inputs(50, traced=True)).results)
        answer = client.crm.contacts.basic_api.create_with_http_info
        try:
            status = answer(_create({"email": "race@example.com"}))[1]
        except Exception as exc:
            status = int(getattr(exc, "status", 0))
        return created, status

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(race, range(6)))
    assert sum(created for created, _ in outcomes) == 50  # each email won by one batch
    assert sorted(status for _, status in outcomes) == [201, 409, 409, 409, 409, 409]
    stats = hs_portal.emulator.stats()
    assert stats["records"]["contacts"] == 51
    assert stats["internal_errors"] == 0
