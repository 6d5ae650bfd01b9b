"""The Salesforce emulator: an in-memory org behind a REST API that simple-salesforce talks to.

`SalesforceEmulator` owns the org state (replaced whole by `load`/`clear`), the fault injector
and the admin set; `wsgi_app` serves `/services/data/v59.0+/...` and `/__sandbox/...`. See
app.py for the request pipeline, dml.py for writes, resources.py and composite.py for the
resources, schema.py for the describe metadata.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from sandbox.admin import AdminError, SandboxHooks, handle_admin
from sandbox.core import Clock, FaultConfig, FaultInjector, new_token
from sandbox.salesforce.app import RestApp
from sandbox.salesforce.call import Reply
from sandbox.salesforce.conversion import ConvertRequest, convert_lead
from sandbox.salesforce.dml import Dml
from sandbox.salesforce.errors import ApiError, RecordError
from sandbox.salesforce.ids import IdAllocator, is_valid_id, make_id, to_18
from sandbox.salesforce.login import LoginAnswer, LoginSecrets, Sessions, soap_login, token_login
from sandbox.salesforce.schema import (
    COMPOUND_NAME_PARTS,
    DATA_OBJECTS,
    INTEGRATION_PROFILE,
    ROLE_PROFILES,
    SCHEMA,
    STANDARD_PROFILE,
    ProfileSpec,
)
from sandbox.salesforce.store import Journal, Org, Record
from sandbox.salesforce.values import sf_datetime
from sandbox.seeddata import SalesforceSeed, SandboxPerson

DEFAULT_FAULT_KINDS: tuple[str, ...] = ("503", "UNABLE_TO_LOCK_ROW")
# concurrent_limit: 403 REQUEST_LIMIT_EXCEEDED "ConcurrentRequests", Salesforce's answer when too
# many long requests run at once (its REST API has no 429 and sends no Retry-After).
OPTIONAL_FAULT_KINDS: tuple[str, ...] = (
    "timeout",
    "reset",
    "malformed",
    "expired_session",
    "concurrent_limit",
)
DEFAULT_TIMEOUT_SECONDS = 5.0
TOKEN_PREFIX = "00D5g000004LBs!"

# The people of an empty org (`--seed empty`): the integration user and a few colleagues.
DEFAULT_PEOPLE: tuple[dict[str, Any], ...] = (
    {"FirstName": "LeadBridge", "LastName": "Integration", "_role": "integration"},
    {"FirstName": "Ada", "LastName": "Admin", "_role": "admin"},
    {"FirstName": "Riley", "LastName": "Rep", "_role": "rep"},
    {"FirstName": "Sam", "LastName": "Seller", "_role": "rep"},
    {"FirstName": "Morgan", "LastName": "Marketer", "_role": "marketer"},
)
EMAIL_DOMAIN = "leadbridge-sandbox.example"


class SalesforceFaults(FaultInjector):
    """Salesforce's fault kinds: the strain faults are on by default, the rest on request."""

    def __init__(self) -> None:
        super().__init__((*DEFAULT_FAULT_KINDS, *OPTIONAL_FAULT_KINDS))
        self.config = FaultConfig(kinds=DEFAULT_FAULT_KINDS)

    def configure(
        self,
        *,
        rate: float | None = None,
        latency_ms: int | None = None,
        kinds: Iterable[str] | None = None,
        seed: int | None = None,
    ) -> FaultConfig:
        chosen = None if kinds is None else (tuple(kinds) or DEFAULT_FAULT_KINDS)
        return super().configure(rate=rate, latency_ms=latency_ms, kinds=chosen, seed=seed)

    def reset(self) -> None:
        super().reset()
        self.config = FaultConfig(kinds=DEFAULT_FAULT_KINDS)


