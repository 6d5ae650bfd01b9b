"""Bad input gets HubSpot's 4xx with a category and a message naming the problem; never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hubspot_fixtures import *  # noqa: F403  (fixtures: hs_server, hs_portal)
from hubspot_fixtures import HsPortal, refused

pytestmark = pytest.mark.sandbox

Case = Callable[[Any], Any]
SEARCH = {"limit": 10, "after": "0", "properties": [], "sorts": [], "filterGroups": []}


def _objects(client: Any) -> Any:
    return client.crm.objects


CASES: list[tuple[str, Case, int, str, str]] = [
    (
        "unknown object type",
        lambda c: _objects(c).basic_api.get_page("widgets"),
        400,
        "VALIDATION_ERROR",
        "Unable to infer object type from: widgets",
    ),
    (
        "unknown object type in search",
        lambda c: _objects(c).search_api.do_search("widgets", SEARCH),
        400,
        "VALIDATION_ERROR",
        "widgets",
    ),
    (
        "unknown property in a write",
        lambda c: c.crm.contacts.basic_api.create({"properties": {"shoe_size": "42"}}),
        400,
        "VALIDATION_ERROR",
        "shoe_size",
    ),
    (
        "malformed JSON",
        lambda c: _objects(c).basic_api.create(
            "contacts", '{"properties": {', _content_type="text/plain"
        ),
        400,
        "VALIDATION_ERROR",
        "Invalid input JSON on line 1",
    ),
    (
        "properties not an object",
        lambda c: c.crm.contacts.basic_api.create({"properties": ["email"]}),
        400,
        "VALIDATION_ERROR",
        "properties",
    ),
    (
        "inputs not an array",
        lambda c: c.crm.contacts.batch_api.create({"inputs": "all of them"}),
        400,
        "VALIDATION_ERROR",
        "inputs",
    ),
    (
        "inputs of strings",
        lambda c: c.crm.contacts.batch_api.update({"inputs": ["1", "2"]}),
        400,
        "VALIDATION_ERROR",
        "inputs",
    ),
    (
        "batch read properties not a list",
        lambda c: c.crm.contacts.batch_api.read({"inputs": [], "properties": "email"}),
        400,
        "VALIDATION_ERROR",
        "properties",
    ),
    (
        "filter that is not an object",
        lambda c: _objects(c).search_api.do_search(
            "contacts", {**SEARCH, "filterGroups": [{"filters": [1]}]}
        ),
        400,
        "VALIDATION_ERROR",
        "filter",
    ),
    (
        "search limit zero",
        lambda c: _objects(c).search_api.do_search("contacts", {**SEARCH, "limit": 0}),
        400,
        "VALIDATION_ERROR",
        "limit",
    ),
    (
        "search after not a number",
        lambda c: _objects(c).search_api.do_search("contacts", {**SEARCH, "after": "page2"}),
        400,
        "VALIDATION_ERROR",
        "after",
    ),
    (
        "list limit not a number",
        lambda c: c.crm.contacts.basic_api.get_page(limit="lots"),
        400,
        "VALIDATION_ERROR",
        "limit",
    ),
    (
        "archived flag not a boolean",
        lambda c: c.crm.contacts.basic_api.get_page(archived="maybe"),
        400,
        "VALIDATION_ERROR",
        "archived",
    ),
    (
        "idProperty that is not unique",
        lambda c: c.crm.contacts.basic_api.get_by_id("Ada", id_property="firstname"),
        400,
        "VALIDATION_ERROR",
        "firstname",
    ),
    (
        "upsert without idProperty",
        lambda c: c.crm.contacts.batch_api.upsert(
            {"inputs": [{"id": "x@example.com", "properties": {}}]}
        ),
        400,
        "VALIDATION_ERROR",
        "idProperty",
    ),
    (
        "association spec body not a list",
        lambda c: c.crm.associations.v4.basic_api.create(
            "contacts", "1", "companies", "2", {"x": 1}
        ),
        400,
        "VALIDATION_ERROR",
        "array",
    ),
    (
        "association spec without a type id",
        lambda c: c.crm.associations.v4.basic_api.create(
            "contacts", "1", "companies", "2", [{"associationCategory": "HUBSPOT_DEFINED"}]
        ),
        400,
        "VALIDATION_ERROR",
        "associationTypeId",
    ),
    (
        "association batch input without an id",
        lambda c: c.crm.associations.v4.batch_api.get_page(
            "contacts", "companies", {"inputs": [{}]}
        ),
        400,
        "VALIDATION_ERROR",
        "id",
    ),
    (
        "inline association without a target",
        lambda c: c.crm.contacts.basic_api.create({"properties": {}, "associations": [{"to": 5}]}),
        400,
        "VALIDATION_ERROR",
        "association",
    ),
    (
        "list search count not a number",
        lambda c: c.crm.lists.lists_api.do_search(
            {"count": "many", "offset": 0, "additionalProperties": []}
        ),
        400,
        "VALIDATION_ERROR",
        "count",
    ),
    (
        "membership change on a list that does not exist",
        lambda c: c.crm.lists.memberships_api.add_and_remove(
            "1", {"recordIdsToAdd": "1", "recordIdsToRemove": []}
        ),
        404,
        "OBJECT_NOT_FOUND",
        "List 1",
    ),
    (
        "unknown batch operation",
        lambda c: _objects(c).batch_api.api_client.call_api(
            "/crm/v3/objects/contacts/batch/explode",
            "POST",
            body={"inputs": []},
            auth_settings=["oauth2"],
            response_types_map={},
        ),
        404,
        "OBJECT_NOT_FOUND",
        "explode",
    ),
    (
        "update of a record that does not exist",
        lambda c: c.crm.contacts.basic_api.update("424242", {"properties": {}}),
        404,
        "OBJECT_NOT_FOUND",
        "not found",
    ),
]


@pytest.mark.parametrize(
    ("call", "status", "category", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_is_a_4xx_naming_the_problem(
    hs_portal: HsPortal, call: Case, status: int, category: str, fragment: str
):
    answer = refused(call, hs_portal.client())
    assert answer.status == status, answer.body
    assert answer.body["category"] == category
    assert fragment.lower() in answer.body["message"].lower()
    assert answer.body["correlationId"]
    assert hs_portal.emulator.stats()["internal_errors"] == 0
