"""sync.toml: what to sync, which way, by which rule, for whom, how often and within what budget.

`load_config`/`parse_config` turn the file into frozen dataclasses and report every problem at
once, each with its line, key path and fix ("sync.toml:42: objects.contact.fields[3].rule:
'prefer_sf' is not a rule; use one of ..."), because a RevOps admin fixing a config wants the
whole list, not one error per attempt. `validate_against_schema` adds the problems only the live
systems can reveal (an unknown field, a value-map entry the target picklist lacks) once
describe/properties are read. `dump_config` writes a config back as TOML (the dashboard saves
edited value maps and criteria); `parse_config(dump_config(c)) == c`. `save_config` keeps the
comments of the file it replaces above the same tables and keys; per-field explanations can also
live in `note` keys, which are data and survive anything.

Secrets never belong here: a key or value that looks like a token or password is a problem too.
"""

from __future__ import annotations

import bisect
import difflib
import json
import re
import tomllib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from sync_engine.errors import ConfigurationError
from sync_engine.inclusion import (
    Criterion,
    Group,
    Join,
    Operator,
    criteria_problems,
    shape_problem,
)
from sync_engine.models import (
    HUBSPOT_ID_PROPERTIES,
    CreateAs,
    DeletionPolicy,
    Direction,
    FieldMeta,
    NoCompany,
    PropertyMeta,
    Rule,
    Transform,
)

KeyPath = tuple[str | int, ...]
E = TypeVar("E", bound=StrEnum)


# ================================================================ the configuration


@dataclass(frozen=True)
class ObjectKind:
    """Fixed facts about a synced object pair (data, not branches)."""

    hubspot_object: str
    salesforce_objects: tuple[str, ...]
    match_on: str | None


OBJECT_KINDS: dict[str, ObjectKind] = {
    "contact": ObjectKind("contacts", ("Lead", "Contact"), "email"),
    "company": ObjectKind("companies", ("Account",), "domain"),
    "deal": ObjectKind("deals", ("Opportunity",), None),
}
ACTIVITY_TYPES: tuple[str, ...] = (
    "calls",
    "emails",  # one-to-one sales emails logged in HubSpot (sent, opened, clicked)
    "meetings",
    "notes",
    "tasks",
    "marketing_emails",  # marketing email sends/opens/clicks: one Task per contact per email
    "form_submissions",
)
MARKETING_EVENTS: tuple[str, ...] = ("SENT", "OPEN", "CLICK")
# Activity types whose Salesforce Tasks (logged by reps) may also go to HubSpot.
TO_HUBSPOT_TYPES: tuple[str, ...] = ("calls", "meetings")
# The keys each [activities.<type>] table accepts besides enabled and daily_cap: the high-value
# filters that make sense for its source.
_CRM_ACTIVITY_KEYS = frozenset({"where"})
ACTIVITY_KEYS: dict[str, frozenset[str]] = {
    "calls": _CRM_ACTIVITY_KEYS | {"to_hubspot"},
    "emails": _CRM_ACTIVITY_KEYS | {"only_clicked"},
    "meetings": _CRM_ACTIVITY_KEYS | {"to_hubspot"},
    "notes": _CRM_ACTIVITY_KEYS,
    "tasks": _CRM_ACTIVITY_KEYS,
    "marketing_emails": frozenset({"events", "only_clicked"}),
    "form_submissions": frozenset({"forms", "page_url_contains"}),
}


@dataclass(frozen=True)
class FieldMapping:
    """One HubSpot property <-> one Salesforce field.

    salesforce_objects limits the mapping to some of the object's Salesforce objects (Lead has
    City, Contact has MailingCity); empty means all. pipeline_value_maps picks a value map by the
    deal's pipeline (deal stages differ per pipeline); value_map is used when none matches.
    """

    hubspot: str
    salesforce: str
    direction: Direction = Direction.TWO_WAY
    rule: Rule = Rule.PREFER_SALESFORCE_UNLESS_BLANK
    value_map: str | None = None
    transform: Transform = Transform.TEXT
    salesforce_objects: tuple[str, ...] = ()
    pipeline_value_maps: tuple[tuple[str, str], ...] = ()
    note: str = ""

    @property
    def key(self) -> str:
        """The name the last-synced value is kept under (stable across Lead -> Contact)."""
        return self.hubspot

    def applies_to(self, sf_object: str) -> bool:
        return not self.salesforce_objects or sf_object in self.salesforce_objects

    def value_map_for(self, pipeline: str | None) -> str | None:
        """The value map to use for a record in this pipeline."""
        for pipeline_id, name in self.pipeline_value_maps:
            if pipeline is not None and pipeline_id == pipeline:
                return name
        return self.value_map

    @property
    def value_map_names(self) -> tuple[str, ...]:
        names = [self.value_map] if self.value_map else []
        return (*names, *(name for _, name in self.pipeline_value_maps))

    @property
    def value_mapped(self) -> bool:
        """Whether any value map applies (`value_map_names` is not empty), without building it."""
        return bool(self.value_map or self.pipeline_value_maps)


def _norm(value: str) -> str:
    """Value-map lookup key: case-insensitive, whitespace collapsed."""
    return " ".join(value.split()).casefold()


