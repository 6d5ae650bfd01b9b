"""The HubSpot CRM emulator: a WSGI app serving CRM v3/v4 and the `/__sandbox/` admin set.

Each API request is authenticated by its bearer token, may be failed by fault injection, is
counted against HubSpot's limits, and is then handled under one lock (the server is threaded).
Handlers live in objects.py, associations.py and meta.py; this module wires them to the state,
renders answers and errors the way HubSpot does, and offers what the sandbox runner and the
simulated people need: seeding, people and their tokens, stats, limits, and admin actions
(form submissions, marketing email events, list membership, score changes).
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from sandbox.admin import SandboxHooks, handle_admin
from sandbox.core import Clock, FaultConfig, FaultInjector
from sandbox.hubspot import meta, schema
from sandbox.hubspot.calls import JSON_TYPE, Call, Reply
from sandbox.hubspot.errors import AUTH_MESSAGE, ApiError
from sandbox.hubspot.limits import RateLimiter
from sandbox.hubspot.people import (
    Caller,
    Directory,
    default_app,
    default_seed_people,
    directory_from_seed,
)
from sandbox.hubspot.routes import ROUTES, endpoint_key, url_map
from sandbox.hubspot.store import HubList, Portal, Record, Source
from sandbox.hubspot.values import Checker, as_text, iso, parse_moment, truncate_ms
from sandbox.seeddata import HubSpotSeed, SandboxPerson

log = logging.getLogger(__name__)

DEFAULT_FAULTS = ("502", "503", "429")
# HubSpot's documented 429 is the body alone (errorType RATE_LIMIT, policyName); Retry-After is
# reported on some of its endpoints, not promised on any, so a client must handle both.
ALL_FAULTS = (*DEFAULT_FAULTS, "429_no_retry_after", "timeout", "reset", "malformed")
ADMIN_PREFIX = "/__sandbox/"
DEFAULT_PORTAL_ID = 24_681_357

_BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_GATEWAY_TIMEOUT = _BAD_GATEWAY.replace(b"502 Bad Gateway", b"504 Gateway Time-out")

# What each marketing email event does to the contact: (counter, last date, first date).
EMAIL_EVENT_PROPERTIES: dict[str, tuple[str, str, str | None]] = {
    "SENT": ("hs_email_delivered", "hs_email_last_send_date", None),
    "OPEN": ("hs_email_open", "hs_email_last_open_date", "hs_email_first_open_date"),
    "CLICK": ("hs_email_click", "hs_email_last_click_date", "hs_email_first_click_date"),
}

# What a tracked sales email's recipient did -> the email engagement's counter.
SALES_EMAIL_COUNTERS: dict[str, str] = {
    "OPEN": "hs_email_open_count",
    "CLICK": "hs_email_click_count",
    "REPLY": "hs_email_reply_count",
}
MEETING_TO_CONTACT = 200  # HUBSPOT_DEFINED meeting -> contact


class HubSpotFaults(FaultInjector):
    """Faults picked by default among 502/503/429; a 429 without Retry-After, timeout, reset and
    malformed on request."""

    def __init__(self) -> None:
        super().__init__(ALL_FAULTS)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.config = FaultConfig(kinds=DEFAULT_FAULTS)


class HubSpotEmulator:
    """One HubSpot portal in memory, served as WSGI (`wsgi_app`)."""

    def __init__(self, *, clock: Clock | None = None, hooks: SandboxHooks | None = None) -> None:
        self.clock = clock or Clock()
        self.hooks = hooks or SandboxHooks()
        self.faults: FaultInjector = HubSpotFaults()
        self.limiter = RateLimiter()
        self.fault_timeout_seconds = 35.0
        self._lock = threading.RLock()
        self._map: Map = url_map()
        self._calls: Counter[str] = Counter()
        self._by_owner: Counter[str] = Counter()
        self._internal_errors = 0
        users, owners = default_seed_people()
        seed = HubSpotSeed(
            portal_id=DEFAULT_PORTAL_ID, app=default_app(), users=users, owners=owners
        )
        self.directory: Directory = directory_from_seed(seed, previous=None)
        self.portal = Portal()

    # ------------------------------------------------------------------ the interface

    @property
    def email_events(self) -> list[dict[str, Any]]:
        """Marketing email events, kept on the portal for the Email Events API."""
        return self.portal.email_events

    @property
    def form_submissions(self) -> list[dict[str, Any]]:
        """Form submissions, kept on the portal for the Form Submissions API."""
        return self.portal.form_submissions

    @property
    def integration_token(self) -> str:
        return self.directory.app_token

    def people(self) -> list[SandboxPerson]:
        return self.directory.people()

    def load(self, seed: HubSpotSeed) -> None:
        """Replace all state with the seed; people keep their tokens across a reseed."""
        with self._lock:
            directory = directory_from_seed(seed, previous=self.directory)
            if not directory.users:
                directory.users, directory.owners = _with_tokens(self.directory)
            portal = Portal()
            now = truncate_ms(self.clock.now())
            for object_name, records in seed.records.items():
                ot = schema.object_type(object_name)
                if ot is None:
                    raise ValueError(f"seed names an unknown object type {object_name!r}")
                # Records may keep the owner id of a deactivated (archived) owner, as in HubSpot.
                owners = frozenset(str(o["id"]) for o in directory.owners)
                checker = Checker(ot.name, owner_ids=owners, allow_read_only=True)
                for raw in records:
                    _load_record(portal, ot, raw, checker=checker, now=now)
            for association in seed.associations:
                _load_association(portal, association)
            for raw_list in seed.lists:
                lst = _load_list(raw_list, now)
                portal.lists[lst.list_id] = lst
            self.portal, self.directory = portal, directory
            self.limiter.configure(
                {"daily": seed.daily_limit, "burst": seed.burst_limit}, now=self.clock.now()
            )
            self._reset_counters()

    def clear(self) -> None:
        """No records; the app, users, owners and list definitions stay (`--seed empty`)."""
        with self._lock:
            lists = self.portal.lists
            self.portal = Portal()
            for lst in lists.values():
                lst.members.clear()
                lst.first_added.clear()
                self.portal.lists[lst.list_id] = lst
            self._reset_counters()

    def _reset_counters(self) -> None:
        self.limiter.reset()
        self.email_events.clear()
        self.form_submissions.clear()
        self._calls.clear()
        self._by_owner.clear()
        self._internal_errors = 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self._calls.values()),
                "today": self.limiter.today(self.clock.now()),
                "daily_limit": self.limiter.limits.daily,
                "burst_limit": self.limiter.limits.burst,
                "rate_limited": self.limiter.refused,
                "internal_errors": self._internal_errors,
                "by_endpoint": dict(sorted(self._calls.items())),
                "by_token_owner": dict(sorted(self._by_owner.items())),
                "records": {
                    name: sum(1 for _ in self.portal.iter_live(name))
                    for name in schema.OBJECT_TYPES
                },
            }

    def set_limits(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.limiter.configure(body, now=self.clock.now())

    def admin_extra(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any] | None:
        action = _ADMIN_ACTIONS.get((method, path))
        if action is None:
            return None
        with self._lock:
            return 200, action(self, body)

    # ------------------------------------------------------------------ WSGI

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith(ADMIN_PREFIX):
            response = self._admin(request)
        else:
            response = self._api(request, environ)
        return response(environ, start_response)

    def _admin(self, request: Request) -> Response:
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _json_response(
                400, {"error": "BAD_ADMIN_REQUEST", "message": f"not JSON: {exc}"}
            )
        if not isinstance(body, dict):
            return _json_response(
                400, {"error": "BAD_ADMIN_REQUEST", "message": "body must be an object"}
            )
        status, answer = handle_admin(self, request.method, request.path[len(ADMIN_PREFIX) :], body)
        return _json_response(status, answer)

    def _api(self, request: Request, environ: dict[str, Any]) -> Response:
        correlation_id = str(uuid.uuid4())
        try:
            reply = self._answer(request, environ, correlation_id)
        except _ConnectionReset:
            raise ConnectionResetError("sandbox fault: connection reset") from None
        except ApiError as exc:
            reply = Reply(exc.status, exc.body(correlation_id), exc.headers)
        except Exception:
            log.exception("HubSpot emulator failed on %s %s", request.method, request.path)
            with self._lock:
                self._internal_errors += 1
            body = {
                "status": "error",
                "message": "internal error",
                "correlationId": correlation_id,
                "category": "INTERNAL_ERROR",
            }
            reply = Reply(500, body)
        return _render(reply, correlation_id)

    def _answer(self, request: Request, environ: dict[str, Any], correlation_id: str) -> Reply:
        caller = self._authenticate(request)
        route, args = self._route(request)
        key = endpoint_key(request.method, route, args)
        with self._lock:
            self._calls[key] += 1
            self._by_owner[caller.name] += 1
        fault = self.faults.pick()
        if fault is not None:
            self.faults.note(fault)
        if fault is not None and fault != "malformed":
            return self._fault(fault, environ, caller, correlation_id)
        now = truncate_ms(self.clock.now())
        verdict = self.limiter.admit(caller.key, search=route.search, now=now, group=caller.group)
        raw_body = request.get_data()
        try:
            with self._lock:
                call = Call(
                    portal=self.portal,
                    directory=self.directory,
                    caller=caller,
                    now=now,
                    query=request.args,
                    raw_body=raw_body,
                    base_url=request.host_url.rstrip("/"),
                    path=request.path,
                )
                reply = route.handler(call, **args)
        except ApiError as exc:
            exc.headers = {**verdict.headers, **exc.headers}
            raise
        reply.headers = {**verdict.headers, **reply.headers}
        if fault == "malformed":
            return _garbled(reply)
        return reply

    def _authenticate(self, request: Request) -> Caller:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        caller = self.directory.caller(token.strip()) if scheme.lower() == "bearer" else None
        if caller is None:
            raise ApiError(401, "INVALID_AUTHENTICATION", AUTH_MESSAGE)
        return caller

    def _route(self, request: Request) -> tuple[Any, dict[str, str]]:
        adapter = self._map.bind("sandbox", path_info=request.path, url_scheme="http")
        try:
            index, args = adapter.match(method=request.method)
        except MethodNotAllowed:
            raise ApiError(
                405, "VALIDATION_ERROR", f"HTTP method {request.method} is not supported here"
            ) from None
        except HTTPException:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"No endpoint at {request.path}") from None
        return ROUTES[int(index)], dict(args)

    def _fault(
        self, kind: str, environ: dict[str, Any], caller: Caller, correlation_id: str
    ) -> Reply:
        """A failure rendered the way HubSpot's edge renders it."""
        if kind == "reset":
            _reset_connection(environ)
        if kind == "timeout":
            time.sleep(self.fault_timeout_seconds)
            return Reply(504, _GATEWAY_TIMEOUT, content_type="text/html")
        if kind == "502":
            return Reply(502, _BAD_GATEWAY, content_type="text/html")
        if kind == "503":
            body = {
                "status": "error",
                "message": "The service is temporarily unavailable. Please try again later.",
                "correlationId": correlation_id,
                "category": "SERVICE_UNAVAILABLE",
            }
            return Reply(503, body)
        limits = self.limiter.limits
        headers = {
            "X-HubSpot-RateLimit-Max": str(limits.burst),
            "X-HubSpot-RateLimit-Remaining": "0",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        }
        if kind == "429":
            headers["Retry-After"] = "1"
        return Reply(
            429,
            {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": correlation_id,
                "policyName": "TEN_SECONDLY_ROLLING",
                "groupName": caller.group,
                "category": "RATE_LIMITS",
            },
            headers,
        )

    # ------------------------------------------------------------------ admin actions

    def _form_submission(self, body: dict[str, Any]) -> dict[str, Any]:
        """A form on the website was submitted: create or update the contact (sourceType FORM)."""
        email = str(body["email"]).strip()
        form_id, form_name = str(body["form_id"]), str(body.get("form_name") or body["form_id"])
        now = truncate_ms(self.clock.now())
        checker = Checker("contacts", owner_ids=self.directory.owner_ids())
        values, problems = checker.check({"email": email, **dict(body.get("properties") or {})})
        if problems:
            raise ValueError("; ".join(f"{p.name}: {p.message}" for p in problems))
        contact = self.portal.by_email(email)
        count = int(contact.values.get("num_conversion_events") or 0) if contact else 0
        values |= {
            "recent_conversion_event_name": form_name,
            "recent_conversion_date": iso(now),
            "num_conversion_events": str(count + 1),
        }
        if contact is None or not contact.values.get("first_conversion_event_name"):
            values |= {"first_conversion_event_name": form_name, "first_conversion_date": iso(now)}
        source = Source("FORM", form_id)
        if contact is None:
            contact = self.portal.create("contacts", values, source=source, at=now)
            created = True
        else:
            self.portal.write(contact, values, source=source, at=now)
            created = False
        self.form_submissions.append(
            {
                "at": iso(now),
                "contact_id": str(contact.id),
                "email": email,
                "form_id": form_id,
                "form_name": form_name,
                "page_url": str(body.get("page_url") or ""),
            }
        )
        return {"contact_id": str(contact.id), "created": created}

    def _email_event(self, body: dict[str, Any]) -> dict[str, Any]:
        """A marketing email was sent, opened or clicked: hs_email_* change (sourceType EMAIL)."""
        kind = str(body["type"]).upper()
        if kind not in EMAIL_EVENT_PROPERTIES:
            raise ValueError(f"type must be one of {sorted(EMAIL_EVENT_PROPERTIES)}, got {kind!r}")
        contact = self._contact(body["contact_id"])
        counter, last, first = EMAIL_EVENT_PROPERTIES[kind]
        now = truncate_ms(self.clock.now())
        values = {counter: str(int(contact.values.get(counter) or 0) + 1), last: iso(now)}
        if kind == "SENT":
            values["hs_email_last_email_name"] = str(body.get("email_name") or "")
        if first and not contact.values.get(first):
            values[first] = iso(now)
        campaign = str(body.get("email_campaign_id") or "")
        self.portal.write(contact, values, source=Source("EMAIL", campaign or None), at=now)
        event = {
            "id": str(len(self.email_events) + 1),
            "type": kind,
            "contact_id": str(contact.id),
            "recipient": contact.values.get("email", ""),
            "email_campaign_id": campaign,
            "email_name": str(body.get("email_name") or ""),
            "created": iso(now),
        }
        self.email_events.append(event)
        return event

    def _email_tracking(self, body: dict[str, Any]) -> dict[str, Any]:
        """The recipient of a tracked one-to-one (sales) email opened it, clicked a link in it or
        replied: HubSpot bumps the email engagement's counter (read-only through the API)."""
        kind = str(body["type"]).upper()
        if kind not in SALES_EMAIL_COUNTERS:
            raise ValueError(f"type must be one of {sorted(SALES_EMAIL_COUNTERS)}, got {kind!r}")
        email = self.portal.live("emails", int(str(body["email_id"])))
        if email is None:
            raise ValueError(f"no live email engagement {body['email_id']}")
        counter = SALES_EMAIL_COUNTERS[kind]
        now = truncate_ms(self.clock.now())
        count = str(int(email.values.get(counter) or 0) + 1)
        self.portal.write(email, {counter: count}, source=Source("EMAIL"), at=now)
        return {"email_id": str(email.id), counter: count}

    def _meeting_booked(self, body: dict[str, Any]) -> dict[str, Any]:
        """A contact booked a meeting on a HubSpot scheduling page: a meeting engagement with
        hs_meeting_source MEETINGS_PUBLIC (or the given source), on the contact's timeline."""
        contact = self._contact(body["contact_id"])
        now = truncate_ms(self.clock.now())
        start = parse_moment(as_text(body["start"])) if body.get("start") else now
        checker = Checker("meetings", owner_ids=self.directory.owner_ids(), allow_read_only=True)
        values, problems = checker.check(
            {
                "hs_timestamp": iso(start),
                "hs_meeting_title": str(body.get("title") or "Meeting"),
                "hs_meeting_start_time": iso(start),
                "hs_meeting_end_time": iso(start),
                "hs_meeting_outcome": "SCHEDULED",
                "hs_meeting_source": str(body.get("source") or "MEETINGS_PUBLIC"),
            }
        )
        if problems:
            raise ValueError("; ".join(f"{p.name}: {p.message}" for p in problems))
        meeting = self.portal.create("meetings", values, source=Source("MEETINGS"), at=now)
        self.portal.associate(meeting, contact, MEETING_TO_CONTACT)
        return {"id": str(meeting.id), "contact_id": str(contact.id)}

    def _list_membership(self, body: dict[str, Any]) -> dict[str, Any]:
        lst = self.portal.lists.get(int(body["list_id"]))
        if lst is None:
            raise ValueError(f"no list {body['list_id']}")
        add, remove = list(body.get("add") or []), list(body.get("remove") or [])
        now = truncate_ms(self.clock.now())
        return meta.change_members(self.portal, lst, add, remove, at=now, by_filters=True)

    def _score(self, body: dict[str, Any]) -> dict[str, Any]:
        """HubSpot recalculated a contact's score (hubspotscore is read-only through the API)."""
        contact = self._contact(body["contact_id"])
        score = float(body["score"])
        text = str(int(score)) if score.is_integer() else str(score)
        now = truncate_ms(self.clock.now())
        self.portal.write(contact, {"hubspotscore": text}, source=Source("CALCULATED"), at=now)
        return {"contact_id": str(contact.id), "hubspotscore": text}

    def _fault_settings(self, body: dict[str, Any]) -> dict[str, Any]:
        if "timeout_seconds" in body:
            seconds = float(body["timeout_seconds"])
            if seconds < 0:
                raise ValueError("timeout_seconds must be >= 0")
            self.fault_timeout_seconds = seconds
        return {"timeout_seconds": self.fault_timeout_seconds}

    def _contact(self, raw_id: Any) -> Record:
        contact = self.portal.live("contacts", int(str(raw_id)))
        if contact is None:
            raise ValueError(f"no live contact {raw_id}")
        return contact


