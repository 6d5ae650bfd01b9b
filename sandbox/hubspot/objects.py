"""`/crm/v3/objects/{type}`: basic CRUD, the five batch endpoints and search.

Status codes are HubSpot's exactly, because hubspot-api-client picks its model by status and
returns None for any other 2xx: create 201, batch create 201, batch read/update/upsert 200,
archive 204, search 200, and 207 for partial success. A batch write answers 207 only when every
input carries a unique `objectWriteTraceId`; otherwise the first bad input fails the whole batch
and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.hubspot import schema, search
from sandbox.hubspot.calls import Call, Reply, resolve_type
from sandbox.hubspot.errors import (
    ApiError,
    conflict,
    not_found,
    property_errors,
    validation,
)
from sandbox.hubspot.store import Record, int_id
from sandbox.hubspot.values import Checker, iso

LIST_MAX = 100
BATCH_MAX = 100


# --------------------------------------------------------------------------- rendering


def render(
    call: Call,
    record: Record,
    *,
    properties: Sequence[str] = (),
    history: Sequence[str] = (),
    associations: Sequence[str] = (),
) -> dict[str, Any]:
    """A record as SimplePublicObject(WithAssociations): requested (or default) properties,
    null for a known property without a value, unknown names ignored as HubSpot does."""
    ot = schema.OBJECT_TYPES[record.object_name]
    defs = schema.PROPERTIES[record.object_name]
    names = [p for p in properties if p in defs]
    names = [*names, *ot.always] if names else list(ot.defaults)
    out: dict[str, Any] = {
        "id": str(record.id),
        "properties": {n: record.values.get(n) for n in sorted(set(names))},
        "createdAt": iso(record.created_at),
        "updatedAt": iso(record.updated_at),
        "archived": record.archived,
    }
    if record.archived and record.archived_at is not None:
        out["archivedAt"] = iso(record.archived_at)
    if history:
        out["propertiesWithHistory"] = {
            n: [c.public() for c in reversed(record.history[n])]
            for n in history
            if n in defs and n in record.history
        }
    linked = _inline_associations(call, record, associations)
    if linked:
        out["associations"] = linked
    return out


def _inline_associations(call: Call, record: Record, names: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        target = schema.object_type(name)
        if target is None:
            continue  # "If any of the specified associations do not exist, they will be ignored"
        results = [
            {"id": str(target_id), "type": schema.ASSOCIATION_TYPES[t].v3_name}
            for target_id, types in call.portal.associated(record, target.name)
            for t in types
        ]
        if results:
            out[name] = {"results": results}
    return out


def _requested(call: Call) -> dict[str, Any]:
    return {
        "properties": call.strings("properties"),
        "history": call.strings("propertiesWithHistory"),
        "associations": call.strings("associations"),
    }


# --------------------------------------------------------------------------- basic


def list_page(call: Call, otype: str) -> Reply:
    ot = resolve_type(otype)
    limit = call.number("limit", default=10, maximum=LIST_MAX)
    records, next_id = call.portal.page(
        ot.name, after=call.cursor(), limit=limit, archived=call.flag("archived")
    )
    wanted = _requested(call)
    body: dict[str, Any] = {"results": [render(call, r, **wanted) for r in records]}
    if next_id is not None:
        link = call.link(call.path, limit=limit, after=next_id)
        body["paging"] = {"next": {"after": str(next_id), "link": link}}
    return Reply(200, body)


def read(call: Call, otype: str, id: str) -> Reply:
    ot = resolve_type(otype)
    record = _lookup(call, ot, id, call.query.get("idProperty"), archived=call.flag("archived"))
    return Reply(200, render(call, record, **_requested(call)))


def create(call: Call, otype: str) -> Reply:
    ot = resolve_type(otype)
    prepared = _prepare_create(call, ot, call.json_object(), pending_emails={})
    record = _commit_create(call, ot, prepared)
    location = f"{call.base_url}{call.path.rstrip('/')}/{record.id}"
    body = render(call, record, properties=sorted(prepared.values))
    return Reply(201, body, {"Location": location})


def update(call: Call, otype: str, id: str) -> Reply:
    ot = resolve_type(otype)
    record = _lookup(call, ot, id, call.query.get("idProperty"), archived=False)
    values = _prepare_update(call, ot, record, _properties_of(call.json_object()))
    call.portal.write(record, values, source=call.source, at=call.now)
    return Reply(200, render(call, record, properties=sorted(values)))


def archive(call: Call, otype: str, id: str) -> Reply:
    ot = resolve_type(otype)
    record_id = int_id(id)
    record = call.portal.live(ot.name, record_id) if record_id else None
    if record is not None:
        call.portal.archive(record, at=call.now)
    return Reply(204)


def _lookup(
    call: Call, ot: schema.ObjectType, key: str, prop: str | None, *, archived: bool
) -> Record:
    if prop and prop not in schema.ID_PROPERTIES[ot.name]:
        raise validation(
            f"{prop} is not a unique property of {ot.name}; it cannot be an idProperty"
        )
    if archived:
        record_id = int_id(key)
        record = call.portal.get(ot.name, record_id) if record_id else None
        if record is None or not record.archived:
            raise not_found()
        return record
    if not prop and not key.strip().isdigit():
        raise ApiError(
            404,
            "OBJECT_NOT_FOUND",
            "Object not found.  objectId are usually numeric.",
            context={"id": [key]},
        )
    record = call.portal.find(ot.name, key, prop)
    if record is None:
        raise not_found()
    return record


# --------------------------------------------------------------------------- writes


@dataclass
class Prepared:
    """A checked create: values to store and associations to add once the record exists."""

    values: dict[str, str]
    links: list[tuple[Record, int]] = field(default_factory=list)
    trace: str | None = None


def _properties_of(item: Mapping[str, Any]) -> Mapping[str, Any]:
    props = item.get("properties", {})
    if not isinstance(props, Mapping):
        raise validation("Invalid input JSON: properties must be an object of name/value pairs")
    return props


def _checker(call: Call, ot: schema.ObjectType) -> Checker:
    return Checker(ot.name, owner_ids=call.directory.owner_ids())


def _prepare_create(
    call: Call, ot: schema.ObjectType, item: Mapping[str, Any], *, pending_emails: dict[str, int]
) -> Prepared:
    """Check one create; `pending_emails` holds emails claimed earlier in the same batch."""
    values, problems = _checker(call, ot).check(_properties_of(item))
    if problems:
        raise property_errors(problems, portal_id=call.portal_id)
    email = values.get("email", "").strip().lower() if ot.name == "contacts" else ""
    if email:
        existing = call.portal.by_email(email)
        if existing is not None:
            raise conflict(existing.id)
        if email in pending_emails:
            raise validation(
                f"Duplicate email {email} in batch input (inputs {pending_emails[email]} and "
                f"{len(pending_emails)}); each contact's email must be unique"
            )
        pending_emails[email] = len(pending_emails)
    if ot.name == "deals" and values.get("dealstage") and not values.get("pipeline"):
        values["pipeline"] = schema.DEFAULT_PIPELINE
    links = _association_inputs(call, ot, item.get("associations"))
    trace = item.get("objectWriteTraceId")
    return Prepared(values, links, str(trace) if trace is not None else None)


def _commit_create(call: Call, ot: schema.ObjectType, prepared: Prepared) -> Record:
    record = call.portal.create(ot.name, prepared.values, source=call.source, at=call.now)
    for target, type_id in prepared.links:
        call.portal.associate(record, target, type_id)
    return record


def _prepare_update(
    call: Call, ot: schema.ObjectType, record: Record, props: Mapping[str, Any]
) -> dict[str, str]:
    values, problems = _checker(call, ot).check(props, current=record.values)
    if problems:
        raise property_errors(problems, portal_id=call.portal_id)
    email = values.get("email", "").strip().lower() if ot.name == "contacts" else ""
    if email:
        existing = call.portal.by_email(email)
        if existing is not None and existing.id != record.id:
            raise conflict(existing.id)
    return values


def _association_inputs(call: Call, ot: schema.ObjectType, raw: Any) -> list[tuple[Record, int]]:
    """`associations` of a create: each names a target id and HubSpot association type ids."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise validation("Invalid input JSON: associations must be an array")
    links: list[tuple[Record, int]] = []
    for entry in raw:
        to = entry.get("to") if isinstance(entry, Mapping) else None
        types = entry.get("types") if isinstance(entry, Mapping) else None
        if not isinstance(to, Mapping) or not isinstance(types, list):
            raise validation("Invalid input JSON: each association needs `to` and `types`")
        for spec in types:
            kind = association_type(spec, source=ot.name, target=None)
            target = call.portal.live(kind.target, int_id(to.get("id")) or 0)
            if target is None:
                target_type = schema.OBJECT_TYPES[kind.target].type_id
                raise validation(
                    "One or more associations are invalid",
                    context={"objectId": [str(to.get("id"))], "objectType": [target_type]},
                    errors=[
                        {
                            "message": f"{kind.target} {to.get('id')} does not exist",
                            "code": "INVALID_OBJECT_IDS",
                        }
                    ],
                )
            links.append((target, kind.id))
    return links


