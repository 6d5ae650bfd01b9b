"""The three-way merge: per field, which system's value stands after this cycle, and why.

Each side's value is compared, in canonical form (`mapping`), with the *base*: the value both
systems agreed on at the last sync, kept in DuckDB. A field changed on one side only is taken from
that side; changed on both to different values is a conflict, settled by the field's rule and
recorded:

- prefer_salesforce_unless_blank: Salesforce wins, unless its value is blank.
- always_salesforce / always_hubspot: that system wins, blank or not.
- most_recent: the later modified_at wins; unknown or equal times fall back to Salesforce, the
  sales system of record.

Direction limits what may be written: a one-way field never conflicts (its source wins when it
changed; a change on the other side is left alone, reason "direction"); a `none` field is skipped.

First sync (base is None, nothing agreed yet): a blank never overwrites a value, so a value on one
side only is copied to the other; values on both sides that differ are decided by the rule as
above (the system of record, Salesforce, for prefer_salesforce_unless_blank) and recorded as a
conflict with no base.

A value that cannot be mapped (no value-map entry, unknown owner, bad number) is never written:
the decision is `none` with reason "unmappable", its `MappingIssue`, and the base unchanged, so
the same issue comes back each cycle until the map or the data is fixed.

Base convention: `base=None` means "never synced"; a synced blank is stored as "" (which is what
`FieldDecision.new_base` returns for blanks), so the store can tell the two apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any

from sync_engine.config import FieldMapping, ObjectSync
from sync_engine.mapping import (
    TRANSFORMS,
    Converted,
    MappingContext,
    MappingIssue,
    Memo,
    canonical_from_hubspot,
    canonical_from_salesforce,
    canonical_reader,
    canonical_to_hubspot,
    canonical_to_salesforce,
    compare_key,
    key_function,
)
from sync_engine.models import Direction, Rule, System, Transform


class Action(StrEnum):
    NONE = "none"
    WRITE_HUBSPOT = "write_hubspot"
    WRITE_SALESFORCE = "write_salesforce"


# Reasons a decision gives (field_changes.reason); conflicts give "conflict:<rule>".
EQUAL = "equal"
HUBSPOT_CHANGED = "hubspot_changed"
SALESFORCE_CHANGED = "salesforce_changed"
INITIAL_HUBSPOT = "initial_hubspot"
INITIAL_SALESFORCE = "initial_salesforce"
DIRECTION = "direction"
UNMAPPABLE = "unmappable"
DISABLED = "disabled"


@dataclass(frozen=True)
class FieldValue:
    """One system's value of a field (as that system reports it) and when it last changed."""

    value: Any = None
    modified_at: datetime | None = None


@dataclass(frozen=True)
class Conflict:
    """Both systems changed the field: canonical values, the rule applied and who won."""

    field: str
    base: str | None
    hubspot: str | None
    salesforce: str | None
    rule: Rule
    winner: System


@dataclass(frozen=True)
class FieldDecision:
    """What to do with one field: the action, the value to write in the target system's format,
    the base to keep once the write succeeded, why, and any conflict or mapping issue."""

    field: str
    action: Action
    value: Any = None
    new_base: str | None = None
    reason: str = EQUAL
    conflict: Conflict | None = None
    issue: MappingIssue | None = None
    hubspot_field: str = ""
    salesforce_field: str = ""


@dataclass(frozen=True)
class _Side:
    """One side's value in canonical form (or the issue that prevents it)."""

    converted: Converted
    key: str
    modified_at: datetime | None
    raw: Any = None  # the value as the system holds it

    @property
    def canonical(self) -> str | None:
        return self.converted.value

    @property
    def blank(self) -> bool:
        return self.converted.ok and self.key == ""


# A field's canonical_to_salesforce or canonical_to_hubspot in its mapping context.
Writer = Callable[[str | None], Converted]