_ADMIN_ACTIONS: dict[tuple[str, str], Any] = {
    ("POST", "form-submission"): HubSpotEmulator._form_submission,
    ("POST", "email-event"): HubSpotEmulator._email_event,
    ("POST", "email-tracking"): HubSpotEmulator._email_tracking,
    ("POST", "meeting-booked"): HubSpotEmulator._meeting_booked,
    ("GET", "email-events"): lambda emu, _body: list(emu.email_events),
    ("GET", "form-submissions"): lambda emu, _body: list(emu.form_submissions),
    ("POST", "list-membership"): HubSpotEmulator._list_membership,
    ("POST", "score"): HubSpotEmulator._score,
    ("POST", "fault-settings"): HubSpotEmulator._fault_settings,
}


# ---------------------------------------------------------------------- seeding


def _with_tokens(directory: Directory) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return [dict(u) for u in directory.users], [dict(o) for o in directory.owners]


def _stamp(raw: Any, fallback: datetime) -> datetime:
    moment = parse_moment(as_text(raw)) if raw not in (None, "") else None
    return truncate_ms(moment) if moment is not None else fallback


def _load_record(
    portal: Portal, ot: schema.ObjectType, raw: dict[str, Any], *, checker: Checker, now: datetime
) -> None:
    """A seeded record, with each initial value in history from the seed's `_source`."""
    record_id = int(str(raw["id"]))
    values, problems = checker.check(raw.get("properties") or {})
    if problems:
        listed = "; ".join(f"{p.name}: {p.message}" for p in problems)
        raise ValueError(f"seeded {ot.singular} {record_id} has invalid values: {listed}")
    created = _stamp(raw.get("createdAt") or values.get(ot.created), now)
    updated = max(created, _stamp(raw.get("updatedAt") or values.get(ot.modified), created))
    values.setdefault(ot.modified, iso(updated))
    source = Source(
        str(raw.get("_source") or "IMPORT"),
        raw.get("_source_id"),
        raw.get("_updated_by"),
    )
    record = portal.create(ot.name, values, source=source, at=created, record_id=record_id)
    record.updated_at = updated
    if raw.get("archived"):
        portal.archive(record, at=updated)


