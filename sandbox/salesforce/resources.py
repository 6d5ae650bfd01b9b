"""Handlers of the single-record and read resources: sObject rows, external IDs, describe,
query/queryAll with server-side cursors, limits, and the replication (deleted/updated) feeds.

Each handler takes a `Call` and returns a `Reply`, or raises `ApiError` with the status and
error list Salesforce would answer with.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sandbox.salesforce import errors, soql
from sandbox.salesforce.call import Call, Reply
from sandbox.salesforce.dml import MultipleMatches
from sandbox.salesforce.errors import ApiError, RecordError, SfError
from sandbox.salesforce.ids import is_valid_id, to_18
from sandbox.salesforce.store import Cursor, Record
from sandbox.salesforce.validation import parse_body
from sandbox.salesforce.values import parse_sf_datetime, sf_datetime

DEFAULT_BATCH = 2000
MIN_BATCH = 200
SUPPORTED_VERSIONS: tuple[str, ...] = tuple(f"{v}.0" for v in range(59, 67))
_RELEASES = {
    59: "Winter '24",
    60: "Spring '24",
    61: "Summer '24",
    62: "Winter '25",
    63: "Spring '25",
    64: "Summer '25",
    65: "Winter '26",
    66: "Spring '26",
}


# Helpers ----------------------------------------------------------------------------------------


def sobject_name(call: Call, name: str) -> str:
    canonical = call.org.schema.canonical_object(name)
    if canonical is None:
        raise errors.not_found()
    return canonical


def render_record(
    call: Call, sobject: str, record: Record, fields: Iterable[str] | None = None
) -> dict[str, Any]:
    """A record as the API returns it: attributes, then its fields (never `_` keys)."""
    out: dict[str, Any] = {
        "attributes": {"type": sobject, "url": f"{call.base}/sobjects/{sobject}/{record['Id']}"}
    }
    names = fields if fields is not None else (f.name for f in call.org.schema.fields(sobject))
    for name in names:
        out[name] = record.get(name)
    return out


def _field_list(call: Call, sobject: str, text: str) -> list[str]:
    names = []
    for raw in text.split(","):
        raw = raw.strip()
        if not raw:
            continue
        spec = call.org.schema.field(sobject, raw)
        if spec is None:
            raise ApiError(
                400,
                SfError(
                    "INVALID_FIELD",
                    f"No such column '{raw}' on entity '{sobject}'. If you are attempting to use "
                    "a custom field, be sure to append the '__c' after the custom field name. "
                    "Please reference your WSDL or the describe call for the appropriate names.",
                    None,
                ),
            )
        names.append(spec.name)
    return names


def _not_an_id(value: str) -> ApiError:
    return errors.not_found(
        f"Provided external ID field does not exist or is not accessible: {value}"
    )


def _visible(call: Call, sobject: str, record_id: str) -> Record:
    """The record behind a GET, or 404 as Salesforce answers for missing and hidden rows."""
    if not is_valid_id(record_id):
        raise _not_an_id(record_id)
    if call.org.schema.object_for_id(record_id) != sobject:
        raise errors.not_found()
    record = call.org.store.get(sobject, to_18(record_id))
    if record is None or not call.actor.can_see(record):
        raise errors.not_found()
    if record.get("IsDeleted"):
        raise ApiError(404, SfError("ENTITY_IS_DELETED", "entity is deleted", None))
    return record


def _record_errors(exc: RecordError) -> ApiError:
    return ApiError(exc.status(), *exc.errors)


def _object_body(call: Call, sobject: str) -> dict[str, Any]:
    body = call.body()
    if not isinstance(body, dict):
        token = "START_ARRAY" if isinstance(body, list) else "VALUE_STRING"
        raise errors.json_parser_error(
            f"Cannot deserialize instance of {sobject} from {token} value {body!r} or request "
            "may be missing a required field"
        )
    return body


def save_result(record_id: str | None, *, created: bool | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
    if created is not None:
        result["created"] = created
    return result


# Versions, root, limits, describe ---------------------------------------------------------------


def versions_body(host_base: str = "") -> list[dict[str, str]]:
    """`GET /services/data/`: every API version this org answers to."""
    return [
        {
            "label": _RELEASES.get(int(float(v)), f"v{v}"),
            "url": f"{host_base}/services/data/v{v}",
            "version": v,
        }
        for v in SUPPORTED_VERSIONS
    ]


def root(call: Call) -> Reply:
    names = ("sobjects", "query", "queryAll", "composite", "limits", "actions")
    return Reply(200, {name: f"{call.base}/{name}" for name in names})


def limits(call: Call) -> Reply:
    usage = call.org.usage
    remaining = max(0, usage.daily_max - usage.today)

    def pair(maximum: int, left: int) -> dict[str, int]:
        return {"Max": maximum, "Remaining": left}

    return Reply(
        200,
        {
            "DailyApiRequests": pair(usage.daily_max, remaining),
            "DailyAsyncApexExecutions": pair(250_000, 250_000),
            "DailyBulkApiBatches": pair(15_000, 15_000),
            "DailyBulkV2QueryJobs": pair(10_000, 10_000),
            "DataStorageMB": pair(1024, 1024 - _storage_mb(call)),
            "FileStorageMB": pair(2048, 2048),
            "SingleEmail": pair(5000, 5000),
        },
    )


def _storage_mb(call: Call) -> int:
    """Salesforce counts about 2 KB per record against data storage."""
    records = sum(len(table) for table in call.org.store.tables.values())
    return records * 2 // 1024


def describe_global(call: Call) -> Reply:
    return Reply(200, call.org.schema.describe_global(version=call.version))


def basic_info(call: Call, sobject: str) -> Reply:
    name = sobject_name(call, sobject)
    return Reply(200, call.org.schema.basic_info(name, version=call.version))


def describe(call: Call, sobject: str) -> Reply:
    name = sobject_name(call, sobject)
    body = call.org.schema.describe_object(name, version=call.version, profile=call.actor.profile)
    return Reply(200, body)


# sObject rows -----------------------------------------------------------------------------------


def create(call: Call, sobject: str) -> Reply:
    name = sobject_name(call, sobject)
    values = parse_body(call.org.schema, name, _object_body(call, name))
    try:
        record_id = call.dml().create(name, values)
    except RecordError as exc:
        raise _record_errors(exc) from None
    location = f"{call.base}/sobjects/{name}/{record_id}"
    return Reply(201, save_result(record_id), {"Location": location})


def get_record(call: Call, sobject: str, record_id: str) -> Reply:
    name = sobject_name(call, sobject)
    record = _visible(call, name, record_id)
    fields = _field_list(call, name, call.args["fields"]) if call.args.get("fields") else None
    return Reply(200, render_record(call, name, record, fields))


def update_record(call: Call, sobject: str, record_id: str) -> Reply:
    name = sobject_name(call, sobject)
    if not is_valid_id(record_id):
        raise _not_an_id(record_id)
    values = parse_body(call.org.schema, name, _object_body(call, name))
    _existing(call, name, record_id)
    try:
        call.dml().update(name, to_18(record_id), values)
    except RecordError as exc:
        raise _record_errors(exc) from None
    return Reply(204)


def delete_record(call: Call, sobject: str, record_id: str) -> Reply:
    name = sobject_name(call, sobject)
    if not is_valid_id(record_id):
        raise _not_an_id(record_id)
    _existing(call, name, record_id)
    try:
        call.dml().delete(name, to_18(record_id))
    except RecordError as exc:
        raise _record_errors(exc) from None
    return Reply(204)


def _existing(call: Call, sobject: str, record_id: str) -> None:
    """Writes to an id of another object, or to one that never existed, answer 404."""
    if call.org.schema.object_for_id(record_id) != sobject:
        raise errors.not_found()
    if call.org.store.get(sobject, to_18(record_id)) is None:
        raise errors.not_found()


# External IDs -----------------------------------------------------------------------------------


def _key_value(value: str) -> str:
    """simple-salesforce's get_by_custom_id form-encodes the value (space as `+`); the path is
    otherwise percent-decoded already, so `+` is read as a space for every key operation."""
    return value.replace("+", " ")


def _key_field(call: Call, sobject: str, field_name: str) -> str:
    spec = call.org.schema.field(sobject, field_name)
    if spec is None or not (spec.external_id or spec.name == "Id"):
        raise _not_an_id(field_name)
    return spec.name


def _multiple(call: Call, sobject: str, ids: list[str]) -> Reply:
    """300 Multiple Choices: the body lists the URLs of every matching record."""
    return Reply(300, [f"{call.base}/sobjects/{sobject}/{i}" for i in ids])


def get_by_external_id(call: Call, sobject: str, field_name: str, value: str) -> Reply:
    name = sobject_name(call, sobject)
    value = _key_value(value)
    key = _key_field(call, name, field_name)
    matches = call.dml().key_matches(name, key, value)
    visible = [i for i in matches if call.actor.can_see(call.org.store.get(name, i) or {})]
    if not visible:
        raise errors.not_found()
    if len(visible) > 1:
        return _multiple(call, name, visible)
    record = call.org.store.get(name, visible[0])
    assert record is not None
    return Reply(200, render_record(call, name, record))


def upsert_by_external_id(call: Call, sobject: str, field_name: str, value: str) -> Reply:
    name = sobject_name(call, sobject)
    value = _key_value(value)
    key = _key_field(call, name, field_name)
    values = parse_body(call.org.schema, name, _object_body(call, name))
    dml = call.dml()
    if call.args.get("updateOnly", "").lower() == "true" and not dml.key_matches(name, key, value):
        raise errors.not_found()
    try:
        record_id, created = dml.upsert(name, key, value, values)
    except MultipleMatches as exc:
        return _multiple(call, name, exc.ids)
    except RecordError as exc:
        raise _record_errors(exc) from None
    return Reply(201 if created else 200, save_result(record_id, created=created))


def delete_by_external_id(call: Call, sobject: str, field_name: str, value: str) -> Reply:
    name = sobject_name(call, sobject)
    value = _key_value(value)
    key = _key_field(call, name, field_name)
    matches = call.dml().key_matches(name, key, value)
    if not matches:
        raise errors.not_found()
    if len(matches) > 1:
        return _multiple(call, name, matches)
    try:
        call.dml().delete(name, matches[0])
    except RecordError as exc:
        raise _record_errors(exc) from None
    return Reply(204)


# Query ----------------------------------------------------------------------------------------


def _batch_size(call: Call) -> int:
    options = call.headers.get("Sforce-Query-Options", "")
    for part in options.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "batchsize" and value.strip().isdigit():
            return max(MIN_BATCH, min(DEFAULT_BATCH, int(value)))
    return DEFAULT_BATCH


def run_query(call: Call, *, include_deleted: bool) -> Reply:
    text = call.args.get("q")
    if not text or not text.strip():
        raise errors.bad_request("MALFORMED_QUERY", "A query string has to be specified")
    try:
        query = soql.parse(text, call.org.schema)
    except soql.SoqlError as exc:
        raise ApiError(400, SfError(exc.error_code, exc.message, None)) from None
    rows = [
        r
        for r in call.org.store.rows(query.sobject)
        if (include_deleted or not r.get("IsDeleted")) and call.actor.can_see(r)
    ]
    today = call.now.date()
    if query.is_count:
        total = soql.count(query, rows, lookup=_lookup(call), today=today)
        return Reply(200, {"totalSize": total, "done": True, "records": []})
    result = soql.execute(query, rows, lookup=_lookup(call), today=today, api_version=call.version)
    return Reply(200, _page(call, result, 0, _batch_size(call), include_deleted, None))


def _lookup(call: Call) -> soql.Lookup:
    store = call.org.store

    def parent(_sobject: str, record_id: str) -> Record | None:
        found = store.find(record_id)
        return None if found is None else found[1]

    return parent


def _page(
    call: Call,
    rows: list[dict[str, Any]],
    start: int,
    batch: int,
    include_deleted: bool,
    locator: str | None,
) -> dict[str, Any]:
    """One batch of a result; a result larger than the batch keeps a cursor for the rest."""
    end = start + batch
    body: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows)}
    if end < len(rows):
        if locator is None:
            cursor = Cursor(
                rows=rows, batch=batch, include_deleted=include_deleted, opened=call.now
            )
            locator = call.org.open_cursor(cursor)
        resource = "queryAll" if include_deleted else "query"
        body["nextRecordsUrl"] = f"{call.base}/{resource}/{locator}-{end}"
    body["records"] = rows[start:end]
    return body


def query_more(call: Call, locator: str) -> Reply:
    cursor_id, _, offset_text = locator.rpartition("-")
    cursor = call.org.cursors.get(cursor_id) if cursor_id else None
    if cursor is None or not offset_text.isdigit() or int(offset_text) > len(cursor.rows):
        raise errors.bad_request("INVALID_QUERY_LOCATOR", "invalid query locator")
    page = _page(
        call, cursor.rows, int(offset_text), cursor.batch, cursor.include_deleted, cursor_id
    )
    if page["done"]:
        del call.org.cursors[cursor_id]  # the last batch closes the cursor, as in Salesforce
    return Reply(200, page)


def query(call: Call) -> Reply:
    return run_query(call, include_deleted=False)


def query_all(call: Call) -> Reply:
    return run_query(call, include_deleted=True)


# Replication feeds (sf.Lead.deleted / sf.Lead.updated) ------------------------------------------


def _window(call: Call) -> tuple[str, str]:
    try:
        start = parse_sf_datetime(call.args["start"])
        end = parse_sf_datetime(call.args["end"])
    except (KeyError, ValueError):
        raise errors.bad_request(
            "INVALID_REPLICATION_DATE", "start and end must be ISO-8601 datetimes"
        ) from None
    if end < start:
        raise errors.bad_request("INVALID_REPLICATION_DATE", "start date cannot be after end date")
    latest = min(end, call.now).replace(second=0, microsecond=0)
    return sf_datetime(start), sf_datetime(latest)


def deleted(call: Call, sobject: str) -> Reply:
    name = sobject_name(call, sobject)
    start, latest = _window(call)
    rows = [
        {"deletedDate": r["_deleted_date"], "id": r["Id"]}
        for r in call.org.store.rows(name)
        if r.get("IsDeleted")
        and start <= r.get("_deleted_date", "") < latest
        and call.actor.can_see(r)
    ]
    earliest = sf_datetime(call.now - timedelta(days=15))
    return Reply(
        200,
        {"deletedRecords": rows, "earliestDateAvailable": earliest, "latestDateCovered": latest},
    )


def updated(call: Call, sobject: str) -> Reply:
    name = sobject_name(call, sobject)
    start, latest = _window(call)
    ids = [
        r["Id"]
        for r in call.org.store.rows(name)
        if not r.get("IsDeleted")
        and start <= str(r.get("SystemModstamp", "")) < latest
        and call.actor.can_see(r)
    ]
    return Reply(200, {"ids": ids, "latestDateCovered": latest})