def _read(
    mapping: FieldMapping, raw: Any, system: System, context: MappingContext
) -> tuple[Converted, str]:
    """One side's raw value in canonical form, and the key it compares by."""
    read = canonical_from_hubspot if system is System.HUBSPOT else canonical_from_salesforce
    converted = read(mapping, raw, context)
    # An unmappable value is a change to something no other value equals.
    key = compare_key(mapping, converted.value) if converted.ok else f"\x00{system}:{raw!r}"
    return converted, key


def _reader(
    mapping: FieldMapping, system: System, context: MappingContext
) -> Callable[[Any], tuple[Converted, str]]:
    """_read of mapping, system and context as a function of the raw value, worked out once
    for many values (mapping.canonical_reader, mapping.key_function)."""
    canonical = canonical_reader(mapping, context, system)
    key_of = key_function(mapping)

    def read(raw: Any) -> tuple[Converted, str]:
        converted = canonical(raw)
        if converted.issue is None:
            return converted, key_of(converted.value)
        return converted, f"\x00{system}:{raw!r}"

    return read


def _side(
    mapping: FieldMapping, value: FieldValue, system: System, context: MappingContext
) -> _Side:
    return _Side(*_read(mapping, value.value, system, context), value.modified_at, value.value)


def decide_field(
    base: str | None,
    hs: FieldValue,
    sf: FieldValue,
    mapping: FieldMapping,
    *,
    context: MappingContext | None = None,
    direction: Direction | None = None,
) -> FieldDecision:
    """Decide one field. direction defaults to the mapping's; pass the object-capped one
    (`ObjectSync.effective_direction`) from the engine."""
    context = context or MappingContext()
    direction = mapping.direction if direction is None else direction
    if direction is Direction.NONE:
        return FieldDecision(action=Action.NONE, new_base=base, reason=DISABLED, **_ids(mapping))
    h = _side(mapping, hs, System.HUBSPOT, context)
    s = _side(mapping, sf, System.SALESFORCE, context)
    to_salesforce = partial(canonical_to_salesforce, mapping, context=context)
    to_hubspot = partial(canonical_to_hubspot, mapping, context=context)
    return _decide(base, h, s, mapping, direction, to_salesforce, to_hubspot)


def _ids(mapping: FieldMapping) -> dict[str, str]:
    return {
        "field": mapping.key,
        "hubspot_field": mapping.hubspot,
        "salesforce_field": mapping.salesforce,
    }


def _decide(
    base: str | None,
    h: _Side,
    s: _Side,
    mapping: FieldMapping,
    direction: Direction,
    to_salesforce: Writer,
    to_hubspot: Writer,
) -> FieldDecision:
    """decide_field once both sides are read (and the field is not disabled); to_salesforce and
    to_hubspot: canonical_to_<system> of this field in its context."""
    ids = _ids(mapping)
    if h.key == s.key:
        agreed = s.canonical if not s.blank else h.canonical
        return FieldDecision(action=Action.NONE, new_base=agreed or "", reason=EQUAL, **ids)
    if _holds_image(h, of=s, write=to_hubspot) or _holds_image(s, of=h, write=to_salesforce):
        agreed = s.canonical if s.converted.ok else h.canonical
        return FieldDecision(action=Action.NONE, new_base=agreed or "", reason=EQUAL, **ids)
    if base is None:
        winner, reason, conflict = _initial(mapping, h, s, direction)
    else:
        winner, reason, conflict = _after_base(mapping, base, h, s, direction)
    if winner is None:
        return FieldDecision(action=Action.NONE, new_base=base, reason=reason, **ids)
    write = to_salesforce if winner is System.HUBSPOT else to_hubspot
    return _write(base, winner, h, s, reason, conflict, write, ids)


def _holds_image(side: _Side, *, of: _Side, write: Writer) -> bool:
    """Whether side, unreadable on its own, holds what writing the other side's value there
    gives: then the two agree. A many-to-one value map has no way back for some values it
    writes (Salesforce "Advertisement" goes to HubSpot as "Paid Social", which to_salesforce
    does not map): without this, every later decision of such a pair read HubSpot's side as
    changed and refused it as unmappable, for a value the sync had written itself."""
    if side.converted.ok or not of.converted.ok or of.blank or not isinstance(side.raw, str):
        return False
    out = write(of.canonical)
    return (
        out.ok
        and isinstance(out.value, str)
        and out.value.strip().casefold() == side.raw.strip().casefold()
    )


