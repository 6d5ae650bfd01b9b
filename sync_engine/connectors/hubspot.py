"""The HubSpot edge: a hubspot-api-client built from a base URL, a token and a retry policy.

The engine does its own retrying (honouring Retry-After and recording each attempt), so the default
policy here retries nothing: urllib3's default would silently retry a GET answered 429 with
Retry-After and hide the call from the API budget (client-facts.md).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

import orjson
import urllib3
from hubspot import HubSpot
from urllib3.util.retry import Retry

from sync_engine.connectors.usage import ApiCall, CallLog, hubspot_quota, now_utc
from sync_engine.errors import (
    CONNECTION_FAILED,
    DAILY_LIMIT_WAIT,
    MALFORMED_RESPONSE,
    TIMEOUT,
    ConfigurationError,
    LeadBridgeError,
    RecordError,
    RetriableError,
    classify,
)
from sync_engine.retry import RetryPolicy, call_with_retry
from sync_engine.settings import HubSpotCredentials

DEFAULT_RETRY = RetryPolicy()
DEFAULT_TIMEOUT = 30.0  # seconds to wait for an answer

NO_RETRY = Retry(
    total=0,
    connect=0,
    read=0,
    redirect=0,
    status=0,
    status_forcelist=(),
    respect_retry_after_header=False,
    raise_on_status=False,
)


def make_hubspot_client(creds: HubSpotCredentials, *, retry: Retry | None = None) -> HubSpot:
    """A client pointed at creds.base_url (HubSpot, or the sandbox) with the given retry policy."""
    if not creds.access_token:
        raise ConfigurationError(
            "HubSpot is not configured: set HUBSPOT_ACCESS_TOKEN to a private app token "
            "(and HUBSPOT_BASE_URL for the sandbox)"
        )
    return HubSpot(
        access_token=creds.access_token,
        host=creds.base_url.rstrip("/"),
        retry=retry if retry is not None else NO_RETRY,
    )


# --------------------------------------------------------------------------- reading and writing

OK = (200,)
BATCH_SIZE = 100  # HubSpot batch endpoints accept at most 100 inputs
LIST_PAGE = 100  # the paged list (GET /crm/v3/objects/{type}) returns at most 100 a page
ASSOCIATION_BATCH = 1000  # v4 association batch endpoints take up to 1,000 inputs
SEARCH_PAGE = 200  # search pages hold at most 200 results
SEARCH_CAP = 10_000  # search never pages past 10,000 results
SEARCH_WINDOW_S = 1.0  # the search limit counts requests per rolling second
SEARCH_MARGIN_S = 0.1  # send-to-arrival jitter allowed for when pacing searches

LAST_MODIFIED = {"contacts": "lastmodifieddate"}  # every other object: hs_lastmodifieddate


def last_modified_property(object_type: str) -> str:
    """The property every write updates: contacts differ from companies, deals and engagements."""
    return LAST_MODIFIED.get(object_type, "hs_lastmodifieddate")


@dataclass(frozen=True)
class HsFailure:
    """Why HubSpot refused one input of a batch: category, message and the property if known."""

    category: str
    message: str
    code: str | None = None
    property: str | None = None


@dataclass(frozen=True)
class HsOutcome:
    """The result of one input of a batch write, in input order."""

    index: int
    id: str | None
    success: bool
    record: dict[str, Any] | None = None
    error: HsFailure | None = None


def _api_exceptions() -> tuple[type[Exception], ...]:
    from hubspot.crm.associations.v4.exceptions import ApiException as AssocError
    from hubspot.crm.lists.exceptions import ApiException as ListsError
    from hubspot.crm.objects.exceptions import ApiException as ObjectsError
    from hubspot.crm.owners.exceptions import ApiException as OwnersError
    from hubspot.crm.pipelines.exceptions import ApiException as PipelinesError
    from hubspot.crm.properties.exceptions import ApiException as PropertiesError

    return (AssocError, ListsError, ObjectsError, OwnersError, PipelinesError, PropertiesError)


API_EXCEPTIONS = _api_exceptions()


@dataclass
class _Window:
    """Progress of one capped search: the newest timestamp seen and the ids seen at it."""

    since: int
    last_ms: int = -1
    boundary: set[str] = field(default_factory=set)
    exhausted: bool = False

    def __post_init__(self) -> None:
        self.last_ms = self.since

    @staticmethod
    def stamp_of(record: Mapping[str, Any], prop: str) -> int | None:
        return _epoch_ms((record.get("properties") or {}).get(prop))

    def saw(self, record: Mapping[str, Any], prop: str) -> None:
        stamp = self.stamp_of(record, prop)
        if stamp is not None and stamp > self.last_ms:
            self.last_ms, self.boundary = stamp, set()
        self.boundary.add(str(record["id"]))


class HubSpotConnector:
    """Reads and writes a portal through hubspot-api-client, counting every call.

    Each operation names its endpoint, calls the client's `*_with_http_info` variant to see the
    status and the rate-limit headers, and maps failures through `errors.classify`.
    """

    system = "hubspot"

    def __init__(
        self,
        client: HubSpot,
        *,
        calls: CallLog | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[RetriableError, int, float], None] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        search_per_second: float = 4.0,
    ) -> None:
        self.client = client
        self.calls = calls if calls is not None else CallLog()
        self.retry = retry
        self._sleep = sleep
        self.on_retry = on_retry
        self._timeout = timeout
        self.search_per_second = max(1, int(search_per_second))
        self._recent_searches: deque[float] = deque(maxlen=self.search_per_second)
        self._pace_lock = threading.Lock()
        self._apis: dict[str, Any] = {}

    def _api(self, path: str) -> Any:
        """The client's generated API at a dotted path (`crm.objects.batch_api`), built once.

        hubspot-api-client's discovery builds a new API client, with a new connection pool, at
        every attribute access: through it each call opened a new connection to HubSpot (and
        spent ~0.4 ms of CPU rebuilding the configuration). Kept here, each API reuses its
        pool's kept-alive connections."""
        api = self._apis.get(path)
        if api is None:
            api = self._apis[path] = attrgetter(path)(self.client)
        return api

    # -- plumbing

    def _record(self, endpoint: str, status: int, headers: Any) -> None:
        used, limit = hubspot_quota(headers)
        self.calls.add(
            ApiCall(
                system=self.system,
                endpoint=endpoint,
                status=status,
                at=now_utc(),
                used_today=used,
                daily_limit=limit,
            )
        )

    def _once(
        self, endpoint: str, expect: tuple[int, ...], fn: Callable[..., Any], *args: Any, **kw: Any
    ) -> Any:
        """One call through the client, its JSON parsed here (the generated models cost more
        than the request), its status checked against what HubSpot documents for it."""
        if endpoint.endswith("/search"):
            self._pace_search()
        try:
            response = fn(*args, _request_timeout=self._timeout, _preload_content=False, **kw)
        except API_EXCEPTIONS as exc:
            status = int(getattr(exc, "status", 0) or 0)
            headers = getattr(exc, "headers", None) or {}
            self._record(endpoint, status, headers)
            raise _map_hubspot_error(status, getattr(exc, "body", None), headers) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self._record(endpoint, 0, {})
            raise _connection_error(exc, endpoint, self._timeout) from None
        self._record(endpoint, response.status, response.headers)
        if response.status not in expect:
            raise RetriableError(
                f"HubSpot answered {response.status} to {endpoint}; expected {expect}"
            )
        if response.status == 204:
            return None
        try:
            return _loads(response.data)
        except (ValueError, TypeError) as exc:  # a truncated or malformed body
            raise RetriableError(
                f"HubSpot sent a malformed response to {endpoint} ({exc})",
                code=MALFORMED_RESPONSE,
            ) from None

    def _pace_search(self) -> None:
        """HubSpot allows a few search requests per rolling second per token: wait instead of a
        429. A cycle's first searches go at once (an idle poll of three objects never waits);
        the next waits until the oldest of the last `search_per_second` is a second and a margin
        old, the margin covering the jitter between sending a request and HubSpot counting it
        (a plain 1/rate spacing met a 429 and a wasted call every ~15 searches, measured by the
        bench at 10,000 contacts)."""
        with self._pace_lock:
            recent = self._recent_searches
            if len(recent) == recent.maxlen:
                wait = recent[0] + SEARCH_WINDOW_S + SEARCH_MARGIN_S - time.monotonic()
                if wait > 0:
                    self._sleep(wait)
            recent.append(time.monotonic())

    def _call(
        self, endpoint: str, expect: tuple[int, ...], fn: Callable[..., Any], *a: Any, **kw: Any
    ) -> Any:
        return call_with_retry(
            lambda: self._once(endpoint, expect, fn, *a, **kw),
            policy=self.retry,
            sleep=self._sleep,
            on_retry=self.on_retry,
        )

    # -- metadata

    def properties(self, object_type: str) -> list[dict[str, Any]]:
        api = self._api("crm.properties.core_api")
        data = self._call(
            f"GET /crm/v3/properties/{object_type}", OK, api.get_all_with_http_info, object_type
        )
        return list(data["results"])

    def owners(self) -> list[dict[str, Any]]:
        api = self._api("crm.owners.owners_api")
        owners: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 500, "archived": False}
            if after:
                kwargs["after"] = after
            page = self._call("GET /crm/v3/owners/", OK, api.get_page_with_http_info, **kwargs)
            owners.extend(page["results"])
            after = _next_after(page)
            if not after:
                return owners

    def pipelines(self, object_type: str = "deals") -> list[dict[str, Any]]:
        api = self._api("crm.pipelines.pipelines_api")
        data = self._call(
            f"GET /crm/v3/pipelines/{object_type}", OK, api.get_all_with_http_info, object_type
        )
        return list(data["results"])

    def account_details(self) -> dict[str, Any]:
        """`GET /account-info/v3/details`: portalId (the Hub ID in record links), uiDomain, time
        zone. hubspot-api-client has no generated client for it: see `raw_get`."""
        return self.raw_get("GET /account-info/v3/details", "/account-info/v3/details", {})

    def raw_get(self, endpoint: str, path: str, query: Mapping[str, Any]) -> dict[str, Any]:
        """A GET the client has no generated API for, through its own API client (same host,
        token, pool and timeouts) and this connector's call wrapper: counted, retried when
        transient, mapped to LeadBridge's errors like any other call."""
        api_client = self._api("crm.objects.basic_api").api_client

        def fetch(**kw: Any) -> Any:
            return api_client.call_api(
                path,
                "GET",
                query_params=[(k, v) for k, v in query.items() if v is not None],
                header_params={"Accept": "application/json"},
                auth_settings=["oauth2"],
                _return_http_data_only=True,
                **kw,
            )

        return self._call(endpoint, OK, fetch)

    # -- reads

    def list_archived(
        self, object_type: str, *, properties: Sequence[str] = ()
    ) -> Iterator[dict[str, Any]]:
        """Every archived (deleted) record of a type, with archivedAt, paged 100 at a time. The
        search API never returns archived records: this paged list is HubSpot's way to see
        deletions (it is ordered by id, not by archivedAt, so it is read whole)."""
        api = self._api("crm.objects.basic_api")
        endpoint = f"GET /crm/v3/objects/{object_type}"
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": LIST_PAGE, "archived": True}
            if properties:
                kwargs["properties"] = list(properties)
            if after:
                kwargs["after"] = after
            page = self._call(endpoint, OK, api.get_page_with_http_info, object_type, **kwargs)
            yield from page.get("results") or []
            after = _next_after(page)
            if not after:
                return

    def search_modified_since(
        self,
        object_type: str,
        *,
        properties: Sequence[str],
        since_ms: int,
        after_id: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record modified after the cursor (since_ms, after_id), oldest first, across
        the 10,000 cap.

        The cursor is `>=` with an id tie-break: records at exactly since_ms come back only when
        their id is above after_id. HubSpot search sorts on one property only and stops at
        10,000 results; when a window fills up, a new search starts at the last timestamp seen
        (`>=`) and skips the records already returned at that timestamp.
        """
        prop = last_modified_property(object_type)
        since, skip, tie = since_ms, frozenset[str](), after_id
        while True:
            window = _Window(since=since)
            for record in self._search_window(object_type, prop, properties, window, tie):
                if not (record["id"] in skip and window.stamp_of(record, prop) == since):
                    yield record
            if window.exhausted:
                return
            if window.last_ms == since:  # one millisecond holds more than 10,000 records
                raise RetriableError(
                    f"more than {SEARCH_CAP} {object_type} share the modification time {since}"
                )
            since, skip, tie = window.last_ms, frozenset(window.boundary), None

    def _search_window(
        self,
        object_type: str,
        prop: str,
        properties: Sequence[str],
        window: _Window,
        after_id: str | None,
    ) -> Iterator[dict[str, Any]]:
        """One search from window.since, paged up to the 10,000-result cap."""
        api = self._api("crm.objects.search_api")
        endpoint = f"POST /crm/v3/objects/{object_type}/search"
        after, count = "0", 0
        while True:
            request = {
                "filterGroups": _cursor_filter(prop, window.since, after_id),
                "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
                "properties": sorted({*properties, prop}),
                "limit": SEARCH_PAGE,
                "after": after,
            }
            page = self._call(endpoint, OK, api.do_search_with_http_info, object_type, request)
            for record in page["results"]:
                count += 1
                window.saw(record, prop)
                yield record
            after = _next_after(page)
            if count >= SEARCH_CAP or (after and count + SEARCH_PAGE > SEARCH_CAP):
                return  # the window is full (HubSpot gives no next page at the cap): restart
            if not after:
                window.exhausted = True
                return

    def batch_read(
        self,
        object_type: str,
        ids: Sequence[str],
        *,
        properties: Sequence[str],
        id_property: str | None = None,
        with_history: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """Read records by id (or a unique property) in batches of 100."""
        api = self._api("crm.objects.batch_api")
        out: list[dict[str, Any]] = []
        for start in range(0, len(ids), BATCH_SIZE):
            body: dict[str, Any] = {
                "inputs": [{"id": i} for i in ids[start : start + BATCH_SIZE]],
                "properties": list(properties),
                "propertiesWithHistory": list(with_history),
            }
            if id_property:
                body["idProperty"] = id_property
            data = self._call(
                f"POST /crm/v3/objects/{object_type}/batch/read",
                (200, 207),
                api.read_with_http_info,
                object_type,
                body,
                archived=False,
            )
            out.extend(data["results"])
        return out

    def associated(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """Each record's associated records of to_type (v4 batch read, 1,000 ids per call)."""
        api = self._api("crm.associations.v4.batch_api")
        endpoint = f"POST /crm/v4/associations/{from_type}/{to_type}/batch/read"
        found: dict[str, list[str]] = {}
        for start in range(0, len(ids), ASSOCIATION_BATCH):
            body = {"inputs": [{"id": i} for i in ids[start : start + ASSOCIATION_BATCH]]}
            data = self._call(
                endpoint, (200, 207), api.get_page_with_http_info, from_type, to_type, body
            )
            for row in data.get("results") or []:
                found[str(row["from"]["id"])] = [str(t["toObjectId"]) for t in row.get("to") or []]
        return found

    def associate(self, from_type: str, to_type: str, pairs: Sequence[tuple[str, str]]) -> None:
        """Create HubSpot's default association for each (from id, to id) pair, in batches."""
        api = self._api("crm.associations.v4.batch_api")
        endpoint = f"POST /crm/v4/associations/{from_type}/{to_type}/batch/associate/default"
        for start in range(0, len(pairs), ASSOCIATION_BATCH):
            body = {
                "inputs": [
                    {"from": {"id": a}, "to": {"id": b}}
                    for a, b in pairs[start : start + ASSOCIATION_BATCH]
                ]
            }
            self._call(
                endpoint, (200, 201), api.create_default_with_http_info, from_type, to_type, body
            )

    def list_members(self, name_or_id: str, *, object_type_id: str = "0-1") -> set[str]:
        """The record ids in a HubSpot list given by id (digits) or name, paged."""
        lists_api = self._api("crm.lists.lists_api")
        memberships_api = self._api("crm.lists.memberships_api")
        list_id = name_or_id
        if not name_or_id.isdigit():
            found = self._call(
                "GET /crm/v3/lists/object-type-id/{objectTypeId}/name/{listName}",
                OK,
                lists_api.get_by_name_with_http_info,
                name_or_id,
                object_type_id,
            )
            list_id = str(found["list"]["listId"])
        members: set[str] = set()
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 250}
            if after:
                kwargs["after"] = after
            page = self._call(
                "GET /crm/v3/lists/{id}/memberships",
                OK,
                memberships_api.get_page_with_http_info,
                list_id,
                **kwargs,
            )
            members.update(str(m["recordId"]) for m in page.get("results") or [])
            after = _next_after(page)
            if not after:
                return members

    # -- writes

    def batch_create(
        self, object_type: str, inputs: Sequence[Mapping[str, Any]]
    ) -> list[HsOutcome]:
        """Create in batches of 100; each input carries its own objectWriteTraceId so that one bad
        input gets a per-input error (207) instead of failing its batch."""
        api = self._api("crm.objects.batch_api")
        return self._batch_write(
            f"POST /crm/v3/objects/{object_type}/batch/create",
            (201, 207),
            api.create_with_http_info,
            object_type,
            [{"associations": [], **dict(i)} for i in inputs],
        )

    def batch_update(
        self, object_type: str, inputs: Sequence[Mapping[str, Any]]
    ) -> list[HsOutcome]:
        """Update `{id, properties}` inputs in batches of 100 (partial failure per input)."""
        api = self._api("crm.objects.batch_api")
        return self._batch_write(
            f"POST /crm/v3/objects/{object_type}/batch/update",
            (200, 207),
            api.update_with_http_info,
            object_type,
            [dict(i) for i in inputs],
        )

    def batch_archive(self, object_type: str, ids: Sequence[str]) -> None:
        api = self._api("crm.objects.batch_api")
        for start in range(0, len(ids), BATCH_SIZE):
            body = {"inputs": [{"id": i} for i in ids[start : start + BATCH_SIZE]]}
            self._call(
                f"POST /crm/v3/objects/{object_type}/batch/archive",
                (204,),
                api.archive_with_http_info,
                object_type,
                body,
            )

    def _batch_write(
        self,
        endpoint: str,
        expect: tuple[int, ...],
        fn: Callable[..., Any],
        object_type: str,
        inputs: list[dict[str, Any]],
    ) -> list[HsOutcome]:
        outcomes: list[HsOutcome] = []
        for start in range(0, len(inputs), BATCH_SIZE):
            chunk = inputs[start : start + BATCH_SIZE]
            for offset, item in enumerate(chunk):
                item["objectWriteTraceId"] = str(start + offset)
            data = self._call(endpoint, expect, fn, object_type, {"inputs": chunk})
            outcomes.extend(_hs_outcomes(data, start=start, size=len(chunk)))
        return outcomes


