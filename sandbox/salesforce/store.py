"""The org's state: records (with the recycle bin), users, profiles, API usage and query cursors.

Records are plain dicts stored under their canonical field names in the API's JSON form; keys
that start with `_` are emulator-only (`_private`, `_token`, ...) and never leave the emulator.
Writes replace a record's dict instead of mutating it, so the journal can restore the previous
version when an allOrNone collection or composite request rolls back.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sandbox.salesforce.ids import IdAllocator, make_id
from sandbox.salesforce.schema import (
    ADMIN_PROFILE,
    PROFILES,
    STANDARD_PROFILE,
    ProfileSpec,
    Schema,
)

Record = dict[str, Any]

# Fields whose values are looked up by value: the duplicate rule's email, and upsert keys.
EMAIL_INDEXED: frozenset[str] = frozenset({"Lead", "Contact"})
PROFILE_PREFIX = "00e"
MAX_CURSORS = 50


@dataclass(frozen=True)
class Actor:
    """The user a call runs as, with what their profile lets them see and edit."""

    user_id: str
    profile: ProfileSpec

    def can_see(self, record: Record) -> bool:
        """Owner, View All Data, or a record not flagged private (public read/write sharing)."""
        return (
            self.profile.view_all
            or not record.get("_private")
            or record.get("OwnerId") == self.user_id
        )


@dataclass
class DuplicateRule:
    """The org's active duplicate rule on Lead and Contact email (switchable from /__sandbox/)."""

    active: bool = True
    action: str = "block"  # "block" or "alert" (alert lets Sforce-Duplicate-Rule-Header save)
    on_update: bool = True

    def public(self) -> dict[str, Any]:
        return {"active": self.active, "action": self.action, "on_update": self.on_update}


@dataclass
class AssignmentRule:
    """The org's active lead assignment rule (switchable from /__sandbox/), one entry: every
    Lead goes to owner_id. The REST API runs it on each Lead created or updated unless the
    request says `Sforce-Auto-Assign: FALSE` (the header's default is TRUE), so a write that
    leaves the header out routes the Lead again whatever OwnerId it sent."""

    active: bool = False
    owner_id: str | None = None

    def public(self) -> dict[str, Any]:
        return {"active": self.active, "owner_id": self.owner_id}

    def owner_for(self, sobject: str, *, auto_assign: bool) -> str | None:
        """The owner a Lead written now gets (None: the rule does not run)."""
        if sobject != "Lead" or not (self.active and auto_assign):
            return None
        return self.owner_id


@dataclass
class ApiUsage:
    """Calls counted against DailyApiRequests; the day rolls over at UTC midnight."""

    daily_max: int = 100_000
    day: date | None = None
    today: int = 0
    total: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_user: Counter[str] = field(default_factory=Counter)

    def roll(self, day: date) -> None:
        if self.day != day:
            self.day = day
            self.today = 0

    def count(self, *, day: date, endpoint: str, user_id: str) -> None:
        self.roll(day)
        self.today += 1
        self.total += 1
        self.by_endpoint[endpoint] += 1
        self.by_user[user_id] += 1

    def exhausted(self, day: date) -> bool:
        self.roll(day)
        return self.today >= self.daily_max


@dataclass
class Cursor:
    """A server-side query result snapshot that nextRecordsUrl pages through."""

    rows: list[dict[str, Any]]
    batch: int
    include_deleted: bool
    opened: datetime


