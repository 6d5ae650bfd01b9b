"""Helpers of the crash trials: an engine in its own process to kill -9, people editing between
kills, and what both systems and the audit store hold afterwards, by natural keys.

Kept apart from the test module so the soak test can drive the same engine process and edits.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync_engine.store import AuditStore
from tests.e2e.conftest import ROOT, Pair

# Calls that write to either system (Salesforce collections, HubSpot batches): kill points.
WRITE_CALLS = re.compile(
    r"^(POST|PATCH) .*(/composite/sobjects|/batch/(create|update|archive)|/associations)"
)


# ------------------------------------------------------------------ the engine as a process


@dataclass
class EngineProcess:
    """`python -m sync_engine <args>` against the pair's sandbox and audit store."""

    pair: Pair
    args: tuple[str, ...]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> EngineProcess:
        env = {**os.environ, **self.pair.settings_env(), "PYTHONPATH": str(ROOT)}
        env.pop("LEADBRIDGE_DEBUG", None)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sync_engine", *self.args],
                cwd=self.pair.workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> bool:
        """kill -9; True when the process was still running (a real kill)."""
        assert self.proc is not None
        alive = self.alive()
        if alive:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        return alive

    def wait(self, timeout: float = 300) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)


def write_calls(pair: Pair) -> int:
    """Write calls both sandboxes have served so far."""
    total = 0
    for system in ("salesforce", "hubspot"):
        for endpoint, count in pair.stats(system)["by_endpoint"].items():
            if WRITE_CALLS.match(endpoint):
                total += int(count)
    return total


def records_written(store: AuditStore) -> int:
    with store.read() as conn:
        row = conn.execute("SELECT coalesce(sum(records_written), 0) FROM sync_runs").fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class KillPoint:
    """When to kill: after `value` seconds, `value` more write calls, or `value` more records
    written according to the audit store."""

    by: str  # time | writes | audit
    value: float

    @classmethod
    def draw(cls, rng: random.Random, *, seconds: float, writes: int, records: int) -> KillPoint:
        by = rng.choice(("time", "writes", "audit"))
        if by == "time":
            return cls(by, round(rng.uniform(0.5, seconds), 2))
        if by == "writes":
            return cls(by, rng.randint(1, writes))
        return cls(by, rng.randint(1, records))

    def wait(self, engine: EngineProcess, *, limit: float) -> None:
        """Return once the point is reached, the engine has ended by itself, or after limit
        seconds (a continuous engine with little left to write)."""
        pair = engine.pair
        store = AuditStore(pair.workdir / "sync.duckdb", lock_timeout=60)
        start = {"writes": write_calls(pair) if self.by == "writes" else 0}
        start["audit"] = records_written(store) if self.by == "audit" and store.exists else 0
        began = time.monotonic()
        while engine.alive() and time.monotonic() - began < limit:
            if self.by == "time" and time.monotonic() - began >= self.value:
                return
            if self.by == "writes" and write_calls(pair) - start["writes"] >= self.value:
                return
            if (
                self.by == "audit"
                and store.exists
                and records_written(store) - start["audit"] >= self.value
            ):
                return
            time.sleep(0.05 if self.by != "time" else 0.01)


# ------------------------------------------------------------------ people editing


@dataclass(frozen=True)
class Edit:
    """One person's edit: a field of the record with email `email`, or a new record."""

    system: str  # where the person edits: salesforce | hubspot
    kind: str  # phone | lead_source | title | new
    email: str
    value: str
    sf_object: str = "Lead"


# The field each kind of edit sets: (Salesforce field, HubSpot property).
EDIT_FIELDS = {
    "phone": ("Phone", "phone"),
    "lead_source": ("LeadSource", "lead_source"),
    "title": ("Title", "jobtitle"),
    "new": ("LastName", "lastname"),
}

LEAD_SOURCES = ("Webinar", "Trade Show", "Partner Referral", "Purchased List")


SALES_READY = {"marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"}


# The HubSpot properties `_included` reads.
INCLUSION_PROPERTIES = ("hubspotscore", "lifecyclestage", "recent_conversion_event_name")


def _included(props: dict[str, Any]) -> bool:
    """sync.toml's inclusion list: only these contacts' HubSpot edits go to Salesforce."""
    score = float(props.get("hubspotscore") or 0)
    return bool(props.get("email")) and (
        score >= 50
        or props.get("lifecyclestage") in SALES_READY
        or props.get("recent_conversion_event_name") == "Demo request"
    )