@dataclass(frozen=True)
class ValueMap:
    """HubSpot values -> Salesforce values (to_salesforce) and the way back (to_hubspot).

    Lookups are case-insensitive with whitespace collapsed. When to_hubspot has no entry for a
    Salesforce value, the first HubSpot value mapped to it is used. pass_unmapped lets values
    without an entry through unchanged (for maps that only fix a few spellings).
    """

    name: str
    to_salesforce: tuple[tuple[str, str], ...] = ()
    to_hubspot: tuple[tuple[str, str], ...] = ()
    pass_unmapped: bool = False
    note: str = ""

    def salesforce_for(self, hubspot_value: str) -> str | None:
        wanted = _norm(hubspot_value)
        found = next((sf for hs, sf in self.to_salesforce if _norm(hs) == wanted), None)
        if found is None and self.pass_unmapped:
            return self.salesforce_spelling(hubspot_value)
        return found

    def hubspot_for(self, salesforce_value: str) -> str | None:
        wanted = _norm(salesforce_value)
        explicit = next((hs for sf, hs in self.to_hubspot if _norm(sf) == wanted), None)
        if explicit is not None:
            return explicit
        found = next((hs for hs, sf in self.to_salesforce if _norm(sf) == wanted), None)
        if found is None and self.pass_unmapped:
            return salesforce_value.strip()
        return found

    def salesforce_spelling(self, salesforce_value: str) -> str:
        """A Salesforce value in the spelling the map uses ("web" -> "Web")."""
        wanted = _norm(salesforce_value)
        known = (*(sf for _, sf in self.to_salesforce), *(sf for sf, _ in self.to_hubspot))
        return next((sf for sf in known if _norm(sf) == wanted), salesforce_value.strip())

    def agreed_salesforce(self, salesforce_value: str) -> str:
        """The Salesforce value that salesforce_value's HubSpot value maps back to (in the map's
        spelling): what both sides agree on when the map is many to one. With
        `"Communications" = "TELECOMMUNICATIONS"` under to_hubspot and
        `"TELECOMMUNICATIONS" = "Telecommunications"` under to_salesforce, an Account's
        "Communications" and its company's TELECOMMUNICATIONS agree: compared as they are, the
        company created from the Account read as an edit, and the sync rewrote the Account."""
        spelled = self.salesforce_spelling(salesforce_value)
        hubspot = self.hubspot_for(spelled)
        back = self.salesforce_for(hubspot) if hubspot is not None else None
        return spelled if back is None else back

    @property
    def salesforce_values(self) -> tuple[str, ...]:
        """Every Salesforce value the map names, first spelling kept."""
        seen: dict[str, str] = {}
        for sf in (*(sf for _, sf in self.to_salesforce), *(sf for sf, _ in self.to_hubspot)):
            seen.setdefault(_norm(sf), sf)
        return tuple(seen.values())

    def with_entry(self, hubspot_value: str, salesforce_value: str) -> ValueMap:
        """This map with hubspot_value -> salesforce_value added or replaced (dashboard edits)."""
        kept = tuple((hs, sf) for hs, sf in self.to_salesforce if _norm(hs) != _norm(hubspot_value))
        return replace(self, to_salesforce=(*kept, (hubspot_value, salesforce_value)))

    def without_entry(self, hubspot_value: str) -> ValueMap:
        kept = tuple((hs, sf) for hs, sf in self.to_salesforce if _norm(hs) != _norm(hubspot_value))
        return replace(self, to_salesforce=kept)

    def coverage(
        self, *, hubspot_options: Iterable[str], salesforce_values: Iterable[str]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(HubSpot options with no Salesforce value, Salesforce values with no way back)."""
        no_sf = tuple(v for v in hubspot_options if self.salesforce_for(v) is None)
        no_hs = tuple(v for v in salesforce_values if self.hubspot_for(v) is None)
        return no_sf, no_hs


@dataclass(frozen=True)
class Association:
    """A link kept in step: a HubSpot association to another object type <-> a Salesforce
    lookup field (contact->companies <-> Contact.AccountId)."""

    hubspot: str
    salesforce: str
    salesforce_objects: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObjectSync:
    """How one object pair syncs.

    direction caps every field's direction and creation: the deal default is
    salesforce_to_hubspot (Opportunities are read-only in HubSpot, the common setup); set it to
    two_way to let HubSpot edit Opportunities too.
    """

    name: str
    fields: tuple[FieldMapping, ...] = ()
    enabled: bool = True
    direction: Direction = Direction.TWO_WAY
    salesforce_objects: tuple[str, ...] = ()
    create_in_salesforce: bool = True
    create_in_hubspot: bool = True
    associations: tuple[Association, ...] = ()
    create_as: CreateAs = CreateAs.LEAD
    no_company: NoCompany = NoCompany.CREATE_LEAD
    placeholder_company: str = "[not provided]"
    hubspot_defaults: tuple[tuple[str, str], ...] = ()
    salesforce_defaults: tuple[tuple[str, str], ...] = ()
    note: str = ""

    @property
    def kind(self) -> ObjectKind:
        return OBJECT_KINDS[self.name]

    @property
    def hubspot_object(self) -> str:
        return self.kind.hubspot_object

    @property
    def targets(self) -> tuple[str, ...]:
        """The Salesforce objects this object syncs with."""
        return self.salesforce_objects or self.kind.salesforce_objects

    def mappings_for(self, sf_object: str) -> tuple[FieldMapping, ...]:
        return tuple(m for m in self.fields if m.applies_to(sf_object))

    def effective_direction(self, mapping: FieldMapping) -> Direction:
        return mapping.direction.cap(self.direction)


@dataclass(frozen=True)
class Schedule:
    """interval_seconds between sync cycles; associations are polled on their own interval."""

    interval_seconds: int = 60
    association_interval_seconds: int = 900


@dataclass(frozen=True)
class Budget:
    """Shares of each system's daily API limit the sync may use, the share of what is left today
    one run may spend, and how many contacts a staged initial sync pushes per run."""

    salesforce_daily_share: float = 0.5
    hubspot_daily_share: float = 0.5
    per_run_share: float = 0.1
    initial_batch_size: int = 500


@dataclass(frozen=True)
class Guards:
    """Loop detection (a field flipping loop_max_flips times within loop_window_cycles cycles is
    stopped and flagged), duplicate detection and the API budget."""

    loop_detection: bool = True
    loop_window_cycles: int = 6
    loop_max_flips: int = 2
    duplicate_detection: bool = True
    budget: Budget = Budget()


@dataclass(frozen=True)
class ActivitySync:
    """One activity type synced as Salesforce Tasks: its toggle, its daily cap of new Tasks, and
    the high-value filters that keep a portal's activity from flooding Salesforce.

    to_hubspot (calls, meetings): Tasks reps log in Salesforce become HubSpot engagements too.
    where (CRM engagement types): property -> allowed values, all must hold.
    events / only_clicked (marketing_emails): which events make a Task; only emails with a click.
    only_clicked (emails): only tracked sales emails the recipient clicked a link in.
    forms / page_url_contains (form_submissions): only these forms (name or id); only submissions
    on a page whose URL contains one of the texts (e.g. "pricing").
    """

    type: str
    enabled: bool = False
    daily_cap: int = 200
    to_hubspot: bool = False
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    events: tuple[str, ...] = MARKETING_EVENTS
    only_clicked: bool = False
    forms: tuple[str, ...] = ()
    page_url_contains: tuple[str, ...] = ()

    def settings(self) -> dict[str, Any]:
        """The keys its TOML table carries (the ones its type accepts)."""
        extra = ACTIVITY_KEYS.get(self.type, frozenset())
        values = {
            "enabled": self.enabled,
            "daily_cap": self.daily_cap,
            **{k: getattr(self, k) for k in sorted(extra)},
        }
        for key, value in values.items():
            if isinstance(value, tuple):  # lists, so an empty one is written (and read) back
                values[key] = list(value)
        if "where" in values:
            values["where"] = {k: list(v) for k, v in self.where}
            if not self.where:
                del values["where"]
        return values


@dataclass(frozen=True)
class SyncConfig:
    objects: tuple[ObjectSync, ...] = ()
    value_maps: tuple[ValueMap, ...] = ()
    inclusion: Group = field(default_factory=lambda: Group(join=Join.OR))
    schedule: Schedule = Schedule()
    guards: Guards = Guards()
    deletion: DeletionPolicy = DeletionPolicy.FLAG
    # How often (minutes) the activity sync reads the engagements archived in HubSpot to apply
    # the deletion policy to their Tasks: the read costs calls (the archived list is read whole),
    # so it runs at this slower cadence, never every idle cycle; 0 reads them every cycle.
    deletion_check_minutes: int = 60
    # The same for the contacts, companies and deals archived in HubSpot (HubSpot's search
    # never returns them): their Salesforce partners follow the deletion policy.
    record_deletion_check_minutes: int = 60
    activities: tuple[ActivitySync, ...] = tuple(ActivitySync(t) for t in ACTIVITY_TYPES)
    owner_aliases: tuple[tuple[str, str], ...] = ()
    source: str = field(default="sync.toml", compare=False)
    lines: Mapping[KeyPath, int] = field(default_factory=dict, compare=False, repr=False)

    def object(self, name: str) -> ObjectSync | None:
        return next((o for o in self.objects if o.name == name), None)

    def value_map(self, name: str) -> ValueMap | None:
        return next((v for v in self.value_maps if v.name == name), None)

    @property
    def value_maps_by_name(self) -> dict[str, ValueMap]:
        return {v.name: v for v in self.value_maps}

    @property
    def budget(self) -> Budget:
        return self.guards.budget

    def activity(self, type_: str) -> ActivitySync | None:
        return next((a for a in self.activities if a.type == type_), None)

    def with_value_map(self, value_map: ValueMap) -> SyncConfig:
        """This config with value_map replaced in place, or added at the end (the dashboard's
        value-map editor)."""
        names = [v.name for v in self.value_maps]
        if value_map.name not in names:
            return replace(self, value_maps=(*self.value_maps, value_map))
        maps = list(self.value_maps)
        maps[names.index(value_map.name)] = value_map
        return replace(self, value_maps=tuple(maps))

    def with_inclusion(self, inclusion: Group) -> SyncConfig:
        return replace(self, inclusion=inclusion)


# ================================================================ problems


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with sync.toml: where (line, key path) and what to do about it."""

    line: int | None
    path: str
    message: str
    source: str = "sync.toml"

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(ConfigurationError):
    """sync.toml is unusable; carries every problem found, one per line in str()."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.path))
        super().__init__("\n".join(str(p) for p in self.problems))


# ================================================================ loading


def load_config(path: Path) -> SyncConfig:
    """Read and parse the file at path (SYNC_CONFIG, default sync.toml)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                ConfigProblem(
                    None,
                    "",
                    "file not found; set SYNC_CONFIG or copy the shipped sync.toml",
                    str(path),
                )
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [ConfigProblem(None, "", f"cannot read the file: {exc}", str(path))]
        ) from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = "sync.toml") -> SyncConfig:
    """Parse sync.toml text; raise ConfigError with all problems found."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_problem(exc, text, source)]) from None
    lines = locate_keys(text)
    parser = _Parser(source, lines)
    config = parser.config(raw)
    parser.problems += _secret_problems(raw, (), parser)
    if parser.problems:
        raise ConfigError(parser.problems)
    return replace(config, source=source, lines=lines)


_DECODE_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def _syntax_problem(exc: tomllib.TOMLDecodeError, text: str, source: str) -> ConfigProblem:
    message = str(exc)
    found = _DECODE_AT.search(message)
    if found:
        line = int(found.group(1))
        what = message[: found.start()].strip()
        detail = f"column {found.group(2)}: {what}"
    else:
        line = text.count("\n") + (0 if text.endswith("\n") else 1)
        detail = message.replace("(at end of document)", "at the end of the file").strip()
    return ConfigProblem(
        line or None, "", f"not valid TOML ({detail}); fix the syntax at that line", source
    )


_ENUM_NOUNS: dict[type[StrEnum], str] = {
    Direction: "a direction",
    Rule: "a rule",
    Transform: "a transform",
    CreateAs: "a create_as choice",
    NoCompany: "a no_company choice",
    DeletionPolicy: "a deletion policy",
    Operator: "an operator",
    Join: "a join",
}

_TYPE_NAMES: dict[type, str] = {
    str: "a string",
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    list: "a list",
    dict: "a table",
}


class _Parser:
    """Reads the raw TOML dict, collecting problems instead of stopping at the first."""

    def __init__(self, source: str, lines: Mapping[KeyPath, int]) -> None:
        self.source = source
        self.lines = lines
        self.problems: list[ConfigProblem] = []

    # reporting -----------------------------------------------------------------------------

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(
            ConfigProblem(line_of(self.lines, path), render_path(path), message, self.source)
        )

    def keys(self, table: Mapping[str, Any], path: KeyPath, allowed: Collection[str]) -> None:
        for key in table:
            if key not in allowed and not _SECRET_KEY.search(key):  # secrets: reported apart
                close = difflib.get_close_matches(key, list(allowed), n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else f"known keys: {', '.join(sorted(allowed))}"
                )
                self.problem((*path, key), f"unknown key {key!r}; {hint}")

    # typed getters -------------------------------------------------------------------------

    def get(
        self, table: Mapping[str, Any], key: str, path: KeyPath, kind: type, default: Any
    ) -> Any:
        if key not in table:
            return default
        value = table[key]
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            self.problem((*path, key), f"expected {_TYPE_NAMES[kind]}, got {value!r}")
            return default
        return value

    def required_str(self, table: Mapping[str, Any], key: str, path: KeyPath, what: str) -> str:
        value = self.get(table, key, path, str, None)
        if value is None or not value.strip():
            if key not in table or isinstance(table.get(key), str):
                self.problem((*path, key), f'missing {what}; add {key} = "..."')
            return ""
        return value.strip()

    def enum(
        self, table: Mapping[str, Any], key: str, path: KeyPath, kind: type[E], default: E
    ) -> E:
        value = self.get(table, key, path, str, None)
        if value is None:
            return default
        try:
            return kind(value)
        except ValueError:
            choices = ", ".join(m.value for m in kind)
            self.problem(
                (*path, key), f"{value!r} is not {_ENUM_NOUNS[kind]}; use one of {choices}"
            )
            return default

    def number(
        self,
        table: Mapping[str, Any],
        key: str,
        path: KeyPath,
        kind: type,
        default: Any,
        *,
        low: float,
        high: float | None = None,
        low_open: bool = False,
    ) -> Any:
        value = self.get(table, key, path, kind, default)
        too_low = value <= low if low_open else value < low
        if too_low or (high is not None and value > high):
            bound = f"above {low}" if low_open else f"at least {low}"
            upper = f" and at most {high}" if high is not None else ""
            self.problem((*path, key), f"{value!r} is out of range; use a value {bound}{upper}")
            return default
        return value

    def str_list(self, table: Mapping[str, Any], key: str, path: KeyPath) -> tuple[str, ...]:
        values = self.get(table, key, path, list, [])
        good = tuple(v.strip() for v in values if isinstance(v, str) and v.strip())
        if len(good) != len(values):
            self.problem((*path, key), "expected a list of non-empty strings")
        return good

    def str_table(
        self, table: Mapping[str, Any], key: str, path: KeyPath
    ) -> tuple[tuple[str, str], ...]:
        values = self.get(table, key, path, dict, {})
        pairs: list[tuple[str, str]] = []
        for k, v in values.items():
            if isinstance(v, str) and v.strip():
                pairs.append((k, v.strip()))
            else:
                self.problem((*path, key, k), f"expected a non-empty string, got {v!r}")
        return tuple(pairs)

    def tables(self, table: Mapping[str, Any], key: str, path: KeyPath) -> list[dict[str, Any]]:
        """An array of tables ([[x]] or a list of inline tables)."""
        values = self.get(table, key, path, list, [])
        good = []
        for i, item in enumerate(values):
            if isinstance(item, dict):
                good.append(item)
            else:
                self.problem((*path, key, i), f"expected a table, got {item!r}")
        return good

    # sections ------------------------------------------------------------------------------

    def config(self, raw: Mapping[str, Any]) -> SyncConfig:
        self.keys(raw, (), _TOP_KEYS)
        version = self.get(raw, "version", (), int, 1)
        if version != 1:
            self.problem(("version",), f"version {version} is not supported; use version = 1")
        value_maps = self.value_maps(self.get(raw, "value_maps", (), dict, {}))
        objects = self.objects(self.get(raw, "objects", (), dict, {}), {v.name for v in value_maps})
        return SyncConfig(
            objects=objects,
            value_maps=value_maps,
            inclusion=self.inclusion(self.get(raw, "inclusion", (), dict, {})),
            schedule=self.schedule(self.get(raw, "schedule", (), dict, {})),
            guards=self.guards(self.get(raw, "guards", (), dict, {})),
            deletion=self.deletion(self.get(raw, "deletion", (), dict, {})),
            deletion_check_minutes=self.deletion_check(
                self.get(raw, "deletion", (), dict, {}),
                "activities_check_minutes",
                SyncConfig.deletion_check_minutes,
            ),
            record_deletion_check_minutes=self.deletion_check(
                self.get(raw, "deletion", (), dict, {}),
                "records_check_minutes",
                SyncConfig.record_deletion_check_minutes,
            ),
            activities=self.activities(self.get(raw, "activities", (), dict, {})),
            owner_aliases=self.owners(self.get(raw, "owners", (), dict, {})),
        )

    def schedule(self, raw: Mapping[str, Any]) -> Schedule:
        path: KeyPath = ("schedule",)
        self.keys(raw, path, {"interval_seconds", "association_interval_seconds"})
        d = Schedule()
        return Schedule(
            interval_seconds=self.number(
                raw, "interval_seconds", path, int, d.interval_seconds, low=5
            ),
            association_interval_seconds=self.number(
                raw,
                "association_interval_seconds",
                path,
                int,
                d.association_interval_seconds,
                low=5,
            ),
        )

    def guards(self, raw: Mapping[str, Any]) -> Guards:
        path: KeyPath = ("guards",)
        self.keys(
            raw,
            path,
            {
                "loop_detection",
                "loop_window_cycles",
                "loop_max_flips",
                "duplicate_detection",
                "budget",
            },
        )
        d = Guards()
        return Guards(
            loop_detection=self.get(raw, "loop_detection", path, bool, d.loop_detection),
            loop_window_cycles=self.number(
                raw, "loop_window_cycles", path, int, d.loop_window_cycles, low=2
            ),
            loop_max_flips=self.number(raw, "loop_max_flips", path, int, d.loop_max_flips, low=2),
            duplicate_detection=self.get(
                raw, "duplicate_detection", path, bool, d.duplicate_detection
            ),
            budget=self.budget(self.get(raw, "budget", path, dict, {})),
        )

    def budget(self, raw: Mapping[str, Any]) -> Budget:
        path: KeyPath = ("guards", "budget")
        self.keys(
            raw,
            path,
            {
                "salesforce_daily_share",
                "hubspot_daily_share",
                "per_run_share",
                "initial_batch_size",
            },
        )
        d = Budget()

        def share(key: str, default: float) -> float:
            return self.number(raw, key, path, float, default, low=0.0, high=1.0, low_open=True)

        return Budget(
            salesforce_daily_share=share("salesforce_daily_share", d.salesforce_daily_share),
            hubspot_daily_share=share("hubspot_daily_share", d.hubspot_daily_share),
            per_run_share=share("per_run_share", d.per_run_share),
            initial_batch_size=self.number(
                raw, "initial_batch_size", path, int, d.initial_batch_size, low=1
            ),
        )

    def deletion(self, raw: Mapping[str, Any]) -> DeletionPolicy:
        self.keys(
            raw, ("deletion",), {"policy", "activities_check_minutes", "records_check_minutes"}
        )
        return self.enum(raw, "policy", ("deletion",), DeletionPolicy, DeletionPolicy.FLAG)

    def deletion_check(self, raw: Mapping[str, Any], key: str, default: int) -> int:
        return self.number(raw, key, ("deletion",), int, default, low=0)

    def activities(self, raw: Mapping[str, Any]) -> tuple[ActivitySync, ...]:
        self.keys(raw, ("activities",), ACTIVITY_TYPES)
        found = []
        for type_ in ACTIVITY_TYPES:
            path: KeyPath = ("activities", type_)
            table = self.get(raw, type_, ("activities",), dict, {})
            self.keys(table, path, {"enabled", "daily_cap", *ACTIVITY_KEYS[type_]})
            found.append(self.activity(type_, table, path))
        return tuple(found)

    def activity(self, type_: str, table: Mapping[str, Any], path: KeyPath) -> ActivitySync:
        default = ActivitySync(type_)
        events = self.str_list(table, "events", path) if "events" in table else default.events
        unknown = [e for e in events if e not in MARKETING_EVENTS]
        if unknown:
            self.problem(
                (*path, "events"),
                f"{', '.join(unknown)} is not a marketing email event; use some of "
                f"{', '.join(MARKETING_EVENTS)}",
            )
            events = tuple(e for e in events if e in MARKETING_EVENTS)
        where: list[tuple[str, tuple[str, ...]]] = []
        for prop, allowed in self.get(table, "where", path, dict, {}).items():
            values = self.str_list({prop: allowed}, prop, (*path, "where"))
            if values:
                where.append((prop, values))
        return ActivitySync(
            type=type_,
            enabled=self.get(table, "enabled", path, bool, False),
            daily_cap=self.number(table, "daily_cap", path, int, default.daily_cap, low=0),
            to_hubspot=self.get(table, "to_hubspot", path, bool, False),
            where=tuple(where),
            events=events,
            only_clicked=self.get(table, "only_clicked", path, bool, False),
            forms=self.str_list(table, "forms", path),
            page_url_contains=self.str_list(table, "page_url_contains", path),
        )

    def owners(self, raw: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        self.keys(raw, ("owners",), {"aliases"})
        pairs = self.str_table(raw, "aliases", ("owners",))
        for hs_email, sf_email in pairs:
            for email in (hs_email, sf_email):
                if "@" not in email:
                    self.problem(
                        ("owners", "aliases", hs_email), f"{email!r} is not an email address"
                    )
        return tuple((hs.strip().lower(), sf.strip().lower()) for hs, sf in pairs)

    # value maps ----------------------------------------------------------------------------

    def value_maps(self, raw: Mapping[str, Any]) -> tuple[ValueMap, ...]:
        found = []
        for name, table in raw.items():
            path: KeyPath = ("value_maps", name)
            if not isinstance(table, dict):
                self.problem(path, "expected a table of HubSpot value = Salesforce value entries")
                continue
            self.keys(table, path, {"to_salesforce", "to_hubspot", "pass_unmapped", "note"})
            to_sf = self.str_table(table, "to_salesforce", path)
            to_hs = self.str_table(table, "to_hubspot", path)
            if not to_sf and not to_hs:
                self.problem(
                    path, f"the value map has no entries; add [value_maps.{name}.to_salesforce]"
                )
            self.duplicate_keys(to_sf, (*path, "to_salesforce"))
            self.duplicate_keys(to_hs, (*path, "to_hubspot"))
            found.append(
                ValueMap(
                    name=name,
                    to_salesforce=to_sf,
                    to_hubspot=to_hs,
                    pass_unmapped=self.get(table, "pass_unmapped", path, bool, False),
                    note=self.get(table, "note", path, str, ""),
                )
            )
        return tuple(found)

    def duplicate_keys(self, pairs: Iterable[tuple[str, str]], path: KeyPath) -> None:
        seen: dict[str, str] = {}
        for key, _ in pairs:
            first = seen.setdefault(_norm(key), key)
            if first != key:
                self.problem(
                    (*path, key), f"{key!r} repeats {first!r} (lookups ignore case); keep one"
                )

    # objects -------------------------------------------------------------------------------

    def objects(self, raw: Mapping[str, Any], map_names: Collection[str]) -> tuple[ObjectSync, ...]:
        found = []
        for name, table in raw.items():
            path: KeyPath = ("objects", name)
            if name not in OBJECT_KINDS:
                self.problem(path, f"unknown object {name!r}; use one of {', '.join(OBJECT_KINDS)}")
                continue
            if not isinstance(table, dict):
                self.problem(path, "expected a table")
                continue
            found.append(self.object(name, table, path, map_names))
        return tuple(found)

    def object(
        self, name: str, raw: Mapping[str, Any], path: KeyPath, map_names: Collection[str]
    ) -> ObjectSync:
        allowed = set(_OBJECT_KEYS) | (_CONTACT_KEYS if name == "contact" else set())
        self.keys(raw, path, allowed)
        kind = OBJECT_KINDS[name]
        targets = self.str_list(raw, "salesforce_objects", path)
        for t in targets:
            if t not in kind.salesforce_objects:
                self.problem(
                    (*path, "salesforce_objects"),
                    f"{t!r} is not synced with HubSpot {kind.hubspot_object}; "
                    f"use {', '.join(kind.salesforce_objects)}",
                )
        d = ObjectSync(name=name)
        obj = ObjectSync(
            name=name,
            enabled=self.get(raw, "enabled", path, bool, True),
            direction=self.enum(raw, "direction", path, Direction, Direction.TWO_WAY),
            salesforce_objects=targets,
            create_in_salesforce=self.get(raw, "create_in_salesforce", path, bool, True),
            create_in_hubspot=self.get(raw, "create_in_hubspot", path, bool, True),
            create_as=self.enum(raw, "create_as", path, CreateAs, d.create_as),
            no_company=self.enum(raw, "no_company", path, NoCompany, d.no_company),
            placeholder_company=self.get(
                raw, "placeholder_company", path, str, d.placeholder_company
            ),
            hubspot_defaults=self.str_table(raw, "hubspot_defaults", path),
            salesforce_defaults=self.str_table(raw, "salesforce_defaults", path),
            note=self.get(raw, "note", path, str, ""),
            associations=tuple(
                self.association(t, (*path, "associations", i), kind)
                for i, t in enumerate(self.tables(raw, "associations", path))
            ),
            fields=tuple(
                self.field_mapping(t, (*path, "fields", i), kind, map_names)
                for i, t in enumerate(self.tables(raw, "fields", path))
            ),
        )
        self.check_duplicates(obj, path)
        return obj

    def association(self, raw: Mapping[str, Any], path: KeyPath, kind: ObjectKind) -> Association:
        self.keys(raw, path, {"hubspot", "salesforce", "salesforce_objects"})
        hubspot = self.required_str(raw, "hubspot", path, "the HubSpot object type associated")
        known = {k.hubspot_object for k in OBJECT_KINDS.values()}
        if hubspot and hubspot not in known:
            self.problem(
                (*path, "hubspot"),
                f"{hubspot!r} is not a synced HubSpot object; "
                f"use one of {', '.join(sorted(known))}",
            )
        targets = self.str_list(raw, "salesforce_objects", path)
        self.check_targets(targets, (*path, "salesforce_objects"), kind)
        return Association(
            hubspot=hubspot,
            salesforce=self.api_name(raw, "salesforce", path),
            salesforce_objects=targets,
        )

    def field_mapping(
        self, raw: Mapping[str, Any], path: KeyPath, kind: ObjectKind, map_names: Collection[str]
    ) -> FieldMapping:
        self.keys(raw, path, _FIELD_KEYS)
        targets = self.str_list(raw, "salesforce_objects", path)
        self.check_targets(targets, (*path, "salesforce_objects"), kind)
        mapping = FieldMapping(
            hubspot=self.required_str(raw, "hubspot", path, "the HubSpot property name"),
            salesforce=self.api_name(raw, "salesforce", path),
            direction=self.enum(raw, "direction", path, Direction, Direction.TWO_WAY),
            rule=self.enum(raw, "rule", path, Rule, Rule.PREFER_SALESFORCE_UNLESS_BLANK),
            value_map=self.get(raw, "value_map", path, str, None),
            transform=self.enum(raw, "transform", path, Transform, Transform.TEXT),
            salesforce_objects=targets,
            pipeline_value_maps=self.str_table(raw, "pipeline_value_maps", path),
            note=self.get(raw, "note", path, str, ""),
        )
        for key, name in [("value_map", mapping.value_map)] + [
            (f"pipeline_value_maps.{p}", n) for p, n in mapping.pipeline_value_maps
        ]:
            if name is not None and name not in map_names:
                known = ", ".join(sorted(map_names)) or "none defined"
                key_path = (*path, *key.split(".", 1))
                self.problem(
                    key_path,
                    f"no value map named {name!r}; "
                    f"define [value_maps.{name}] or use one of: {known}",
                )
        if mapping.value_map_names and mapping.transform not in _MAPPABLE_TRANSFORMS:
            self.problem(
                (*path, "transform"),
                f"a value map cannot be combined with transform "
                f"{mapping.transform.value!r}; remove one",
            )
        return mapping

    def api_name(self, raw: Mapping[str, Any], key: str, path: KeyPath) -> str:
        name = self.required_str(raw, key, path, "the Salesforce field API name")
        if name and not _SF_API_NAME.fullmatch(name):
            self.problem(
                (*path, key),
                f"{name!r} is not a Salesforce field API name (like LeadSource or Score__c)",
            )
        return name

    def check_targets(self, targets: Iterable[str], path: KeyPath, kind: ObjectKind) -> None:
        for t in targets:
            if t not in kind.salesforce_objects:
                self.problem(
                    path,
                    f"{t!r} is not one of this object's Salesforce objects "
                    f"({', '.join(kind.salesforce_objects)})",
                )

    def check_duplicates(self, obj: ObjectSync, path: KeyPath) -> None:
        """Per Salesforce object: a HubSpot property mapped once, a field written from HubSpot
        once."""
        for sf_object in obj.targets:
            seen_hs: dict[str, int] = {}
            seen_sf: dict[str, int] = {}
            for i, m in enumerate(obj.fields):
                if not m.applies_to(sf_object) or not m.hubspot:
                    continue
                here = (*path, "fields", i)
                first = seen_hs.setdefault(m.hubspot, i)
                if first != i:
                    self.problem(
                        (*here, "hubspot"),
                        f"{m.hubspot!r} is already mapped for {sf_object} in fields[{first}]; "
                        "keep one mapping or limit each with salesforce_objects",
                    )
                if m.direction.to_salesforce and m.salesforce:
                    first_sf = seen_sf.setdefault(m.salesforce.lower(), i)
                    if first_sf != i:
                        self.problem(
                            (*here, "salesforce"),
                            f"{sf_object}.{m.salesforce} is already written from HubSpot by "
                            f"fields[{first_sf}]; "
                            "make one of them salesforce_to_hubspot",
                        )

    # inclusion -----------------------------------------------------------------------------

    def inclusion(self, raw: Mapping[str, Any]) -> Group:
        return self.group(raw, ("inclusion",), default_join=Join.OR, top=True)

    def group(
        self, raw: Mapping[str, Any], path: KeyPath, *, default_join: Join, top: bool = False
    ) -> Group:
        self.keys(
            raw,
            path,
            {"join", "criteria", "groups", "note"} if top else {"join", "criteria", "groups"},
        )
        group = Group(
            join=self.enum(raw, "join", path, Join, default_join),
            criteria=tuple(
                self.criterion(t, (*path, "criteria", i))
                for i, t in enumerate(self.tables(raw, "criteria", path))
            ),
            groups=tuple(
                self.group(t, (*path, "groups", i), default_join=Join.AND)
                for i, t in enumerate(self.tables(raw, "groups", path))
            ),
        )
        if group.is_empty and not top:
            self.problem(
                path,
                "an empty group would match every contact (or none); add criteria or remove it",
            )
        return group

    def criterion(self, raw: Mapping[str, Any], path: KeyPath) -> Criterion:
        if "in_list" in raw:
            self.keys(raw, path, {"in_list"})
            value = raw["in_list"]
            if (
                not isinstance(value, str | int)
                or isinstance(value, bool)
                or not str(value).strip()
            ):
                self.problem((*path, "in_list"), "in_list needs the HubSpot list's name or id")
            return Criterion("", Operator.IN_LIST, str(value).strip())
        self.keys(raw, path, {"property", "operator", "value"})
        value = raw.get("value")
        if isinstance(value, list):
            value = tuple(_plain(v) for v in value)
        elif value is not None:
            value = _plain(value)
        criterion = Criterion(
            property=self.required_str(raw, "property", path, "the HubSpot property to test"),
            operator=self.enum(raw, "operator", path, Operator, Operator.EQ),
            value=value,
        )
        if "operator" not in raw:
            self.problem(
                (*path, "operator"),
                f"missing operator; use one of {', '.join(o.value for o in Operator)}",
            )
        elif criterion.property and (problem := shape_problem(criterion)):
            self.problem(path, problem)
        return criterion


def _plain(value: Any) -> Any:
    """TOML dates and times become ISO strings: criteria compare them as HubSpot strings."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


