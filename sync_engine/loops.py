"""Sync loops: a field that two automations keep flipping through the sync is found and held.

Echo suppression (not re-reading what the integration itself wrote, by `LastModifiedById` and
HubSpot `sourceId`) stops the sync from answering itself. It cannot stop two *other* writers that
answer each other through the sync: a HubSpot workflow sets `hs_lead_status = IN_PROGRESS`, the
sync carries it to Salesforce, a Salesforce flow sets the Lead back to OPEN, the sync carries that
to HubSpot, the workflow fires again, forever, spending API calls and spamming both audit trails.

The engine records every field value it writes as a `SyncWrite` (the store keeps a window of
cycles). `detect_loops` looks at that history: when, within the window, the sync has written one
field of one record pair alternately to both systems, oscillating between the same values
(A→B→A, A→B→A→B, ...), that is a loop. The finding names the field, the values, and which side
keeps writing what, in a sentence fit for a `custom_code` sync error; `held_fields` turns the
findings into the set of fields the engine must skip until a person releases the hold.

What is *not* a loop: a person editing A→B then B→C (no value comes back), edits always made on
one side (no direction change), or a single conflict (one write). Two people reverting each other
within a few cycles is reported like an automation pair, with wording for people.

Values are compared in one spelling per field (the engine passes the HubSpot-side value, after the
value map), so `IN_PROGRESS` written to HubSpot and `Working - Contacted` written to Salesforce for
the same status compare as the same value.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

LOOP_ERROR_CATEGORY = "custom_code"
LOOP_ERROR_CODE = "SYNC_LOOP"

HoldKey = tuple[str, str, str]
"""(object, hs_id, field): what a hold is placed on and released by."""

SYSTEM_LABELS: dict[str, str] = {"hubspot": "HubSpot", "salesforce": "Salesforce"}
OTHER_SYSTEM: dict[str, str] = {"hubspot": "salesforce", "salesforce": "hubspot"}

# Who (system, origin) keeps writing, in words; `_actor` falls back to a generic phrase.
ACTOR_PHRASES: dict[tuple[str, str], str] = {
    ("hubspot", "automation"): "a HubSpot workflow",
    ("salesforce", "automation"): "a Salesforce automation (flow, process or trigger)",
    ("hubspot", "human"): "a HubSpot user",
    ("salesforce", "human"): "a Salesforce user",
    ("hubspot", "integration"): "another integration writing to HubSpot",
    ("salesforce", "integration"): "another integration writing to Salesforce",
}

# The fix to suggest, by whether an automation is one of the writers.
FIXES: dict[bool, str] = {
    True: (
        "turn one of the automations off or make the field one-way in sync.toml, "
        "then release the hold"
    ),
    False: (
        "agree on one value with the people editing it or make the field one-way in "
        "sync.toml, then release the hold"
    ),
}

BLANK = "(blank)"


@dataclass(frozen=True)
class SyncWrite:
    """One field value the sync wrote, as the engine records it for loop detection.

    system_written is the system the value was written *to*; the change came from the other one.
    origin says who made that change on the source side (`human`, `automation`, `integration`
    for another integration, or `unknown`): it only shapes the message, detection ignores it.
    value is in one spelling for both directions (HubSpot's, after the value map). cycle is the
    engine's cycle number (the run id works), so the window is counted in cycles, not seconds.
    """

    object: str
    hs_id: str
    sf_id: str
    field: str
    system_written: str
    value: str | None
    at: datetime
    cycle: int
    origin: str = "unknown"
    sf_object: str = ""

    @property
    def key(self) -> HoldKey:
        return (self.object, self.hs_id, self.field)

    @property
    def source(self) -> str:
        """The system whose change this write carried over."""
        return OTHER_SYSTEM[self.system_written]


@dataclass(frozen=True)
class LoopWriter:
    """One side of a loop: the system that keeps setting value, and what kind of writer it is."""

    system: str
    value: str | None
    origin: str


@dataclass(frozen=True)
class LoopFinding:
    """A field of one record pair caught flipping; message is the `custom_code` error text."""

    object: str
    hs_id: str
    sf_id: str
    field: str
    values: tuple[str | None, ...]
    writers: tuple[LoopWriter, ...]
    cycles: tuple[int, ...]
    message: str
    sf_object: str = ""

    @property
    def key(self) -> HoldKey:
        return (self.object, self.hs_id, self.field)

    @property
    def flips(self) -> int:
        return len(self.values) - 1

    @property
    def last_cycle(self) -> int:
        return self.cycles[-1]


def detect_loops(
    history: Iterable[SyncWrite],
    *,
    window_cycles: int = 3,
    min_flips: int = 2,
    current_cycle: int | None = None,
) -> list[LoopFinding]:
    """Fields the sync has flipped back and forth at least min_flips times within the window.

    The window is the last window_cycles cycles up to current_cycle (default: the latest cycle in
    history). A flip is a write to the other system with a different value; the run of flips
    counts only while each value equals the one two writes before (the oscillation), so edits
    that move on (A→B→C) reset it. With the defaults the planted automation pair is found in its
    third cycle: a value written in cycle 1, the other side's answer carried back in cycle 2, the
    first value written again in cycle 3. The engine may pass this cycle's planned writes in
    history to hold the field before the third write is made. Rows are grouped in one pass.
    """
    if window_cycles < 1 or min_flips < 1:
        raise ValueError("window_cycles and min_flips must be at least 1")
    groups = _window_groups(history, window_cycles=window_cycles, current_cycle=current_cycle)
    findings = []
    for writes in groups.values():
        if len(writes) <= min_flips:
            continue
        run = _oscillation(_collapse(sorted(writes, key=lambda w: (w.cycle, w.at))))
        if len(run) - 1 >= min_flips:
            findings.append(_finding(run))
    return sorted(findings, key=lambda f: (f.object, f.hs_id, f.field))


def held_fields(
    findings: Iterable[LoopFinding], released: Mapping[HoldKey, int] | None = None
) -> frozenset[HoldKey]:
    """The (object, hs_id, field) keys to skip, minus the holds a person released.

    released maps a key to the cycle in which its hold was released: a finding whose flips all
    happened by then is not held again (its old writes stay in the window for a few cycles), but
    a flip after the release holds the field again at once. The engine keeps a hold open (as the
    open `custom_code` error) after the flips leave the window, since a held field stops flipping.
    """
    released = released or {}
    return frozenset(
        f.key for f in findings if released.get(f.key, f.last_cycle - 1) < f.last_cycle
    )


def _window_groups(
    history: Iterable[SyncWrite], *, window_cycles: int, current_cycle: int | None
) -> dict[HoldKey, list[SyncWrite]]:
    rows = history if isinstance(history, Sequence) else list(history)
    if not rows:
        return {}
    last = current_cycle if current_cycle is not None else max(w.cycle for w in rows)
    first = last - window_cycles + 1
    groups: defaultdict[HoldKey, list[SyncWrite]] = defaultdict(list)
    for write in rows:
        if first <= write.cycle <= last:
            groups[write.key].append(write)
    return groups


def _collapse(writes: Sequence[SyncWrite]) -> list[SyncWrite]:
    """Drop a write that repeats the previous one (same side, same value: a retry)."""
    kept: list[SyncWrite] = []
    for write in writes:
        prev = kept[-1] if kept else None
        if prev is None or (prev.system_written, prev.value) != (write.system_written, write.value):
            kept.append(write)
    return kept


def _flips(a: SyncWrite, b: SyncWrite) -> bool:
    return a.system_written != b.system_written and a.value != b.value


def _oscillation(writes: Sequence[SyncWrite]) -> list[SyncWrite]:
    """The longest run (latest on a tie) in which every write flips the previous one back."""
    best: tuple[int, int] = (0, 1)
    start = 0
    for i in range(1, len(writes)):
        back = i - start < 2 or writes[i].value == writes[i - 2].value
        if not (_flips(writes[i - 1], writes[i]) and back):
            start = i - 1 if _flips(writes[i - 1], writes[i]) else i
        if i + 1 - start >= best[1] - best[0]:
            best = (start, i + 1)
    return list(writes[best[0] : best[1]])


def _writers(run: Sequence[SyncWrite]) -> tuple[LoopWriter, ...]:
    """Each source side in order of first appearance, its latest value and its usual origin."""
    by_side: dict[str, list[SyncWrite]] = {}
    for write in run:
        by_side.setdefault(write.source, []).append(write)
    return tuple(
        LoopWriter(system=side, value=writes[-1].value, origin=_usual_origin(writes))
        for side, writes in by_side.items()
    )


def _usual_origin(writes: Sequence[SyncWrite]) -> str:
    known = Counter(w.origin for w in writes if w.origin != "unknown")
    return known.most_common(1)[0][0] if known else "unknown"


def _finding(run: Sequence[SyncWrite]) -> LoopFinding:
    last = run[-1]
    writers = _writers(run)
    values = tuple(w.value for w in run)
    cycles = tuple(w.cycle for w in run)
    return LoopFinding(
        object=last.object,
        hs_id=last.hs_id,
        sf_id=last.sf_id,
        field=last.field,
        values=values,
        writers=writers,
        cycles=cycles,
        message=loop_message(
            field=last.field,
            object=last.object,
            hs_id=last.hs_id,
            sf_object=last.sf_object,
            sf_id=last.sf_id,
            values=values,
            cycles=cycles,
            writers=writers,
        ),
        sf_object=last.sf_object,
    )


def _show(value: str | None) -> str:
    return BLANK if value in (None, "") else str(value)


def _actor(writer: LoopWriter) -> str:
    label = SYSTEM_LABELS.get(writer.system, writer.system)
    return ACTOR_PHRASES.get((writer.system, writer.origin), f"something in {label}")


def loop_message(
    *,
    field: str,
    object: str,
    hs_id: str,
    sf_object: str,
    sf_id: str,
    values: Sequence[str | None],
    cycles: Sequence[int],
    writers: Sequence[LoopWriter],
) -> str:
    """The error a RevOps admin reads: which field, which values, who keeps writing, the fix."""
    span = cycles[-1] - cycles[0] + 1
    path = " → ".join(_show(v) for v in values)
    first, *rest = writers
    who = f"{_actor(first)} sets it to {_show(first.value)} after each sync"
    if rest:
        who += f" and {_actor(rest[0])} sets it back to {_show(rest[0].value)}"
    fix = FIXES[any(w.origin == "automation" for w in writers)]
    record = f"{object} {hs_id} / {sf_object or 'Salesforce record'} {sf_id}"
    return (
        f"Field {field} of {record} flipped {path} over {span} cycles: {who}. "
        f"Its sync is held; {fix}."
    )


__all__ = [
    "LOOP_ERROR_CATEGORY",
    "LOOP_ERROR_CODE",
    "HoldKey",
    "LoopFinding",
    "LoopWriter",
    "SyncWrite",
    "detect_loops",
    "held_fields",
    "loop_message",
]