def unique_emails(pair: Pair) -> dict[str, dict[str, Any]]:
    """People an edit can target: one email names exactly one record in each system (the seed's
    duplicates are left alone), the integration user sees the Salesforce one, and the HubSpot
    one is on the inclusion list (so its edits are meant to reach Salesforce)."""
    soql = (
        "SELECT Id, Email FROM Lead WHERE IsConverted = false AND Email != null",
        "SELECT Id, Email FROM Contact WHERE Email != null",
    )
    sf_rows = [r for q in soql for r in pair.soql(q)]
    visible = {
        str(r["Email"]).lower() for q in soql for r in pair.soql(q, token=pair.env.salesforce_token)
    }
    hs_rows = [c["properties"] for c in pair.hs_contacts(*INCLUSION_PROPERTIES)]
    sf = Counter(str(r["Email"]).lower() for r in sf_rows)
    hs = Counter(str(c.get("email") or "").lower() for c in hs_rows)
    included = {str(c.get("email")).lower() for c in hs_rows if _included(c)}
    objects = {str(r["Email"]).lower(): r["attributes"]["type"] for r in sf_rows}
    return {
        email: {"sf_object": objects[email]}
        for email in sorted(sf)
        if sf[email] == 1 and hs.get(email) == 1 and email in visible and email in included
    }


def edit_script(pair: Pair, *, seed: int, per_phase: int) -> tuple[list[Edit], list[Edit]]:
    """Two phases of edits chosen from the fresh seed (the same for every trial of one seed).

    Phase 1 happens while the initial sync runs, so each edit must win whenever the pair is
    linked: Salesforce phone (Salesforce wins unless blank), HubSpot lead source (HubSpot always
    wins), new records on either side. Phase 2 happens after: titles (most recent wins) on either
    side of people edited nowhere else. Every (person, field) is edited once."""
    rng = random.Random(seed)
    people = list(unique_emails(pair).items())
    rng.shuffle(people)
    take = iter(people)
    phase1: list[Edit] = []
    phase2: list[Edit] = []
    for i in range(per_phase):
        email, info = next(take)
        if i % 4 == 0:
            phase1.append(
                Edit("salesforce", "phone", email, f"+1 415-555-{1000 + i:04d}", info["sf_object"])
            )
        elif i % 4 == 1:
            phase1.append(
                Edit("hubspot", "lead_source", email, rng.choice(LEAD_SOURCES), info["sf_object"])
            )
        elif i % 4 == 2:
            phase1.append(
                Edit("salesforce", "new", f"crash.sf.{seed}.{i}@trial.example", f"Sfnew{seed}x{i}")
            )
        else:
            phase1.append(
                Edit("hubspot", "new", f"crash.hs.{seed}.{i}@trial.example", f"Hsnew{seed}x{i}")
            )
    for i in range(per_phase):
        email, info = next(take)
        if i % 3 == 0:
            phase2.append(
                Edit("salesforce", "title", email, f"Title S{seed}x{i}", info["sf_object"])
            )
        elif i % 3 == 1:
            phase2.append(Edit("hubspot", "title", email, f"Title H{seed}x{i}", info["sf_object"]))
        else:
            phase2.append(
                Edit("hubspot", "new", f"crash.hs2.{seed}.{i}@trial.example", f"Hsnewtwo{seed}x{i}")
            )
    return phase1, phase2


def apply(pair: Pair, edit: Edit) -> None:
    """Make the edit through the API as a person (the Salesforce admin, a HubSpot marketer)."""
    sf_field, hs_prop = EDIT_FIELDS[edit.kind]
    if edit.system == "salesforce":
        if edit.kind == "new":
            pair.sf(
                "POST",
                "sobjects/Lead",
                json={
                    "LastName": edit.value,
                    "FirstName": "Crash",
                    "Company": f"Co {edit.value}",
                    "Email": edit.email,
                    "Status": "Open - Not Contacted",
                },
            )
        else:
            sf_object, record = sf_record(pair, edit.email)
            pair.sf("PATCH", f"sobjects/{sf_object}/{record['Id']}", json={sf_field: edit.value})
        return
    token = pair.person("hubspot", "marketer")["token"]
    if edit.kind == "new":
        pair.hs(
            "POST",
            "/crm/v3/objects/contacts",
            token=token,
            json={
                "properties": {
                    "email": edit.email,
                    "firstname": "Crash",
                    "lastname": edit.value,
                    "lifecyclestage": "marketingqualifiedlead",
                }
            },
        )
        return
    hs_id = hs_id_of(pair, edit.email)
    pair.hs(
        "PATCH",
        f"/crm/v3/objects/contacts/{hs_id}",
        token=token,
        json={"properties": {hs_prop: edit.value}},
    )


