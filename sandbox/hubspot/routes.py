"""The endpoints the emulator serves, as data: path rule, methods, handler.

A werkzeug rule map matches a request; `endpoint_key` turns the matched rule back into the name
stats use (`POST /crm/v3/objects/contacts/batch/create`, `GET /crm/v3/objects/contacts/{id}`), with
object types spelled canonically and record ids templated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from werkzeug.routing import Map, Rule

from sandbox.hubspot import associations, marketing, meta, objects, schema
from sandbox.hubspot.calls import Reply

Handler = Callable[..., Reply]


@dataclass(frozen=True)
class Route:
    rule: str
    methods: tuple[str, ...]
    handler: Handler
    search: bool = False


_OBJ = "/crm/v3/objects/<otype>"
_V4 = "/crm/v4/objects/<otype>/<id>/associations"
_PIPE = "/crm/v3/pipelines/<otype>"
_LIST = "/crm/v3/lists/<listId>"

ROUTES: tuple[Route, ...] = (
    Route(_OBJ, ("GET",), objects.list_page),
    Route(_OBJ, ("POST",), objects.create),
    Route(f"{_OBJ}/search", ("POST",), objects.do_search, search=True),
    Route(f"{_OBJ}/batch/<op>", ("POST",), objects.batch),
    Route(f"{_OBJ}/<id>", ("GET",), objects.read),
    Route(f"{_OBJ}/<id>", ("PATCH",), objects.update),
    Route(f"{_OBJ}/<id>", ("DELETE",), objects.archive),
    Route(f"{_V4}/<to_type>", ("GET",), associations.get_page),
    Route(f"{_V4}/default/<to_type>/<toId>", ("PUT",), associations.put_default),
    Route(f"{_V4}/<to_type>/<toId>", ("PUT",), associations.put_labels),
    Route(f"{_V4}/<to_type>/<toId>", ("DELETE",), associations.delete),
    Route(
        "/crm/v4/associations/<from_type>/<to_type>/batch/<path:op>", ("POST",), associations.batch
    ),
    Route("/crm/v3/properties/<otype>", ("GET",), meta.properties),
    Route("/crm/v3/properties/<otype>/groups", ("GET",), meta.property_groups),
    Route("/crm/v3/properties/<otype>/<name>", ("GET",), meta.property_by_name),
    Route(_PIPE, ("GET",), meta.pipelines),
    Route(f"{_PIPE}/<pipelineId>", ("GET",), meta.pipeline_by_id),
    Route(f"{_PIPE}/<pipelineId>/stages", ("GET",), meta.stages),
    Route(f"{_PIPE}/<pipelineId>/stages/<stageId>", ("GET",), meta.stage_by_id),
    Route("/crm/v3/owners/", ("GET",), meta.owners),
    Route("/crm/v3/owners/<ownerId>", ("GET",), meta.owner_by_id),
    Route("/crm/v3/lists/", ("GET",), meta.lists_by_ids),
    Route("/crm/v3/lists/search", ("POST",), meta.search_lists),
    Route(
        "/crm/v3/lists/object-type-id/<objectTypeId>/name/<listName>", ("GET",), meta.list_by_name
    ),
    Route(
        "/crm/v3/lists/records/<objectTypeId>/<recordId>/memberships",
        ("GET",),
        meta.record_memberships,
    ),
    Route(_LIST, ("GET",), meta.list_by_id),
    Route(f"{_LIST}/memberships", ("GET",), meta.memberships),
    Route(f"{_LIST}/memberships/add", ("PUT",), meta.add_members),
    Route(f"{_LIST}/memberships/remove", ("PUT",), meta.remove_members),
    Route(f"{_LIST}/memberships/add-and-remove", ("PUT",), meta.add_and_remove),
    Route("/account-info/v3/details", ("GET",), meta.account_details),
    Route("/email/public/v1/events", ("GET",), marketing.email_events),
    Route("/marketing/v3/forms/", ("GET",), marketing.forms),
    Route(
        "/form-integrations/v1/submissions/forms/<formGuid>", ("GET",), marketing.form_submissions
    ),
)

# Path arguments that name an object type (spelled canonically in stats) or an operation (kept).
_TYPE_ARGS = frozenset({"otype", "to_type", "from_type", "objectTypeId"})
_LITERAL_ARGS = frozenset({"op"})


def url_map() -> Map:
    rules = [
        Rule(route.rule, methods=list(route.methods), endpoint=index)
        for index, route in enumerate(ROUTES)
    ]
    return Map(rules, strict_slashes=False, merge_slashes=False)


def endpoint_key(method: str, route: Route, args: Mapping[str, str]) -> str:
    path = route.rule
    for name, value in args.items():
        if name in _TYPE_ARGS:
            found = schema.object_type(value)
            shown = found.name if found else value
        elif name in _LITERAL_ARGS:
            shown = value
        else:
            shown = "{" + name + "}"
        path = re.sub(rf"<(?:\w+:)?{name}>", lambda _m, s=shown: s, path)
    return f"{method} {path}"