_TOP_KEYS = frozenset(
    {
        "version",
        "schedule",
        "guards",
        "deletion",
        "activities",
        "owners",
        "inclusion",
        "value_maps",
        "objects",
    }
)
_OBJECT_KEYS = frozenset(
    {
        "enabled",
        "direction",
        "salesforce_objects",
        "create_in_salesforce",
        "create_in_hubspot",
        "hubspot_defaults",
        "salesforce_defaults",
        "associations",
        "fields",
        "note",
    }
)
_CONTACT_KEYS = frozenset({"create_as", "no_company", "placeholder_company"})
_FIELD_KEYS = frozenset(
    {
        "hubspot",
        "salesforce",
        "direction",
        "rule",
        "value_map",
        "transform",
        "salesforce_objects",
        "pipeline_value_maps",
        "note",
    }
)
_MAPPABLE_TRANSFORMS = frozenset({Transform.TEXT})
_SF_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# ---------------------------------------------------------------- secrets

_SECRET_KEY = re.compile(
    r"(token|passw(or)?d|secret|api[_-]?key|session[_-]?id|private[_-]?key|credential)", re.I
)
_SECRET_VALUE = re.compile(
    r"(pat-[a-z]{2,4}\d?-[0-9a-f-]{16,}"  # HubSpot private-app token
    r"|00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{20,}"  # Salesforce session id
    r"|Bearer\s+\S{12,})",
    re.I,
)
_DATA_TABLES = ("to_salesforce", "to_hubspot", "aliases", "hubspot_defaults", "salesforce_defaults")


