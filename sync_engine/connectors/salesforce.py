"""The Salesforce edge: a simple-salesforce client built from credentials, session injected.

Tests and the embedded sandbox pass a `requests.Session` that trusts the sandbox CA; real orgs get a
session built here. `trust_env` is always off when a CA bundle is given, because an environment
`REQUESTS_CA_BUNDLE` would otherwise override `session.verify` (client-facts.md).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote_plus, urlparse

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError
from simple_salesforce.login import SalesforceLogin, token_login

from sync_engine.connectors.server_clock import ServerClock
from sync_engine.connectors.usage import (
    ApiCall,
    CallLog,
    now_utc,
    salesforce_endpoint,
    salesforce_quota,
)
from sync_engine.errors import (
    CONNECTION_FAILED,
    DAILY_LIMIT_WAIT,
    MALFORMED_RESPONSE,
    TIMEOUT,
    AuthenticationError,
    ConfigurationError,
    LeadBridgeError,
    RecordError,
    RetriableError,
    SessionExpiredError,
    classify,
)
from sync_engine.retry import RetryPolicy, call_with_retry
from sync_engine.settings import SalesforceCredentials

T = TypeVar("T")
DEFAULT_RETRY = RetryPolicy()
DEFAULT_TIMEOUT = 120.0  # seconds to wait for an answer; Salesforce itself gives up after 10 min

API_VERSION = "59.0"
NOT_CONFIGURED = (
    "Salesforce is not configured: set SALESFORCE_INSTANCE_URL and SALESFORCE_SESSION_ID, "
    "or SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN, or "
    "SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET with SALESFORCE_DOMAIN"
)
CANNOT_RENEW = (
    "the Salesforce session has expired and a session id alone cannot be renewed: set a fresh "
    "SALESFORCE_SESSION_ID, or set SALESFORCE_USERNAME, SALESFORCE_PASSWORD and "
    "SALESFORCE_SECURITY_TOKEN (or SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET) so that "
    "LeadBridge can log in again"
)
FRESH_REFUSED = (
    "Salesforce refused the session it had just issued (INVALID_SESSION_ID); check the "
    "integration user's session settings (IP restrictions, session timeout) and that it is "
    "API-enabled"
)


def make_session(creds: SalesforceCredentials) -> requests.Session:
    """A requests session for this org: trusting the configured CA bundle when there is one."""
    session = requests.Session()
    if creds.ca_bundle is not None:
        if not creds.ca_bundle.exists():
            raise ConfigurationError(
                f"SALESFORCE_CA_BUNDLE points at {creds.ca_bundle}, which does not exist; "
                "start the sandbox (python -m sync_engine sandbox) or fix the path"
            )
        session.verify = str(creds.ca_bundle)
        session.trust_env = False
    return session


def make_salesforce_client(
    creds: SalesforceCredentials,
    *,
    session: requests.Session | None = None,
    version: str = API_VERSION,
) -> Salesforce:
    """A client on the configured session id, or on a session from a fresh login.

    Raises ConfigurationError when no method is configured and AuthenticationError when the org
    refuses the login, each with the fix in the message (never the secret itself).
    """
    if creds.method is None:
        raise ConfigurationError(NOT_CONFIGURED)
    session = session if session is not None else make_session(creds)
    if creds.method == "session":
        return _client(creds.instance_url, creds.session_id, session=session, version=version)
    return logged_in_client(creds, session=session, version=version)


def _client(
    instance_url: str | None, session_id: str | None, *, session: requests.Session, version: str
) -> Salesforce:
    """simple-salesforce on this session, parsing answers into plain dicts: its default, an
    OrderedDict per object, doubles the cost of decoding a 2,000-row query page, and each row
    becomes a record's values."""
    return Salesforce(
        instance_url=instance_url,
        session_id=session_id,
        session=session,
        version=version,
        object_pairs_hook=None,
    )


