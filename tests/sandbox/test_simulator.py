"""The simulated people, driving both emulators over real HTTP(S), checked with the real clients.

What a user of the sandbox would check: an edit the simulator reports is in the record, made by
the person it names (Salesforce `LastModifiedById`; HubSpot history `CRM_UI` with their user id),
conversions convert, and the automation pair flips its field each time it is driven.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from hubspot import HubSpot
from simple_salesforce import Salesforce

from sandbox.core import ServerThread, ensure_tls
from sandbox.hubspot.emulator import HubSpotEmulator
from sandbox.salesforce.emulator import SalesforceEmulator
from sandbox.seed import build_seed_sized, describe_mess
from sandbox.seeddata import SandboxPerson, SeedBundle
from sandbox.simulator import Action, Simulator

pytestmark = pytest.mark.sandbox

SF_EDITS = ("sf_edit_phone", "sf_move_stage", "sf_lead_status")


@dataclass
class Servers:
    sf: SalesforceEmulator
    hs: HubSpotEmulator
    sf_url: str
    hs_url: str
    ca: Path


@pytest.fixture(scope="module")
def bundle() -> SeedBundle:
    return build_seed_sized(7, contacts=200)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    sf, hs = SalesforceEmulator(), HubSpotEmulator()
    tls = ensure_tls(Path(tmp_path_factory.mktemp("simulator-tls")))
    sf_server, hs_server = ServerThread(sf.wsgi_app, tls=tls), ServerThread(hs.wsgi_app)
    yield Servers(sf, hs, sf_server.start(), hs_server.start(), tls.ca_pem)
    sf_server.stop()
    hs_server.stop()


class World:
    """Both emulators freshly loaded with the small seed, and clients for any of its people."""

    def __init__(self, servers: Servers, bundle: SeedBundle) -> None:
        self.s = servers
        self.bundle = bundle
        self.people = [*servers.sf.people(), *servers.hs.people()]

    def simulator(self, **kw: Any) -> Simulator:
        options: dict[str, Any] = {"rate": 0, "seed": 11, **kw}
        return Simulator(
            salesforce_url=self.s.sf_url,
            hubspot_url=self.s.hs_url,
            people=self.people,
            ca_bundle=self.s.ca,
            **options,
        )

    def person(self, system: str, role: str) -> SandboxPerson:
        return next(p for p in self.people if (p.system, p.role) == (system, role) and p.active)

    def by_id(self, system: str, person_id: str) -> SandboxPerson:
        return next(p for p in self.people if (p.system, p.id) == (system, person_id))

    def sf(self, role: str = "admin") -> Salesforce:
        session = requests.Session()
        session.verify = str(self.s.ca)
        session.trust_env = False
        token = self.person("salesforce", role).token
        return Salesforce(instance_url=self.s.sf_url, session_id=token, session=session)

    def hs(self, role: str = "admin") -> HubSpot:
        return HubSpot(access_token=self.person("hubspot", role).token, host=self.s.hs_url)

    def history(self, contact_id: str, name: str) -> list[Any]:
        contact = self.hs().crm.contacts.basic_api.get_by_id(
            contact_id, properties=[name], properties_with_history=[name]
        )
        return list((contact.properties_with_history or {}).get(name) or [])

    def admin(self, system: str, path: str, body: dict[str, Any]) -> Any:
        base, verify = (
            (self.s.sf_url, str(self.s.ca)) if system == "salesforce" else (self.s.hs_url, True)
        )
        session = requests.Session()
        session.trust_env = False
        answer = session.request(
            "POST" if body else "GET", f"{base}/__sandbox/{path}", json=body or None, verify=verify
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def world(servers: Servers, bundle: SeedBundle) -> World:
    for emulator in (servers.sf, servers.hs):
        emulator.faults.reset()
    servers.sf.load(bundle.salesforce)
    servers.hs.load(bundle.hubspot)
    return World(servers, bundle)


def ui_entry(entries: list[Any], value: Any, user_id: str) -> Any:
    """The history entry that records `value` as set by this user in the UI, or None."""
    for entry in entries:
        ui = entry.source_type == "CRM_UI" and entry.source_id == f"userId:{user_id}"
        if ui and entry.value == str(value):
            return entry
    return None


def last_touch(actions: list[Action]) -> dict[tuple[str, str], Action]:
    touched: dict[tuple[str, str], Action] = {}
    for action in actions:
        if action.ok and action.record_id:
            touched[(action.system, action.record_id)] = action
    return touched


# --------------------------------------------------------------------------------------------


def test_steps_are_done_through_the_apis_by_the_people_they_name(world: World):
    sim = world.simulator(seed=3)
    started = time.perf_counter()
    for _ in range(60):
        sim.step()
    print(f"\n60 simulator steps: {time.perf_counter() - started:.2f} s; {sim.summary()}")
    ok = [a for a in sim.actions if a.ok]
    assert len(ok) >= 0.9 * len(sim.actions) and len(sim.actions) >= 60
    assert len({a.kind for a in ok}) >= 6
    checked = Counter()
    sf = world.sf()
    for (system, record_id), action in last_touch(sim.actions).items():
        if system == "salesforce" and action.kind in (*SF_EDITS, "both_edit"):
            record = getattr(sf, action.object).get(record_id)
            assert record[action.field] == action.new, action
            assert record["LastModifiedById"] == action.actor_id
            assert world.by_id("salesforce", action.actor_id).role == "rep"
            checked["sf edit"] += 1
    for action in ok:
        if action.kind == "sf_log_call":
            task = sf.Task.get(action.record_id)
            assert task["WhoId"] == action.detail["WhoId"]
            assert task["OwnerId"] == task["CreatedById"] == action.actor_id
            checked["task"] += 1
        if action.system == "hubspot" and action.kind in ("hs_lifecycle", "both_edit"):
            entries = world.history(action.record_id, action.field)
            entry = ui_entry(entries, action.new, action.actor_id)
            assert entry is not None, (action, entries)
            assert entry.updated_by_user_id == int(action.actor_id)
            checked["hs edit"] += 1
        if action.kind == "hs_score":
            entries = world.history(action.record_id, "hubspotscore")
            assert any(e.value == action.new and e.source_type == "CALCULATED" for e in entries)
            checked["score"] += 1
    assert checked["sf edit"] >= 5 and checked["hs edit"] + checked["score"] >= 5, checked


def test_forms_and_email_events_reach_the_contacts(world: World):
    sim = world.simulator(seed=5)
    forms = [sim.step(kind="hs_form_submission") for _ in range(8)]
    emails = [sim.step(kind="hs_email_event") for _ in range(5)]
    assert all(a.ok for a in forms + emails), [a.error for a in forms + emails if not a.ok]
    assert {a.detail["created"] for a in forms} == {True, False}  # new people and known ones
    for action in forms:
        entries = world.history(action.record_id, "recent_conversion_event_name")
        assert any(e.value == action.new and e.source_type == "FORM" for e in entries)
    for action in emails:
        entries = world.history(action.record_id, action.field)
        assert entries and entries[0].source_type == "EMAIL"


def test_both_sides_edit_the_same_field_of_the_same_person(world: World):
    sim = world.simulator(seed=8)
    first = sim.step(kind="both_edit")
    assert first.ok, first.error
    (second,) = first.also
    sf_side, hs_side = sorted((first, second), key=lambda a: a.system != "salesforce")
    assert (sf_side.system, hs_side.system) == ("salesforce", "hubspot")
    assert {sf_side.field, hs_side.field} in ({"Phone", "phone"}, {"Title", "jobtitle"})
    assert sf_side.new != hs_side.new
    assert abs((sf_side.at - hs_side.at).total_seconds()) < 5
    record = getattr(world.sf(), sf_side.object).get(sf_side.record_id)
    assert record[sf_side.field] == sf_side.new
    assert record["LastModifiedById"] == sf_side.actor_id
    contact = world.hs().crm.contacts.basic_api.get_by_id(hs_side.record_id, properties=["email"])
    assert contact.properties["email"].strip().lower() == record["Email"].strip().lower()
    entry = ui_entry(world.history(hs_side.record_id, hs_side.field), hs_side.new, hs_side.actor_id)
    assert entry is not None
    assert world.by_id("hubspot", hs_side.actor_id).role == "marketer"
    assert second in sim.actions and first in sim.actions


def test_a_rep_converts_a_lead(world: World):
    sim = world.simulator(seed=2)
    action = sim.step(kind="sf_convert_lead")
    assert action.ok, action.error
    sf = world.sf()
    lead = sf.Lead.get(action.record_id)
    assert lead["IsConverted"] is True and lead["Status"] == "Closed - Converted"
    contact = sf.Contact.get(lead["ConvertedContactId"])
    assert contact["Id"] == action.detail["contactId"]
    assert contact["CreatedById"] == action.actor_id
    assert contact["Email"] == lead["Email"] and contact["AccountId"] == lead["ConvertedAccountId"]
    assert lead["OwnerId"] == action.actor_id


def test_automation_pair_flips_its_field_each_time_it_is_driven(world: World):
    hs_rule, sf_rule = describe_mess(world.bundle)["automation_pair"]
    contact_id, lead_id = hs_rule["records"][0], sf_rule["records"][0]
    sim = world.simulator(automations=True)
    hs_admin, sf_admin = world.person("hubspot", "admin"), world.person("salesforce", "admin")
    contacts = world.hs().crm.contacts.basic_api
    leads = world.sf().Lead

    def hs_status() -> str:
        return contacts.get_by_id(contact_id, properties=["hs_lead_status"]).properties[
            "hs_lead_status"
        ]

    # Round 1: HubSpot's workflow acts on the primed contact.
    sim.run_automations()
    assert hs_status() == "IN_PROGRESS"
    entries = world.history(contact_id, "hs_lead_status")
    assert ui_entry(entries, "IN_PROGRESS", hs_admin.id) is not None
    # The sync would carry that over: Salesforce's flow answers by undoing it.
    world.sf("rep").Lead.update(lead_id, {"Status": "Working - Contacted"})
    flipped = sim.run_automations()
    lead = leads.get(lead_id)
    assert lead["Status"] == "Open - Not Contacted"
    assert lead["LastModifiedById"] == sf_admin.id
    assert any(a.record_id == lead_id and a.kind == "automation" for a in flipped)
    # ... which the sync carries back, and HubSpot's workflow flips again.
    world.hs("rep").crm.contacts.basic_api.update(
        contact_id, {"properties": {"hs_lead_status": "OPEN"}}
    )
    sim.run_automations()
    assert hs_status() == "IN_PROGRESS"
    assert sum(e.value == "IN_PROGRESS" for e in world.history(contact_id, "hs_lead_status")) == 2


def test_background_thread_acts_at_the_rate_and_runs_automations(world: World):
    sim = world.simulator(rate=25, automations=True, automation_interval=0.2)
    sim.start()
    try:
        time.sleep(1.2)
    finally:
        sim.stop()
    assert not sim.running
    count = len(sim.actions)
    assert 8 <= count <= 80, count
    assert any(a.kind == "automation" and a.ok for a in sim.actions)
    time.sleep(0.2)
    assert len(sim.actions) == count, "nothing happens after stop()"


def test_works_on_an_org_without_records(world: World, servers: Servers):
    empty = build_seed_sized(7, contacts=0)
    servers.sf.load(empty.salesforce)
    servers.hs.load(empty.hubspot)
    sim = world.simulator(seed=4)
    actions = [sim.step() for _ in range(10)]
    done = [a for a in actions if a.ok]
    assert all(a.kind == "hs_form_submission" for a in done), [a.kind for a in done]
    assert all(a.ok or a.error for a in actions)


def test_refused_calls_are_logged_not_raised(world: World):
    world.admin("hubspot", "faults", {"rate": 1.0, "kinds": ["503"]})
    sim = world.simulator(seed=6)
    action = sim.step(kind="hs_lifecycle")
    assert not action.ok and "503" in (action.error or "")
    assert sim.actions[-1] is action


def test_ui_mode_edits_as_the_rep_without_spending_api_calls(world: World):
    sim = world.simulator(seed=9, salesforce_ui=True)
    before = world.admin("salesforce", "stats", {})["today"]
    action = sim.step(kind="sf_edit_phone")
    assert action.ok, action.error
    assert world.admin("salesforce", "stats", {})["today"] == before
    record = getattr(world.sf(), action.object).get(action.record_id)
    assert record["Phone"] == action.new and record["LastModifiedById"] == action.actor_id


def test_unknown_kind_is_refused(world: World):
    with pytest.raises(ValueError, match="unknown action kind"):
        world.simulator().step(kind="dance")