def association_type(spec: Any, *, source: str, target: str | None) -> schema.AssociationType:
    """Check one AssociationSpec against HubSpot's defined types for the direction used."""
    if not isinstance(spec, Mapping):
        raise validation("Invalid input JSON: an association type must be an object")
    category = spec.get("associationCategory")
    if category not in ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED", "WORK"):
        raise validation(f"Invalid associationCategory {category!r}; use HUBSPOT_DEFINED")
    try:
        kind = schema.ASSOCIATION_TYPES[int(spec.get("associationTypeId"))]
    except (TypeError, ValueError, KeyError):
        kind = None
    if kind is not None and target is None and kind.source != source:
        found, expected = schema.OBJECT_TYPES[source], schema.OBJECT_TYPES[kind.source]
        raise validation(
            f"invalid from object type {found.type_id} for associations to be created. "
            f"expected: {expected.type_id}"
        )
    if kind is None or kind.source != source or (target is not None and kind.target != target):
        where = f"{source} to {target}" if target else f"{source} records"
        raise validation(
            f"associationTypeId {spec.get('associationTypeId')!r} is not a valid association "
            f"type for {where}"
        )
    if category != "HUBSPOT_DEFINED":
        raise validation(f"associationTypeId {kind.id} is HUBSPOT_DEFINED, not {category}")
    return kind