def _load_association(portal: Portal, association: Iterable[Any]) -> None:
    from_type, from_id, to_type, to_id, type_id = association
    kind = schema.ASSOCIATION_TYPES.get(int(type_id))
    source_ot, target_ot = schema.object_type(str(from_type)), schema.object_type(str(to_type))
    if kind is None or source_ot is None or target_ot is None:
        raise ValueError(f"seeded association {association!r} names unknown types")
    if (kind.source, kind.target) != (source_ot.name, target_ot.name):
        raise ValueError(f"association type {type_id} does not go from {from_type} to {to_type}")
    source = portal.get(source_ot.name, int(str(from_id)))
    target = portal.get(target_ot.name, int(str(to_id)))
    if source is None or target is None:
        raise ValueError(f"seeded association {association!r} names a record that does not exist")
    portal.associate(source, target, kind.id)


def _load_list(raw: dict[str, Any], now: datetime) -> HubList:
    ot = schema.object_type(str(raw.get("objectTypeId") or "0-1"))
    if ot is None:
        raise ValueError(f"seeded list {raw.get('name')!r} has an unknown objectTypeId")
    processing = str(raw.get("processingType") or "MANUAL")
    if processing not in ("MANUAL", "DYNAMIC", "SNAPSHOT"):
        raise ValueError(f"seeded list {raw.get('name')!r}: processingType {processing!r}")
    lst = HubList(
        list_id=int(str(raw["listId"])),
        name=str(raw["name"]),
        processing_type=processing,
        object_type_id=ot.type_id,
        created_at=now,
        updated_at=now,
    )
    for member in raw.get("memberships") or []:
        lst.members[int(str(member))] = now
        lst.first_added[int(str(member))] = now
    if lst.members:
        lst.last_added_at = now
    return lst


