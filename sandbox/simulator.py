"""The simulated people: reps, marketers, website visitors and two automations at work.

`Simulator` drives a running sandbox at a chosen rate (actions per second across everyone). Each
person acts through the real APIs with their own token, so Salesforce records their edits as
theirs (`LastModifiedById`) and HubSpot as theirs in the UI (history `CRM_UI`, `userId:<id>`).
Only what the real APIs cannot do goes through the emulators' admin endpoints: converting a Lead
(`/__sandbox/convert-lead`), a website form submission, a marketing email event, and HubSpot's
score recalculation (`hubspotscore` is read-only in the API).

What happens, with these weights (`ACTION_WEIGHTS`): reps edit a Lead's or Contact's phone, move
an Opportunity's stage or a Lead's status, convert a Lead, log a call Task; marketing's scoring
moves a contact's score, a marketer moves a lifecycle stage; forms are submitted (new and known
contacts); marketing emails are opened and clicked; and about 5% of the time a rep and a marketer
edit the same field (phone or title) of the same person in their own system moments apart.

The simulator finds everything through the APIs (SOQL, CRM search), never through a seed's
Python objects, so it works against any seed and a long-running sandbox.

With `automations=True` it also runs the automation pair of `sandbox.seed.AUTOMATION_RULES` (a
HubSpot workflow and a Salesforce flow, each acting as its system's admin) every
`automation_interval` seconds: together with a sync that carries their writes across they
ping-pong the lead status forever (see sandbox/seed.py), which is what loop detection must catch.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from faker import Faker

from sandbox.salesforce.schema import STAGES
from sandbox.seed import (
    AUTOMATION_RULES,
    CONVERSION_EVENTS,
    OUR_DOMAIN,
    PERSONAL_DOMAINS,
    AutomationRule,
    form_id,
)
from sandbox.seeddata import SandboxPerson

log = logging.getLogger(__name__)

SF_API = "/services/data/v59.0"
HS_CONTACTS = "/crm/v3/objects/contacts"

# Relative frequency of each action (both_edit is ~5% of all actions).
ACTION_WEIGHTS: dict[str, int] = {
    "sf_edit_phone": 14,
    "sf_move_stage": 10,
    "sf_lead_status": 6,
    "sf_convert_lead": 4,
    "sf_log_call": 10,
    "hs_score": 14,
    "hs_lifecycle": 6,
    "hs_form_submission": 12,
    "hs_email_event": 19,
    "both_edit": 5,
}
# Lifecycle stages move forward (HubSpot refuses backwards moves in the UI without a reset).
LIFECYCLE_NEXT: dict[str, str] = {
    "subscriber": "lead",
    "lead": "marketingqualifiedlead",
    "marketingqualifiedlead": "salesqualifiedlead",
    "salesqualifiedlead": "opportunity",
}
LEAD_STATUS_NEXT: dict[str, tuple[tuple[str, int], ...]] = {
    "Open - Not Contacted": (("Working - Contacted", 85), ("Closed - Not Converted", 15)),
    "Working - Contacted": (("Closed - Not Converted", 60), ("Open - Not Contacted", 40)),
}
OPEN_STAGES = tuple(s.name for s in STAGES if not s.closed)
EMAIL_EVENT_WEIGHTS: dict[str, int] = {"OPEN": 70, "CLICK": 30}
MARKETING_EMAILS = ("November newsletter", "Webinar invite: Pipeline Q&A", "Product update")
SHARED_FIELDS: dict[str, tuple[str, str]] = {
    "phone": ("Phone", "phone"),
    "title": ("Title", "jobtitle"),
}
NEW_TITLES = ("Head of Growth", "Director of Marketing", "VP Revenue", "Sales Manager", "CFO")
POOL_SIZE = 200
SOQL_MAX_OFFSET = 2_000
POOL_TTL_SECONDS = 30.0
POOL_MAX_USES = 25
MAX_TRIES = 4
ACTION_LOG_LIMIT = 10_000
DEFAULT_AUTOMATION_INTERVAL = 5.0


@dataclass(frozen=True)
class Action:
    """One thing a simulated person (or automation) did, or tried to do and could not."""

    kind: str
    system: str
    actor_id: str
    actor_name: str
    object: str
    record_id: str | None
    field: str | None
    old: Any
    new: Any
    at: datetime
    ok: bool = True
    error: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    also: tuple[Action, ...] = ()

    def public(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "system": self.system,
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "object": self.object,
            "record_id": self.record_id,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "at": self.at.isoformat(),
            "ok": self.ok,
            "error": self.error,
            "detail": dict(self.detail),
        }


class ActionFailed(Exception):
    """The system refused or failed a call (the action is logged as not done)."""


class NothingToDo(Exception):
    """This person found no record this action applies to (another action is tried)."""


class _Pool:
    """Ids a person found by a query, reused for a while so each action costs few API calls."""

    def __init__(self, ids: list[str], extra: Mapping[str, Any] | None = None) -> None:
        self.ids = ids
        self.extra = dict(extra or {})
        self.born = time.monotonic()
        self.uses = 0

    @property
    def stale(self) -> bool:
        return self.uses >= POOL_MAX_USES or time.monotonic() - self.born > POOL_TTL_SECONDS


class Simulator:
    """Acts as the seeded people at `rate` actions per second, in the background or step by step."""

    def __init__(
        self,
        *,
        salesforce_url: str,
        hubspot_url: str,
        people: list[SandboxPerson],
        ca_bundle: Path,
        rate: float,
        seed: int | None = None,
        automations: bool = False,
        automation_interval: float = DEFAULT_AUTOMATION_INTERVAL,
        salesforce_ui: bool = False,
        timeout: float = 10.0,
    ) -> None:
        if rate < 0:
            raise ValueError(f"rate must be >= 0 actions per second, got {rate}")
        self.salesforce_url = salesforce_url.rstrip("/")
        self.hubspot_url = hubspot_url.rstrip("/")
        self.rate = rate
        self.automations = automations
        self.automation_interval = automation_interval
        self.salesforce_ui = salesforce_ui
        self.timeout = timeout
        self.rng = random.Random(seed)
        self.fake = Faker("en_US")
        self.fake.seed_instance(self.rng.randrange(2**32))
        self.actions: list[Action] = []
        self._sf = _session(verify=str(ca_bundle))
        self._hs = _session(verify=True)
        self._pools: dict[tuple[str, ...], _Pool] = {}
        self._people = _Roster(people)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the interface ---------------------------------------------------------------------

    def step(self, *, kind: str | None = None) -> Action:
        """One action, chosen by weight among those someone can do (or the named kind); logged.

        A paired edit (kind "both_edit") returns the first edit with the second in `also`.
        """
        if kind is not None and kind not in ACTION_WEIGHTS:
            raise ValueError(f"unknown action kind {kind!r}; known: {sorted(ACTION_WEIGHTS)}")
        kinds = {kind: 1} if kind else dict(ACTION_WEIGHTS)
        last: Action | None = None
        for _ in range(MAX_TRIES):
            if not kinds:
                break
            kind = self._pick(kinds)
            action = self._attempt(kind)
            if action is not None:
                self._log(action)
                return action
            kinds.pop(kind)
        last = self._failed("idle", "sandbox", None, "nobody found anything to do")
        self._log(last)
        return last

    def run_automations(self) -> list[Action]:
        """Apply each automation rule once to every record currently in its trigger."""
        done: list[Action] = []
        for rule in AUTOMATION_RULES:
            actor = self._people.first(rule.system, rule.actor_role)
            if actor is None:
                continue
            try:
                done.extend(self._apply_rule(rule, actor))
            except (ActionFailed, requests.RequestException) as exc:
                done.append(self._failed("automation", rule.system, actor, str(exc)))
        for action in done:
            self._log(action)
        return done

    def start(self) -> None:
        """Act in a background thread until stop(): Poisson arrivals at `rate` per second."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sandbox-simulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 5)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def summary(self) -> dict[str, Any]:
        """Counts of what was done (ok) and refused, by kind: for the admin endpoint and logs."""
        with self._lock:
            actions = list(self.actions)
        done = Counter(a.kind for a in actions if a.ok)
        failed = Counter(a.kind for a in actions if not a.ok)
        return {"rate": self.rate, "done": dict(done), "failed": dict(failed)}

    # -- the loop --------------------------------------------------------------------------

    def _run(self) -> None:
        next_automation = time.monotonic()
        while not self._stop.is_set():
            delay = self.rng.expovariate(self.rate) if self.rate > 0 else 1.0
            if self._stop.wait(min(delay, 60.0)):
                return
            try:
                if self.rate > 0:
                    self.step()
                if self.automations and time.monotonic() >= next_automation:
                    self.run_automations()
                    next_automation = time.monotonic() + self.automation_interval
            except Exception:  # the thread must outlive any one bad action
                log.exception("simulator action failed")

    def _pick(self, weights: Mapping[str, int]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def _attempt(self, kind: str) -> Action | None:
        handler: Callable[[], Action] = getattr(self, f"_do_{kind}")
        for _ in range(MAX_TRIES):
            try:
                return handler()
            except NothingToDo:
                continue
            except ActionFailed as exc:
                return self._failed(kind, _system_of(kind), None, str(exc))
            except requests.RequestException as exc:
                return self._failed(kind, _system_of(kind), None, f"connection: {exc}")
        return None

    def _log(self, action: Action) -> None:
        with self._lock:
            self.actions.append(action)
            self.actions.extend(action.also)
            if len(self.actions) > 2 * ACTION_LOG_LIMIT:
                del self.actions[:-ACTION_LOG_LIMIT]

    def _failed(self, kind: str, system: str, actor: SandboxPerson | None, error: str) -> Action:
        return Action(
            kind=kind,
            system=system,
            actor_id=actor.id if actor else "",
            actor_name=actor.name if actor else "",
            object="",
            record_id=None,
            field=None,
            old=None,
            new=None,
            at=_now(),
            ok=False,
            error=error[:500],
        )

    # -- Salesforce: reps ------------------------------------------------------------------

    def _do_sf_edit_phone(self) -> Action:
        rep = self._people.pick(self.rng, "salesforce", "rep")
        sobject = self.rng.choice(("Lead", "Contact"))
        record = self._sf_pick(rep, sobject, _OWNED_OPEN[sobject], ("Phone",))
        new = self.fake.numerify(self.rng.choice(("(###) ###-####", "+1 ###-###-####")))
        self._sf_update(rep, sobject, record["Id"], {"Phone": new})
        return self._sf_action("sf_edit_phone", rep, sobject, record, "Phone", new)

    def _do_sf_move_stage(self) -> Action:
        rep = self._people.pick(self.rng, "salesforce", "rep")
        where = "OwnerId = '{owner}' AND IsClosed = false"
        record = self._sf_pick(rep, "Opportunity", where, ("StageName", "IsClosed"))
        if record.get("IsClosed"):
            raise NothingToDo
        new = self._next_stage(str(record["StageName"]))
        changes: dict[str, Any] = {"StageName": new}
        if new.startswith("Closed"):
            changes["CloseDate"] = date.today().isoformat()
        self._sf_update(rep, "Opportunity", record["Id"], changes)
        return self._sf_action("sf_move_stage", rep, "Opportunity", record, "StageName", new)

    def _next_stage(self, current: str) -> str:
        roll = self.rng.random()
        if roll < 0.1:
            return "Closed Won"
        if roll < 0.2:
            return "Closed Lost"
        position = OPEN_STAGES.index(current) if current in OPEN_STAGES else 0
        step = 2 if roll > 0.9 else 1
        return OPEN_STAGES[min(position + step, len(OPEN_STAGES) - 1)]

    def _do_sf_lead_status(self) -> Action:
        rep = self._people.pick(self.rng, "salesforce", "rep")
        where = _OWNED_OPEN["Lead"] + " AND Status != 'Closed - Not Converted'"
        lead = self._sf_pick(rep, "Lead", where, ("Status", "IsConverted"))
        options = LEAD_STATUS_NEXT.get(str(lead.get("Status")))
        if lead.get("IsConverted") or not options:
            raise NothingToDo
        new = self._pick(dict(options))
        self._sf_update(rep, "Lead", lead["Id"], {"Status": new})
        return self._sf_action("sf_lead_status", rep, "Lead", lead, "Status", new)

    def _do_sf_convert_lead(self) -> Action:
        rep = self._people.pick(self.rng, "salesforce", "rep")
        where = _OWNED_OPEN["Lead"] + " AND Status = 'Working - Contacted'"
        lead = self._sf_pick(rep, "Lead", where, ("Company", "IsConverted", "Status"))
        if lead.get("IsConverted"):
            raise NothingToDo
        body: dict[str, Any] = {
            "lead_id": lead["Id"],
            "as_user": rep.id,
            "create_opportunity": self.rng.random() < 0.5,
        }
        account = self._existing_account(rep, str(lead.get("Company") or ""))
        if account:
            body["account_id"] = account
        result = self._admin("salesforce", "convert-lead", body)
        return Action(
            kind="sf_convert_lead",
            system="salesforce",
            actor_id=rep.id,
            actor_name=rep.name,
            object="Lead",
            record_id=lead["Id"],
            field="IsConverted",
            old=False,
            new=True,
            at=_now(),
            detail={k: result.get(k) for k in ("accountId", "contactId", "opportunityId")},
        )

    def _existing_account(self, rep: SandboxPerson, company: str) -> str | None:
        """A rep converting a Lead picks the Account that already exists, when it does."""
        if not company or company.startswith("["):
            return None
        query = f"SELECT Id FROM Account WHERE Name = '{_soql_text(company)}' LIMIT 1"
        rows = self._soql(rep, query)
        return str(rows[0]["Id"]) if rows else None

    def _do_sf_log_call(self) -> Action:
        rep = self._people.pick(self.rng, "salesforce", "rep")
        sobject = self.rng.choice(("Lead", "Contact"))
        fields = ("AccountId",) if sobject == "Contact" else ("IsConverted",)
        who = self._sf_pick(rep, sobject, _OWNED_OPEN[sobject], fields)
        task: dict[str, Any] = {
            "Subject": self.rng.choice(("Call", "Discovery call", "Follow-up call")),
            "WhoId": who["Id"],
            "ActivityDate": date.today().isoformat(),
            "Status": "Completed",
            "Priority": "Normal",
            "TaskSubtype": "Call",
            "Type": "Call",
            "CallType": "Outbound",
            "CallDurationInSeconds": self.rng.randint(30, 1_800),
            "Description": self.fake.sentence(nb_words=10),
            "OwnerId": rep.id,
        }
        if who.get("AccountId"):
            task["WhatId"] = who["AccountId"]
        created = self._sf_call(rep, "POST", f"{SF_API}/sobjects/Task/", task)
        return Action(
            kind="sf_log_call",
            system="salesforce",
            actor_id=rep.id,
            actor_name=rep.name,
            object="Task",
            record_id=str(created["id"]),
            field=None,
            old=None,
            new=task["Subject"],
            at=_now(),
            detail={"WhoId": who["Id"], "WhatId": task.get("WhatId")},
        )

    # -- HubSpot: marketing and the website ------------------------------------------------

    def _do_hs_score(self) -> Action:
        """HubSpot recalculates a score after marketing's scoring rules (read-only in the API)."""
        marketer = self._people.pick(self.rng, "hubspot", "marketer")
        contact = self._hs_pick(marketer, ("hubspotscore",))
        old = _number(contact["properties"].get("hubspotscore"))
        delta = self.rng.randint(3, 25) * (1 if self.rng.random() < 0.6 else -1)
        new = max(0, min(100, old + delta))
        self._admin("hubspot", "score", {"contact_id": contact["id"], "score": new})
        return _hs_action("hs_score", marketer, contact, "hubspotscore", str(old), str(new))

    def _do_hs_lifecycle(self) -> Action:
        marketer = self._people.pick(self.rng, "hubspot", "marketer")
        contact = self._hs_pick(marketer, ("lifecyclestage",))
        old = contact["properties"].get("lifecyclestage") or "subscriber"
        new = LIFECYCLE_NEXT.get(old)
        if new is None:
            raise NothingToDo
        self._hs_update(marketer, contact["id"], {"lifecyclestage": new})
        return _hs_action("hs_lifecycle", marketer, contact, "lifecyclestage", old, new)

    def _do_hs_form_submission(self) -> Action:
        """A visitor fills in a form: a new person, or a known contact coming back."""
        form_name = self._pick(CONVERSION_EVENTS)
        body: dict[str, Any] = {
            "form_id": form_id(form_name),
            "form_name": form_name,
            "page_url": _page_url(form_name),
        }
        if self.rng.random() < 0.35:
            body |= self._new_visitor()
        else:
            visitor = self._people.pick(self.rng, "hubspot", "marketer")
            contact = self._hs_pick(visitor, ("email",))
            if not contact["properties"].get("email"):
                raise NothingToDo
            body["email"] = contact["properties"]["email"].strip()
        result = self._admin("hubspot", "form-submission", body)
        return Action(
            kind="hs_form_submission",
            system="hubspot",
            actor_id="",
            actor_name=f"website visitor {body['email']}",
            object="contacts",
            record_id=str(result["contact_id"]),
            field="recent_conversion_event_name",
            old=None,
            new=form_name,
            at=_now(),
            detail={"created": bool(result.get("created")), "email": body["email"]},
        )

    def _new_visitor(self) -> dict[str, Any]:
        first, last = self.fake.first_name(), self.fake.last_name()
        local = re.sub(r"[^a-z0-9.]", "", f"{first}.{last}{self.rng.randint(1, 9999)}".lower())
        domain = self.rng.choice([*PERSONAL_DOMAINS, self.fake.domain_name()])
        return {
            "email": f"{local}@{domain}",
            "properties": {
                "firstname": first,
                "lastname": last,
                "company": self.fake.company(),
                "jobtitle": self.fake.job()[:100],
            },
        }

    def _do_hs_email_event(self) -> Action:
        marketer = self._people.pick(self.rng, "hubspot", "marketer")
        contact = self._hs_pick(marketer, ("email", "hs_email_open"))
        if not contact["properties"].get("email"):
            raise NothingToDo
        kind = self._pick(EMAIL_EVENT_WEIGHTS)
        email_name = self.rng.choice(MARKETING_EMAILS)
        body = {"type": kind, "contact_id": contact["id"], "email_name": email_name}
        body["email_campaign_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, email_name).int % 10**9)
        self._admin("hubspot", "email-event", body)
        return Action(
            kind="hs_email_event",
            system="hubspot",
            actor_id="",
            actor_name=f"recipient {contact['properties']['email'].strip()}",
            object="contacts",
            record_id=str(contact["id"]),
            field=f"hs_email_{kind.lower()}",
            old=None,
            new=kind,
            at=_now(),
            detail={"email_name": email_name},
        )

    # -- both sides at once ----------------------------------------------------------------

    def _do_both_edit(self) -> Action:
        """A rep and a marketer change the same field of one person, moments apart."""
        rep = self._people.pick(self.rng, "salesforce", "rep")
        marketer = self._people.pick(self.rng, "hubspot", "marketer")
        sobject = self.rng.choice(("Lead", "Contact"))
        where = _OWNED_OPEN[sobject] + " AND Email != null"
        name = self.rng.choice(list(SHARED_FIELDS))
        sf_field, hs_field = SHARED_FIELDS[name]
        record = self._sf_pick(rep, sobject, where, ("Email", sf_field))
        contact = self._hs_by_email(marketer, str(record.get("Email") or ""), (hs_field,))
        sf_value, hs_value = self._two_values(name)
        first_sf = self.rng.random() < 0.5
        edits = [
            lambda: self._sf_edit(rep, sobject, record, sf_field, sf_value),
            lambda: self._hs_edit(marketer, contact, hs_field, hs_value),
        ]
        done = [edit() for edit in (edits if first_sf else edits[::-1])]
        return _with_pair(done[0], done[1])

    def _two_values(self, name: str) -> tuple[str, str]:
        if name == "phone":
            return (
                self.fake.numerify("(###) ###-####"),
                self.fake.numerify("+1 ###-###-####"),
            )
        first, second = self.rng.sample(NEW_TITLES, 2)
        return first, second

    def _sf_edit(
        self, rep: SandboxPerson, sobject: str, record: dict[str, Any], name: str, value: str
    ) -> Action:
        self._sf_update(rep, sobject, record["Id"], {name: value})
        return self._sf_action("both_edit", rep, sobject, record, name, value)

    def _hs_edit(
        self, user: SandboxPerson, contact: dict[str, Any], name: str, value: str
    ) -> Action:
        old = contact["properties"].get(name)
        self._hs_update(user, contact["id"], {name: value})
        return _hs_action("both_edit", user, contact, name, old, value)

    # -- automations -----------------------------------------------------------------------

    def _apply_rule(self, rule: AutomationRule, actor: SandboxPerson) -> list[Action]:
        if rule.system == "salesforce":
            return self._apply_sf_rule(rule, actor)
        return self._apply_hs_rule(rule, actor)

    def _apply_sf_rule(self, rule: AutomationRule, admin: SandboxPerson) -> list[Action]:
        conditions = [f"{name} IN ({_soql_list(values)})" for name, values in rule.when]
        fields = ", ".join(["Id", *(name for name, _ in rule.then)])
        where = " AND ".join([*conditions, "IsConverted = false"])
        rows = self._soql(admin, f"SELECT {fields} FROM {rule.object} WHERE {where} LIMIT 200")
        done = []
        for row in rows:
            self._sf_update(admin, rule.object, row["Id"], dict(rule.then))
            for name, value in rule.then:
                done.append(self._rule_action(rule, admin, row["Id"], name, row.get(name), value))
        return done

    def _apply_hs_rule(self, rule: AutomationRule, admin: SandboxPerson) -> list[Action]:
        filters = [
            {"propertyName": name, "operator": "IN", "values": list(values)}
            for name, values in rule.when
        ]
        body = {
            "filterGroups": [{"filters": filters}],
            "properties": [name for name, _ in rule.then],
            "limit": 100,
        }
        found = self._hs_call(admin, "POST", f"/crm/v3/objects/{rule.object}/search", body)
        done = []
        for contact in found.get("results", []):
            path = f"/crm/v3/objects/{rule.object}/{contact['id']}"
            self._hs_call(admin, "PATCH", path, {"properties": dict(rule.then)})
            for name, value in rule.then:
                old = contact["properties"].get(name)
                done.append(self._rule_action(rule, admin, str(contact["id"]), name, old, value))
        return done

    def _rule_action(
        self,
        rule: AutomationRule,
        actor: SandboxPerson,
        record_id: str,
        name: str,
        old: Any,
        new: Any,
    ) -> Action:
        return Action(
            kind="automation",
            system=rule.system,
            actor_id=actor.id,
            actor_name=actor.name,
            object=rule.object,
            record_id=record_id,
            field=name,
            old=old,
            new=new,
            at=_now(),
            detail={"rule": rule.name},
        )

    # -- Salesforce plumbing ---------------------------------------------------------------

    def _sf_pick(
        self, person: SandboxPerson, sobject: str, where: str, fields: tuple[str, ...]
    ) -> dict[str, Any]:
        """A record this person would work on, read fresh (current values, still there)."""
        clause = where.format(owner=_soql_text(person.id))
        key = ("salesforce", person.id, sobject, clause)
        pool = self._pool(key, lambda: self._sf_ids(person, sobject, clause))
        if not pool.ids:
            raise NothingToDo
        record_id = self.rng.choice(pool.ids)
        closed_flag = _CLOSED_FLAG.get(sobject)
        wanted = ",".join(dict.fromkeys(["Id", *fields, *([closed_flag] if closed_flag else [])]))
        path = f"{SF_API}/sobjects/{sobject}/{record_id}?fields={wanted}"
        try:
            record = dict(self._sf_call(person, "GET", path))
        except ActionFailed:
            record = {}
        if not record or (closed_flag and record.get(closed_flag)):
            pool.ids.remove(record_id)  # gone, converted or closed since the query
            raise NothingToDo
        return record

    def _sf_ids(self, person: SandboxPerson, sobject: str, where: str) -> _Pool:
        """A window of the person's matching records at a random offset (SOQL's is <= 2,000)."""
        count = self._sf_call(
            person,
            "GET",
            f"{SF_API}/query/?q={quote(f'SELECT COUNT() FROM {sobject} WHERE {where}')}",
        ).get("totalSize", 0)
        offset = self.rng.randint(0, min(max(int(count) - POOL_SIZE, 0), SOQL_MAX_OFFSET))
        query = (
            f"SELECT Id FROM {sobject} WHERE {where} ORDER BY Id LIMIT {POOL_SIZE} OFFSET {offset}"
        )
        return _Pool([str(r["Id"]) for r in self._soql(person, query)])

    def _soql(self, person: SandboxPerson, query: str) -> list[dict[str, Any]]:
        answer = self._sf_call(person, "GET", f"{SF_API}/query/?q={quote(query)}")
        return list(answer.get("records", []))

    def _sf_update(
        self, person: SandboxPerson, sobject: str, record_id: str, changes: dict[str, Any]
    ) -> None:
        self._sf_call(person, "PATCH", f"{SF_API}/sobjects/{sobject}/{record_id}", changes)

    def _sf_call(self, person: SandboxPerson, method: str, path: str, body: Any = None) -> Any:
        """A REST call as this person: with their token, or in the UI (`/__sandbox/act`)."""
        if self.salesforce_ui:
            payload = {"as_user": person.id, "method": method, "url": path, "body": body}
            reply = self._admin("salesforce", "act", payload)  # {httpStatusCode, body}
            status = int(reply.get("httpStatusCode", 500))
            if not 200 <= status < 300:
                what = f"Salesforce (UI) {method} {path.split('?')[0]}"
                raise ActionFailed(f"{what} answered {status}: {str(reply.get('body'))[:300]}")
            return reply.get("body") or {}
        url = f"{self.salesforce_url}{path}"
        response = self._sf.request(
            method, url, json=body, headers=_bearer(person), timeout=self.timeout
        )
        return _answer(response, f"Salesforce {method} {path.split('?')[0]}")

    def _sf_action(
        self,
        kind: str,
        rep: SandboxPerson,
        sobject: str,
        record: dict[str, Any],
        name: str,
        new: Any,
    ) -> Action:
        return Action(
            kind=kind,
            system="salesforce",
            actor_id=rep.id,
            actor_name=rep.name,
            object=sobject,
            record_id=str(record["Id"]),
            field=name,
            old=record.get(name),
            new=new,
            at=_now(),
        )

    # -- HubSpot plumbing ------------------------------------------------------------------

    def _hs_pick(self, person: SandboxPerson, properties: tuple[str, ...]) -> dict[str, Any]:
        """A random live contact, found by search as this person, read fresh."""
        pool = self._pool(("hubspot", "contacts"), lambda: self._hs_ids(person))
        if not pool.ids:
            raise NothingToDo
        contact_id = self.rng.choice(pool.ids)
        path = f"{HS_CONTACTS}/{contact_id}?properties={','.join(properties)}"
        try:
            return dict(self._hs_call(person, "GET", path))
        except ActionFailed:
            pool.ids.remove(contact_id)
            raise NothingToDo from None

    def _hs_ids(self, person: SandboxPerson) -> _Pool:
        """A page of contact ids at a random offset (search reaches the first 10,000)."""
        known = self._pools.get(("hubspot", "contacts"))
        total = int(known.extra.get("total", 0)) if known else self._hs_search_page(person, 0, 1)[1]
        offset = self.rng.randint(0, max(min(total, 10_000) - POOL_SIZE, 0))
        ids, total = self._hs_search_page(person, offset, POOL_SIZE)
        return _Pool(ids, {"total": total})

    def _hs_search_page(
        self, person: SandboxPerson, offset: int, limit: int
    ) -> tuple[list[str], int]:
        body = {
            "limit": limit,
            "after": str(offset),
            "properties": ["email"],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        }
        found = self._hs_call(person, "POST", f"{HS_CONTACTS}/search", body)
        ids = [str(r["id"]) for r in found.get("results", [])]
        return ids, int(found.get("total", len(ids)))

    def _hs_by_email(
        self, person: SandboxPerson, email: str, properties: tuple[str, ...]
    ) -> dict[str, Any]:
        if not email:
            raise NothingToDo
        body = {
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}
            ],
            "properties": ["email", *properties],
            "limit": 1,
        }
        found = self._hs_call(person, "POST", f"{HS_CONTACTS}/search", body).get("results", [])
        if not found:
            raise NothingToDo
        return dict(found[0])

    def _hs_update(self, person: SandboxPerson, contact_id: str, values: dict[str, Any]) -> None:
        self._hs_call(person, "PATCH", f"{HS_CONTACTS}/{contact_id}", {"properties": values})

    def _hs_call(self, person: SandboxPerson, method: str, path: str, body: Any = None) -> Any:
        """A call with this person's token; a 429 is waited out once, as HubSpot's UI would."""
        url = f"{self.hubspot_url}{path}"
        response = self._hs.request(
            method, url, json=body, headers=_bearer(person), timeout=self.timeout
        )
        if response.status_code == 429:
            time.sleep(_retry_after(response))
            response = self._hs.request(
                method, url, json=body, headers=_bearer(person), timeout=self.timeout
            )
        return _answer(response, f"HubSpot {method} {path.split('?')[0]}")

    # -- shared plumbing -------------------------------------------------------------------

    def _admin(self, system: str, path: str, body: dict[str, Any]) -> Any:
        session, base = (
            (self._sf, self.salesforce_url)
            if system == "salesforce"
            else (self._hs, self.hubspot_url)
        )
        response = session.post(f"{base}/__sandbox/{path}", json=body, timeout=self.timeout)
        return _answer(response, f"{system} /__sandbox/{path}")

    def _pool(self, key: tuple[str, ...], load: Callable[[], _Pool]) -> _Pool:
        pool = self._pools.get(key)
        if pool is None or pool.stale:
            fresh = load()
            pool = self._pools[key] = fresh
        pool.uses += 1
        return pool