def _may_write(direction: Direction, source: System) -> bool:
    return direction.to_salesforce if source is System.HUBSPOT else direction.to_hubspot


def _initial(
    mapping: FieldMapping, h: _Side, s: _Side, direction: Direction
) -> tuple[System | None, str, Conflict | None]:
    if h.blank or s.blank:
        source = System.SALESFORCE if h.blank else System.HUBSPOT
        if not _may_write(direction, source):
            return None, DIRECTION, None
        return source, _INITIAL[source], None
    allowed = _ALLOWED[direction]
    winner = allowed[0] if len(allowed) == 1 else _by_rule(mapping.rule, h, s)
    conflict = Conflict(mapping.key, None, h.canonical, s.canonical, mapping.rule, winner)
    return winner, _INITIAL[winner], conflict


_INITIAL = {System.HUBSPOT: INITIAL_HUBSPOT, System.SALESFORCE: INITIAL_SALESFORCE}
# The systems whose value a direction lets through to the other, in System order.
_ALLOWED = {d: tuple(side for side in System if _may_write(d, side)) for d in Direction}
_CHANGED = {System.HUBSPOT: HUBSPOT_CHANGED, System.SALESFORCE: SALESFORCE_CHANGED}


def _after_base(
    mapping: FieldMapping, base: str, h: _Side, s: _Side, direction: Direction
) -> tuple[System | None, str, Conflict | None]:
    base_key = compare_key(mapping, base or None)
    changed = [
        side for side, now in ((System.HUBSPOT, h), (System.SALESFORCE, s)) if now.key != base_key
    ]
    if len(changed) == 1:
        source = changed[0]
        if not _may_write(direction, source):
            return None, DIRECTION, None
        return source, _CHANGED[source], None
    if direction is not Direction.TWO_WAY:
        source = System.HUBSPOT if direction.to_salesforce else System.SALESFORCE
        return source, _CHANGED[source], None
    winner = _by_rule(mapping.rule, h, s)
    conflict = Conflict(mapping.key, base, h.canonical, s.canonical, mapping.rule, winner)
    return winner, f"conflict:{mapping.rule.value}", conflict


def _by_rule(rule: Rule, h: _Side, s: _Side) -> System:
    if rule is Rule.ALWAYS_HUBSPOT:
        return System.HUBSPOT
    if rule is Rule.ALWAYS_SALESFORCE:
        return System.SALESFORCE
    if rule is Rule.PREFER_SALESFORCE_UNLESS_BLANK:
        return System.HUBSPOT if s.blank else System.SALESFORCE
    return _newer(h.modified_at, s.modified_at)


def _newer(hs_at: datetime | None, sf_at: datetime | None) -> System:
    """most_recent: HubSpot only when it is known to be strictly later."""
    if hs_at is None or sf_at is None:
        return System.SALESFORCE
    hs_utc = hs_at if hs_at.tzinfo else hs_at.replace(tzinfo=UTC)
    sf_utc = sf_at if sf_at.tzinfo else sf_at.replace(tzinfo=UTC)
    return System.HUBSPOT if hs_utc > sf_utc else System.SALESFORCE


def _write(
    base: str | None,
    winner: System,
    h: _Side,
    s: _Side,
    reason: str,
    conflict: Conflict | None,
    write: Writer,
    ids: Mapping[str, str],
) -> FieldDecision:
    source = h if winner is System.HUBSPOT else s
    if not source.converted.ok:
        return FieldDecision(
            action=Action.NONE,
            new_base=base,
            reason=UNMAPPABLE,
            issue=source.converted.issue,
            **ids,
        )
    out = write(source.canonical)
    if not out.ok:
        return FieldDecision(
            action=Action.NONE, new_base=base, reason=UNMAPPABLE, issue=out.issue, **ids
        )
    action = Action.WRITE_SALESFORCE if winner is System.HUBSPOT else Action.WRITE_HUBSPOT
    return FieldDecision(
        action=action,
        value=out.value,
        new_base=source.canonical or "",
        reason=reason,
        conflict=conflict,
        **ids,
    )