class Journal:
    """Undo log for the current request: (object, id, previous record or None)."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, Record | None]] = []

    def savepoint(self) -> int:
        return len(self.entries)


class RecordStore:
    """Records of every object, plus value indexes for email and external-id lookups."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.tables: dict[str, dict[str, Record]] = {name: {} for name in schema.objects}
        self._indexed = {
            name: (*schema.external_id_fields(name), *(("Email",) if name in EMAIL_INDEXED else ()))
            for name in schema.objects
        }
        self._index: dict[tuple[str, str], dict[str, set[str]]] = {
            (name, f): {} for name, fields in self._indexed.items() for f in fields
        }
        self.journal: Journal | None = None

    def get(self, sobject: str, record_id: str) -> Record | None:
        return self.tables[sobject].get(record_id)

    def find(self, record_id: str) -> tuple[str, Record] | None:
        """Locate a record by id alone (its key prefix names the object)."""
        sobject = self.schema.object_for_id(record_id)
        if sobject is None:
            return None
        record = self.tables[sobject].get(record_id)
        return None if record is None else (sobject, record)

    def put(self, sobject: str, record: Record) -> None:
        record_id = record["Id"]
        previous = self.tables[sobject].get(record_id)
        if self.journal is not None:
            self.journal.entries.append((sobject, record_id, previous))
        self._place(sobject, record_id, previous, record)

    def rows(self, sobject: str) -> Iterator[Record]:
        return iter(self.tables[sobject].values())

    def lookup(self, sobject: str, key: str, value: str) -> list[str]:
        """Ids whose field `key` equals value (case-insensitive), deleted records included."""
        return sorted(self._index[(sobject, key)].get(value.lower(), ()))

    def savepoint(self) -> int:
        return self.journal.savepoint() if self.journal is not None else 0

    def rollback(self, savepoint: int) -> None:
        """Undo every write made after savepoint (newest first)."""
        if self.journal is None:
            return
        entries = self.journal.entries
        while len(entries) > savepoint:
            sobject, record_id, previous = entries.pop()
            current = self.tables[sobject].get(record_id)
            self._place(sobject, record_id, current, previous)

    def _place(self, sobject: str, record_id: str, old: Record | None, new: Record | None) -> None:
        for key in self._indexed[sobject]:
            old_value = old.get(key) if old else None
            new_value = new.get(key) if new else None
            if old_value == new_value:
                continue
            index = self._index[(sobject, key)]
            if isinstance(old_value, str):
                bucket = index.get(old_value.lower())
                if bucket is not None:
                    bucket.discard(record_id)
                    if not bucket:
                        del index[old_value.lower()]
            if isinstance(new_value, str):
                index.setdefault(new_value.lower(), set()).add(record_id)
        if new is None:
            self.tables[sobject].pop(record_id, None)
        else:
            self.tables[sobject][record_id] = new


class Org:
    """Everything `load()` replaces: records, people, profiles, limits, cursors, rules."""

    def __init__(self, schema: Schema, *, daily_max: int = 100_000) -> None:
        self.schema = schema
        self.store = RecordStore(schema)
        self.ids = IdAllocator()
        self.profiles: dict[str, ProfileSpec] = {}
        self.tokens: dict[str, str] = {}
        self.usage = ApiUsage(daily_max=daily_max)
        self.cursors: OrderedDict[str, Cursor] = OrderedDict()
        self.cursor_serial = 0
        self.duplicate_rule = DuplicateRule()
        self.assignment_rule = AssignmentRule()
        self.lock = threading.RLock()
        for spec in PROFILES:
            self.add_profile(spec)

    # Profiles and users -------------------------------------------------------------------------

    def add_profile(self, spec: ProfileSpec) -> str:
        """Register a profile (idempotent by name) and return its id."""
        for profile_id, existing in self.profiles.items():
            if existing.name == spec.name:
                self.profiles[profile_id] = spec
                return profile_id
        profile_id = make_id(PROFILE_PREFIX, len(self.profiles) + 1)
        self.profiles[profile_id] = spec
        self.store.put(
            "Profile",
            {"Id": profile_id, "Name": spec.name, "UserType": spec.user_type, "Description": None},
        )
        return profile_id

    def profile_id(self, name: str, *, role: str | None = None) -> str:
        """The id of the profile called name, creating it (as an admin or standard profile)."""
        for profile_id, spec in self.profiles.items():
            if spec.name == name:
                return profile_id
        view_all = role == "admin" or name == ADMIN_PROFILE
        return self.add_profile(ProfileSpec(name, view_all=view_all))

    def profile_of(self, user: Record) -> ProfileSpec:
        return self.profiles.get(user.get("ProfileId", ""), self._standard())

    def _standard(self) -> ProfileSpec:
        return next(p for p in self.profiles.values() if p.name == STANDARD_PROFILE)

    def user(self, user_id: str) -> Record | None:
        return self.store.get("User", user_id)

    def users(self) -> list[Record]:
        return list(self.store.rows("User"))

    def user_by_token(self, token: str) -> Record | None:
        user_id = self.tokens.get(token)
        return self.user(user_id) if user_id else None

    def find_user(self, key: str) -> Record | None:
        """A user by id (15 or 18 characters), username or email (case-insensitive)."""
        lowered = key.lower()
        for user in self.store.rows("User"):
            if user["Id"].lower() == lowered or user["Id"][:15] == key:
                return user
            if lowered in (str(user.get("Username", "")).lower(), str(user.get("Email")).lower()):
                return user
        return None

    def actor(self, user: Record) -> Actor:
        return Actor(user["Id"], self.profile_of(user))

    # Query cursors ------------------------------------------------------------------------------

    def open_cursor(self, cursor: Cursor) -> str:
        """Keep a result snapshot and return its locator id (`01g...`), dropping the oldest."""
        self.cursor_serial += 1
        locator = make_id("01g", self.cursor_serial)
        self.cursors[locator] = cursor
        while len(self.cursors) > MAX_CURSORS:
            self.cursors.popitem(last=False)
        return locator