class _Roster:
    """The people by system and role (the integration and inactive people never act)."""

    def __init__(self, people: list[SandboxPerson]) -> None:
        self.by_role: dict[tuple[str, str], list[SandboxPerson]] = {}
        for person in people:
            if person.active and person.role != "integration":
                self.by_role.setdefault((person.system, person.role), []).append(person)

    def pick(self, rng: random.Random, system: str, role: str) -> SandboxPerson:
        """Someone with this role; a marketer's work falls to an admin when there is none."""
        for fallback in (role, "admin"):
            people = self.by_role.get((system, fallback))
            if people:
                return rng.choice(people)
        raise NothingToDo

    def first(self, system: str, role: str) -> SandboxPerson | None:
        people = self.by_role.get((system, role))
        return people[0] if people else None


# The flag that makes a record read-only or done since a rep's query found it.
_CLOSED_FLAG: dict[str, str] = {"Lead": "IsConverted", "Opportunity": "IsClosed"}
# Which of a rep's records are "open" (worth working on); {owner} is the rep's user id.
_OWNED_OPEN: dict[str, str] = {
    "Lead": "OwnerId = '{owner}' AND IsConverted = false",
    "Contact": "OwnerId = '{owner}'",
}


def _session(*, verify: str | bool) -> requests.Session:
    """A session that ignores the machine's proxy and CA settings (see client-facts.md)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = verify
    return session


def _bearer(person: SandboxPerson) -> dict[str, str]:
    return {"Authorization": f"Bearer {person.token}"}


def _answer(response: requests.Response, what: str) -> Any:
    """The JSON body of a 2xx answer; anything else fails the action with the system's words."""
    if not 200 <= response.status_code < 300:
        raise ActionFailed(f"{what} answered {response.status_code}: {response.text[:300]}")
    if response.status_code == 204 or not response.content:
        return {}
    return response.json()


