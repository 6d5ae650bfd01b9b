"""Every answer the emulator serves conforms to HubSpot's own published OpenAPI documents.

Calls go through hubspot-api-client with `_preload_content=False`, so the raw JSON the emulator
sent is what gets validated (with formats: date-time, uuid correlation ids) against the response
schema the document gives for that path, method and status. Refusals are validated against the
documents' `default` Error response. Skipped when `../shared/` is not beside the checkout.

One documented gap: HubSpot answers a requested property that has no value with `null`, which its
documents (`properties: {type: string}`) do not allow; those nulls are dropped before validating.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hubspot_fixtures import *  # noqa: F403  (fixtures: hs_server, hs_portal, openapi_docs)
from hubspot_fixtures import HsPortal, refused
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

pytestmark = pytest.mark.sandbox

DOC_URI = "urn:hubspot-openapi"

# document -> (object type in client calls, collection path in the document, item path)
OBJECT_DOCS = {
    "contacts": ("contacts", "/crm/v3/objects/contacts", "{contactId}"),
    "companies": ("companies", "/crm/v3/objects/companies", "{companyId}"),
    "deals": ("deals", "/crm/v3/objects/0-3", "{dealId}"),
    "calls": ("calls", "/crm/v3/objects/calls", "{callId}"),
    "emails": ("emails", "/crm/v3/objects/emails", "{emailId}"),
    "meetings": ("meetings", "/crm/v3/objects/meetings", "{meetingId}"),
    "notes": ("notes", "/crm/v3/objects/notes", "{noteId}"),
    "tasks": ("tasks", "/crm/v3/objects/tasks", "{taskId}"),
}

MINIMAL = {
    "contacts": {"email": "conform@example.com", "firstname": "Con"},
    "companies": {"name": "Conformity Inc", "industry": "COMPUTER_SOFTWARE"},
    "deals": {"dealname": "Conformance", "dealstage": "qualifiedtobuy", "amount": "100"},
    "calls": {"hs_timestamp": "2025-01-02T03:04:05Z", "hs_call_title": "Intro"},
    "emails": {"hs_timestamp": "2025-01-02T03:04:05Z", "hs_email_subject": "Hi"},
    "meetings": {"hs_timestamp": "2025-01-02T03:04:05Z", "hs_meeting_title": "Demo"},
    "notes": {"hs_timestamp": "2025-01-02T03:04:05Z", "hs_note_body": "Spoke"},
    "tasks": {"hs_timestamp": "2025-01-02T03:04:05Z", "hs_task_subject": "Follow up"},
}


def _rebase(schema: Any) -> Any:
    """Point the document's local `#/...` references at the registered document."""
    if isinstance(schema, dict):
        return {
            k: (DOC_URI + v if k == "$ref" and v.startswith("#") else _rebase(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema


def _without_null_properties(body: Any) -> Any:
    """Drop `null` values inside `properties` maps (see the module docstring); nothing else."""
    if isinstance(body, list):
        return [_without_null_properties(x) for x in body]
    if not isinstance(body, dict):
        return body
    out = {}
    for key, value in body.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {k: v for k, v in value.items() if v is not None}
        else:
            out[key] = _without_null_properties(value)
    return out


class Conformance:
    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs = docs
        self.checked: list[tuple[str, str, str, int]] = []

    def schema(self, doc: str, path: str, method: str, status: int) -> dict[str, Any]:
        operation = self.docs[doc]["paths"][path][method.lower()]
        response = operation["responses"].get(str(status)) or operation["responses"]["default"]
        if "$ref" in response:  # the shared Error response
            name = response["$ref"].rsplit("/", 1)[-1]
            response = self.docs[doc]["components"]["responses"][name]
        content = response["content"]
        return next(iter(content.values()))["schema"]

    def validate(self, doc: str, path: str, method: str, status: int, body: Any) -> None:
        registry = Registry().with_resource(
            DOC_URI, Resource.from_contents(self.docs[doc], default_specification=DRAFT4)
        )
        schema = _rebase(copy.deepcopy(self.schema(doc, path, method, status)))
        validator = OAS30Validator(schema, registry=registry, format_checker=oas30_format_checker)
        errors = sorted(validator.iter_errors(_without_null_properties(body)), key=str)
        assert not errors, (
            f"{method} {path} {status}: {errors[0].message} at {list(errors[0].path)}"
        )
        self.checked.append((doc, path, method, status))

    def ok(
        self,
        doc: str,
        path: str,
        method: str,
        status: int,
        call: Callable[..., Any],
        *args: Any,
        **kw: Any,
    ) -> Any:
        """Make a call through the client and validate its raw answer."""
        raw = call(*args, _preload_content=False, **kw)
        assert raw.status == status, raw.data[:300]
        if status == 204:
            assert not raw.data
            self.checked.append((doc, path, method, status))
            return None
        body = json.loads(raw.data)
        self.validate(doc, path, method, status, body)
        return body

    def refused(
        self, doc: str, path: str, method: str, status: int, call: Callable[..., Any], *args: Any
    ) -> dict[str, Any]:
        answer = refused(call, *args)
        assert answer.status == status, answer.body
        self.validate(doc, path, method, status, answer.body)
        return answer.body


@pytest.fixture
def conform(openapi_docs: dict[str, dict[str, Any]]) -> Conformance:
    return Conformance(openapi_docs)


def _traced(props: dict[str, str], n: int) -> dict[str, Any]:
    return {"properties": props, "associations": [], "objectWriteTraceId": f"t{n}"}


@pytest.mark.parametrize("doc", list(OBJECT_DOCS))
def test_object_endpoints_conform(hs_portal: HsPortal, conform: Conformance, doc: str):
    object_type, base, item_var = OBJECT_DOCS[doc]
    item = f"{base}/{item_var}"
    client = hs_portal.client()
    basic, batch = client.crm.objects.basic_api, client.crm.objects.batch_api
    search = client.crm.objects.search_api
    props = MINIMAL[doc]

    created = conform.ok(
        doc,
        base,
        "POST",
        201,
        basic.create_with_http_info,
        object_type,
        {"properties": props, "associations": []},
    )
    record_id = created["id"]
    conform.ok(
        doc,
        item,
        "GET",
        200,
        basic.get_by_id_with_http_info,
        object_type,
        record_id,
        properties=list(props),
        properties_with_history=list(props),
    )
    conform.ok(
        doc,
        item,
        "PATCH",
        200,
        basic.update_with_http_info,
        object_type,
        record_id,
        {"properties": props},
    )
    conform.ok(doc, base, "GET", 200, basic.get_page_with_http_info, object_type, limit=1)

    second = dict(props, **({"email": "second@example.com"} if doc == "contacts" else {}))
    bad = {**props, "no_such_property": "x"}
    conform.ok(
        doc,
        f"{base}/batch/create",
        "POST",
        201,
        batch.create_with_http_info,
        object_type,
        {"inputs": [_traced(second, 1)]},
    )
    partial = conform.ok(
        doc,
        f"{base}/batch/create",
        "POST",
        207,
        batch.create_with_http_info,
        object_type,
        {
            "inputs": [
                _traced(bad, 1),
                _traced(
                    dict(props, **({"email": "third@example.com"} if doc == "contacts" else {})), 2
                ),
            ]
        },
    )
    assert partial["numErrors"] == 1
    read = {"inputs": [{"id": record_id}], "properties": list(props), "propertiesWithHistory": []}
    conform.ok(doc, f"{base}/batch/read", "POST", 200, batch.read_with_http_info, object_type, read)
    missing = {**read, "inputs": [{"id": record_id}, {"id": "31337"}]}
    conform.ok(
        doc, f"{base}/batch/read", "POST", 207, batch.read_with_http_info, object_type, missing
    )
    update = {"inputs": [{"id": record_id, "properties": props}]}
    conform.ok(
        doc, f"{base}/batch/update", "POST", 200, batch.update_with_http_info, object_type, update
    )
    traced_update = {
        "inputs": [
            {"id": record_id, "properties": props, "objectWriteTraceId": "u1"},
            {"id": "31337", "properties": props, "objectWriteTraceId": "u2"},
        ]
    }
    conform.ok(
        doc,
        f"{base}/batch/update",
        "POST",
        207,
        batch.update_with_http_info,
        object_type,
        traced_update,
    )
    request = {"limit": 5, "after": "0", "properties": list(props), "sorts": [], "filterGroups": []}
    conform.ok(
        doc, f"{base}/search", "POST", 200, search.do_search_with_http_info, object_type, request
    )

    conform.refused(doc, item, "GET", 404, basic.get_by_id, object_type, "31337")
    conform.refused(
        doc, base, "POST", 400, basic.create, object_type, {"properties": bad, "associations": []}
    )
    conform.ok(
        doc,
        f"{base}/batch/archive",
        "POST",
        204,
        batch.archive_with_http_info,
        object_type,
        {"inputs": [{"id": record_id}]},
    )
    conform.ok(doc, item, "DELETE", 204, basic.archive_with_http_info, object_type, record_id)


def test_contact_upsert_and_conflict_conform(hs_portal: HsPortal, conform: Conformance):
    client = hs_portal.client()
    base = "/crm/v3/objects/contacts"
    upsert = {
        "inputs": [{"id": "u@example.com", "idProperty": "email", "properties": {"firstname": "U"}}]
    }
    conform.ok(
        "contacts",
        f"{base}/batch/upsert",
        "POST",
        200,
        client.crm.contacts.batch_api.upsert_with_http_info,
        upsert,
    )
    body = conform.refused(
        "contacts",
        base,
        "POST",
        409,
        client.crm.contacts.basic_api.create,
        {"properties": {"email": "U@example.com"}, "associations": []},
    )
    assert body["category"] == "CONFLICT"
    conform.refused(
        "contacts",
        base,
        "GET",
        401,
        hs_portal.client("pat-na1-wrong").crm.contacts.basic_api.get_page,
    )
    hs_portal.emulator.set_limits({"burst": 1})  # the calls above already fill the window
    limited = conform.refused("contacts", base, "GET", 429, client.crm.contacts.basic_api.get_page)
    assert limited["policyName"] == "TEN_SECONDLY_ROLLING"


def test_association_endpoints_conform(hs_portal: HsPortal, conform: Conformance):
    client = hs_portal.client()
    contact = client.crm.contacts.basic_api.create(
        {"properties": {"email": "a@example.com"}, "associations": []}
    ).id
    company = client.crm.companies.basic_api.create(
        {"properties": {"name": "A"}, "associations": []}
    ).id
    v4 = client.crm.associations.v4
    single = "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId}"
    spec = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]
    conform.ok(
        "associations",
        single,
        "PUT",
        201,
        v4.basic_api.create_with_http_info,
        "contacts",
        contact,
        "companies",
        company,
        spec,
    )
    default = (
        "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations/default/"
        "{toObjectType}/{toObjectId}"
    )
    conform.ok(
        "associations",
        default,
        "PUT",
        200,
        v4.basic_api.create_default_with_http_info,
        "companies",
        company,
        "contacts",
        contact,
    )
    page = "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}"
    conform.ok(
        "associations",
        page,
        "GET",
        200,
        v4.basic_api.get_page_with_http_info,
        "contacts",
        contact,
        "companies",
    )
    batch = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch"
    pair = {"from": {"id": contact}, "to": {"id": company}}
    conform.ok(
        "associations",
        f"{batch}/create",
        "POST",
        201,
        v4.batch_api.create_with_http_info,
        "contacts",
        "companies",
        {"inputs": [{**pair, "types": spec}]},
    )
    conform.ok(
        "associations",
        f"{batch}/create",
        "POST",
        207,
        v4.batch_api.create_with_http_info,
        "contacts",
        "companies",
        {
            "inputs": [
                {**pair, "types": spec},
                {"from": {"id": "1"}, "to": {"id": company}, "types": spec},
            ]
        },
    )
    conform.ok(
        "associations",
        f"{batch}/associate/default",
        "POST",
        200,
        v4.batch_api.create_default_with_http_info,
        "contacts",
        "companies",
        {"inputs": [pair]},
    )
    conform.ok(
        "associations",
        f"{batch}/read",
        "POST",
        200,
        v4.batch_api.get_page_with_http_info,
        "contacts",
        "companies",
        {"inputs": [{"id": contact}]},
    )
    conform.ok(
        "associations",
        f"{batch}/read",
        "POST",
        207,
        v4.batch_api.get_page_with_http_info,
        "contacts",
        "companies",
        {"inputs": [{"id": contact}, {"id": "1"}]},
    )
    conform.ok(
        "associations",
        f"{batch}/labels/archive",
        "POST",
        204,
        v4.batch_api.archive_labels_with_http_info,
        "contacts",
        "companies",
        {"inputs": [{**pair, "types": spec}]},
    )
    conform.ok(
        "associations",
        f"{batch}/archive",
        "POST",
        204,
        v4.batch_api.archive_with_http_info,
        "contacts",
        "companies",
        {"inputs": [{"from": {"id": contact}, "to": [{"id": company}]}]},
    )
    conform.ok(
        "associations",
        single,
        "DELETE",
        204,
        v4.basic_api.archive_with_http_info,
        "contacts",
        contact,
        "companies",
        company,
    )
    conform.refused(
        "associations", page, "GET", 400, v4.basic_api.get_page, "contacts", contact, "widgets"
    )


def test_metadata_endpoints_conform(hs_portal: HsPortal, conform: Conformance):
    client = hs_portal.client()
    props = client.crm.properties
    conform.ok(
        "properties",
        "/crm/v3/properties/{objectType}",
        "GET",
        200,
        props.core_api.get_all_with_http_info,
        "contacts",
    )
    conform.ok(
        "properties",
        "/crm/v3/properties/{objectType}/{propertyName}",
        "GET",
        200,
        props.core_api.get_by_name_with_http_info,
        "deals",
        "dealstage",
    )
    conform.ok(
        "properties",
        "/crm/v3/properties/{objectType}/groups",
        "GET",
        200,
        props.groups_api.get_all_with_http_info,
        "companies",
    )
    conform.refused(
        "properties",
        "/crm/v3/properties/{objectType}/{propertyName}",
        "GET",
        404,
        props.core_api.get_by_name,
        "contacts",
        "nope",
    )
    pipes = client.crm.pipelines
    conform.ok(
        "pipelines",
        "/crm/v3/pipelines/{objectType}",
        "GET",
        200,
        pipes.pipelines_api.get_all_with_http_info,
        "deals",
    )
    conform.ok(
        "pipelines",
        "/crm/v3/pipelines/{objectType}/{pipelineId}",
        "GET",
        200,
        pipes.pipelines_api.get_by_id_with_http_info,
        "deals",
        "default",
    )
    conform.ok(
        "pipelines",
        "/crm/v3/pipelines/{objectType}/{pipelineId}/stages",
        "GET",
        200,
        pipes.pipeline_stages_api.get_all_with_http_info,
        "deals",
        "75112203",
    )
    conform.ok(
        "pipelines",
        "/crm/v3/pipelines/{objectType}/{pipelineId}/stages/{stageId}",
        "GET",
        200,
        pipes.pipeline_stages_api.get_by_id_with_http_info,
        "deals",
        "default",
        "closedwon",
    )
    owners = client.crm.owners.owners_api
    page = conform.ok(
        "owners", "/crm/v3/owners", "GET", 200, owners.get_page_with_http_info, limit=2
    )
    conform.ok(
        "owners",
        "/crm/v3/owners/{ownerId}",
        "GET",
        200,
        owners.get_by_id_with_http_info,
        page["results"][0]["id"],
    )
    conform.refused("owners", "/crm/v3/owners/{ownerId}", "GET", 404, owners.get_by_id, "1")


def test_list_endpoints_conform(hs_portal: HsPortal, conform: Conformance):
    hs_portal.load(
        {
            "contacts": [
                {"id": str(n), "properties": {"email": f"l{n}@example.com"}} for n in (1, 2, 3)
            ]
        },
        lists=[
            {
                "listId": "21",
                "name": "Customers",
                "processingType": "MANUAL",
                "objectTypeId": "0-1",
                "memberships": ["1", "2"],
            }
        ],
    )
    lists = hs_portal.client().crm.lists
    conform.ok(
        "lists",
        "/crm/v3/lists/{listId}",
        "GET",
        200,
        lists.lists_api.get_by_id_with_http_info,
        "21",
    )
    conform.ok(
        "lists",
        "/crm/v3/lists",
        "GET",
        200,
        lists.lists_api.get_all_with_http_info,
        list_ids=["21"],
    )
    conform.ok(
        "lists",
        "/crm/v3/lists/object-type-id/{objectTypeId}/name/{listName}",
        "GET",
        200,
        lists.lists_api.get_by_name_with_http_info,
        "Customers",
        "0-1",
    )
    conform.ok(
        "lists",
        "/crm/v3/lists/search",
        "POST",
        200,
        lists.lists_api.do_search_with_http_info,
        {"query": "cust", "offset": 0, "additionalProperties": []},
    )
    conform.ok(
        "lists",
        "/crm/v3/lists/{listId}/memberships",
        "GET",
        200,
        lists.memberships_api.get_page_with_http_info,
        "21",
        limit=1,
    )
    conform.ok(
        "lists",
        "/crm/v3/lists/{listId}/memberships/add",
        "PUT",
        200,
        lists.memberships_api.add_with_http_info,
        "21",
        ["3"],
    )
    conform.ok(
        "lists",
        "/crm/v3/lists/{listId}/memberships/remove",
        "PUT",
        200,
        lists.memberships_api.remove_with_http_info,
        "21",
        ["3"],
    )
    conform.ok(
        "lists",
        "/crm/v3/lists/{listId}/memberships/add-and-remove",
        "PUT",
        200,
        lists.memberships_api.add_and_remove_with_http_info,
        "21",
        {"recordIdsToAdd": ["3"], "recordIdsToRemove": ["1"]},
    )
    conform.ok(
        "lists",
        "/crm/v3/lists/records/{objectTypeId}/{recordId}/memberships",
        "GET",
        200,
        lists.memberships_api.get_lists_with_http_info,
        "0-1",
        "2",
    )
    conform.refused("lists", "/crm/v3/lists/{listId}", "GET", 404, lists.lists_api.get_by_id, "99")


def test_the_check_is_not_vacuous(conform: Conformance):
    """A record without its id, or a timestamp that is not one, must fail validation."""
    good = {
        "id": "1",
        "properties": {"email": "x@example.com"},
        "createdAt": "2024-01-01T00:00:00.000Z",
        "updatedAt": "2024-01-01T00:00:00.000Z",
        "archived": False,
    }
    item = "/crm/v3/objects/contacts/{contactId}"
    conform.validate("contacts", item, "GET", 200, good)
    for broken in (
        {k: v for k, v in good.items() if k != "id"},
        {**good, "createdAt": "yesterday"},
    ):
        with pytest.raises(AssertionError):
            conform.validate("contacts", item, "GET", 200, broken)
    with pytest.raises(AssertionError):
        conform.validate("contacts", item, "GET", 404, {"status": "error", "message": "x"})