def _secret_problems(raw: Any, path: KeyPath, parser: _Parser) -> list[ConfigProblem]:
    """Keys named like secrets and values shaped like tokens, anywhere in the file."""
    found: list[ConfigProblem] = []
    fix = (
        "secrets never belong in sync.toml; remove it and set HUBSPOT_ACCESS_TOKEN / "
        "SALESFORCE_* in the environment or .streamlit/secrets.toml"
    )
    in_data = any(p in _DATA_TABLES for p in path if isinstance(p, str))
    if isinstance(raw, dict):
        for key, value in raw.items():
            here = (*path, key)
            if not in_data and _SECRET_KEY.search(key):
                found.append(_make(parser, here, f"{key!r} looks like a secret: {fix}"))
                continue
            found += _secret_problems(value, here, parser)
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            found += _secret_problems(value, (*path, i), parser)
    elif isinstance(raw, str) and _SECRET_VALUE.search(raw):
        found.append(_make(parser, path, f"this value looks like a token: {fix}"))
    return found


def _make(parser: _Parser, path: KeyPath, message: str) -> ConfigProblem:
    return ConfigProblem(line_of(parser.lines, path), render_path(path), message, parser.source)


# ================================================================ validation against the schema

# Salesforce field types each transform can write (None: any).
TRANSFORM_SF_TYPES: dict[Transform, frozenset[str] | None] = {
    Transform.TEXT: frozenset(
        {"string", "textarea", "picklist", "multipicklist", "combobox", "phone", "email", "url"}
    ),
    Transform.EMAIL: frozenset({"email", "string"}),
    Transform.PHONE: frozenset({"phone", "string"}),
    Transform.NUMBER: frozenset({"double", "currency", "percent", "int"}),
    Transform.INTEGER: frozenset({"int", "double"}),
    Transform.BOOLEAN: frozenset({"boolean"}),
    Transform.DATE: frozenset({"date"}),
    Transform.DATETIME: frozenset({"datetime"}),
    Transform.DATETIME_TO_DATE: frozenset({"date"}),
    Transform.DOMAIN_URL: frozenset({"url", "string"}),
    Transform.EMPLOYEE_RANGE: frozenset({"int", "double"}),
    Transform.OWNER_BY_EMAIL: frozenset({"reference"}),
}