def _retry_after(response: requests.Response) -> float:
    """Seconds to wait before retrying a 429 (Retry-After, else HubSpot's one-second window)."""
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.1), 2.0)
    except ValueError:
        return 1.0


def _hs_action(
    kind: str, person: SandboxPerson, contact: dict[str, Any], name: str, old: Any, new: Any
) -> Action:
    return Action(
        kind=kind,
        system="hubspot",
        actor_id=person.id,
        actor_name=person.name,
        object="contacts",
        record_id=str(contact["id"]),
        field=name,
        old=old,
        new=new,
        at=_now(),
    )


def _with_pair(first: Action, second: Action) -> Action:
    """The first edit, carrying the second (both are logged)."""
    detail = {"paired_with": {"system": second.system, "record_id": second.record_id}}
    return Action(**{**first.__dict__, "detail": detail, "also": (second,)})


def _page_url(form_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", form_name.split(":")[0].lower()).strip("-")
    return f"https://www.{OUR_DOMAIN}/{slug}"


def _system_of(kind: str) -> str:
    return {"sf": "salesforce", "hs": "hubspot"}.get(kind.split("_")[0], "both")


def _number(value: Any) -> int:
    try:
        return round(float(value))
    except (TypeError, ValueError):
        return 0


def _soql_text(value: str) -> str:
    """A SOQL string literal's inside: backslashes and quotes escaped."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _soql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{_soql_text(v)}'" for v in values)


def _now() -> datetime:
    return datetime.now(UTC)