def logged_in_client(
    creds: SalesforceCredentials, *, session: requests.Session, version: str = API_VERSION
) -> Salesforce:
    """A client on a new session from the credentials' login (password or client credentials)."""
    session_id, instance = log_in(creds, session=session, version=version)
    return _client(f"https://{instance}", session_id, session=session, version=version)


def login_url(creds: SalesforceCredentials) -> str:
    """Where to log in: the host SALESFORCE_DOMAIN names (`login`, `test` or a My Domain such
    as `acme.my`), else the instance URL (a My Domain takes logins), else login.salesforce.com."""
    if creds.domain:
        return f"https://{creds.domain}.salesforce.com"
    if creds.instance_url:
        return creds.instance_url.rstrip("/")
    return "https://login.salesforce.com"


def log_in(
    creds: SalesforceCredentials, *, session: requests.Session, version: str = API_VERSION
) -> tuple[str, str]:
    """A new session id and instance host, through simple-salesforce's own login calls: the SOAP
    `login()` for a password, the OAuth token endpoint for client credentials."""
    method = creds.login_method
    base = login_url(creds)
    try:
        if method == "password":
            return SalesforceLogin(
                username=creds.username,
                password=creds.password,
                security_token=creds.security_token or "",
                sf_version=version,
                session=session,
                scratch_url=base,
            )
        if method == "client_credentials":
            pair = f"{creds.client_id}:{creds.client_secret}".encode()
            return token_login(
                f"{base}/services/oauth2/token",
                {"grant_type": "client_credentials"},
                creds.domain or "login",
                str(creds.client_id),
                {"Authorization": f"Basic {base64.b64encode(pair).decode()}"},
                None,
                session,
            )
    except SalesforceAuthenticationFailed as exc:
        raise AuthenticationError(
            f"Salesforce refused the {method} login at {base} ({exc.code}); check the "
            "credentials and that the integration user is active and API-enabled"
        ) from None
    except requests.RequestException as exc:
        raise RetriableError(
            f"Salesforce login at {base} failed: {type(exc).__name__}", code=CONNECTION_FAILED
        ) from None
    raise ConfigurationError(NOT_CONFIGURED)


def connect_salesforce(
    creds: SalesforceCredentials,
    *,
    calls: CallLog | None = None,
    session: requests.Session | None = None,
    timeout: float | None = None,
) -> SalesforceConnector:
    """A connector on these credentials that logs in again when its session expires, if they
    allow a login (a session id alone cannot be renewed)."""
    session = session if session is not None else make_session(creds)
    client = make_salesforce_client(creds, session=session)
    renew = partial(logged_in_client, creds, session=session) if creds.login_method else None
    return SalesforceConnector(client, calls=calls, renew=renew, timeout=timeout or DEFAULT_TIMEOUT)


# --------------------------------------------------------------------------- reading and writing

COLLECTION_SIZE = 200  # sObject Collections accept at most 200 records per request
COMPOSITE_QUERIES = 5  # POST /composite (one API call) takes at most 5 Query/QueryAll subrequests
# sObject Collections per save operation: method and path.
SAVE_ENDPOINTS: Mapping[str, tuple[str, str]] = {
    "create": ("POST", "composite/sobjects"),
    "update": ("PATCH", "composite/sobjects"),
    "upsert": ("PATCH", "composite/sobjects/{sobject}/{field}"),
}
# Request headers per save operation. The REST API runs the active lead assignment rule on every
# Lead created or updated unless told not to (Sforce-Auto-Assign defaults to TRUE): a sync that
# corrects a Lead's phone must not route it to another rep. Creates keep the default, so a new
# Lead is routed as the org's rules say.
SAVE_HEADERS: Mapping[str, Mapping[str, str]] = {"update": {"Sforce-Auto-Assign": "FALSE"}}

_SOQL_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"'}


