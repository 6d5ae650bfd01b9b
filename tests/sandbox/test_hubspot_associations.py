"""v4 associations through hubspot-api-client: typed PUT, default PUT, read, delete, batches."""

from __future__ import annotations

from typing import Any

import pytest
from hubspot_fixtures import *  # noqa: F403  (fixtures: hs_server, hs_portal)
from hubspot_fixtures import HsPortal, refused

pytestmark = pytest.mark.sandbox

PRIMARY = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]
PLAIN = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]


def _make(client: Any, api: str, **props: str) -> str:
    objects = getattr(client.crm, api)
    return objects.basic_api.create({"properties": props, "associations": []}).id


@pytest.fixture
def records(hs_portal: HsPortal) -> dict[str, Any]:
    client = hs_portal.client()
    return {
        "client": client,
        "contact": _make(client, "contacts", email="c@example.com"),
        "acme": _make(client, "companies", name="Acme"),
        "globex": _make(client, "companies", name="Globex"),
        "deal": _make(client, "deals", dealname="Pilot"),
    }


def _types(client: Any, source: str, source_id: str, target: str) -> dict[str, list[int]]:
    page = client.crm.associations.v4.basic_api.get_page(source, source_id, target)
    return {r.to_object_id: sorted(t.type_id for t in r.association_types) for r in page.results}


def test_typed_put_is_201_and_both_sides_see_it(records: dict[str, Any]):
    client, contact, acme = records["client"], records["contact"], records["acme"]
    basic = client.crm.associations.v4.basic_api
    made = basic.create("contacts", contact, "companies", acme, PRIMARY)
    assert (made.from_object_id, made.to_object_id, made.labels) == (contact, acme, ["Primary"])
    assert _types(client, "contacts", contact, "companies") == {acme: [1, 279]}
    assert _types(client, "companies", acme, "contacts") == {contact: [2, 280]}
    read = client.crm.contacts.basic_api.get_by_id(contact, associations=["companies"])
    assert {(a.id, a.type) for a in read.associations["companies"].results} == {
        (acme, "contact_to_company"),
        (acme, "contact_to_company_unlabeled"),
    }


def test_primary_company_is_unique_per_contact(records: dict[str, Any]):
    client, contact = records["client"], records["contact"]
    basic = client.crm.associations.v4.basic_api
    basic.create("contacts", contact, "companies", records["acme"], PRIMARY)
    basic.create("contacts", contact, "companies", records["globex"], PRIMARY)
    assert _types(client, "contacts", contact, "companies") == {
        records["acme"]: [279],
        records["globex"]: [1, 279],
    }


def test_default_put_is_200_and_delete_removes_every_type(records: dict[str, Any]):
    client, deal, contact = records["client"], records["deal"], records["contact"]
    basic = client.crm.associations.v4.basic_api
    answer = basic.create_default("deals", deal, "contacts", contact)
    assert answer.status == "COMPLETE"
    assert answer.results[0].association_spec.association_type_id == 3
    assert _types(client, "contacts", contact, "deals") == {deal: [4]}
    basic.archive("deals", deal, "contacts", contact)
    assert _types(client, "deals", deal, "contacts") == {}


def test_wrong_type_or_missing_record_is_refused(records: dict[str, Any]):
    basic = records["client"].crm.associations.v4.basic_api
    wrong = refused(
        basic.create,
        "contacts",
        records["contact"],
        "companies",
        records["acme"],
        [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
    )
    assert wrong.status == 400 and "associationTypeId 3" in wrong.body["message"]
    gone = refused(basic.create, "contacts", records["contact"], "companies", "999999", PLAIN)
    assert gone.status == 404
    odd = refused(basic.get_page, "contacts", records["contact"], "widgets")
    assert odd.status == 400 and odd.body["message"] == "Unable to infer object type from: widgets"


def test_batch_create_read_and_archive(records: dict[str, Any]):
    client = records["client"]
    batch = client.crm.associations.v4.batch_api
    created = batch.create(
        "contacts",
        "companies",
        {
            "inputs": [
                {"from": {"id": records["contact"]}, "to": {"id": records["acme"]}, "types": PLAIN},
                {
                    "from": {"id": records["contact"]},
                    "to": {"id": records["globex"]},
                    "types": PLAIN,
                },
            ]
        },
    )
    assert len(created.results) == 2
    read = batch.get_page(
        "contacts",
        "companies",
        {"inputs": [{"id": records["contact"]}, {"id": "424242"}]},
    )
    assert {t.to_object_id for t in read.results[0].to} == {records["acme"], records["globex"]}
    assert read.num_errors == 1 and read.errors[0].context == {"fromObjectId": ["424242"]}
    batch.archive(
        "contacts",
        "companies",
        {"inputs": [{"from": {"id": records["contact"]}, "to": [{"id": records["acme"]}]}]},
    )
    assert _types(client, "contacts", records["contact"], "companies") == {records["globex"]: [279]}


def test_archived_records_drop_out_of_association_reads(records: dict[str, Any]):
    client = records["client"]
    client.crm.associations.v4.basic_api.create(
        "contacts", records["contact"], "companies", records["acme"], PLAIN
    )
    client.crm.companies.basic_api.archive(records["acme"])
    assert _types(client, "contacts", records["contact"], "companies") == {}


def test_seeded_associations_load_both_ways(hs_portal: HsPortal):
    contact = {"id": "1", "properties": {"email": "s@example.com"}}
    company = {"id": "7", "properties": {"name": "Seeded"}}
    hs_portal.load(
        {"contacts": [contact], "companies": [company]},
        associations=[("contacts", "1", "companies", "7", 279)],
    )
    assert _types(hs_portal.client(), "companies", "7", "contacts") == {"1": [280]}