def _hs_outcomes(data: Mapping[str, Any], *, start: int, size: int) -> list[HsOutcome]:
    """Line up a batch answer with its inputs by objectWriteTraceId (results come unordered)."""
    by_index: dict[int, HsOutcome] = {}
    for record in data.get("results") or []:
        trace = record.get("objectWriteTraceId")
        if trace is None:
            continue
        index = int(trace)
        by_index[index] = HsOutcome(index=index, id=record.get("id"), success=True, record=record)
    for err in data.get("errors") or []:
        context = err.get("context") or {}
        details = err.get("errors") or []
        detail = details[0] if details else {}
        failure = HsFailure(
            category=str(err.get("category", "")),
            message=str(err.get("message", "")),
            code=detail.get("code") if isinstance(detail, Mapping) else None,
            property=_property_of(detail),
        )
        for trace in context.get("objectWriteTraceId") or []:
            index = int(trace)
            by_index[index] = HsOutcome(index=index, id=None, success=False, error=failure)
    missing = HsFailure(category="UNKNOWN", message="HubSpot returned no result for this input")
    return [
        by_index.get(i, HsOutcome(index=i, id=None, success=False, error=missing))
        for i in range(start, start + size)
    ]


def _cursor_filter(prop: str, since: int, after_id: str | None) -> list[dict[str, Any]]:
    """`prop >= since`, or with a tie-break `prop > since OR (prop = since AND id > after_id)`."""
    if after_id is None:
        return [{"filters": [{"propertyName": prop, "operator": "GTE", "value": str(since)}]}]
    return [
        {"filters": [{"propertyName": prop, "operator": "GT", "value": str(since)}]},
        {
            "filters": [
                {"propertyName": prop, "operator": "EQ", "value": str(since)},
                {"propertyName": "hs_object_id", "operator": "GT", "value": str(after_id)},
            ]
        },
    ]


