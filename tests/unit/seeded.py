"""Seeded sandbox records as the plan sees them, for the property tests that hold each fast path
to its slow one over realistic values: owners, picklists outside their maps, phones in several
formats, blanks, numbers and the seed's planted mess, plus values no seed has (EDGE_VALUES)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from sync_engine.config import ObjectSync, SyncConfig, load_config
from sync_engine.engine import _hs_record, _sf_record
from sync_engine.mapping import MappingContext, OwnerDirectory
from sync_engine.models import FieldMeta
from sync_engine.plan import Link, Record, Snapshot

SHIPPED = load_config(Path(__file__).resolve().parents[2] / "sync.toml")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

# Raw values a conversion must tell apart though they are equal or alike (1 == 1.0 == True,
# 0.0 == -0.0), blanks of every kind, an unmappable value's compare key spelled as text, and
# values no JSON payload has (a list, a dict).
EDGE_VALUES: tuple[Any, ...] = (
    None,
    "",
    "   ",
    "1",
    1,
    1.0,
    True,
    False,
    0,
    0.0,
    -0.0,
    "true",
    "0",
    "-0.0",
    "1,234.50",
    "web",
    " WEB ",
    "Partner Referral",
    "x\x00y",
    "\x00salesforce:'1'",
    "https://www.Acme.com/about",
    "+1 (555) 010-2030",
    "a@b.io",
    "not an email",
    "2026-01-31",
    "1767139200000",
    "1000+",
    ["a"],
    {"a": 1},
)


@dataclass(frozen=True)
class Seeded:
    config: SyncConfig
    context: MappingContext
    hubspot: dict[str, list[Record]]  # by HubSpot object
    salesforce: dict[str, list[Record]]  # by Salesforce object
    sf_fields: dict[str, dict[str, FieldMeta]]
    integration_user_id: str


@cache
def seeded(contacts: int = 300) -> Seeded:
    seed = pytest.importorskip("sandbox.seed")
    schema = pytest.importorskip("sandbox.salesforce.schema")
    bundle = seed.build_seed_sized(7, contacts=contacts, now=NOW)
    owners = OwnerDirectory.build(bundle.hubspot.owners, bundle.salesforce.users)
    profile = next(p for p in schema.PROFILES if p.name == schema.INTEGRATION_PROFILE)
    sf_fields = {
        name: {
            f["name"]: FieldMeta.from_describe(f)
            for f in schema.SCHEMA.describe_object(name, version="59.0", profile=profile)["fields"]
        }
        for name in ("Lead", "Contact", "Account", "Opportunity")
    }
    hubspot = {
        name: [_hs_record(name, row) for row in bundle.hubspot.records[name]]
        for name in ("contacts", "companies", "deals")
    }
    salesforce = {
        name: [_sf_record(name, row) for row in bundle.salesforce.records[name]]
        for name in sf_fields
    }
    integration = next(u["Id"] for u in bundle.salesforce.users if u.get("_role") == "integration")
    return Seeded(
        config=SHIPPED,
        context=MappingContext.from_config(SHIPPED, owners=owners),
        hubspot=hubspot,
        salesforce=salesforce,
        sf_fields=sf_fields,
        integration_user_id=integration,
    )


def salesforce_records(data: Seeded, obj: ObjectSync) -> list[Record]:
    return [r for name in obj.targets for r in data.salesforce[name]]


def pairs(data: Seeded, obj: ObjectSync) -> Iterator[tuple[Record, Record]]:
    """Every HubSpot record of obj with the Salesforce record sharing its key (most fields
    agree), and with a record some places along (most fields differ)."""
    hubspot = data.hubspot[obj.hubspot_object]
    salesforce = salesforce_records(data, obj)
    by_key = {r.key: r for r in salesforce if r.key}
    for i, hs in enumerate(hubspot):
        if hs.key in by_key:
            yield hs, by_key[hs.key]
        yield hs, salesforce[(i * 7) % len(salesforce)]


def with_edge(values: dict[str, Any], names: list[str], i: int) -> dict[str, Any]:
    """values with one of names set to one of EDGE_VALUES (which ones turn with i)."""
    if i % 3:
        return values
    changed = dict(values)
    changed[names[i % len(names)]] = EDGE_VALUES[(i // 3) % len(EDGE_VALUES)]
    return changed


def times(i: int) -> tuple[datetime | None, datetime | None]:
    """Modification times that make most_recent pick either side, tie, or know neither."""
    choices: list[tuple[datetime | None, datetime | None]] = [
        (NOW, NOW - timedelta(hours=1)),
        (NOW - timedelta(hours=1), NOW),
        (NOW, NOW),
        (None, NOW),
        (NOW.replace(tzinfo=None), NOW - timedelta(minutes=1)),
    ]
    return choices[i % len(choices)]


def snapshot(data: Seeded, obj: ObjectSync, *, echo_user: str | None = None) -> Snapshot:
    """A plan's view of the seed for obj: every record changed, half of the key matches linked
    (with bases never synced, agreed, other, blank), some fields held by loop guards, half of
    the contacts let into Salesforce. echo_user: the integration user, as whom the records
    that user last modified read (the plan's echo path)."""
    hubspot = data.hubspot[obj.hubspot_object]
    salesforce = salesforce_records(data, obj)
    by_key = {r.key: r for r in salesforce if r.key}
    keys = [m.key for m in obj.fields]
    links: list[Link] = []
    base: dict[str, dict[str, str | None]] = {}
    for i, hs in enumerate(hubspot):
        partner = by_key.get(hs.key)
        if partner is None and obj.name == "deal" and i < len(salesforce):
            partner = salesforce[i]  # the seed's deals share no key: link some anyway
        if partner is None or i % 2:
            continue
        links.append(Link(hs.id, partner.object, partner.id, hs.key))
        kind = (i // 2) % 4
        if kind == 1:
            base[hs.id] = {k: str(hs.values.get(k) or "") for k in keys}
        elif kind == 2 and echo_user is None:  # an echo's base is a value the sync wrote
            base[hs.id] = dict.fromkeys(keys, "something else")
        elif kind == 3:
            base[hs.id] = dict.fromkeys(keys, "")
    written = {r.id: frozenset(keys[::2]) for i, r in enumerate(salesforce) if i % 2}
    return Snapshot(
        obj=obj,
        dirty_hs=tuple(hubspot),
        dirty_sf=tuple(salesforce),
        hubspot={r.id: r for r in hubspot},
        salesforce={r.id: r for r in salesforce},
        links=tuple(links),
        base=base,
        context=data.context,
        sf_fields=data.sf_fields,
        included=frozenset(r.id for r in hubspot[::2]) if obj.name == "contact" else None,
        integration_user_id=echo_user,
        held=frozenset((r.id, keys[i % len(keys)]) for i, r in enumerate(hubspot) if i % 5 == 0),
        sf_last_written=written,
    )


def busiest_modifier(data: Seeded, obj: ObjectSync) -> str:
    """The user who last modified the most Salesforce records of obj."""
    counts: dict[str, int] = {}
    for r in salesforce_records(data, obj):
        if r.modified_by:
            counts[r.modified_by] = counts.get(r.modified_by, 0) + 1
    return max(counts, key=lambda user: counts[user])
