"""Identity: which HubSpot record is which Salesforce record, decided without touching either.

The match key is the normalised email (people) or the normalised domain, then name (companies).
Existing links always win; a new link is made only when the key points at exactly one record on
the other side after the duplicate rule below has chosen among several.

Duplicate rule (documented for RevOps, applied the same way every cycle):
1. a record already linked to this person is kept;
2. otherwise a Contact beats a Lead (the person has progressed in Salesforce), and an unconverted
   Lead beats a converted one (whose person now lives on as its ConvertedContactId);
3. otherwise the oldest record (CreatedDate, then Id) is the original.
The others of the cluster are reported in `duplicates` and never linked, and nothing new is
created for a key that already has a record on the target side.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from urllib.parse import urlparse

_DOMAIN_PREFIX = re.compile(r"^(www\d?|m)\.")
# A plain host, bare or after http(s)://, then nothing or a path without spaces or colons: the
# host is then what urlparse would find (the common case, read without urlparse's cost).
_PLAIN_URL = re.compile(r"(?:https?://)?([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?:/[^\s:]*)?")
_COMPANY_SUFFIX = re.compile(
    r"[,.]?\s+(inc|incorporated|llc|ltd|limited|corp|corporation|co|gmbh|sa|plc|ag|bv)\.?$"
)
_NON_WORD = re.compile(r"[^a-z0-9]+")
FREE_MAIL = frozenset(
    {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com", "gmx.de"}
)


def normalize_email(value: object) -> str | None:
    """Lower-cased, stripped email; None when it is not an address at all."""
    if not isinstance(value, str):
        return None
    email = value.strip().lower()
    if email.count("@") != 1 or email.startswith("@") or email.endswith("@"):
        return None
    return email


def normalize_domain(value: object) -> str | None:
    """`https://www.Acme.io/about` -> `acme.io`; bare domains pass through lower-cased."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    try:
        host = url_host(text)
    except ValueError:  # `[x]`, `http://[::1`: brackets urlparse reads as a broken IP literal
        return None  # no domain to match on; the value itself still syncs as typed
    host = _DOMAIN_PREFIX.sub("", host.rstrip("."))
    return host if "." in host else None


def url_host(text: str) -> str:
    """The host urlparse finds in a lower-case website or bare domain ("" for none), without
    urlparse for a plain one: domains are read for every company of every read and plan, and
    are nearly all unique. Raises ValueError where urlparse does."""
    plain = _PLAIN_URL.fullmatch(text)
    if plain is not None:
        return plain.group(1)
    return urlparse(text if "://" in text else f"//{text}").hostname or ""


def normalize_company_name(value: object) -> str | None:
    """`Acme, Inc.` and `ACME inc` -> `acme`: legal suffixes and punctuation removed."""
    if not isinstance(value, str) or not value.strip():
        return None
    name = _COMPANY_SUFFIX.sub("", value.strip().lower())
    name = _NON_WORD.sub(" ", name).strip()
    return name or None


@dataclass(frozen=True)
class Candidate:
    """One record as identity sees it: its key, and what the duplicate rule ranks it by."""

    system: str
    object: str
    id: str
    key: str | None
    created: str = ""
    is_converted: bool = False
    converted_to: str | None = None


@dataclass(frozen=True)
class Cluster:
    """Several records of one system sharing a key: one kept, the others reported."""

    system: str
    key: str
    kept: Candidate
    others: tuple[Candidate, ...]
    reason: str


@dataclass(frozen=True)
class MatchResult:
    """New links to make (source id -> chosen target), sources whose key is already held by a
    target linked to someone else (never create for them), and the clusters met on the way."""

    links: dict[str, Candidate]
    blocked: frozenset[str]
    clusters: tuple[Cluster, ...]


_OBJECT_RANK = {"Contact": 0, "Account": 0, "Lead": 1}


def rank(candidate: Candidate, linked: Set[str]) -> tuple[int, int, int, str, str]:
    """Sort key implementing the duplicate rule: smaller is preferred."""
    return (
        0 if candidate.id in linked else 1,
        _OBJECT_RANK.get(candidate.object, 2),
        1 if candidate.is_converted else 0,
        candidate.created,
        candidate.id,
    )


def choose(
    candidates: Sequence[Candidate], *, linked: Set[str] = frozenset()
) -> tuple[Candidate, tuple[Candidate, ...]]:
    """Pick the record to link among candidates sharing a key; return it and the rest."""
    ordered = sorted(candidates, key=lambda c: rank(c, linked))
    return ordered[0], tuple(ordered[1:])


def clusters_of(candidates: Iterable[Candidate], *, linked: Set[str]) -> list[Cluster]:
    """Every key held by more than one record of the same system, with the duplicate rule's pick."""
    by_key: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        if candidate.key:
            by_key[(candidate.system, candidate.key)].append(candidate)
    found = []
    for (system, key), group in sorted(by_key.items()):
        if len(group) < 2:
            continue
        kept, others = choose(group, linked=linked)
        objects = {c.object for c in group}
        reason = (
            "same person as Lead and Contact"
            if objects >= {"Lead", "Contact"}
            else f"{len(group)} {kept.object} records share {key}"
        )
        found.append(Cluster(system=system, key=key, kept=kept, others=others, reason=reason))
    return found


def match(
    sources: Iterable[Candidate],
    targets: Iterable[Candidate],
    *,
    existing: Mapping[str, str],
    linked_targets: frozenset[str] = frozenset(),
) -> MatchResult:
    """Link each unlinked source (by its key) to one target, applying the duplicate rule.

    existing maps source ids already linked to their target ids: they are left alone.
    """
    by_key: dict[str, list[Candidate]] = defaultdict(list)
    target_list = list(targets)
    for target in target_list:
        if target.key:
            by_key[target.key].append(target)
    links: dict[str, Candidate] = {}
    blocked: set[str] = set()
    taken = set(linked_targets)
    for source in sources:
        if source.id in existing or not source.key or source.key not in by_key:
            continue
        kept, _ = choose(by_key[source.key], linked=linked_targets)
        if kept.id in taken:
            blocked.add(source.id)
            continue
        links[source.id] = kept
        taken.add(kept.id)
    return MatchResult(
        links=links,
        blocked=frozenset(blocked),
        clusters=tuple(clusters_of(target_list, linked=linked_targets)),
    )


def follow_conversion(candidate: Candidate, contacts: Mapping[str, Candidate]) -> Candidate:
    """A converted Lead's person lives on as its Contact: link to that instead, when we know it."""
    if candidate.is_converted and candidate.converted_to in contacts:
        return contacts[candidate.converted_to]
    return candidate
