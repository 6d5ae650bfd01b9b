"""sObject Collections (≤ 200 records, allOrNone) and the Composite resource (≤ 25 subrequests,
of which ≤ 5 query operations or sObject Collections).

A collection first deserializes every record (a bad field or type fails the whole request with
400), then writes them one by one into per-record SaveResults; with allOrNone and any failure
the journal rolls every write back and the valid records report ALL_OR_NONE_OPERATION_ROLLED_BACK.
A composite request runs its subrequests through the normal routing, in one journal, resolving
`@{ref.path}` references, and counts as one API call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sandbox.salesforce import errors
from sandbox.salesforce.call import Call, Reply
from sandbox.salesforce.dml import Dml, MultipleMatches
from sandbox.salesforce.errors import ApiError, RecordError, SfError
from sandbox.salesforce.ids import is_valid_id, to_18
from sandbox.salesforce.resources import render_record, save_result, sobject_name
from sandbox.salesforce.validation import parse_body

MAX_RECORDS = 200
MAX_SUBREQUESTS = 25
MAX_HEAVY_SUBREQUESTS = 5  # Query, QueryAll, query-more and sObject Collections subrequests
_HEAVY = re.compile(r"^/services/data/v\d+\.\d/(?:query|queryAll|composite/sobjects)(?:[/?]|$)")
_TOO_MANY = "record limit reached. cannot submit more than 200 records into this call"
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_REFERENCE_ID = re.compile(r"^[A-Za-z0-9_]+$")

Writer = Callable[[Dml, str, dict[str, Any]], dict[str, Any]]


# sObject Collections ------------------------------------------------------------------------------


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _records(call: Call) -> tuple[list[Any], bool]:
    body = call.body()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise errors.json_parser_error(
            "Cannot deserialize the request: expected an object with a 'records' list"
        )
    records = body["records"]
    if len(records) > MAX_RECORDS:
        raise errors.bad_request("EXCEEDED_ID_LIMIT", _TOO_MANY)
    return records, call.force_all_or_none or _flag(body.get("allOrNone"))


def _typed(call: Call, raw: Any, *, expected: str | None = None) -> tuple[str, dict[str, Any]]:
    """(object, parsed values) of one collection record; bad input fails the whole request."""
    if not isinstance(raw, dict):
        raise errors.json_parser_error("Each record must be a JSON object")
    attributes = raw.get("attributes")
    name = attributes.get("type") if isinstance(attributes, dict) else None
    if not isinstance(name, str) or not name:
        raise ApiError(400, SfError("INVALID_TYPE", "Must send a concrete entity type.", None))
    sobject = call.org.schema.canonical_object(name)
    if sobject is None:
        raise ApiError(400, errors.invalid_type(name))
    if expected is not None and sobject != expected:
        raise ApiError(
            400,
            SfError("INVALID_TYPE", f"Record type {sobject} does not match {expected}", None),
        )
    return sobject, parse_body(call.org.schema, sobject, raw)


def _failure(record_id: str | None, exc: RecordError | MultipleMatches) -> dict[str, Any]:
    problems = [exc.as_error()] if isinstance(exc, MultipleMatches) else list(exc.errors)
    return {"id": record_id, "success": False, "errors": [p.per_record() for p in problems]}


def _run(call: Call, items: list[tuple[str, dict[str, Any]]], writer: Writer, all_or_none: bool):
    """Write each item, then roll everything back if allOrNone and anything failed."""
    dml = call.dml()
    store = call.org.store
    savepoint = store.savepoint()
    results = []
    for sobject, values in items:
        results.append(writer(dml, sobject, values))
    if all_or_none and any(not r["success"] for r in results):
        store.rollback(savepoint)
        rolled = [errors.rolled_back().per_record()]
        results = [
            r if not r["success"] else {"id": None, "success": False, "errors": rolled}
            for r in results
        ]
    return Reply(200, results)


def _create_one(dml: Dml, sobject: str, values: dict[str, Any]) -> dict[str, Any]:
    try:
        return save_result(dml.create(sobject, values))
    except RecordError as exc:
        return _failure(None, exc)


def _update_one(dml: Dml, sobject: str, values: dict[str, Any]) -> dict[str, Any]:
    record_id = values.pop("Id", None)
    if not record_id:
        return _failure(None, RecordError([errors.missing_id_in_update()]))
    try:
        dml.update(sobject, record_id, values)
    except RecordError as exc:
        return _failure(record_id, exc)
    return save_result(to_18(record_id))


def create_collection(call: Call) -> Reply:
    records, all_or_none = _records(call)
    items = [_typed(call, raw) for raw in records]
    for _, values in items:
        if values.get("Id") is not None:
            raise errors.bad_request("INVALID_FIELD", "cannot specify Id in an insert call")
    return _run(call, items, _create_one, all_or_none)


def update_collection(call: Call) -> Reply:
    records, all_or_none = _records(call)
    items = [_typed(call, raw) for raw in records]
    return _run(call, items, _update_one, all_or_none)


def upsert_collection(call: Call, sobject: str, field_name: str) -> Reply:
    name = sobject_name(call, sobject)
    spec = call.org.schema.field(name, field_name)
    if spec is None or not (spec.external_id or spec.name == "Id"):
        raise errors.not_found(
            f"Provided external ID field does not exist or is not accessible: {field_name}"
        )
    records, all_or_none = _records(call)
    items = [_typed(call, raw, expected=name) for raw in records]
    key = spec.name

    def upsert_one(dml: Dml, target: str, values: dict[str, Any]) -> dict[str, Any]:
        value = values.get(key)
        if not value:
            return _failure(
                None, RecordError([SfError("MISSING_ARGUMENT", f"{key} not specified", ())])
            )
        body = {k: v for k, v in values.items() if k != key}
        try:
            record_id, created = dml.upsert(target, key, str(value), body)
        except (RecordError, MultipleMatches) as exc:
            return _failure(None, exc)
        return save_result(record_id, created=created)

    return _run(call, items, upsert_one, all_or_none)


def delete_collection(call: Call) -> Reply:
    ids = [i for i in call.args.get("ids", "").split(",") if i.strip()]
    if not ids:
        raise errors.bad_request("MISSING_ARGUMENT", "ids parameter is required")
    if len(ids) > MAX_RECORDS:
        raise errors.bad_request("EXCEEDED_ID_LIMIT", _TOO_MANY)
    all_or_none = call.force_all_or_none or _flag(call.args.get("allOrNone"))

    def delete_one(dml: Dml, _target: str, values: dict[str, Any]) -> dict[str, Any]:
        record_id = values["Id"].strip()
        sobject = call.org.schema.object_for_id(record_id) if is_valid_id(record_id) else None
        if sobject is None:
            problem = SfError("MALFORMED_ID", f"malformed id {record_id}", ())
            return _failure(record_id, RecordError([problem]))
        try:
            dml.delete(sobject, to_18(record_id))
        except RecordError as exc:
            return _failure(record_id, exc)
        return save_result(to_18(record_id))

    return _run(call, [("", {"Id": i}) for i in ids], delete_one, all_or_none)


def retrieve_collection(call: Call, sobject: str) -> Reply:
    """`GET|POST /composite/sobjects/{T}?ids=&fields=`: records in id order, null when absent."""
    name = sobject_name(call, sobject)
    if call.method == "POST":
        body = call.body()
        ids = body.get("ids", []) if isinstance(body, dict) else []
        fields = body.get("fields", []) if isinstance(body, dict) else []
    else:
        ids = [i for i in call.args.get("ids", "").split(",") if i]
        fields = [f for f in call.args.get("fields", "").split(",") if f]
    if not ids or not fields:
        raise errors.bad_request("MISSING_ARGUMENT", "ids and fields are required")
    if len(ids) > 2000:
        raise errors.bad_request("EXCEEDED_ID_LIMIT", "cannot retrieve more than 2000 records")
    canonical = []
    for f in fields:
        spec = call.org.schema.field(name, str(f))
        if spec is None:
            raise errors.invalid_field_column(name, str(f))
        canonical.append(spec.name)
    rows: list[Any] = []
    for record_id in ids:
        record = None
        if is_valid_id(str(record_id)):
            record = call.org.store.get(name, to_18(str(record_id)))
        visible = record is not None and not record.get("IsDeleted") and call.actor.can_see(record)
        rows.append(render_record(call, name, record, canonical) if visible and record else None)
    return Reply(200, rows)


# Composite ---------------------------------------------------------------------------------------


def _subrequests(call: Call) -> tuple[list[dict[str, Any]], bool]:
    body = call.body()
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise errors.json_parser_error(
            "Cannot deserialize the request: expected an object with a 'compositeRequest' list"
        )
    subrequests = body["compositeRequest"]
    if not subrequests:
        raise errors.bad_request("INVALID_BATCH_REQUEST", "compositeRequest must not be empty")
    if len(subrequests) > MAX_SUBREQUESTS:
        raise errors.bad_request(
            "INVALID_BATCH_REQUEST",
            f"Received {len(subrequests)} subrequests, but the limit is {MAX_SUBREQUESTS}.",
        )
    seen: set[str] = set()
    for sub in subrequests:
        _check_subrequest(sub, seen)
    heavy = sum(1 for sub in subrequests if _HEAVY.match(str(sub["url"])))
    if heavy > MAX_HEAVY_SUBREQUESTS:
        # Salesforce documents the limit (its wording of the refusal is not reproduced here).
        raise errors.bad_request(
            "INVALID_BATCH_REQUEST",
            f"Received {heavy} query or sObject Collections subrequests, but the limit is "
            f"{MAX_HEAVY_SUBREQUESTS}.",
        )
    return subrequests, _flag(body.get("allOrNone"))


def _check_subrequest(sub: Any, seen: set[str]) -> None:
    if not isinstance(sub, dict):
        raise errors.json_parser_error("Each subrequest must be a JSON object")
    missing = [k for k in ("method", "url", "referenceId") if not sub.get(k)]
    if missing:
        raise errors.bad_request("INVALID_BATCH_REQUEST", f"Subrequest is missing {missing[0]}")
    reference = str(sub["referenceId"])
    if not _REFERENCE_ID.match(reference):
        raise errors.bad_request(
            "INVALID_BATCH_REQUEST",
            f"Invalid reference id: {reference}. Reference IDs can only contain alphanumeric "
            "characters and underscores.",
        )
    if reference in seen:
        raise errors.bad_request(
            "INVALID_BATCH_REQUEST", f"Duplicate ReferenceId provided in the request: {reference}"
        )
    seen.add(reference)


class _Unresolved(Exception):
    def __init__(self, reference: str) -> None:
        super().__init__(reference)
        self.reference = reference


def _resolve_path(value: Any, path: str) -> Any:
    for step in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        key, index = step
        if key:
            if not isinstance(value, dict) or key not in value:
                raise KeyError(key)
            value = value[key]
        else:
            value = value[int(index)]
    return value


def _substitute(value: Any, results: dict[str, Any]) -> Any:
    """Replace `@{ref.path}` in strings (a whole-string reference keeps the value's type)."""
    if isinstance(value, dict):
        return {k: _substitute(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, results) for v in value]
    if not isinstance(value, str) or "@{" not in value:
        return value

    def lookup(match: re.Match[str]) -> Any:
        reference, path = match.group(1), match.group(2)
        if reference not in results:
            raise _Unresolved(reference)
        try:
            return _resolve_path(results[reference], path)
        except (KeyError, IndexError, TypeError):
            raise _Unresolved(reference) from None

    whole = _REFERENCE.fullmatch(value)
    if whole:
        return lookup(whole)
    return _REFERENCE.sub(lambda m: str(lookup(m)), value)


def _halted(message: str) -> list[dict[str, Any]]:
    return [{"errorCode": "PROCESSING_HALTED", "message": message}]


def _sub_call(call: Call, sub: dict[str, Any], results: dict[str, Any]) -> Call:
    url = _substitute(str(sub["url"]), results)
    body = _substitute(sub.get("body"), results)
    parts = urlsplit(url)
    match = re.match(r"^/services/data/v(\d+\.\d)(/.*)?$", parts.path)
    if match is None:
        raise errors.not_found()
    path = unquote((match.group(2) or "").rstrip("/"))
    args = dict(parse_qsl(parts.query, keep_blank_values=True))
    return call.sub(method=str(sub["method"]).upper(), path=path, args=args, body=body)


def _entry(reference: str, reply: Reply) -> dict[str, Any]:
    return {
        "body": reply.body,
        "httpHeaders": dict(reply.headers),
        "httpStatusCode": reply.status,
        "referenceId": reference,
    }


def _failed(reply: Reply, *, all_or_none: bool) -> bool:
    """An error status fails a subrequest; under allOrNone so does any failed record of a
    collection (its allOrNone is forced on, so it wrote nothing)."""
    if reply.status >= 400:
        return True
    body = reply.body
    return (
        all_or_none
        and isinstance(body, list)
        and any(isinstance(r, dict) and r.get("success") is False for r in body)
    )


def composite(call: Call) -> Reply:
    subrequests, all_or_none = _subrequests(call)
    call.force_all_or_none = all_or_none
    savepoint = call.org.store.savepoint()
    results: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    failed_at: int | None = None
    halted = Reply(400, _halted(errors.COMPOSITE_ROLLED_BACK_MESSAGE))
    for index, sub in enumerate(subrequests):
        reference = str(sub["referenceId"])
        if failed_at is not None and all_or_none:
            entries.append(_entry(reference, halted))
            continue
        reply = _run_sub(call, sub, results)
        entries.append(_entry(reference, reply))
        if not _failed(reply, all_or_none=all_or_none):
            results[reference] = reply.body
        elif failed_at is None:
            failed_at = index
    if all_or_none and failed_at is not None:
        call.org.store.rollback(savepoint)
        for index, entry in enumerate(entries):
            if index != failed_at:
                entry.update(_entry(entry["referenceId"], halted))
    return Reply(200, {"compositeResponse": entries})


def _run_sub(call: Call, sub: dict[str, Any], results: dict[str, Any]) -> Reply:
    try:
        sub_call = _sub_call(call, sub, results)
    except _Unresolved as exc:
        return Reply(
            400,
            _halted(
                f"Invalid reference specified. No value for {exc.reference} found in the results "
                f"of earlier subrequests. Provided referenceId ('{exc.reference}') was not "
                "processed or failed."
            ),
        )
    except ApiError as exc:
        return Reply(exc.status, exc.body())
    if sub_call.path == "/composite":
        nested = errors.bad_request("INVALID_BATCH_REQUEST", "Composite requests cannot be nested")
        return Reply(nested.status, nested.body())
    return call.dispatch(sub_call)