def validate_against_schema(
    config: SyncConfig,
    sf_fields: Mapping[str, Mapping[str, FieldMeta]],
    hs_properties: Mapping[str, Mapping[str, PropertyMeta]],
    *,
    hs_lists: Collection[str] | None = None,
) -> list[ConfigProblem]:
    """Problems only the live schema reveals: unknown fields/properties, read-only targets,
    transforms that do not fit the field type, value-map entries the target picklist or
    enumeration lacks (with the allowed values), inclusion criteria a property cannot answer.

    sf_fields: Salesforce object -> field name -> FieldMeta (objects missing are not checked);
    hs_properties: HubSpot object type -> property name -> PropertyMeta; hs_lists: list names/ids.
    """
    found: list[ConfigProblem] = []

    def report(path: KeyPath, message: str) -> None:
        found.append(
            ConfigProblem(line_of(config.lines, path), render_path(path), message, config.source)
        )

    for obj in config.objects:
        props = hs_properties.get(obj.hubspot_object)
        for i, mapping in enumerate(obj.fields):
            path: KeyPath = ("objects", obj.name, "fields", i)
            direction = obj.effective_direction(mapping)
            if props is not None:
                _check_property(mapping, direction, props, obj, path, report)
            for sf_object in obj.targets:
                fields = sf_fields.get(sf_object)
                if fields is not None and mapping.applies_to(sf_object):
                    _check_field(mapping, direction, sf_object, fields, path, report)
            _check_value_maps(config, obj, mapping, sf_fields, props, path, report)
        if props is not None:
            _check_identity_property(obj, props, report)
    contact_props = hs_properties.get("contacts")
    if contact_props is not None:
        for where, message in criteria_problems(config.inclusion, contact_props, lists=hs_lists):
            report(("inclusion", *where), message)
    return found