class SalesforceEmulator:
    """An org you can seed, serve over HTTPS, drive as any of its users, and break on purpose."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        hooks: SandboxHooks | None = None,
        api_version: str = "59.0",
    ) -> None:
        self.clock = clock or Clock()
        self.hooks = hooks or SandboxHooks()
        self.api_version = api_version
        self.faults = SalesforceFaults()
        self.timeout_seconds = DEFAULT_TIMEOUT_SECONDS
        self.schema = SCHEMA
        self._tokens: dict[str, str] = {}
        self.sessions = Sessions()
        self.login_secrets = LoginSecrets.generate()
        self._reload = threading.Lock()
        self.org = Org(SCHEMA)
        self._app = RestApp(self)
        self.wsgi_app = self._app
        self.clear()

    # State --------------------------------------------------------------------------------------

    def load(self, seed: SalesforceSeed) -> None:
        """Replace the whole org (users, records, API limit) with the seed's."""
        org = Org(SCHEMA, daily_max=seed.daily_api_max)
        with self._reload:
            for user in seed.users:
                self._add_user(org, dict(user))
            _ensure_integration_user(org, self)
            highest = 0
            for name, records in seed.records.items():
                sobject = SCHEMA.canonical_object(name)
                if sobject is None or sobject not in DATA_OBJECTS:
                    raise ValueError(f"seed names an object the org does not have: {name}")
                for raw in records:
                    highest = max(highest, self._add_record(org, sobject, dict(raw)))
            org.ids = _allocator_after(highest)
            self.org = org

    def clear(self) -> None:
        """No records; the integration user and a few people (what `--seed empty` gives)."""
        self.load(SalesforceSeed(users=[dict(p) for p in DEFAULT_PEOPLE]))

    def people(self) -> list[SandboxPerson]:
        return [_person(self.org, user) for user in self.org.users() if user.get("_token")]

    @property
    def integration_token(self) -> str:
        return str(self._integration_user()["_token"])

    def _integration_user(self) -> Record:
        for user in self.org.users():
            if user.get("_role") == "integration":
                return user
        raise LookupError("the org has no integration user")

    def login(self, flow: str, raw: bytes, *, authorization: str, base_url: str) -> LoginAnswer:
        """A SOAP (`soap`) or client credentials (`oauth`) login; both log in the integration
        user, whose connected app is the one the client credentials belong to."""
        user = self._integration_user()
        if flow == "soap":
            return soap_login(
                raw,
                secrets=self.login_secrets,
                user=(user["Id"], str(user["Username"])),
                sessions=self.sessions,
                base_url=base_url,
            )
        return token_login(
            raw,
            authorization=authorization,
            secrets=self.login_secrets,
            user_id=user["Id"],
            sessions=self.sessions,
            base_url=base_url,
        )

    def login_credentials(self) -> dict[str, str]:
        """How to log in as the integration user (the admin `GET /__sandbox/login`)."""
        return self.login_secrets.public(str(self._integration_user()["Username"]))

    # Admin --------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        usage = self.org.usage
        with self.org.lock:
            usage.roll(self.clock.now().date())
            return {
                "total": usage.total,
                "today": usage.today,
                "daily_max": usage.daily_max,
                "by_endpoint": dict(usage.by_endpoint),
                "by_user": dict(usage.by_user),
                "logins": self.sessions.stats(),
            }

    def set_limits(self, body: dict[str, Any]) -> dict[str, Any]:
        """`{"daily_max": N}` (and optionally `"used_today": n`, to start a day part-used)."""
        usage = self.org.usage
        with self.org.lock:
            usage.roll(self.clock.now().date())
            if "daily_max" in body:
                usage.daily_max = _non_negative(body["daily_max"], "daily_max")
            if "used_today" in body:
                usage.today = _non_negative(body["used_today"], "used_today")
            return {"daily_max": usage.daily_max, "used_today": usage.today}

    def admin(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """Every `/__sandbox/` call (the WSGI front hands them here)."""
        if (method, path) == ("POST", "faults") and "timeout_seconds" in body:
            try:
                self.timeout_seconds = float(body["timeout_seconds"])
            except (TypeError, ValueError):
                return 400, {"error": "BAD_ADMIN_REQUEST", "message": "timeout_seconds: a number"}
        status, payload = handle_admin(self, method, path, body)
        if path.strip("/") == "faults" and isinstance(payload, dict) and status == 200:
            payload["timeout_seconds"] = self.timeout_seconds
        return status, payload

    def admin_extra(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any] | None:
        handler = _ADMIN_EXTRA.get((method, path))
        if handler is None:
            return None
        return handler(self, body)

    # Admin extras -------------------------------------------------------------------------------

    def convert_lead(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Convert a Lead as the named user (`as_user`: id, username or email)."""
        request = ConvertRequest.from_body(body)
        org = self.org
        with org.lock:
            user = self._user(org, body.get("as_user"))
            dml = Dml(
                org, org.actor(user), self.clock.now(), self.api_version, bypass_duplicates=True
            )
            return self._journaled(org, lambda: (200, convert_lead(dml, request)))

    def act(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Run one REST call as a named user, the way they would in the UI (not an API call).

        Answers 200 with the call's own `{httpStatusCode, body}`, as a composite subrequest does.
        """
        org = self.org
        user = self._user(org, body.get("as_user"))
        method = str(body.get("method", "GET")).upper()
        url = str(body.get("url", ""))
        call = self._app.internal_call(org, user, method=method, url=url, body=body.get("body"))
        reply: Reply = self._app.execute(call)
        return 200, {"httpStatusCode": reply.status, "body": reply.body}

    def duplicate_rule(self, body: dict[str, Any]) -> tuple[int, Any]:
        rule = self.org.duplicate_rule
        with self.org.lock:
            if "active" in body:
                rule.active = bool(body["active"])
            if "action" in body:
                if body["action"] not in ("block", "alert"):
                    raise ValueError("action must be 'block' or 'alert'")
                rule.action = body["action"]
            if "on_update" in body:
                rule.on_update = bool(body["on_update"])
            return 200, rule.public()

    def assignment_rule(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Switch the lead assignment rule: `active`, and the `owner` it routes every Lead to
        (a user id, username or email)."""
        org = self.org
        rule = org.assignment_rule
        with org.lock:
            if "owner" in body:
                rule.owner_id = str(self._user(org, body["owner"])["Id"])
            if "active" in body:
                rule.active = bool(body["active"])
            if rule.active and rule.owner_id is None:
                raise AdminError("an active assignment rule needs an owner")
            return 200, rule.public()

    def share(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Flag a record private (hidden from users without View All) or shared again."""
        org = self.org
        record_id = str(body.get("id", ""))
        with org.lock:
            found = org.store.find(to_18(record_id)) if is_valid_id(record_id) else None
            if found is None:
                raise AdminError(f"no record with id {record_id!r}")
            sobject, record = found
            org.store.put(sobject, {**record, "_private": bool(body.get("private", True))})
            return 200, {"id": record["Id"], "private": bool(body.get("private", True))}

    def field_permission(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Make a field read-only (or editable again) for a profile."""
        org = self.org
        sobject = SCHEMA.canonical_object(str(body.get("object", "")))
        spec = SCHEMA.field(sobject, str(body.get("field", ""))) if sobject else None
        if sobject is None or spec is None:
            raise AdminError("object and field must name a field of the org")
        name = str(body.get("profile", INTEGRATION_PROFILE))
        with org.lock:
            profile_id = org.profile_id(name)
            profile = org.profiles[profile_id]
            readonly = dict(profile.readonly_fields)
            fields = set(readonly.get(sobject, frozenset()))
            if body.get("editable", False):
                fields.discard(spec.name)
            else:
                fields.add(spec.name)
            readonly[sobject] = frozenset(fields)
            org.add_profile(
                ProfileSpec(profile.name, profile.view_all, readonly, profile.user_type)
            )
            return 200, {"profile": name, "object": sobject, "readonly": sorted(fields)}

    def user_active(self, body: dict[str, Any]) -> tuple[int, Any]:
        org = self.org
        with org.lock:
            user = self._user(org, body.get("user"))
            active = bool(body.get("active", True))
            org.store.put("User", {**user, "IsActive": active})
            return 200, {"id": user["Id"], "active": active}

    # Helpers ------------------------------------------------------------------------------------

    def _user(self, org: Org, key: Any) -> Record:
        if not key:
            raise AdminError("as_user (a user id, username or email) is required")
        user = org.find_user(str(key))
        if user is None:
            raise AdminError(f"no user {key!r} in the org")
        return user

    def _journaled(self, org: Org, work: Any) -> tuple[int, Any]:
        """Run an admin write in a journal: a refused conversion leaves nothing behind."""
        org.store.journal = Journal()
        try:
            return work()
        except RecordError as exc:
            org.store.rollback(0)
            return 400, [e.top_level() for e in exc.errors]
        except ApiError as exc:
            org.store.rollback(0)
            return exc.status, exc.body()
        finally:
            org.store.journal = None

    def _add_user(self, org: Org, user: dict[str, Any]) -> None:
        serial = len(org.store.tables["User"]) + 1
        user_id = to_18(str(user.get("Id") or make_id("005", serial)))
        role = str(user.get("_role", "rep"))
        profile_name = str(user.get("_profile") or ROLE_PROFILES.get(role, STANDARD_PROFILE))
        first, last = user.get("FirstName"), user.get("LastName") or "User"
        slug = f"{first or ''}.{last}".strip(".").lower().replace(" ", "")
        token = user.get("_token") or self._tokens.get(user_id) or new_token(TOKEN_PREFIX)
        self._tokens[user_id] = token
        record: Record = {spec.name: None for spec in SCHEMA.fields("User")}
        record.update(
            {
                "Id": user_id,
                "Username": user.get("Username") or f"{slug}@{EMAIL_DOMAIN}",
                "Email": user.get("Email") or f"{slug}@{EMAIL_DOMAIN}",
                "Alias": user.get("Alias") or (str(first or "")[:1] + last)[:8].lower(),
                "IsActive": bool(user.get("IsActive", True)),
                "UserType": user.get("UserType") or "Standard",
                "ProfileId": org.profile_id(profile_name, role=role),
            }
        )
        record.update(
            {k: v for k, v in user.items() if k in record and v is not None and k != "Id"}
        )
        record.update({"_role": role, "_token": token, "_profile": profile_name})
        _fill_name(record, "User")
        _stamp_seeded(record, self.clock, user_id)
        org.store.put("User", record)
        org.tokens[token] = user_id

    def _add_record(self, org: Org, sobject: str, raw: dict[str, Any]) -> int:
        """Store a seeded record as-is (seeds may hold mess validation would refuse)."""
        integration = _integration_id(org)
        record: Record = {spec.name: _blank(spec.type) for spec in SCHEMA.fields(sobject)}
        record.update(raw)
        record_id = str(raw.get("Id") or "")
        if not record_id:
            record_id = make_id(
                SCHEMA.spec(sobject).key_prefix, 500_000 + len(org.store.tables[sobject])
            )
        record["Id"] = to_18(record_id)
        record.setdefault("OwnerId", integration)
        record["OwnerId"] = record.get("OwnerId") or integration
        _fill_name(record, sobject)
        _stamp_seeded(record, self.clock, integration)
        org.store.put(sobject, record)
        return _serial(record["Id"])


# Admin routes: (method, path below /__sandbox/) -> handler(emulator, body).
_ADMIN_EXTRA: dict[tuple[str, str], Any] = {
    ("POST", "convert-lead"): SalesforceEmulator.convert_lead,
    ("POST", "act"): SalesforceEmulator.act,
    ("GET", "duplicate-rule"): lambda emulator, body: (200, emulator.org.duplicate_rule.public()),
    ("POST", "duplicate-rule"): SalesforceEmulator.duplicate_rule,
    ("GET", "assignment-rule"): lambda emulator, body: (200, emulator.org.assignment_rule.public()),
    ("POST", "assignment-rule"): SalesforceEmulator.assignment_rule,
    ("POST", "share"): SalesforceEmulator.share,
    ("POST", "field-permissions"): SalesforceEmulator.field_permission,
    ("POST", "user-active"): SalesforceEmulator.user_active,
    ("GET", "login"): lambda emulator, body: (200, emulator.login_credentials()),
}


def _person(org: Org, user: Record) -> SandboxPerson:
    return SandboxPerson(
        system="salesforce",
        id=user["Id"],
        name=str(user.get("Name") or ""),
        email=str(user.get("Email") or ""),
        token=str(user["_token"]),
        active=bool(user.get("IsActive", True)),
        role=str(user.get("_role", "rep")),
    )


def _ensure_integration_user(org: Org, emulator: SalesforceEmulator) -> None:
    if not any(u.get("_role") == "integration" for u in org.users()):
        emulator._add_user(org, dict(DEFAULT_PEOPLE[0]))


def _integration_id(org: Org) -> str:
    return next(u["Id"] for u in org.users() if u.get("_role") == "integration")


def _blank(field_type: str) -> Any:
    return False if field_type == "boolean" else None


def _fill_name(record: Record, sobject: str) -> None:
    parts = COMPOUND_NAME_PARTS.get(sobject)
    if parts and not record.get("Name"):
        record["Name"] = " ".join(
            str(record[p]) for p in parts if p != "Salutation" and record.get(p)
        )


def _stamp_seeded(record: Record, clock: Clock, user_id: str) -> None:
    """Seeds may omit audit fields; fill them as if the record was made just now."""
    now = sf_datetime(clock.now())
    record["CreatedDate"] = record.get("CreatedDate") or now
    record["CreatedById"] = record.get("CreatedById") or user_id
    record["LastModifiedDate"] = record.get("LastModifiedDate") or record["CreatedDate"]
    record["LastModifiedById"] = record.get("LastModifiedById") or record["CreatedById"]
    record["SystemModstamp"] = record.get("SystemModstamp") or record["LastModifiedDate"]
    if record.get("IsDeleted") and not record.get("_deleted_date"):
        record["_deleted_date"] = record["SystemModstamp"]


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _serial(record_id: str) -> int:
    """The base-62 serial inside an id made by ids.make_id (0 when the id is not one)."""
    digits = record_id[5:15]
    if len(digits) != 10 or any(c not in _BASE62 for c in digits):
        return 0
    value = 0
    for char in digits:
        value = value * 62 + _BASE62.index(char)
    return value


def _allocator_after(highest: int) -> IdAllocator:
    return IdAllocator(start=max(1_000_000, highest + 1))


def _non_negative(value: Any, name: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(f"{name} must be >= 0")
    return number
