"""`/crm/v4/objects/.../associations` and `/crm/v4/associations/{from}/{to}/batch/...`.

Associations are typed (HubSpot's type ids, see schema.py) and stored both ways, so reading from
either side sees them; a primary type (contact's or deal's primary company) implies the plain
one and is unique per record, as in HubSpot. PUT with explicit types answers 201, the `default`
PUT 200, batch create 201 (207 with per-input errors), batch read 200 (207 when some ids have no
associations), batch archive 204.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.hubspot import schema
from sandbox.hubspot.calls import Call, Reply, resolve_type
from sandbox.hubspot.errors import ApiError, not_found, validation
from sandbox.hubspot.objects import association_type
from sandbox.hubspot.store import Record, int_id
from sandbox.hubspot.values import iso

PAGE_MAX = 500
BATCH_MAX = 1000


def _pair(from_name: str, to_name: str) -> tuple[schema.ObjectType, schema.ObjectType]:
    source, target = resolve_type(from_name), resolve_type(to_name)
    if (source.name, target.name) not in schema.DEFAULT_ASSOCIATION:
        raise validation(f"There are no association types between {source.name} and {target.name}")
    return source, target


def _record(call: Call, ot: schema.ObjectType, raw_id: Any) -> Record:
    record_id = int_id(raw_id)
    record = call.portal.live(ot.name, record_id) if record_id else None
    if record is None:
        raise not_found(f"No {ot.singular} with id {raw_id} exists")
    return record


def _types(type_ids: list[int]) -> list[dict[str, Any]]:
    out = []
    for type_id in type_ids:
        kind = schema.ASSOCIATION_TYPES[type_id]
        entry: dict[str, Any] = {"category": "HUBSPOT_DEFINED", "typeId": type_id}
        if kind.label:
            entry["label"] = kind.label
        out.append(entry)
    return out


def _labels(call: Call, source: Record, target: Record) -> dict[str, Any]:
    """LabelsBetweenObjectPair: the labels now holding between two records."""
    types = dict(call.portal.associated(source, target.object_name)).get(target.id, [])
    labels = sorted({schema.ASSOCIATION_TYPES[t].label or "" for t in types} - {""})
    return {
        "fromObjectTypeId": schema.OBJECT_TYPES[source.object_name].type_id,
        "fromObjectId": str(source.id),
        "toObjectTypeId": schema.OBJECT_TYPES[target.object_name].type_id,
        "toObjectId": str(target.id),
        "labels": labels,
    }


def _default(call: Call, source: Record, target: Record) -> dict[str, Any]:
    type_id = schema.DEFAULT_ASSOCIATION[(source.object_name, target.object_name)]
    call.portal.associate(source, target, type_id)
    return {
        "from": {"id": str(source.id)},
        "to": {"id": str(target.id)},
        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
    }


def _envelope(call: Call, results: list[Any], errors: list[dict[str, Any]]) -> dict[str, Any]:
    stamp = iso(call.now)
    body: dict[str, Any] = {"status": "COMPLETE", "results": results}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    body["startedAt"] = stamp
    body["completedAt"] = stamp
    return body


# --------------------------------------------------------------------------- single record


def get_page(call: Call, otype: str, id: str, to_type: str) -> Reply:
    source_type, target_type = _pair(otype, to_type)
    limit = call.number("limit", default=PAGE_MAX, maximum=PAGE_MAX)
    start = call.cursor()
    record_id = int_id(id)
    record = call.portal.live(source_type.name, record_id) if record_id else None
    linked = call.portal.associated(record, target_type.name) if record else []
    page = linked[start : start + limit]
    body: dict[str, Any] = {
        "results": [{"toObjectId": str(t), "associationTypes": _types(types)} for t, types in page]
    }
    if start + limit < len(linked):
        after = str(start + limit)
        body["paging"] = {"next": {"after": after, "link": call.link(call.path, after=after)}}
    return Reply(200, body)


def put_labels(call: Call, otype: str, id: str, to_type: str, toId: str) -> Reply:
    source_type, target_type = _pair(otype, to_type)
    specs = call.json()
    if not isinstance(specs, list) or not specs:
        raise validation(
            "Invalid input JSON: the body must be a non-empty array of association types"
        )
    kinds = [association_type(s, source=source_type.name, target=target_type.name) for s in specs]
    source, target = _record(call, source_type, id), _record(call, target_type, toId)
    for kind in kinds:
        call.portal.associate(source, target, kind.id)
    return Reply(201, _labels(call, source, target))


def put_default(call: Call, otype: str, id: str, to_type: str, toId: str) -> Reply:
    source_type, target_type = _pair(otype, to_type)
    source, target = _record(call, source_type, id), _record(call, target_type, toId)
    return Reply(200, _envelope(call, [_default(call, source, target)], []))


def delete(call: Call, otype: str, id: str, to_type: str, toId: str) -> Reply:
    source_type, target_type = _pair(otype, to_type)
    source = call.portal.live(source_type.name, int_id(id) or 0)
    target = call.portal.live(target_type.name, int_id(toId) or 0)
    if source is not None and target is not None:
        call.portal.dissociate(source, target, None)
    return Reply(204)


# --------------------------------------------------------------------------- batch


def batch(call: Call, from_type: str, to_type: str, op: str) -> Reply:
    source_type, target_type = _pair(from_type, to_type)
    handler = _BATCH.get(op)
    if handler is None:
        raise not_found(f"No association batch operation {op!r}")
    return handler(call, source_type, target_type)


def _id_of(raw: Any, field: str) -> str:
    if not isinstance(raw, Mapping) or raw.get("id") in (None, ""):
        raise validation(f"Invalid input JSON: {field} must be an object with an id")
    return str(raw["id"])


def _batch_read(
    call: Call, source_type: schema.ObjectType, target_type: schema.ObjectType
) -> Reply:
    results, errors = [], []
    for item in call.inputs(limit=BATCH_MAX):
        key = _id_of(item, "inputs[]")
        record = call.portal.live(source_type.name, int_id(key) or 0)
        linked = call.portal.associated(record, target_type.name) if record else []
        if not linked:
            error = ApiError(
                404,
                "OBJECT_NOT_FOUND",
                f"No {target_type.singular} is associated with {source_type.singular} {key}.",
            )
            errors.append(error.standard({"fromObjectId": [key]}))
            continue
        to = [{"toObjectId": str(t), "associationTypes": _types(types)} for t, types in linked]
        results.append({"from": {"id": key}, "to": to})
    return Reply(207 if errors else 200, _envelope(call, results, errors))


def _batch_create(
    call: Call, source_type: schema.ObjectType, target_type: schema.ObjectType
) -> Reply:
    results, errors = [], []
    for item in call.inputs(limit=BATCH_MAX):
        try:
            source = _record(call, source_type, _id_of(item.get("from"), "from"))
            target = _record(call, target_type, _id_of(item.get("to"), "to"))
            types = item.get("types")
            if not isinstance(types, list) or not types:
                raise validation("Invalid input JSON: types must be a non-empty array")
            kinds = [
                association_type(t, source=source_type.name, target=target_type.name) for t in types
            ]
        except ApiError as exc:
            errors.append(
                exc.standard({"from": [str(item.get("from"))], "to": [str(item.get("to"))]})
            )
            continue
        for kind in kinds:
            call.portal.associate(source, target, kind.id)
        results.append(_labels(call, source, target))
    return Reply(207 if errors else 201, _envelope(call, results, errors))


def _batch_default(
    call: Call, source_type: schema.ObjectType, target_type: schema.ObjectType
) -> Reply:
    results, errors = [], []
    for item in call.inputs(limit=BATCH_MAX):
        try:
            source = _record(call, source_type, _id_of(item.get("from"), "from"))
            target = _record(call, target_type, _id_of(item.get("to"), "to"))
        except ApiError as exc:
            errors.append(
                exc.standard({"from": [str(item.get("from"))], "to": [str(item.get("to"))]})
            )
            continue
        results.append(_default(call, source, target))
    return Reply(200, _envelope(call, results, errors))


def _batch_archive(
    call: Call, source_type: schema.ObjectType, target_type: schema.ObjectType
) -> Reply:
    for item in call.inputs(limit=BATCH_MAX):
        source = call.portal.live(source_type.name, int_id(_id_of(item.get("from"), "from")) or 0)
        targets = item.get("to")
        if not isinstance(targets, list):
            raise validation("Invalid input JSON: to must be an array of objects with ids")
        for raw in targets:
            target = call.portal.live(target_type.name, int_id(_id_of(raw, "to[]")) or 0)
            if source is not None and target is not None:
                call.portal.dissociate(source, target, None)
    return Reply(204)


def _batch_labels_archive(
    call: Call, source_type: schema.ObjectType, target_type: schema.ObjectType
) -> Reply:
    for item in call.inputs(limit=BATCH_MAX):
        source = call.portal.live(source_type.name, int_id(_id_of(item.get("from"), "from")) or 0)
        target = call.portal.live(target_type.name, int_id(_id_of(item.get("to"), "to")) or 0)
        types = item.get("types") or []
        kinds = [
            association_type(t, source=source_type.name, target=target_type.name) for t in types
        ]
        if source is not None and target is not None:
            call.portal.dissociate(source, target, [k.id for k in kinds])
    return Reply(204)


_BATCH = {
    "read": _batch_read,
    "create": _batch_create,
    "archive": _batch_archive,
    "associate/default": _batch_default,
    "labels/archive": _batch_labels_archive,
}
