"""Portal metadata and people: properties, deal pipelines, owners and lists (v3).

The answers are built from schema.py (properties and pipelines as data) and from the seeded
owners and lists, in the shapes of HubSpot's published OpenAPI documents.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.hubspot import schema
from sandbox.hubspot.calls import Call, Reply, resolve_type
from sandbox.hubspot.errors import ApiError, not_found, validation
from sandbox.hubspot.store import HubList, Portal, int_id
from sandbox.hubspot.values import iso, to_ms

_DEFINED_AT = iso(datetime(2019, 8, 6, 2, 41, 52, 327_000, tzinfo=UTC))
_DEFAULT_PIPELINE_AT = iso(datetime(1970, 1, 1, tzinfo=UTC))
OWNERS_MAX = 500
MEMBERSHIPS_MAX = 250
LIST_SEARCH_MAX = 500

# --------------------------------------------------------------------------- properties


def _options(call: Call, object_name: str, pdef: schema.PropertyDef) -> list[dict[str, Any]]:
    if pdef.referenced == "OWNER":
        pairs = [
            (str(o["id"]), f"{o.get('firstName', '')} {o.get('lastName', '')}".strip())
            for o in call.directory.owners
            if not o.get("archived")
        ]
    elif pdef.referenced == "PIPELINE":
        pairs = [(p.id, p.label) for p in schema.PIPELINES.get(object_name, ())]
    elif pdef.referenced == "PIPELINE_STAGE":
        pairs = [(s.id, s.label) for p in schema.PIPELINES.get(object_name, ()) for s in p.stages]
    else:
        pairs = [(o.value, o.label) for o in pdef.options]
    return [
        {"label": label, "value": value, "displayOrder": index, "hidden": False}
        for index, (value, label) in enumerate(pairs)
    ]


def render_property(call: Call, object_name: str, pdef: schema.PropertyDef) -> dict[str, Any]:
    out: dict[str, Any] = {
        "updatedAt": _DEFINED_AT,
        "createdAt": _DEFINED_AT,
        "name": pdef.name,
        "label": pdef.label,
        "type": pdef.type,
        "fieldType": pdef.field_type,
        "description": "",
        "groupName": pdef.group,
        "options": _options(call, object_name, pdef),
        "displayOrder": -1,
        "calculated": pdef.read_only,
        "externalOptions": pdef.referenced is not None,
        "hasUniqueValue": pdef.unique,
        "hidden": False,
        "modificationMetadata": {
            "archivable": pdef.custom,
            "readOnlyDefinition": not pdef.custom,
            "readOnlyValue": pdef.read_only,
        },
        "formField": pdef.type != "datetime" and not pdef.read_only,
        "dataSensitivity": "non_sensitive",
        "archived": False,
    }
    if not pdef.custom:
        out["hubspotDefined"] = True
    if pdef.referenced == "OWNER":
        out["referencedObjectType"] = "OWNER"
    if pdef.text_hint:
        out["textDisplayHint"] = pdef.text_hint
    return out


def properties(call: Call, otype: str) -> Reply:
    ot = resolve_type(otype)
    if call.flag("archived"):
        return Reply(200, {"results": []})
    defs = schema.PROPERTIES[ot.name].values()
    return Reply(200, {"results": [render_property(call, ot.name, d) for d in defs]})


def property_by_name(call: Call, otype: str, name: str) -> Reply:
    ot = resolve_type(otype)
    pdef = schema.PROPERTIES[ot.name].get(name)
    if pdef is None:
        raise ApiError(
            404, "OBJECT_NOT_FOUND", f"Unable to find property {name} for object type {ot.type_id}"
        )
    return Reply(200, render_property(call, ot.name, pdef))


def property_groups(call: Call, otype: str) -> Reply:
    ot = resolve_type(otype)
    names = dict.fromkeys(d.group for d in schema.PROPERTIES[ot.name].values())
    groups = [
        {"name": n, "label": schema.GROUP_LABELS.get(n, n), "displayOrder": i, "archived": False}
        for i, n in enumerate(names)
    ]
    return Reply(200, {"results": groups})


# --------------------------------------------------------------------------- pipelines


def _stage(stage: schema.Stage, order: int, created: str) -> dict[str, Any]:
    return {
        "label": stage.label,
        "displayOrder": order,
        "metadata": {"isClosed": str(stage.closed).lower(), "probability": str(stage.probability)},
        "id": stage.id,
        "createdAt": created,
        "updatedAt": created,
        "archived": False,
        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
    }


def _pipeline(pipeline: schema.Pipeline) -> dict[str, Any]:
    created = _DEFAULT_PIPELINE_AT if pipeline.id == schema.DEFAULT_PIPELINE else _DEFINED_AT
    return {
        "label": pipeline.label,
        "displayOrder": pipeline.display_order,
        "id": pipeline.id,
        "stages": [_stage(s, i, created) for i, s in enumerate(pipeline.stages)],
        "createdAt": created,
        "updatedAt": created,
        "archived": False,
    }


def _pipelines_of(otype: str) -> tuple[schema.ObjectType, tuple[schema.Pipeline, ...]]:
    ot = resolve_type(otype)
    if ot.name not in schema.PIPELINES:
        raise validation(f"Object type {ot.name} ({ot.type_id}) does not have pipelines")
    return ot, schema.PIPELINES[ot.name]


def _one_pipeline(otype: str, pipeline_id: str) -> schema.Pipeline:
    ot, _ = _pipelines_of(otype)
    found = schema.pipeline(ot.name, pipeline_id)
    if found is None:
        raise not_found(f"Unable to find pipeline {pipeline_id}")
    return found


def pipelines(call: Call, otype: str) -> Reply:
    _, found = _pipelines_of(otype)
    return Reply(200, {"results": [_pipeline(p) for p in found]})


def pipeline_by_id(call: Call, otype: str, pipelineId: str) -> Reply:
    return Reply(200, _pipeline(_one_pipeline(otype, pipelineId)))


def stages(call: Call, otype: str, pipelineId: str) -> Reply:
    return Reply(200, {"results": _pipeline(_one_pipeline(otype, pipelineId))["stages"]})


def stage_by_id(call: Call, otype: str, pipelineId: str, stageId: str) -> Reply:
    for stage in _pipeline(_one_pipeline(otype, pipelineId))["stages"]:
        if stage["id"] == stageId:
            return Reply(200, stage)
    raise not_found(f"Unable to find stage {stageId} in pipeline {pipelineId}")


# --------------------------------------------------------------------------- owners


def owners(call: Call) -> Reply:
    limit = call.number("limit", default=100, maximum=OWNERS_MAX)
    archived = call.flag("archived")
    email = (call.query.get("email") or "").strip().lower()
    chosen = [
        o
        for o in call.directory.owners
        if bool(o.get("archived", False)) == archived
        and (not email or str(o.get("email", "")).lower() == email)
    ]
    start = call.cursor()
    page = chosen[start : start + limit]
    body: dict[str, Any] = {"results": [call.directory.public_owner(o) for o in page]}
    if start + limit < len(chosen):
        after = str(start + limit)
        body["paging"] = {"next": {"after": after, "link": call.link(call.path, after=after)}}
    return Reply(200, body)


def owner_by_id(call: Call, ownerId: str) -> Reply:
    by = call.query.get("idProperty") or "id"
    if by not in ("id", "userId"):
        raise validation(f"Invalid idProperty {by!r}; use id or userId")
    archived = call.flag("archived")
    for owner in call.directory.owners:
        if str(owner.get(by)) == ownerId and bool(owner.get("archived", False)) == archived:
            return Reply(200, call.directory.public_owner(owner))
    raise not_found(f"Unable to find owner with {by} {ownerId}")


# --------------------------------------------------------------------------- lists


def _list(lst: HubList, call: Call) -> dict[str, Any]:
    return {
        "listId": str(lst.list_id),
        "listVersion": lst.version,
        "name": lst.name,
        "objectTypeId": lst.object_type_id,
        "processingStatus": "COMPLETE",
        "processingType": lst.processing_type,
        "createdAt": iso(lst.created_at),
        "updatedAt": iso(lst.updated_at),
        "filtersUpdatedAt": iso(lst.created_at),
        "createdById": str(call.directory.users[0]["id"]) if call.directory.users else "0",
        "size": len(_live_members(call, lst)),
    }


def _live_members(call: Call, lst: HubList) -> list[int]:
    ot = schema.object_type(lst.object_type_id)
    if ot is None:
        return sorted(lst.members)
    return [m for m in sorted(lst.members) if call.portal.live(ot.name, m) is not None]


def _search_result(lst: HubList, call: Call) -> dict[str, Any]:
    full = _list(lst, call)
    extra = {"hs_list_size": str(full.pop("size")), "hs_list_reference_count": "0"}
    if lst.last_added_at is not None:
        extra["hs_last_record_added_at"] = str(to_ms(lst.last_added_at))
    if lst.last_removed_at is not None:
        extra["hs_last_record_removed_at"] = str(to_ms(lst.last_removed_at))
    return {**full, "additionalProperties": extra}


def _find_list(call: Call, list_id: str) -> HubList:
    lst = call.portal.lists.get(int_id(list_id) or -1)
    if lst is None:
        raise not_found(f"List {list_id} does not exist")
    return lst


def list_by_id(call: Call, listId: str) -> Reply:
    return Reply(200, {"list": _list(_find_list(call, listId), call)})


def lists_by_ids(call: Call) -> Reply:
    wanted = call.strings("listIds")
    found = [call.portal.lists[i] for i in (int_id(w) for w in wanted) if i in call.portal.lists]
    return Reply(200, {"lists": [_list(lst, call) for lst in found]})


def list_by_name(call: Call, objectTypeId: str, listName: str) -> Reply:
    ot = resolve_type(objectTypeId)
    for lst in call.portal.lists.values():
        if lst.name.lower() == listName.lower() and lst.object_type_id == ot.type_id:
            return Reply(200, {"list": _list(lst, call)})
    raise not_found(f"List {listName!r} does not exist for object type {ot.type_id}")


def search_lists(call: Call) -> Reply:
    body = call.json_object()
    query = str(body.get("query") or "").strip().lower()
    count = _whole(body.get("count"), "count", default=20)
    offset = _whole(body.get("offset"), "offset", default=0)
    if not 0 < count <= LIST_SEARCH_MAX or offset < 0:
        raise validation(f"count must be 1 to {LIST_SEARCH_MAX} and offset >= 0")
    types = set(_names(body.get("processingTypes"), "processingTypes"))
    ids = set(_names(body.get("listIds"), "listIds"))
    found = [
        lst
        for lst in sorted(call.portal.lists.values(), key=lambda x: x.list_id)
        if query in lst.name.lower()
        and (not types or lst.processing_type in types)
        and (not ids or str(lst.list_id) in ids)
    ]
    page = found[offset : offset + count]
    return Reply(
        200,
        {
            "offset": offset + len(page),
            "hasMore": offset + count < len(found),
            "lists": [_search_result(lst, call) for lst in page],
            "total": len(found),
        },
    )


def _names(raw: Any, field: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise validation(f"Invalid input JSON: {field} must be an array")
    return [str(x) for x in raw]


def _whole(raw: Any, field: str, *, default: int) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not str(raw).lstrip("-").isdigit():
        raise validation(f"Invalid input JSON: {field} must be an integer, got {raw!r}")
    return int(raw)


def memberships(call: Call, listId: str) -> Reply:
    lst = _find_list(call, listId)
    limit = call.number("limit", default=100, maximum=MEMBERSHIPS_MAX)
    after = call.cursor()
    members = [m for m in _live_members(call, lst) if m > after]
    page = members[:limit]
    body: dict[str, Any] = {
        "results": [{"recordId": str(m), "membershipTimestamp": iso(lst.members[m])} for m in page],
        "total": len(_live_members(call, lst)),
    }
    if len(members) > limit:
        cursor = str(page[-1])
        body["paging"] = {"next": {"after": cursor, "link": call.link(call.path, after=cursor)}}
    return Reply(200, body)


def record_memberships(call: Call, objectTypeId: str, recordId: str) -> Reply:
    ot = resolve_type(objectTypeId)
    record_id = int_id(recordId) or -1
    results = [
        {
            "listId": str(lst.list_id),
            "listVersion": lst.version,
            "firstAddedTimestamp": iso(lst.first_added.get(record_id, lst.members[record_id])),
            "lastAddedTimestamp": iso(lst.members[record_id]),
        }
        for lst in sorted(call.portal.lists.values(), key=lambda x: x.list_id)
        if lst.object_type_id == ot.type_id and record_id in lst.members
    ]
    return Reply(200, {"results": results, "total": len(results)})


def change_members(
    portal: Portal,
    lst: HubList,
    add: list[Any],
    remove: list[Any],
    *,
    at: datetime,
    by_filters: bool = False,
) -> dict[str, Any]:
    """Add and remove record ids; unknown ids come back as `missing`. Through the API only
    MANUAL and SNAPSHOT lists change; `by_filters` is the sandbox standing in for a DYNAMIC list
    whose filters now match (or no longer match) a record."""
    if lst.processing_type == "DYNAMIC" and not by_filters:
        raise validation(
            f"List {lst.list_id} is DYNAMIC: its members follow its filters and cannot be "
            "added or removed by hand"
        )
    ot = schema.object_type(lst.object_type_id)
    added, removed, missing = [], [], []
    for raw in add:
        record_id = int_id(raw)
        if record_id is None or ot is None or portal.live(ot.name, record_id) is None:
            missing.append(str(raw))
        elif record_id not in lst.members:
            lst.members[record_id] = at
            lst.first_added.setdefault(record_id, at)
            lst.last_added_at = at
            added.append(str(record_id))
    for raw in remove:
        record_id = int_id(raw)
        if record_id is not None and lst.members.pop(record_id, None) is not None:
            lst.last_removed_at = at
            removed.append(str(record_id))
        else:
            missing.append(str(raw))
    if added or removed:
        lst.updated_at = at
    return {"recordsIdsAdded": added, "recordIdsRemoved": removed, "recordIdsMissing": missing}


def _id_array(call: Call) -> list[Any]:
    body = call.json()
    if not isinstance(body, list):
        raise validation("Invalid input JSON: the body must be an array of record ids")
    return body


def add_members(call: Call, listId: str) -> Reply:
    lst = _find_list(call, listId)
    return Reply(200, change_members(call.portal, lst, _id_array(call), [], at=call.now))


def remove_members(call: Call, listId: str) -> Reply:
    lst = _find_list(call, listId)
    return Reply(200, change_members(call.portal, lst, [], _id_array(call), at=call.now))


def add_and_remove(call: Call, listId: str) -> Reply:
    lst = _find_list(call, listId)
    body = call.json_object()
    add, remove = body.get("recordIdsToAdd") or [], body.get("recordIdsToRemove") or []
    if not isinstance(add, list) or not isinstance(remove, list):
        raise validation("Invalid input JSON: recordIdsToAdd and recordIdsToRemove are arrays")
    return Reply(200, change_members(call.portal, lst, add, remove, at=call.now))


# --------------------------------------------------------------------------- account


ACCOUNT_TIME_ZONE = "America/New_York"
UI_DOMAIN = "app.hubspot.com"


def account_details(call: Call) -> Reply:
    """`GET /account-info/v3/details`: the portal id (Hub ID), its time zone (with the offset in
    force now), currencies, the UI domain record links are built on, and the hosting region."""
    offset = call.now.astimezone(ZoneInfo(ACCOUNT_TIME_ZONE)).utcoffset() or timedelta(0)
    millis = int(offset.total_seconds() * 1000)
    minutes = abs(millis) // 60_000
    sign = "-" if millis < 0 else "+"
    return Reply(
        200,
        {
            "portalId": call.portal_id,
            "accountType": "STANDARD",
            "timeZone": ACCOUNT_TIME_ZONE,
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": f"{sign}{minutes // 60:02d}:{minutes % 60:02d}",
            "utcOffsetMilliseconds": millis,
            "uiDomain": UI_DOMAIN,
            "dataHostingLocation": "na1",
        },
    )