# ================================================================ whole records


@dataclass(frozen=True)
class RecordMerge:
    """Every field decision for one linked record pair, and what they add up to."""

    decisions: tuple[FieldDecision, ...] = ()
    salesforce_updates: Mapping[str, Any] = field(default_factory=dict)
    hubspot_updates: Mapping[str, Any] = field(default_factory=dict)

    @property
    def conflicts(self) -> tuple[Conflict, ...]:
        return tuple(d.conflict for d in self.decisions if d.conflict is not None)

    @property
    def issues(self) -> tuple[MappingIssue, ...]:
        return tuple(d.issue for d in self.decisions if d.issue is not None)

    @property
    def new_base(self) -> dict[str, str | None]:
        """field key -> base to keep once the writes succeeded (None: never synced yet)."""
        return {d.field: d.new_base for d in self.decisions}


def merge_record(
    base: Mapping[str, str | None],
    hs: Mapping[str, FieldValue],
    sf: Mapping[str, FieldValue],
    obj: ObjectSync,
    sf_object: str,
    *,
    context: MappingContext | None = None,
) -> RecordMerge:
    """Decide every mapped field of a linked pair. base is keyed by `FieldMapping.key` (the
    HubSpot property), hs by HubSpot property, sf by Salesforce field; missing means blank/never."""
    context = context or MappingContext()
    pipeline = hs.get("pipeline")
    if context.pipeline is None and pipeline is not None and pipeline.value:
        context = context.with_pipeline(str(pipeline.value))
    decisions = tuple(
        decide_field(
            base.get(m.key),
            hs.get(m.hubspot, FieldValue()),
            sf.get(m.salesforce, FieldValue()),
            m,
            context=context,
            direction=obj.effective_direction(m),
        )
        for m in obj.mappings_for(sf_object)
    )
    return RecordMerge(
        decisions=decisions,
        salesforce_updates={
            d.salesforce_field: d.value for d in decisions if d.action is Action.WRITE_SALESFORCE
        },
        hubspot_updates={
            d.hubspot_field: d.value for d in decisions if d.action is Action.WRITE_HUBSPOT
        },
    )


# ================================================================ many pairs of one object


@dataclass(frozen=True)
class FieldRule:
    """One mapped field as every pair merges it: the mapping (and its names), its direction
    capped by the object's, its remembered reads of each side and conversions of a canonical
    value to each. symmetric: both sides read a value alike (one codec for both, no value map,
    no owner lookup), so equal raw strings need one read, not two."""

    mapping: FieldMapping
    direction: Direction
    read_hubspot: Memo
    read_salesforce: Memo
    write_salesforce: Memo
    write_hubspot: Memo
    field: str
    hubspot: str
    salesforce: str
    symmetric: bool


def field_rule(mapping: FieldMapping, direction: Direction, context: MappingContext) -> FieldRule:
    codec = TRANSFORMS[mapping.transform]
    return FieldRule(
        mapping=mapping,
        direction=direction,
        read_hubspot=Memo(_reader(mapping, System.HUBSPOT, context)),
        read_salesforce=Memo(_reader(mapping, System.SALESFORCE, context)),
        write_salesforce=Memo(partial(canonical_to_salesforce, mapping, context=context)),
        write_hubspot=Memo(partial(canonical_to_hubspot, mapping, context=context)),
        field=mapping.key,
        hubspot=mapping.hubspot,
        salesforce=mapping.salesforce,
        symmetric=mapping.transform is not Transform.OWNER_BY_EMAIL
        and not mapping.value_mapped
        and codec.from_hubspot is codec.from_salesforce,
    )