def soql_quote(value: str) -> str:
    """A SOQL string literal: every character that could end or bend the literal is escaped.

    User input (an email typed in the dashboard, a criterion value) only ever reaches SOQL through
    here, so it can never change the query beyond its value.
    """
    if "\x00" in value:
        raise ValueError("a SOQL value cannot contain a null byte")
    return "'" + "".join(_SOQL_ESCAPES.get(ch, ch) for ch in value) + "'"


@dataclass(frozen=True)
class RecordFailure:
    """Why Salesforce refused one record: its statusCode, message and the fields it named."""

    code: str
    message: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class SaveOutcome:
    """The SaveResult of one record of a collection write, in input order."""

    index: int
    id: str | None
    success: bool
    created: bool | None = None
    errors: tuple[RecordFailure, ...] = ()


class SalesforceConnector:
    """Reads and writes an org through simple-salesforce, counting every call.

    Every HTTP response passes through a requests hook on the injected session, so the call log
    sees each request (nextRecordsUrl pages and failed calls included) with the quota reported in
    Sforce-Limit-Info. Failures are mapped to RetriableError / RecordError / FatalError by
    `errors.classify`; retriable ones are retried under the policy. An expired session
    (INVALID_SESSION_ID) is renewed once through `renew` (a fresh login on the same requests
    session, so the hook stays) and the call is made again; without `renew` it is fatal.
    """

    system = "salesforce"

    def __init__(
        self,
        client: Salesforce,
        *,
        calls: CallLog | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[RetriableError, int, float], None] | None = None,
        renew: Callable[[], Salesforce] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.client = client
        self.calls = calls if calls is not None else CallLog()
        self.retry = retry
        self._sleep = sleep
        self.on_retry = on_retry
        self.timeout = timeout
        self.renewals = 0
        self._renew = renew
        self._renew_lock = threading.Lock()
        self.server_clock = ServerClock()  # how far Salesforce's clock has certainly got
        client.session.hooks.setdefault("response", []).append(self._record_call)

    # -- plumbing

    def _record_call(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        request = response.request
        if "/services/data/" not in (request.url or ""):
            return  # OAuth endpoints (userinfo, token) are not API calls against the limit
        self.server_clock.note(response.headers.get("Date"))
        used, limit = salesforce_quota(response.headers)
        self.calls.add(
            ApiCall(
                system=self.system,
                endpoint=salesforce_endpoint(request.method or "GET", urlparse(request.url).path),
                status=response.status_code,
                at=now_utc(),
                used_today=used,
                daily_limit=limit,
            )
        )

    def _attempt(self, fn: Callable[[], T]) -> T:
        """One request, with every failure mapped to LeadBridge's error classes."""
        try:
            return fn()
        except SalesforceError as exc:
            raise _map_salesforce_error(exc) from None
        except requests.Timeout as exc:
            raise RetriableError(
                f"Salesforce did not answer within {self.timeout:g} s ({type(exc).__name__})",
                code=TIMEOUT,
            ) from None
        except requests.ConnectionError as exc:
            raise RetriableError(
                f"Salesforce connection failed: {type(exc).__name__}", code=CONNECTION_FAILED
            ) from None
        except (ValueError, KeyError, TypeError) as exc:  # a malformed or truncated JSON body
            raise RetriableError(
                f"Salesforce sent a malformed response ({exc})", code=MALFORMED_RESPONSE
            ) from None

    def _once(self, fn: Callable[[], T]) -> T:
        """One attempt of a call; an expired session is renewed once and the call made again."""
        try:
            return self._attempt(fn)
        except SessionExpiredError as exc:
            self._renew_session(exc)
        try:
            return self._attempt(fn)
        except SessionExpiredError:
            raise AuthenticationError(FRESH_REFUSED) from None

    def _renew_session(self, expired: SessionExpiredError) -> None:
        """Log in again (the audit records it as a resolved transient), or stop with the fix."""
        if self._renew is None:
            raise SessionExpiredError(f"{expired}: {CANNOT_RENEW}") from None
        with self._renew_lock:
            self.client = self._renew()
            self.renewals += 1
        if self.on_retry is not None:
            note = RetriableError(f"{expired}; logged in again", code="INVALID_SESSION_ID")
            self.on_retry(note, 1, 0.0)

    def _call(self, fn: Callable[[], T]) -> T:
        return call_with_retry(
            lambda: self._once(fn), policy=self.retry, sleep=self._sleep, on_retry=self.on_retry
        )

    def restful(
        self,
        path: str,
        *,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Any:
        """A REST call relative to /services/data/vXX.X/, retried when transient."""
        kwargs: dict[str, Any] = {"method": method, "timeout": self.timeout}
        if params:
            kwargs["params"] = params
        if body is not None:
            kwargs["json"] = body
        if headers:
            kwargs["headers"] = dict(headers)
        return self._call(lambda: self.client.restful(path, **kwargs))

    # -- metadata

    def describe(self, sobject: str) -> dict[str, Any]:
        return self.restful(f"sobjects/{sobject}/describe")

    def limits(self) -> dict[str, Any]:
        return self.restful("limits/")

    def user_info(self) -> dict[str, Any]:
        """Who the integration runs as (`/services/oauth2/userinfo`): its user_id drives echo
        suppression, its profile the integration-user check."""

        def fetch() -> dict[str, Any]:
            url = f"https://{self.client.sf_instance}/services/oauth2/userinfo"
            response = self.client.session.get(
                url, headers=self.client.headers, timeout=self.timeout
            )
            if response.status_code >= 300:
                raise _status_error(response.status_code, _json_or_text(response))
            return response.json()

        return self._call(fetch)

    # -- reads

    def query_all(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every row of a query, following nextRecordsUrl."""
        first = self.restful("queryAll/" if include_deleted else "query/", q=soql)
        return self._follow(first)

    def query_many(
        self, queries: Mapping[str, str], *, include_deleted: bool = False
    ) -> dict[str, list[dict[str, Any]]]:
        """Run several queries in Composite requests of up to 5 (one API call each) and follow
        each one's nextRecordsUrl; returns rows per query name."""
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in queries}
        for name, rows in self.query_pages(queries, include_deleted=include_deleted):
            results[name].extend(rows)
        return results

    def query_pages(
        self, queries: Mapping[str, str], *, include_deleted: bool = False
    ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """`query_many` one page at a time (query name, rows), so that a caller can store each
        page before the next is fetched: memory stays one page deep whatever the org's size."""
        names = list(queries)
        version = self.client.sf_version
        prefix = f"/services/data/v{version}/{'queryAll' if include_deleted else 'query'}/"
        for start in range(0, len(names), COMPOSITE_QUERIES):
            chunk = names[start : start + COMPOSITE_QUERIES]
            body = {
                "allOrNone": False,
                "compositeRequest": [
                    {
                        "method": "GET",
                        "url": f"{prefix}?q={quote_plus(queries[name])}",
                        "referenceId": f"q{i}",
                    }
                    for i, name in enumerate(chunk)
                ],
            }
            answer = self.restful("composite", method="POST", body=body)
            firsts = []
            for name, sub in zip(chunk, answer["compositeResponse"], strict=True):
                status = int(sub.get("httpStatusCode", 500))
                if status >= 300:
                    raise _status_error(status, sub.get("body"))
                firsts.append((name, sub["body"]))
            del answer
            for name, first in firsts:
                for rows in self._pages(first):
                    yield name, rows

    def _follow(self, page: dict[str, Any]) -> list[dict[str, Any]]:
        return [row for rows in self._pages(page) for row in rows]

    def _pages(self, page: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        yield list(page.get("records", []))
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            url = page["nextRecordsUrl"]
            page = self._call(
                lambda url=url: self.client.query_more(
                    url, identifier_is_url=True, timeout=self.timeout
                )
            )
            yield list(page.get("records", []))

    # -- writes

    def save(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        op: str,
        external_id_field: str | None = None,
    ) -> list[SaveOutcome]:
        """Create, update or upsert through sObject Collections, 200 per request, allOrNone off,
        so one refused record never fails its batch. Returns one outcome per record, in order.

        sobject is each record's type unless the record names its own in `attributes`: a create
        or update collection may mix types (an upsert's URL names its one type). An update
        leaves Lead owners alone (`SAVE_HEADERS`)."""
        if op not in SAVE_ENDPOINTS:
            raise ValueError(f"unknown save operation {op!r}")
        if op == "upsert" and not external_id_field:
            raise ValueError("an upsert needs the external id field")
        outcomes: list[SaveOutcome] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            chunk = records[start : start + COLLECTION_SIZE]
            body = {
                "allOrNone": False,
                "records": [{"attributes": {"type": sobject}, **dict(r)} for r in chunk],
            }
            method, path = SAVE_ENDPOINTS[op]
            path = path.format(sobject=sobject, field=external_id_field)
            answer = self.restful(path, method=method, body=body, headers=SAVE_HEADERS.get(op))
            outcomes.extend(_outcomes(answer, offset=start))
        return outcomes

    def delete(self, ids: Sequence[str]) -> list[SaveOutcome]:
        """Delete through sObject Collections (200 ids per request), allOrNone off."""
        outcomes: list[SaveOutcome] = []
        for start in range(0, len(ids), COLLECTION_SIZE):
            chunk = ",".join(ids[start : start + COLLECTION_SIZE])
            answer = self.restful(
                "composite/sobjects", method="DELETE", ids=chunk, allOrNone="false"
            )
            outcomes.extend(_outcomes(answer or [], offset=start))
        return outcomes


def _outcomes(answer: Sequence[Mapping[str, Any]], *, offset: int) -> list[SaveOutcome]:
    return [
        SaveOutcome(
            index=offset + i,
            id=item.get("id"),
            success=bool(item.get("success")),
            created=item.get("created"),
            errors=tuple(
                RecordFailure(
                    code=str(err.get("statusCode") or err.get("errorCode") or "UNKNOWN"),
                    message=str(err.get("message", "")),
                    fields=tuple(err.get("fields") or ()),
                )
                for err in item.get("errors") or ()
            ),
        )
        for i, item in enumerate(answer)
    ]


def _json_or_text(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _first_error(content: Any) -> tuple[str | None, str]:
    """The errorCode and message of a Salesforce error body (a list of {errorCode, message}, or
    a bare word such as userinfo's `Bad_OAuth_Token`)."""
    if isinstance(content, str) and content.strip().isidentifier():
        return content.strip(), content.strip()
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        first = content[0]
        return first.get("errorCode"), str(first.get("message", ""))
    if isinstance(content, Mapping):
        return content.get("errorCode") or content.get("error"), str(content.get("message", ""))
    return None, str(content)[:300]


# Salesforce answers both its daily allowance and its concurrent long-running requests with
# 403 REQUEST_LIMIT_EXCEEDED, and neither with a Retry-After; the message tells them apart.
_DAILY_LIMIT_MESSAGES = ("TotalRequests",)


def _status_error(status: int, content: Any) -> LeadBridgeError:
    code, message = _first_error(content)
    kind = classify(status, code)
    text = f"Salesforce answered {status} {code or ''}: {message}".strip()
    if issubclass(kind.kind, RecordError):
        return RecordError(text, code=code or str(status), category=kind.category)
    if issubclass(kind.kind, RetriableError):
        daily = code == "REQUEST_LIMIT_EXCEEDED" and message.startswith(_DAILY_LIMIT_MESSAGES)
        return kind.kind(
            text,
            code=code or str(status),
            retry_after=DAILY_LIMIT_WAIT if daily else None,
            system="salesforce",
        )
    return kind.kind(text)


def _map_salesforce_error(exc: SalesforceError) -> LeadBridgeError:
    return _status_error(int(getattr(exc, "status", 500) or 500), getattr(exc, "content", None))
