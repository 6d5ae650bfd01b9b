"""The portal's state: records with their property history, associations, lists, people.

Plain in-memory structures with no HTTP and no locking of their own (the emulator holds one lock
around every request). Every change goes through `write`, which is what keeps the history, the
last-modified property and the contact email index in step.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.hubspot import schema
from sandbox.hubspot.values import iso


@dataclass(frozen=True)
class Source:
    """Who made a change, as history reports it (sourceType, sourceId, updatedByUserId)."""

    type: str
    id: str | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class Change:
    value: str
    at: datetime
    source: Source

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": self.value,
            "timestamp": iso(self.at),
            "sourceType": self.source.type,
        }
        if self.source.id is not None:
            out["sourceId"] = self.source.id
        if self.source.user_id is not None:
            out["updatedByUserId"] = self.source.user_id
        return out


class Record:
    """One CRM record; `values` holds current values, `history` every value each property had."""

    __slots__ = (
        "archived",
        "archived_at",
        "cache",
        "created_at",
        "history",
        "id",
        "object_name",
        "updated_at",
        "values",
    )

    def __init__(self, object_name: str, record_id: int, created_at: datetime) -> None:
        self.object_name = object_name
        self.id = record_id
        self.values: dict[str, str] = {}
        self.history: dict[str, list[Change]] = {}
        self.created_at = created_at
        self.updated_at = created_at
        self.archived = False
        self.archived_at: datetime | None = None
        self.cache: dict[str, Any] = {}  # comparable forms of values, for search (see search.py)


@dataclass
class HubList:
    """A list (ILS): its definition and its members with the time each joined."""

    list_id: int
    name: str
    processing_type: str
    object_type_id: str
    created_at: datetime
    updated_at: datetime
    version: int = 1
    members: dict[int, datetime] = field(default_factory=dict)
    first_added: dict[int, datetime] = field(default_factory=dict)
    last_added_at: datetime | None = None
    last_removed_at: datetime | None = None


class Portal:
    """Records by type, the email index, associations and lists of one HubSpot account."""

    def __init__(self) -> None:
        self.records: dict[str, dict[int, Record]] = {name: {} for name in schema.OBJECT_TYPES}
        self.order: dict[str, list[int]] = {name: [] for name in schema.OBJECT_TYPES}
        self.next_id: dict[str, int] = {
            name: ot.first_id for name, ot in schema.OBJECT_TYPES.items()
        }
        self.emails: dict[str, int] = {}
        # (type, id) -> target type -> target id -> association type ids
        self.links: dict[tuple[str, int], dict[str, dict[int, set[int]]]] = {}
        self.lists: dict[int, HubList] = {}
        # Marketing activity (not CRM objects): served by sandbox/hubspot/marketing.py.
        self.email_events: list[dict[str, Any]] = []
        self.form_submissions: list[dict[str, Any]] = []

    # -- records

    def get(self, object_name: str, record_id: int) -> Record | None:
        return self.records[object_name].get(record_id)

    def live(self, object_name: str, record_id: int) -> Record | None:
        record = self.get(object_name, record_id)
        return None if record is None or record.archived else record

    def by_email(self, email: str) -> Record | None:
        found = self.emails.get(email.strip().lower())
        return None if found is None else self.live("contacts", found)

    def find(self, object_name: str, key: str, id_property: str | None) -> Record | None:
        """A live record by id, or by the value of a unique property (`idProperty`)."""
        if id_property in (None, "", "hs_object_id"):
            return self.live(object_name, _int_id(key)) if _int_id(key) else None
        if object_name == "contacts" and id_property == "email":
            return self.by_email(key)
        for record in self.iter_live(object_name):
            if record.values.get(str(id_property)) == key:
                return record
        return None

    def iter_live(self, object_name: str) -> Iterator[Record]:
        for record in self.records[object_name].values():
            if not record.archived:
                yield record

    def page(
        self, object_name: str, *, after: int, limit: int, archived: bool
    ) -> tuple[list[Record], int | None]:
        """Up to `limit` records with id >= after (archived or live), and the next `after`."""
        ids = self.order[object_name]
        table = self.records[object_name]
        out: list[Record] = []
        for index in range(bisect.bisect_left(ids, after), len(ids)):
            record = table[ids[index]]
            if record.archived != archived:
                continue
            if len(out) == limit:
                return out, record.id
            out.append(record)
        return out, None

    def create(
        self,
        object_name: str,
        values: dict[str, str],
        *,
        source: Source,
        at: datetime,
        record_id: int | None = None,
    ) -> Record:
        """A new record with its stamps and one history entry per value, all from `source`."""
        ot = schema.OBJECT_TYPES[object_name]
        if record_id is None:
            record_id = self.next_id[object_name]
        self.next_id[object_name] = max(self.next_id[object_name], record_id + 1)
        record = Record(object_name, record_id, at)
        self.records[object_name][record_id] = record
        ids = self.order[object_name]
        if not ids or ids[-1] < record_id:
            ids.append(record_id)
        else:
            bisect.insort(ids, record_id)
        stamps = {"hs_object_id": str(record_id), ot.created: iso(at)}
        self.write(record, {**stamps, **values}, source=source, at=at)
        return record

    def write(
        self, record: Record, values: dict[str, str], *, source: Source, at: datetime
    ) -> None:
        """Apply values: a history entry per changed value, and the last-modified stamp moves."""
        ot = schema.OBJECT_TYPES[record.object_name]
        values = dict(values)
        stamp = values.pop(ot.modified, "") or iso(at)
        for name, value in values.items():
            if record.values.get(name, "") == value:
                continue
            if name == "email" and record.object_name == "contacts":
                self._reindex_email(record, value)
            record.values[name] = value
            record.cache.pop(name, None)
            record.history.setdefault(name, []).append(Change(value, at, source))
        record.values[ot.modified] = stamp
        record.cache.pop(ot.modified, None)
        record.history.setdefault(ot.modified, []).append(Change(stamp, at, Source("CALCULATED")))
        record.updated_at = max(record.updated_at, at)

    def archive(self, record: Record, *, at: datetime) -> None:
        if record.archived:
            return
        record.archived = True
        record.archived_at = at
        if record.object_name == "contacts":
            email = record.values.get("email", "").strip().lower()
            if email and self.emails.get(email) == record.id:
                del self.emails[email]

    def _reindex_email(self, record: Record, new: str) -> None:
        old = record.values.get("email", "").strip().lower()
        if old and self.emails.get(old) == record.id:
            del self.emails[old]
        if new.strip():
            self.emails[new.strip().lower()] = record.id

    # -- associations

    def associate(self, source: Record, target: Record, type_id: int) -> None:
        """Add one association type between two records, and its inverse on the other side."""
        kind = schema.ASSOCIATION_TYPES[type_id]
        if kind.primary:
            self._drop_other_primaries(source, kind)
            plain = schema.DEFAULT_ASSOCIATION[(kind.source, kind.target)]
            self._add(source, target, plain)
        self._add(source, target, type_id)

    def _add(self, source: Record, target: Record, type_id: int) -> None:
        inverse = schema.ASSOCIATION_TYPES[type_id].inverse
        self._side(source, target.object_name).setdefault(target.id, set()).add(type_id)
        self._side(target, source.object_name).setdefault(source.id, set()).add(inverse)

    def _drop_other_primaries(self, source: Record, kind: schema.AssociationType) -> None:
        side = self._side(source, kind.target)
        for other_id, types in side.items():
            if kind.id in types:
                types.discard(kind.id)
                back = self.links.get((kind.target, other_id), {}).get(source.object_name, {})
                back.get(source.id, set()).discard(kind.inverse)

    def _side(self, record: Record, target_type: str) -> dict[int, set[int]]:
        return self.links.setdefault((record.object_name, record.id), {}).setdefault(
            target_type, {}
        )

    def dissociate(self, source: Record, target: Record, type_ids: Iterable[int] | None) -> None:
        """Remove some association types (all when None) between two records, both sides."""
        forward = self._side(source, target.object_name)
        back = self._side(target, source.object_name)
        types = forward.get(target.id, set())
        drop = set(types) if type_ids is None else set(type_ids) & types
        for type_id in drop:
            types.discard(type_id)
            back.get(source.id, set()).discard(schema.ASSOCIATION_TYPES[type_id].inverse)
        for table, key in ((forward, target.id), (back, source.id)):
            if key in table and not table[key]:
                del table[key]

    def associated(self, record: Record, target_type: str) -> list[tuple[int, list[int]]]:
        """Live records of target_type associated with record: (id, sorted type ids)."""
        side = self.links.get((record.object_name, record.id), {}).get(target_type, {})
        out = []
        for target_id in sorted(side):
            if side[target_id] and self.live(target_type, target_id) is not None:
                out.append((target_id, sorted(side[target_id])))
        return out


def _int_id(key: str) -> int | None:
    text = str(key).strip()
    return int(text) if text.isdigit() else None


def int_id(key: Any) -> int | None:
    """A record id from a path or a JSON input (ids are digit strings), or None."""
    return _int_id(str(key))
