"""The WSGI front of the Salesforce emulator: routing, bearer auth, faults, API limits.

Order per request, as the platform behaves: the versions list and the login endpoints (SOAP login,
OAuth token; see login.py) need no session; everything else
authenticates first (401 INVALID_SESSION_ID, not counted), then may hit an injected fault, then
is refused with 403 REQUEST_LIMIT_EXCEEDED once the day's allowance is used, else counts as one
API call and runs. A client's mistake always gets Salesforce's 4xx answer; only a bug in the
emulator produces 500 UNKNOWN_EXCEPTION (and is logged).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from werkzeug.http import http_date
from werkzeug.wrappers import Request, Response

from sandbox.core import Clock, FaultInjector
from sandbox.salesforce import composite, errors, resources
from sandbox.salesforce.call import Call, Reply
from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.login import ORG_ID, LoginAnswer, Sessions
from sandbox.salesforce.store import Journal, Org, Record

log = logging.getLogger("sandbox.salesforce")

Handler = Callable[..., Reply]
JSON_TYPE = "application/json;charset=UTF-8"
_VERSIONED = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")
_SOAP_LOGIN = re.compile(r"^/services/Soap/u/\d+\.\d/?$")
_TOKEN = "/services/oauth2/token"
_AUTH = re.compile(r"^\s*(?:Bearer|OAuth)\s+(\S+)\s*$", re.IGNORECASE)
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# Path parameters that vary per record are shown as placeholders in usage statistics.
_PLACEHOLDERS = {"record_id": "{id}", "value": "{value}", "locator": "{locator}"}


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    methods: Mapping[str, Handler]
    template: str


def _route(pattern: str, template: str, **methods: Handler) -> Route:
    return Route(re.compile(pattern), methods, template)


_T = r"(?P<sobject>[A-Za-z0-9_]+)"
ROUTES: tuple[Route, ...] = (
    _route(r"", "/", GET=resources.root),
    _route(r"/limits", "/limits", GET=resources.limits),
    _route(r"/sobjects", "/sobjects", GET=resources.describe_global),
    _route(
        rf"/sobjects/{_T}", "/sobjects/{sobject}", GET=resources.basic_info, POST=resources.create
    ),
    _route(rf"/sobjects/{_T}/describe", "/sobjects/{sobject}/describe", GET=resources.describe),
    _route(rf"/sobjects/{_T}/deleted", "/sobjects/{sobject}/deleted", GET=resources.deleted),
    _route(rf"/sobjects/{_T}/updated", "/sobjects/{sobject}/updated", GET=resources.updated),
    _route(
        rf"/sobjects/{_T}/(?P<record_id>[^/]+)",
        "/sobjects/{sobject}/{record_id}",
        GET=resources.get_record,
        PATCH=resources.update_record,
        DELETE=resources.delete_record,
    ),
    _route(
        rf"/sobjects/{_T}/(?P<field_name>[^/]+)/(?P<value>.+)",
        "/sobjects/{sobject}/{field_name}/{value}",
        GET=resources.get_by_external_id,
        PATCH=resources.upsert_by_external_id,
        DELETE=resources.delete_by_external_id,
    ),
    _route(r"/query", "/query", GET=resources.query),
    _route(r"/query/(?P<locator>[^/]+)", "/query/{locator}", GET=resources.query_more),
    _route(r"/queryAll", "/queryAll", GET=resources.query_all),
    _route(r"/queryAll/(?P<locator>[^/]+)", "/queryAll/{locator}", GET=resources.query_more),
    _route(
        r"/composite/sobjects",
        "/composite/sobjects",
        POST=composite.create_collection,
        PATCH=composite.update_collection,
        DELETE=composite.delete_collection,
    ),
    _route(
        rf"/composite/sobjects/{_T}",
        "/composite/sobjects/{sobject}",
        GET=composite.retrieve_collection,
        POST=composite.retrieve_collection,
    ),
    _route(
        rf"/composite/sobjects/{_T}/(?P<field_name>[^/]+)",
        "/composite/sobjects/{sobject}/{field_name}",
        PATCH=composite.upsert_collection,
    ),
    _route(r"/composite", "/composite", POST=composite.composite),
)


def match_route(path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        found = route.pattern.fullmatch(path)
        if found:
            return route, found.groupdict()
    return None


def endpoint_label(method: str, path: str) -> str:
    """`PATCH /sobjects/Lead/{id}`: the resource a call hit, for usage statistics."""
    matched = match_route(path)
    if matched is None:
        return f"{method} {path or '/'}"
    route, params = matched
    shown = {k: _PLACEHOLDERS.get(k, v) for k, v in params.items()}
    return f"{method} {route.template.format(**shown)}"


def dispatch(call: Call) -> Reply:
    """Run one call (top-level or composite subrequest) on its resource handler."""
    matched = match_route(call.path)
    if matched is None:
        return _error_reply(errors.not_found())
    route, params = matched
    handler = route.methods.get(call.method)
    if handler is None:
        return _error_reply(errors.method_not_allowed(call.method, route.methods))
    try:
        return handler(call, **params)
    except ApiError as exc:
        return _error_reply(exc)


def _error_reply(exc: ApiError) -> Reply:
    return Reply(exc.status, exc.body())


class Host(Protocol):
    """What the WSGI front needs from the emulator."""

    org: Org
    clock: Clock
    faults: FaultInjector
    timeout_seconds: float
    sessions: Sessions

    def admin(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]: ...

    def login(self, flow: str, raw: bytes, *, authorization: str, base_url: str) -> LoginAnswer: ...


class RestApp:
    """WSGI callable serving `/services/data/...` and `/__sandbox/...`."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        _no_delay(environ)
        request = Request(environ)
        try:
            response = self._respond(request)
        except Exception:  # the last line of defence: a bug must still answer like Salesforce
            error_id = secrets.token_hex(6)
            log.exception(
                "unexpected error %s serving %s %s", error_id, request.method, request.path
            )
            response = _json_response(errors.unknown_exception(error_id).body(), 500)
        # Dated by the org's clock, which also stamps its records (and moves with the admin
        # endpoints): a client may bound Salesforce's time by it, as it may a real org's.
        response.headers["Date"] = http_date(self.host.clock.now())
        return response(environ, start_response)

    # Routing ------------------------------------------------------------------------------------

    def _respond(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/__sandbox/") or path == "/__sandbox":
            return self._admin(request)
        if path.rstrip("/") == "/services/data":
            return _json_response(resources.versions_body(), 200)
        if path.rstrip("/") == "/services/oauth2/userinfo":
            return self._userinfo(request)
        if request.method == "POST" and (_SOAP_LOGIN.match(path) or path.rstrip("/") == _TOKEN):
            return self._login(request, "soap" if path.startswith("/services/Soap") else "oauth")
        versioned = _VERSIONED.match(path)
        if versioned is None or versioned.group(1) not in resources.SUPPORTED_VERSIONS:
            return _json_response(errors.not_found().body(), 404)
        org = self.host.org
        user = self._authenticate(org, request)
        if user is None:
            return _json_response(errors.invalid_session().body(), 401)
        sub_path = (versioned.group(2) or "").rstrip("/")
        return self._api_call(request, org, user, versioned.group(1), sub_path)

    def _login(self, request: Request, flow: str) -> Response:
        """A login (not an API call: it is neither counted nor failed by injected faults)."""
        answer = self.host.login(
            flow,
            request.get_data(),
            authorization=request.headers.get("Authorization", ""),
            base_url=request.host_url.rstrip("/"),
        )
        return Response(answer.body, status=answer.status, content_type=answer.content_type)

    def _userinfo(self, request: Request) -> Response:
        """OpenID Connect userinfo: who the token belongs to (not counted as an API call)."""
        org = self.host.org
        user = self._authenticate(org, request)
        if user is None:
            return Response("Bad_OAuth_Token", status=403, mimetype="text/plain")
        return _json_response(userinfo_body(user, org.actor(user).profile), 200)

    def _authenticate(self, org: Org, request: Request) -> Record | None:
        token = _bearer(request)
        if token is None:
            return None
        user = org.user_by_token(token)
        if user is None:
            owner = self.host.sessions.owner(token)
            user = org.user(owner) if owner else None
        if user is None or not user.get("IsActive", True):
            return None
        return user

    # API calls ----------------------------------------------------------------------------------

    def _api_call(
        self, request: Request, org: Org, user: Record, version: str, path: str
    ) -> Response:
        fault = self.host.faults.pick()
        token = _bearer(request) or ""
        fresh = self.host.sessions.first_use(token)
        if fault == "UNABLE_TO_LOCK_ROW" and request.method not in _WRITE_METHODS:
            fault = "503"  # reads take no row locks; under strain they see 503s instead
        if fault == "expired_session" and fresh:
            fault = None  # a session never expires on its first call
        if fault is not None:
            self.host.faults.note(fault)
        if fault == "reset":
            _drop_connection(request)
            return Response(b"", status=200)
        if fault == "expired_session":
            # A login session is revoked for good; the people's long-lived tokens are refused once.
            self.host.sessions.expire(token)
            return _json_response(errors.invalid_session().body(), 401)
        if fault == "503":
            return _json_response(_server_unavailable(), 503)
        if fault == "concurrent_limit":
            return _json_response(errors.concurrent_limit_exceeded().body(), 403)
        request.get_data()  # read the body before taking the org lock (a slow client waits alone)
        with org.lock:
            day = self.host.clock.now().date()
            if org.usage.exhausted(day):
                reply = _error_reply(errors.request_limit_exceeded())
            else:
                org.usage.count(
                    day=day, endpoint=endpoint_label(request.method, path), user_id=user["Id"]
                )
                reply = self._locked_fault_or_run(request, org, user, version, path, fault)
            usage = f"api-usage={org.usage.today}/{org.usage.daily_max}"
        if fault == "timeout":
            time.sleep(self.host.timeout_seconds)
        response = _reply_response(reply, truncate=(fault == "malformed"))
        response.headers["Sforce-Limit-Info"] = usage
        return response

    def _locked_fault_or_run(
        self,
        request: Request,
        org: Org,
        user: Record,
        version: str,
        path: str,
        fault: str | None,
    ) -> Reply:
        call = self._call(request, org, user, version, path)
        if fault == "UNABLE_TO_LOCK_ROW":
            return _lock_reply(call)
        return self.execute(call)

    def _call(self, request: Request, org: Org, user: Record, version: str, path: str) -> Call:
        return Call(
            org=org,
            user=user,
            actor=org.actor(user),
            version=version,
            method=request.method.upper(),
            path=path,
            args=request.args.to_dict(),
            headers=request.headers,
            raw_body=request.get_data(),
            now=self.host.clock.now(),  # taken under the org lock: stamps follow commit order
            dispatch=dispatch,
        )

    def internal_call(self, org: Org, user: Record, *, method: str, url: str, body: Any) -> Call:
        """A call made as user from the admin set (a person acting in the UI): not counted."""
        parts = urlsplit(url)
        versioned = _VERSIONED.match(parts.path)
        if versioned is not None:
            version, path = versioned.group(1), versioned.group(2) or ""
        else:
            version, path = "59.0", "/" + parts.path.strip("/")
        return Call(
            org=org,
            user=user,
            actor=org.actor(user),
            version=version,
            method=method,
            path=unquote(path.rstrip("/")),
            args=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={},
            raw_body=None,
            now=self.host.clock.now(),
            dispatch=dispatch,
            json_body=body,
            has_json=body is not None,
        )

    def execute(self, call: Call) -> Reply:
        """Run a call inside a journal (rolled back whole if the emulator itself fails)."""
        store = call.org.store
        with call.org.lock:
            store.journal = Journal()
            try:
                return dispatch(call)
            except Exception:
                store.rollback(0)
                raise
            finally:
                store.journal = None

    # Admin --------------------------------------------------------------------------------------

    def _admin(self, request: Request) -> Response:
        path = request.path[len("/__sandbox") :].strip("/")
        raw = request.get_data(cache=False)
        body: Any = {}
        if raw.strip():
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                message = f"request body is not JSON: {exc}"
                return _json_response({"error": "BAD_ADMIN_REQUEST", "message": message}, 400)
        if not isinstance(body, dict):
            message = "request body must be a JSON object"
            return _json_response({"error": "BAD_ADMIN_REQUEST", "message": message}, 400)
        status, payload = self.host.admin(request.method.upper(), path, body)
        return _json_response(payload, status)


def userinfo_body(user: Record, profile: Any) -> dict[str, Any]:
    """The fields of Salesforce's userinfo answer a client relies on."""
    return {
        "sub": f"https://login.salesforce.com/id/{ORG_ID}/{user['Id']}",
        "user_id": user["Id"],
        "organization_id": ORG_ID,
        "preferred_username": user.get("Username"),
        "nickname": user.get("Alias"),
        "name": user.get("Name"),
        "email": user.get("Email"),
        "email_verified": True,
        "given_name": user.get("FirstName"),
        "family_name": user.get("LastName"),
        "zoneinfo": "America/Los_Angeles",
        "active": bool(user.get("IsActive", True)),
        "user_type": user.get("UserType", "STANDARD"),
        "profile_name": getattr(profile, "name", None) if profile is not None else None,
    }


def _bearer(request: Request) -> str | None:
    match = _AUTH.match(request.headers.get("Authorization", ""))
    return match.group(1) if match else None


def _json_response(body: Any, status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type=JSON_TYPE)


def _reply_response(reply: Reply, *, truncate: bool) -> Response:
    payload = reply.payload()
    status = reply.status
    if truncate:
        # A proxy cut the answer short: the work was done, the client cannot read the result.
        payload = (payload or b'{"id":"')[: max(1, len(payload) // 2)]
        status = 200 if status == 204 else status
    if status == 204:
        response = Response(b"", status=204)
    else:
        response = Response(payload, status=status, content_type=JSON_TYPE)
    for key, value in reply.headers.items():
        response.headers[key] = value
    return response


def _server_unavailable() -> list[dict[str, str]]:
    return [
        {
            "errorCode": "SERVER_UNAVAILABLE",
            "message": "Server temporarily unavailable due to load; please retry your request.",
        }
    ]


def _lock_reply(call: Call) -> Reply:
    """UNABLE_TO_LOCK_ROW as Salesforce reports it: per record in collections, else a 400."""
    if call.path == "/composite/sobjects" and call.method in ("POST", "PATCH", "DELETE"):
        count = _collection_size(call)
        if count:
            failure = errors.unable_to_lock_row(None).per_record()
            return Reply(
                200, [{"id": None, "success": False, "errors": [failure]} for _ in range(count)]
            )
    return Reply(400, [errors.unable_to_lock_row(None).top_level()])


def _collection_size(call: Call) -> int:
    if call.method == "DELETE":
        return len([i for i in call.args.get("ids", "").split(",") if i])
    try:
        body = call.body()
    except ApiError:
        return 0
    records = body.get("records") if isinstance(body, dict) else None
    return len(records) if isinstance(records, list) and len(records) <= 200 else 0


def _no_delay(environ: dict[str, Any]) -> None:
    """Send answers at once: after a TLS 1.3 handshake the server's session tickets are still
    unacknowledged, and Nagle's algorithm would hold the response ~10 ms for the client's ACK."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        return


def _drop_connection(request: Request) -> None:
    """Close the client's connection without an answer (a reset under load)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return