# --------------------------------------------------------------------------- batch


def batch(call: Call, otype: str, op: str) -> Reply:
    ot = resolve_type(otype)
    handler = _BATCH.get(op)
    if handler is None:
        raise not_found(f"No batch operation {op!r}; use read, create, update, upsert, archive")
    return handler(call, ot)


def _batch_body(
    call: Call, results: list[dict[str, Any]], errors: list[dict[str, Any]]
) -> dict[str, Any]:
    stamp = iso(call.now)
    body: dict[str, Any] = {"status": "COMPLETE", "results": results}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    body["startedAt"] = stamp
    body["completedAt"] = stamp
    return body


def _traced(inputs: Sequence[Mapping[str, Any]]) -> bool:
    """True when each input carries its own objectWriteTraceId (HubSpot's condition for 207)."""
    traces = [i.get("objectWriteTraceId") for i in inputs]
    present = all(isinstance(t, str) and t for t in traces)
    return present and len(set(traces)) == len(traces)


def _trace_context(item: Mapping[str, Any]) -> dict[str, list[str]]:
    return {"objectWriteTraceId": [str(item.get("objectWriteTraceId"))]}


def _batch_read(call: Call, ot: schema.ObjectType) -> Reply:
    body = call.json_object()
    inputs = call.inputs(limit=BATCH_MAX)
    prop = body.get("idProperty")
    if prop and prop not in schema.ID_PROPERTIES[ot.name]:
        raise validation(
            f"{prop} is not a unique property of {ot.name}; it cannot be an idProperty"
        )
    archived = call.flag("archived")
    wanted = {
        "properties": _string_list(body.get("properties")),
        "history": _string_list(body.get("propertiesWithHistory")),
    }
    results, missing = [], []
    for item in inputs:
        key = str(item.get("id", ""))
        record = _batch_find(call, ot, key, prop, archived=archived)
        if record is None:
            missing.append(key)
        else:
            results.append(render(call, record, **wanted))
    if not missing:
        return Reply(200, _batch_body(call, results, []))
    error = ApiError(
        404,
        "OBJECT_NOT_FOUND",
        f"Could not get some {ot.label} objects, they may be deleted or not exist. "
        "Check that ids are valid.",
    )
    return Reply(207, _batch_body(call, results, [error.standard({"ids": missing})]))