class MergeTable:
    """What `merge_record` works out per record and field, worked out once for the many pairs of
    one plan: the mappings of one Salesforce object, their capped directions, and the reads of
    values seen before. Conversions depend on the mapping context, so a table serves one (one
    deal pipeline); it holds no decision, only the pure reads' results."""

    def __init__(self, obj: ObjectSync, sf_object: str, context: MappingContext) -> None:
        self.context = context
        self.rules = tuple(
            field_rule(m, obj.effective_direction(m), context) for m in obj.mappings_for(sf_object)
        )
        # The rules merge_pair runs (disabled fields decide nothing), unpacked for its loop.
        self.active = tuple(
            (r.field, r.hubspot, r.salesforce, r.read_hubspot, r.read_salesforce, r.symmetric, r)
            for r in self.rules
            if r.direction is not Direction.NONE
        )
        # Every rule's reads, unpacked for the loops that read a whole record (a create's base).
        self.reads = tuple(
            (r.field, r.hubspot, r.salesforce, r.read_hubspot, r.read_salesforce)
            for r in self.rules
        )
        # The owner fields, which a create reads on their own (the record's owner).
        owner = Transform.OWNER_BY_EMAIL
        self.owners = tuple(r for r in self.rules if r.mapping.transform is owner)


@dataclass(frozen=True)
class PairMerge:
    """A linked pair's merge without the fields both sides agree on (most of them): the other
    decisions in field order, and the agreed fields' bases where they move, in field order too
    (the base of a field not agreed moves only with a write that succeeds)."""

    decisions: tuple[FieldDecision, ...]
    settled: dict[str, str | None]


def merge_pair(
    table: MergeTable,
    base: Mapping[str, str | None],
    hs: Mapping[str, Any],
    sf: Mapping[str, Any],
    *,
    hs_at: datetime | None,
    sf_at: datetime | None,
) -> PairMerge:
    """merge_record for a pair whose sides each changed at one moment: hs raw values by HubSpot
    property, sf by Salesforce field (missing: blank). The same decisions, but a field whose
    sides compare equal (the common case) yields only its agreed base, and a disabled field
    nothing (its base stays): no decision is built for either. settled is what merge_record's
    NONE decisions with a new base other than base's add up to (only "equal" ones have one)."""
    decisions: list[FieldDecision] = []
    settled: dict[str, str | None] = {}
    hs_get, sf_get, base_get = hs.get, sf.get, base.get
    for key, hubspot, salesforce, read_hubspot, read_salesforce, symmetric, rule in table.active:
        h_raw = hs_get(hubspot)
        s_raw = sf_get(salesforce)
        # memo[raw] is memo(raw) for a string or None, minus a call: most values were seen
        h_text = h_raw is None or type(h_raw) is str
        h_value, h_key = read_hubspot[h_raw] if h_text else read_hubspot(h_raw)
        known = base_get(key)
        if symmetric and h_text and h_raw == s_raw and h_value.issue is None:
            s_value, s_key = h_value, h_key  # what reading the same string again gives
        elif s_raw is None or type(s_raw) is str:
            s_value, s_key = read_salesforce[s_raw]
        else:
            s_value, s_key = read_salesforce(s_raw)
        if h_key == s_key:  # _decide's EQUAL, its new base without the decision
            agreed = (h_value if s_value.issue is None and s_key == "" else s_value).value or ""
            if known != agreed:
                settled[key] = agreed
            continue
        h = _Side(h_value, h_key, hs_at, h_raw)
        s = _Side(s_value, s_key, sf_at, s_raw)
        decision = _decide(
            known, h, s, rule.mapping, rule.direction, rule.write_salesforce, rule.write_hubspot
        )
        if decision.reason == EQUAL:  # one side holds what the other's value is written as
            if known != decision.new_base:
                settled[key] = decision.new_base
            continue
        decisions.append(decision)
    return PairMerge(tuple(decisions), settled)