# ---------------------------------------------------------------------- rendering


class _ConnectionReset(Exception):
    """Raised after the socket was reset, so no answer is written."""


def _reset_connection(environ: dict[str, Any]) -> None:
    """Close the client's connection with a TCP reset, as a dropped HubSpot edge would."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            # Linger 0 makes the final close a RST; shutdown ends the exchange now (close() alone
            # waits for the server's file objects on the socket to be released).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise _ConnectionReset


def _garbled(reply: Reply) -> Reply:
    """The same answer cut in half: a well-formed status with JSON that does not parse."""
    if reply.body is None:
        return Reply(200, b'{"status": "COMPLETE", "results": [', reply.headers)
    text = json.dumps(reply.body).encode()
    return Reply(reply.status, text[: max(1, len(text) // 2)], reply.headers)


def _render(reply: Reply, correlation_id: str) -> Response:
    headers = {
        "X-HubSpot-Correlation-Id": correlation_id,
        "X-Request-Id": correlation_id,
        **reply.headers,
    }
    if reply.body is None:
        return Response(status=reply.status, headers=headers)
    data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
    return Response(data, status=reply.status, headers=headers, content_type=reply.content_type)


def _json_response(status: int, body: Any) -> Response:
    return Response(json.dumps(body).encode(), status=status, content_type=JSON_TYPE)