def _batch_find(
    call: Call, ot: schema.ObjectType, key: str, prop: str | None, *, archived: bool
) -> Record | None:
    if archived:
        record_id = int_id(key)
        record = call.portal.get(ot.name, record_id) if record_id else None
        return record if record is not None and record.archived else None
    return call.portal.find(ot.name, key, prop)


def _string_list(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise validation("Invalid input JSON: properties must be an array of names")
    return [str(x) for x in raw]


def _batch_create(call: Call, ot: schema.ObjectType) -> Reply:
    inputs = call.inputs(limit=BATCH_MAX)
    pending: dict[str, int] = {}
    outcomes: list[Prepared | ApiError] = []
    for item in inputs:
        try:
            outcomes.append(_prepare_create(call, ot, item, pending_emails=pending))
        except ApiError as exc:
            outcomes.append(exc)
    _fail_whole_batch_unless_traced(inputs, outcomes)
    results, errors = [], []
    for item, outcome in zip(inputs, outcomes, strict=True):
        if isinstance(outcome, ApiError):
            errors.append(outcome.standard(_trace_context(item)))
            continue
        record = _commit_create(call, ot, outcome)
        results.append(_with_trace(render(call, record, properties=sorted(outcome.values)), item))
    return Reply(207 if errors else 201, _batch_body(call, results, errors))


def _fail_whole_batch_unless_traced(
    inputs: Sequence[Mapping[str, Any]], outcomes: Sequence[object]
) -> None:
    first = next((o for o in outcomes if isinstance(o, ApiError)), None)
    if first is not None and not _traced(inputs):
        raise first


def _with_trace(rendered: dict[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    if item.get("objectWriteTraceId") is not None:
        rendered["objectWriteTraceId"] = str(item["objectWriteTraceId"])
    return rendered


def _duplicates(keys: Sequence[str]) -> None:
    seen, dupes = set(), []
    for key in keys:
        if key in seen and key not in dupes:
            dupes.append(key)
        seen.add(key)
    if dupes:
        raise validation(
            f"Duplicate IDs found in batch input: [{', '.join(dupes)}]. IDs must be unique"
        )


def _batch_update(call: Call, ot: schema.ObjectType) -> Reply:
    inputs = call.inputs(limit=BATCH_MAX)
    _duplicates([str(i.get("id", "")) for i in inputs])
    outcomes: list[tuple[Record, dict[str, str]] | ApiError] = []
    for item in inputs:
        try:
            prop = item.get("idProperty")
            record = _lookup(call, ot, str(item.get("id", "")), prop, archived=False)
            outcomes.append((record, _prepare_update(call, ot, record, _properties_of(item))))
        except ApiError as exc:
            outcomes.append(exc)
    _fail_whole_batch_unless_traced(inputs, outcomes)
    results, errors = [], []
    for item, outcome in zip(inputs, outcomes, strict=True):
        if isinstance(outcome, ApiError):
            context = {**_trace_context(item), "ids": [str(item.get("id", ""))]}
            errors.append(outcome.standard(context))
            continue
        record, values = outcome
        call.portal.write(record, values, source=call.source, at=call.now)
        results.append(_with_trace(render(call, record, properties=sorted(values)), item))
    return Reply(207 if errors else 200, _batch_body(call, results, errors))


def _batch_upsert(call: Call, ot: schema.ObjectType) -> Reply:
    inputs = call.inputs(limit=BATCH_MAX)
    _duplicates([f"{i.get('idProperty')}={str(i.get('id', '')).lower()}" for i in inputs])
    pending: dict[str, int] = {}
    outcomes: list[tuple[Record | None, Any] | ApiError] = []
    for item in inputs:
        try:
            outcomes.append(_prepare_upsert(call, ot, item, pending))
        except ApiError as exc:
            outcomes.append(exc)
    _fail_whole_batch_unless_traced(inputs, outcomes)
    results, errors = [], []
    for item, outcome in zip(inputs, outcomes, strict=True):
        if isinstance(outcome, ApiError):
            errors.append(outcome.standard(_trace_context(item)))
            continue
        record, prepared = outcome
        if record is None:
            record = _commit_create(call, ot, prepared)
            names, new = prepared.values, True
        else:
            call.portal.write(record, prepared, source=call.source, at=call.now)
            names, new = prepared, False
        shown = sorted({*names, str(item.get("idProperty"))})
        rendered = render(call, record, properties=shown)
        results.append(_with_trace({**rendered, "new": new}, item))
    return Reply(207 if errors else 200, _batch_body(call, results, errors))


def _prepare_upsert(
    call: Call, ot: schema.ObjectType, item: Mapping[str, Any], pending: dict[str, int]
) -> tuple[Record | None, Any]:
    prop = item.get("idProperty")
    key = str(item.get("id", ""))
    if not prop or prop == "hs_object_id" or prop not in schema.ID_PROPERTIES[ot.name]:
        raise validation(
            f"Upsert needs idProperty naming a unique property of {ot.name} "
            f"(one of {sorted(schema.ID_PROPERTIES[ot.name] - {'hs_object_id'})}), got {prop!r}"
        )
    record = call.portal.find(ot.name, key, prop)
    props = _properties_of(item)
    if record is not None:
        return record, _prepare_update(call, ot, record, props)
    created = {**props, prop: key}
    return None, _prepare_create(call, ot, {**item, "properties": created}, pending_emails=pending)


def _batch_archive(call: Call, ot: schema.ObjectType) -> Reply:
    for item in call.inputs(limit=BATCH_MAX):
        record_id = int_id(item.get("id", ""))
        record = call.portal.live(ot.name, record_id) if record_id else None
        if record is not None:
            call.portal.archive(record, at=call.now)
    return Reply(204)


_BATCH = {
    "read": _batch_read,
    "create": _batch_create,
    "update": _batch_update,
    "upsert": _batch_upsert,
    "archive": _batch_archive,
}


# --------------------------------------------------------------------------- search


def do_search(call: Call, otype: str) -> Reply:
    ot = resolve_type(otype)
    spec = search.parse(ot.name, call.json())
    records = call.portal.records[ot.name].values()  # run() skips the archived ones
    total, page, next_after = search.run(spec, records, ot.name)
    body: dict[str, Any] = {
        "total": total,
        "results": [render(call, r, properties=spec.properties) for r in page],
    }
    if next_after is not None:
        body["paging"] = {"next": {"after": str(next_after), "link": f"?after={next_after}"}}
    return Reply(200, body)