Reporter = Callable[[KeyPath, str], None]


def _check_property(
    mapping: FieldMapping,
    direction: Direction,
    props: Mapping[str, PropertyMeta],
    obj: ObjectSync,
    path: KeyPath,
    report: Reporter,
) -> None:
    meta = props.get(mapping.hubspot)
    if meta is None:
        close = difflib.get_close_matches(mapping.hubspot, list(props), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        report(
            (*path, "hubspot"),
            f"HubSpot {obj.hubspot_object} have no property {mapping.hubspot!r}{hint}",
        )
    elif meta.read_only and direction.to_hubspot:
        report(
            (*path, "direction"),
            f"HubSpot property {mapping.hubspot!r} is read-only; "
            'use direction = "hubspot_to_salesforce"',
        )


def _check_identity_property(
    obj: ObjectSync, props: Mapping[str, PropertyMeta], report: Reporter
) -> None:
    """A record created in HubSpot keeps its Salesforce id in this property: without it a create
    retried after a crash could not find the first one and would make a second."""
    name = HUBSPOT_ID_PROPERTIES.get(obj.hubspot_object)
    if name is None or not (obj.enabled and obj.create_in_hubspot and obj.direction.to_hubspot):
        return
    meta = props.get(name)
    if meta is None or meta.read_only:
        problem = "have no property" if meta is None else "have a read-only property"
        report(
            ("objects", obj.name, "create_in_hubspot"),
            f"HubSpot {obj.hubspot_object} {problem} {name!r}, where a record created from "
            "Salesforce keeps its Salesforce id (so a create retried after a crash is not made "
            "twice); it must be a writable single-line text property, or set "
            "create_in_hubspot = false",
        )


def _check_field(
    mapping: FieldMapping,
    direction: Direction,
    sf_object: str,
    fields: Mapping[str, FieldMeta],
    path: KeyPath,
    report: Reporter,
) -> None:
    meta = fields.get(mapping.salesforce) or next(
        (f for name, f in fields.items() if name.lower() == mapping.salesforce.lower()), None
    )
    if meta is None:
        close = difflib.get_close_matches(mapping.salesforce, list(fields), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        report(
            (*path, "salesforce"),
            f"Salesforce {sf_object} has no field {mapping.salesforce!r}{hint}",
        )
        return
    if direction.to_salesforce and not (meta.updateable or meta.createable):
        report(
            (*path, "direction"),
            f"{sf_object}.{meta.name} is read-only for the integration user; "
            'use direction = "salesforce_to_hubspot"',
        )
    allowed = TRANSFORM_SF_TYPES[mapping.transform]
    if allowed is not None and meta.type not in allowed:
        fitting = [
            t.value for t, types in TRANSFORM_SF_TYPES.items() if types and meta.type in types
        ]
        hint = (
            f"use transform = {' or '.join(repr(t) for t in fitting)}"
            if fitting
            else "map another field"
        )
        report(
            (*path, "transform"),
            f"transform {mapping.transform.value!r} does not fit {sf_object}.{meta.name} "
            f"(a {meta.type} field); {hint}",
        )


def _check_value_maps(
    config: SyncConfig,
    obj: ObjectSync,
    mapping: FieldMapping,
    sf_fields: Mapping[str, Mapping[str, FieldMeta]],
    props: Mapping[str, PropertyMeta] | None,
    path: KeyPath,
    report: Reporter,
) -> None:
    """Each value map entry must name a value its target accepts."""
    for name in mapping.value_map_names:
        value_map = config.value_map(name)
        if value_map is None:
            continue
        map_path: KeyPath = ("value_maps", name)
        for sf_object in obj.targets:
            meta = (sf_fields.get(sf_object) or {}).get(mapping.salesforce)
            if meta is None or not meta.is_picklist or not mapping.applies_to(sf_object):
                continue
            allowed = {v.casefold() for v in meta.picklist_values}
            listed = ", ".join(meta.picklist_values)
            for hs_value, sf_value in value_map.to_salesforce:
                if sf_value.casefold() not in allowed:
                    report(
                        (*map_path, "to_salesforce", hs_value),
                        _not_in_picklist(sf_value, f"{sf_object}.{meta.name}", listed),
                    )
            for sf_value, _ in value_map.to_hubspot:
                if sf_value.casefold() not in allowed:
                    report(
                        (*map_path, "to_hubspot", sf_value),
                        _not_in_picklist(sf_value, f"{sf_object}.{meta.name}", listed),
                    )
        prop = (props or {}).get(mapping.hubspot)
        if prop is not None and prop.type == "enumeration" and prop.options:
            options = {o.casefold() for o in prop.options}
            listed = ", ".join(prop.options)
            for sf_value, hs_value in value_map.to_hubspot:
                if hs_value.casefold() not in options:
                    report(
                        (*map_path, "to_hubspot", sf_value),
                        _not_an_option(hs_value, prop.name, listed),
                    )
            for hs_value, _ in value_map.to_salesforce:
                if hs_value.casefold() not in options:
                    report(
                        (*map_path, "to_salesforce", hs_value),
                        _not_an_option(hs_value, prop.name, listed),
                    )


def _not_in_picklist(value: str, field_name: str, listed: str) -> str:
    return f"{value!r} is not a value of the {field_name} picklist; use one of: {listed}"


def _not_an_option(value: str, prop: str, listed: str) -> str:
    return f"{value!r} is not an option of HubSpot property {prop}; use one of: {listed}"


# ================================================================ writing


_SECTION_DOCS: dict[str, str] = {
    "schedule": "How often a sync cycle runs (seconds).",
    "guards": "Loop detection, duplicate detection and the API budget.",
    "guards.budget": (
        "Shares (0-1] of each system's daily API limit; per_run_share of what is left today."
    ),
    "deletion": (
        "policy: archive the linked record, or flag it for a person (safer). "
        "records_check_minutes / activities_check_minutes: how often the contacts, companies "
        "and deals / the engagements deleted in HubSpot are looked for."
    ),
    "activities": (
        "Activity types synced as Salesforce Tasks, each with a daily cap of new Tasks and its "
        "high-value filters. Off by default."
    ),
    "owners": "HubSpot owner email -> Salesforce user email, where the two differ.",
    "inclusion": (
        "Which HubSpot contacts may be pushed to Salesforce: groups joined by `join`, criteria "
        "inside a group joined by the group's `join`."
    ),
    "value_maps": "HubSpot value -> Salesforce value (to_salesforce), and back (to_hubspot).",
    "objects": "Objects and their field mappings: direction and conflict rule per field.",
}


def dump_config(config: SyncConfig) -> str:
    """The config as TOML text that parse_config reads back into an equal config."""
    out: list[str] = [
        "# LeadBridge sync configuration (written by LeadBridge; `note` keys explain choices).",
        "# Secrets never go here: credentials come from the environment or",
        "# .streamlit/secrets.toml.",
        "version = 1",
    ]
    _section(out, "schedule", _fields_of(config.schedule))
    guards = _fields_of(config.guards)
    guards.pop("budget")
    _section(out, "guards", guards)
    _section(out, "guards.budget", _fields_of(config.budget))
    _section(
        out,
        "deletion",
        {
            "policy": config.deletion.value,
            "records_check_minutes": config.record_deletion_check_minutes,
            "activities_check_minutes": config.deletion_check_minutes,
        },
    )
    _doc(out, "activities")
    for activity in config.activities:
        _section(
            out,
            f"activities.{activity.type}",
            activity.settings(),
            doc=False,
        )
    if config.owner_aliases:
        _section(out, "owners", {})
        _section(out, "owners.aliases", dict(config.owner_aliases), doc=False)
    _dump_inclusion(out, config.inclusion)
    _doc(out, "value_maps")
    for value_map in config.value_maps:
        _dump_value_map(out, value_map)
    _doc(out, "objects")
    for obj in config.objects:
        _dump_object(out, obj)
    return "\n".join(out) + "\n"


def save_config(config: SyncConfig, path: Path) -> None:
    """Write config to path atomically (a temporary file renamed over it), so an engine reading
    the file meanwhile sees the old or the new version, never half of one. A config that would not
    load back is refused with ConfigError and the file is left as it was. Comments of the file
    being replaced are kept above the same tables and keys (`carry_comments`)."""
    text = dump_config(config)
    parse_config(text, source=str(path))
    if path.exists():
        text = carry_comments(path.read_text(encoding="utf-8"), text)
    temporary = path.with_name(f".{path.name}.saving")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def _fields_of(obj: Any) -> dict[str, Any]:
    return dict(vars(obj))


def _doc(out: list[str], name: str) -> None:
    if name in _SECTION_DOCS:
        out += ["", f"# {_SECTION_DOCS[name]}"]


def _section(
    out: list[str], name: str, values: Mapping[str, Any], *, doc: bool = True, array: bool = False
) -> None:
    if doc:
        _doc(out, name)
    if not doc or name not in _SECTION_DOCS:
        out.append("")
    out.append(f"[[{name}]]" if array else f"[{name}]")
    for key, value in values.items():
        if value is None or value == () or value == "":
            continue
        out.append(f"{render_key(key)} = {render_value(_toml_ready(value))}")


def _toml_ready(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if (
        isinstance(value, tuple)
        and value
        and all(isinstance(v, tuple) and len(v) == 2 for v in value)
    ):
        return dict(value)
    if isinstance(value, tuple):
        return [_toml_ready(v) for v in value]
    return value


def _criterion_table(criterion: Criterion) -> dict[str, Any]:
    if criterion.operator is Operator.IN_LIST:
        return {"in_list": criterion.value}
    table: dict[str, Any] = {"property": criterion.property, "operator": criterion.operator.value}
    if criterion.value is not None:
        table["value"] = (
            list(criterion.value) if isinstance(criterion.value, tuple) else criterion.value
        )
    return table


def _group_table(group: Group) -> dict[str, Any]:
    table: dict[str, Any] = {"join": group.join.value}
    if group.criteria:
        table["criteria"] = [_criterion_table(c) for c in group.criteria]
    if group.groups:
        table["groups"] = [_group_table(g) for g in group.groups]
    return table


def _dump_inclusion(out: list[str], inclusion: Group) -> None:
    _doc(out, "inclusion")
    out += ["[inclusion]", f"join = {render_value(inclusion.join.value)}"]
    if inclusion.criteria:
        out.append("criteria = [")
        out += [f"  {render_value(_criterion_table(c))}," for c in inclusion.criteria]
        out.append("]")
    for group in inclusion.groups:
        out += ["", "[[inclusion.groups]]", f"join = {render_value(group.join.value)}"]
        if group.criteria:
            out.append("criteria = [")
            out += [f"  {render_value(_criterion_table(c))}," for c in group.criteria]
            out.append("]")
        if group.groups:
            out.append("groups = [")
            out += [f"  {render_value(_group_table(g))}," for g in group.groups]
            out.append("]")


def _dump_value_map(out: list[str], value_map: ValueMap) -> None:
    head = f"value_maps.{render_key(value_map.name)}"
    out += ["", f"[{head}]"]
    if value_map.note:
        out.append(f"note = {render_value(value_map.note)}")
    if value_map.pass_unmapped:
        out.append("pass_unmapped = true")
    for part in ("to_salesforce", "to_hubspot"):
        pairs = getattr(value_map, part)
        if pairs:
            out.append(f"[{head}.{part}]")
            out += [f"{render_key(k)} = {render_value(v)}" for k, v in pairs]


def _dump_object(out: list[str], obj: ObjectSync) -> None:
    d = ObjectSync(name=obj.name)
    head = f"objects.{obj.name}"
    values: dict[str, Any] = {
        "note": obj.note,
        "enabled": obj.enabled,
        "direction": obj.direction,
        "salesforce_objects": obj.salesforce_objects,
        "create_in_salesforce": obj.create_in_salesforce,
        "create_in_hubspot": obj.create_in_hubspot,
    }
    if obj.name == "contact":
        values |= {
            "create_as": obj.create_as,
            "no_company": obj.no_company,
            "placeholder_company": obj.placeholder_company,
        }
    else:
        for key in ("create_as", "no_company", "placeholder_company"):
            if getattr(obj, key) != getattr(d, key):
                raise ValueError(f"objects.{obj.name}: {key} applies to contacts only")
    values |= {
        "hubspot_defaults": obj.hubspot_defaults,
        "salesforce_defaults": obj.salesforce_defaults,
    }
    _section(out, head, values, doc=False)
    for association in obj.associations:
        _section(out, f"{head}.associations", _fields_of(association), doc=False, array=True)
    for mapping in obj.fields:
        values = _fields_of(mapping)
        if mapping.transform is Transform.TEXT:
            values.pop("transform")
        _section(out, f"{head}.fields", values, doc=False, array=True)


# ================================================================ TOML positions and writing
#
# tomllib parses without positions, yet a problem is only useful with its line. locate_keys walks
# the text once, mirroring TOML's structure (tables, arrays of tables, dotted keys, inline tables
# and arrays spanning lines); it runs only on text tomllib accepted, so it may be lenient.

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def render_path(path: KeyPath) -> str:
    """("objects", "contact", "fields", 3, "rule") -> "objects.contact.fields[3].rule"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            out += f".{name}" if out else name
    return out


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.newlines = [i for i, ch in enumerate(text) if ch == "\n"]
        self.lines: dict[KeyPath, int] = {}
        self.aot_counts: dict[KeyPath, int] = {}

    # positions -----------------------------------------------------------------------------

    def line(self, pos: int) -> int:
        """1-based line of the character at pos."""
        return bisect.bisect_left(self.newlines, pos) + 1

    def mark(self, path: KeyPath) -> None:
        self.lines.setdefault(path, self.line(self.pos))

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip_space(self, *, newlines: bool = False) -> None:
        """Skip blanks (and, inside arrays, newlines and comments)."""
        while not self.at_end():
            ch = self.text[self.pos]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.pos += 1
            elif ch == "#" and newlines:
                self.skip_to_eol()
            else:
                return

    def skip_to_eol(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    # keys and strings ----------------------------------------------------------------------

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip_space()
            ch = self.peek()
            if ch in ('"', "'"):
                parts.append(self.string())
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if not match:
                    return tuple(parts)
                parts.append(match.group())
                self.pos = match.end()
            self.skip_space()
            if self.peek() != ".":
                return tuple(parts)
            self.pos += 1

    def string(self) -> str:
        quote = self.peek()
        if self.peek(3) == quote * 3:
            end = self.text.find(quote * 3, self.pos + 3)
            end = len(self.text) if end < 0 else end
            while self.text[end + 3 : end + 4] == quote:  # """a"""" ends at the last quotes
                end += 1
            raw = self.text[self.pos + 3 : end]
            self.pos = end + 3
            return raw
        start = self.pos
        self.pos += 1
        while not self.at_end() and self.text[self.pos] != quote:
            if quote == '"' and self.text[self.pos] == "\\":
                self.pos += 1
            self.pos += 1
        self.pos += 1
        raw = self.text[start : self.pos]
        if quote == "'":
            return raw[1:-1]
        try:
            return str(json.loads(raw))
        except ValueError:
            return raw[1:-1]

    # values --------------------------------------------------------------------------------

    def value(self, path: KeyPath) -> None:
        self.skip_space()
        self.mark(path)
        ch = self.peek()
        if ch == "[":
            self.array(path)
        elif ch == "{":
            self.inline_table(path)
        elif ch in ('"', "'"):
            self.string()
        else:
            while not self.at_end() and self.text[self.pos] not in ",]}\n#":
                self.pos += 1

    def array(self, path: KeyPath) -> None:
        self.pos += 1
        index = 0
        while not self.at_end():
            self.skip_space(newlines=True)
            if self.peek() == "]":
                self.pos += 1
                return
            self.value((*path, index))
            index += 1
            self.skip_space(newlines=True)
            if self.peek() == ",":
                self.pos += 1

    def inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while not self.at_end():
            self.skip_space(newlines=True)
            if self.peek() == "}":
                self.pos += 1
                return
            start = self.pos
            key = self.key()
            if not key:
                self.pos = max(self.pos, start + 1)
                continue
            self.lines.setdefault((*path, *key), self.line(start))
            self.skip_space()
            if self.peek() == "=":
                self.pos += 1
            self.value((*path, *key))
            self.skip_space(newlines=True)
            if self.peek() == ",":
                self.pos += 1

    # tables --------------------------------------------------------------------------------

    def resolve(self, parts: tuple[str, ...], *, array: bool) -> KeyPath:
        """A header's key path with the current index of every array of tables it passes."""
        resolved: list[str | int] = []
        for i, part in enumerate(parts):
            resolved.append(part)
            last = i == len(parts) - 1
            if tuple(resolved) in self.aot_counts and not (array and last):
                resolved.append(self.aot_counts[tuple(resolved)])
        return tuple(resolved)

    def header(self) -> KeyPath:
        start = self.pos
        array = self.peek(2) == "[["
        self.pos += 2 if array else 1
        parts = self.key()
        self.skip_to_eol()
        base = self.resolve(parts, array=array)
        line = self.line(start)
        if not array:
            self.lines.setdefault(base, line)
            return base
        index = self.aot_counts.get(base, -1) + 1
        self.aot_counts[base] = index
        self.lines.setdefault(base, line)
        self.lines[(*base, index)] = line
        return (*base, index)

    def document(self) -> dict[KeyPath, int]:
        current: KeyPath = ()
        while not self.at_end():
            self.skip_space(newlines=True)
            if self.at_end():
                break
            ch = self.peek()
            if ch == "[":
                current = self.header()
                continue
            start = self.pos
            key = self.key()
            if not key:
                self.skip_to_eol()
                continue
            self.lines.setdefault((*current, *key), self.line(start))
            self.skip_space()
            if self.peek() == "=":
                self.pos += 1
            self.value((*current, *key))
            self.skip_to_eol()
        return self.lines


def locate_keys(text: str) -> dict[KeyPath, int]:
    """The 1-based line of every key path in a TOML document (first occurrence wins)."""
    return _Scanner(text).document()


def line_of(lines: Mapping[KeyPath, int], path: KeyPath) -> int | None:
    """The line of path, or of its nearest located ancestor (a missing key: its table)."""
    for end in range(len(path), 0, -1):
        found = lines.get(path[:end])
        if found is not None:
            return found
    return None


# ---------------------------------------------------------------- writing


def render_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def render_value(value: Any) -> str:
    """One TOML value: strings (JSON escapes are TOML escapes), numbers, booleans, dates, arrays
    and inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        inner = ", ".join(f"{render_key(str(k))} = {render_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


# ================================================================ keeping comments on save

Anchor = tuple[str, ...]


def carry_comments(old: str, new: str) -> str:
    """new, with the comment blocks of old put back above the same table headers and keys.

    A block is the run of comment lines directly above a header or key line; where old has one,
    it replaces whatever new has there (dump_config's generic section notes). Comments inside
    multi-line values and after values on the same line are not carried.
    """
    kept = {anchor: block for anchor, block, _ in _comment_runs(old) if anchor and block}
    out: list[str] = []
    for anchor, block, line in _comment_runs(new):
        out += kept.get(anchor, block) if anchor else block
        if line is not None:
            out.append(line)
    return "\n".join(out).rstrip("\n") + "\n"


def _comment_runs(text: str) -> list[tuple[Anchor | None, list[str], str | None]]:
    """(anchor of the line, the comment/blank lines above it, the line) for every other line;
    the anchor names a header (with its occurrence) or a key within its table."""
    runs: list[tuple[Anchor | None, list[str], str | None]] = []
    pending: list[str] = []
    table: Anchor = ("",)
    seen: dict[str, int] = {}
    depth = 0
    for line in text.splitlines():
        stripped = line.strip()
        if depth == 0 and (not stripped or stripped.startswith("#")):
            pending.append(line)
            continue
        anchor: Anchor | None = None
        if depth == 0 and stripped.startswith("["):
            name = ".".join(_Scanner(stripped.strip("[]")).key())
            kind = "[[" if stripped.startswith("[[") else "["
            seen[kind + name] = seen.get(kind + name, -1) + 1
            anchor = table = (kind, name, str(seen[kind + name]))
        elif depth == 0:
            anchor = (*table, "=", *_Scanner(line).key())
        depth = max(0, depth + _bracket_balance(line if anchor is None else line.split("=", 1)[-1]))
        comments = [c for c in pending if c.strip()]
        runs.append((anchor, _trim_blank(pending) if comments else pending, line))
        pending = []
    runs.append((None, pending, None))
    return runs


def _trim_blank(lines: list[str]) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.strip())
    end = max(i for i, line in enumerate(lines) if line.strip())
    return [""] * bool(start) + lines[start : end + 1] + [""] * (end < len(lines) - 1)


def _bracket_balance(line: str) -> int:
    """Open minus closed brackets and braces outside strings and comments."""
    balance, quote, escaped = 0, "", False
    for ch in line:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            balance += 1
        elif ch in "]}":
            balance -= 1
    return balance