def _next_after(page: Mapping[str, Any]) -> str | None:
    return ((page.get("paging") or {}).get("next") or {}).get("after")


def _property_of(detail: Any) -> str | None:
    if not isinstance(detail, Mapping):
        return None
    context = detail.get("context") or {}
    names = context.get("propertyName") or context.get("property") or []
    return names[0] if names else None


def _epoch_ms(value: Any) -> int | None:
    """HubSpot datetimes come as ISO strings (search answers) or epoch milliseconds."""
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(parsed.timestamp() * 1000)


def _connection_error(exc: BaseException, endpoint: str, timeout: float) -> RetriableError:
    """A request that got no answer: timed out, or the connection dropped (urllib3 wraps the
    cause in MaxRetryError when its retries, none here, are spent)."""
    cause = (
        getattr(exc, "reason", None) if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    )
    if isinstance(cause, urllib3.exceptions.TimeoutError | TimeoutError):
        return RetriableError(
            f"HubSpot did not answer {endpoint} within {timeout:g} s", code=TIMEOUT
        )
    name = type(cause or exc).__name__
    return RetriableError(
        f"HubSpot connection failed on {endpoint}: {name}", code=CONNECTION_FAILED
    )


def _loads(body: bytes | str) -> Any:
    """A response body decoded by orjson, twice as fast as json on a page of records (the
    engine decodes every record it reads). It reads an integer beyond 64 bits as a float, which
    HubSpot's CRM API never sends: property values come as strings, and ids and counts are
    small; NaN and the infinities, which are not JSON but json accepts, go through json."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _map_hubspot_error(status: int, body: Any, headers: Any) -> LeadBridgeError:
    """An ApiException as LeadBridge's error: category from the body, wait from Retry-After."""
    try:
        parsed = json.loads(body) if body else {}
    except (ValueError, TypeError):
        parsed = {}
    category = parsed.get("category") if isinstance(parsed, dict) else None
    message = parsed.get("message", "") if isinstance(parsed, dict) else ""
    kind = classify(status, category)
    text = f"HubSpot answered {status} {category or ''}: {message}".strip()
    if issubclass(kind.kind, RetriableError):
        retry_after = _retry_after(headers, parsed)
        return kind.kind(
            text, retry_after=retry_after, code=category or str(status), system="hubspot"
        )
    if issubclass(kind.kind, RecordError):
        return RecordError(text, code=category or str(status), category=kind.category)
    return kind.kind(text)


def _retry_after(headers: Any, body: Any) -> float | None:
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    if value:
        try:
            return float(value)
        except ValueError:
            return None
    if isinstance(body, dict) and body.get("policyName") == "DAILY":
        return DAILY_LIMIT_WAIT
    if isinstance(body, dict) and body.get("errorType") == "RATE_LIMIT":
        return 1.0
    return None