def sf_record(pair: Pair, email: str, *fields: str) -> tuple[str, dict[str, Any]]:
    """The one open Lead or Contact with this email (a Lead a rep converted is its Contact now)."""
    select = ", ".join(["Id", *fields])
    leads = pair.soql(f"SELECT {select} FROM Lead WHERE Email = '{email}' AND IsConverted = false")
    rows = [("Lead", r) for r in leads]
    rows += [
        ("Contact", r) for r in pair.soql(f"SELECT {select} FROM Contact WHERE Email = '{email}'")
    ]
    assert len(rows) == 1, f"Salesforce records with {email}: {rows}"
    return rows[0]


def hs_id_of(pair: Pair, email: str) -> str:
    found = pair.hs(
        "POST",
        "/crm/v3/objects/contacts/search",
        json={
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}
            ],
            "limit": 10,
        },
    )
    assert found["total"] == 1, f"HubSpot contacts with {email}: {found['total']}"
    return str(found["results"][0]["id"])


@dataclass
class Editor:
    """Applies edits one by one in a background thread, a random short pause apart."""

    pair: Pair
    edits: list[Edit]
    rng: random.Random
    done: list[Edit] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def start(self) -> Editor:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        for edit in self.edits:
            time.sleep(self.rng.uniform(0.0, 0.4))
            try:
                apply(self.pair, edit)
                self.done.append(edit)
            except BaseException as exc:  # reported by join()
                self.errors.append(exc)
                return

    def join(self) -> list[Edit]:
        assert self._thread is not None
        self._thread.join(timeout=300)
        assert not self.errors, f"an edit failed: {self.errors[0]!r}"
        return self.done


# ------------------------------------------------------------------ what both systems hold


def digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or ""))[-10:]


def fingerprint(pair: Pair) -> dict[str, Any]:
    """Both systems' people, companies and deals by natural keys (ids differ between runs)."""
    leads = pair.soql(
        "SELECT Email, FirstName, LastName, Phone, LeadSource, Status, Company, Title FROM Lead "
        "WHERE IsConverted = false"
    )
    contacts = pair.soql("SELECT Email, FirstName, LastName, Phone, LeadSource, Title FROM Contact")
    people = pair.hs_contacts(
        "firstname", "lastname", "phone", "lead_source", "hs_lead_status", "jobtitle"
    )

    def rows(records: list[dict[str, Any]], keys: tuple[str, ...]) -> list[tuple[str, ...]]:
        return sorted(
            tuple(
                digits(r.get(k)) if k.lower() == "phone" else str(r.get(k) or "").strip().lower()
                for k in keys
            )
            for r in records
        )

    return {
        "leads": rows(
            leads, ("Email", "FirstName", "LastName", "Phone", "LeadSource", "Status", "Title")
        ),
        "contacts": rows(
            contacts, ("Email", "FirstName", "LastName", "Phone", "LeadSource", "Title")
        ),
        "hubspot": rows(
            [c["properties"] for c in people],
            (
                "email",
                "firstname",
                "lastname",
                "phone",
                "lead_source",
                "hs_lead_status",
                "jobtitle",
            ),
        ),
        "accounts": sorted(
            str(r.get("Name") or "").lower() for r in pair.soql("SELECT Name FROM Account")
        ),
        "companies": total(pair, "companies"),
        "opportunities": len(pair.soql("SELECT Id FROM Opportunity")),
        "deals": total(pair, "deals"),
    }


def total(pair: Pair, hs_object: str) -> int:
    return int(pair.hs("POST", f"/crm/v3/objects/{hs_object}/search", json={"limit": 1})["total"])


def ids_now(pair: Pair) -> dict[str, set[str]]:
    """Every record id in both systems (to tell the engine's creations from the seed's)."""
    found = {
        f"salesforce:{obj}": {str(r["Id"]) for r in pair.soql(f"SELECT Id FROM {obj}")}
        for obj in ("Lead", "Contact", "Account", "Opportunity")
    }
    for obj in ("contacts", "companies", "deals"):
        ids: set[str] = set()
        after = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if after:
                params["after"] = after
            page = pair.hs("GET", f"/crm/v3/objects/{obj}", params=params)
            ids |= {str(r["id"]) for r in page["results"]}
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        found[f"hubspot:{obj}"] = ids
    return found
