"""A killed engine and a flaky network both end in the same state as a clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from sync_engine import engine as engine_module
from sync_engine.errors import RetriableError
from sync_engine.store import AuditStore
from tests.e2e.conftest import ROOT, Pair, start_pair

pytestmark = pytest.mark.e2e

SEED, CONTACTS = 7, 500


def fingerprint(pair: Pair) -> dict[str, object]:
    """Both systems' people and companies by their natural keys (ids differ between runs)."""
    leads = pair.soql(
        "SELECT Email, FirstName, LastName, Phone, LeadSource, Status, Company FROM Lead "
        "WHERE IsConverted = false"
    )
    contacts = pair.soql("SELECT Email, FirstName, LastName, Phone, LeadSource FROM Contact")
    people = pair.hs_contacts("firstname", "lastname", "phone", "lead_source", "hs_lead_status")
    companies = pair.hs("POST", "/crm/v3/objects/companies/search", json={"limit": 1})["total"]

    def rows(records, keys):
        return sorted(tuple(str(r.get(k) or "").strip().lower() for k in keys) for r in records)

    return {
        "leads": rows(leads, ("Email", "FirstName", "LastName", "Phone", "LeadSource", "Status")),
        "contacts": rows(contacts, ("Email", "FirstName", "LastName", "Phone", "LeadSource")),
        "hubspot": rows(
            [c["properties"] for c in people],
            ("email", "firstname", "lastname", "phone", "lead_source", "hs_lead_status"),
        ),
        "accounts": len(pair.soql("SELECT Id FROM Account")),
        "companies": companies,
    }


def converge(engine, *, cycles: int = 6) -> None:
    """Run cycles until one reads nothing new and writes nothing."""
    for _ in range(cycles):
        report = engine.run_once()
        if report.records_written == 0 and report.records_read == 0:
            return
    raise AssertionError(f"no quiet cycle after {cycles}: {report.summary()}")


def undisturbed_state(workdir: Path) -> dict[str, object]:
    """The end state of an undisturbed sync of the small seed, on a pair of its own."""
    pair = start_pair(workdir, seed=SEED, contacts=CONTACTS)
    try:
        converge(pair.engine())
        return fingerprint(pair)
    finally:
        pair.sandbox.stop()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, object]:
    return undisturbed_state(tmp_path_factory.mktemp("reference"))


def _no_duplicates(state: dict[str, object]) -> None:
    for name in ("leads", "contacts", "hubspot"):
        emails = [row[0] for row in state[name] if row[0]]
        assert len(emails) == len(set(emails)) or name == "contacts", f"duplicated {name}"


def test_killing_the_engine_mid_run_loses_and_duplicates_nothing(small_pair, reference, tmp_path):
    env = {**os.environ, **small_pair.settings_env(), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync_engine", "once"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # kill once writes have begun
        writes = small_pair.stats("salesforce")["by_endpoint"]
        if any(k.startswith(("POST /composite/sobjects", "PATCH /composite")) for k in writes):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the engine finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    converge(small_pair.engine())
    state = fingerprint(small_pair)
    _no_duplicates(state)
    assert state == reference


def test_with_faults_at_one_in_five_the_sync_converges_to_the_same_state(small_pair, reference):
    for system in ("salesforce", "hubspot"):
        small_pair.admin(system, "faults", {"rate": 0.2, "seed": 11})
    engine = small_pair.engine()
    for _ in range(6):
        report = engine.run_once()
        if report.records_written == 0 and report.records_read == 0:
            break
    for system in ("salesforce", "hubspot"):
        small_pair.admin(system, "faults", {"rate": 0})
    converge(engine)
    with engine.store.read() as conn:
        retried = dict(
            conn.execute(
                "SELECT system, sum(attempts) FROM sync_errors WHERE category = 'transient' "
                "GROUP BY system"
            ).fetchall()
        )
    state = fingerprint(small_pair)
    _no_duplicates(state)
    assert state == reference
    # The faults happened, were retried with backoff, and were logged as transient.
    assert retried.get("salesforce", 0) > 0
    assert retried.get("hubspot", 0) > 0


class Killed(BaseException):
    """kill -9 at one chosen point: what the engine meant to do after it never happens."""


def deals_by_opportunity(pair: Pair) -> Counter[str]:
    """HubSpot deals per Opportunity Id they carry (deals made in HubSpot carry none)."""
    found: Counter[str] = Counter()
    after = None
    while True:
        params = {"limit": 100, "properties": "hs_salesforceopportunityid"}
        page = pair.hs(
            "GET", "/crm/v3/objects/deals", params={**params, **({"after": after} if after else {})}
        )
        found.update(
            str(d["properties"].get("hs_salesforceopportunityid") or "") for d in page["results"]
        )
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return found


@pytest.mark.parametrize("batch", [100, 10], ids=["one-batch", "a-group-of-batches"])
def test_deals_created_just_before_a_kill_are_found_again_not_created_twice(
    small_pair, batch, monkeypatch
):
    """Deals have no email or domain: the Opportunity Id the engine writes on each deal it
    creates is what lets the restart recognise the deals a killed process created. Several
    batches are sent before one transaction records them (engine.COMMIT_EVERY): in batches of
    10, the kill leaves deals created by each batch of a group, recorded by none."""
    monkeypatch.setattr(engine_module, "HS_BATCH", batch)
    engine = small_pair.engine()
    commit = engine._commit_hubspot
    groups = []

    def killed_before_the_deal_commit(run_id, obj, sent, report, **kw):
        if obj.name == "deal":
            groups.append(len(sent))
            raise Killed
        return commit(run_id, obj, sent, report, **kw)

    engine._commit_hubspot = killed_before_the_deal_commit
    with pytest.raises(Killed):
        engine.run_once()
    assert groups == [1 if batch == 100 else engine_module.COMMIT_EVERY]
    sent = deals_by_opportunity(small_pair)
    assert sum(n for opp, n in sent.items() if opp) > 0, "no deal reached HubSpot before the kill"

    converge(small_pair.engine())
    deals = deals_by_opportunity(small_pair)
    opportunities = {str(r["Id"]) for r in small_pair.soql("SELECT Id FROM Opportunity")}
    assert [opp for opp, n in deals.items() if opp and n > 1] == []
    assert {opp for opp in deals if opp} <= opportunities
    with AuditStore(small_pair.workdir / "sync.duckdb").read() as conn:
        linked = conn.execute(
            "SELECT count(*), count(DISTINCT hs_id), count(DISTINCT sf_id) FROM id_links "
            "WHERE object = 'deal'"
        ).fetchone()
        created = conn.execute(
            "SELECT hs_id, field, count(*) FROM field_changes WHERE object = 'deal' "
            "AND reason = 'created' GROUP BY ALL HAVING count(*) > 1"
        ).fetchall()
        recorded = conn.execute(
            "SELECT count(DISTINCT hs_id) FROM field_changes WHERE object = 'deal' "
            "AND reason = 'created' AND direction = 'salesforce_to_hubspot'"
        ).fetchone()
    made = sum(n for opp, n in deals.items() if opp)
    assert linked[0] == linked[1] == linked[2] == made  # each deal linked once, each way
    assert created == []  # no creation recorded twice
    assert recorded[0] == made  # and the kill's creations recorded once, by the restart


def _forget_hubspot_side(engine) -> tuple[str, str, str]:
    """A linked Lead whose HubSpot contact the mirror has lost (as a 409 link leaves it)."""
    with engine.store.read() as conn:
        hs_id, sf_id, email = conn.execute(
            "SELECT l.hs_id, l.sf_id, r.key FROM id_links l JOIN records r "
            "ON r.system = 'hubspot' AND r.id = l.hs_id "
            "WHERE l.object = 'contact' AND l.sf_object = 'Lead' AND r.key IS NOT NULL "
            "ORDER BY l.sf_id LIMIT 1"
        ).fetchone()
    with engine.store.write() as tx:
        tx.conn.execute("DELETE FROM records WHERE system = 'hubspot' AND id = ?", [hs_id])
    return hs_id, sf_id, email


def test_a_contact_found_existing_on_create_is_read_linked_and_synced(small_pair):
    """A HubSpot create refused because the email exists (409) links to that contact, reads
    it into the mirror and decides the pair: a link to a record the mirror never read (one a
    killed process created) would leave the pair with no HubSpot side, unsynced until
    HubSpot changed the record (seen in a crash trial)."""
    engine = small_pair.engine()
    engine.run_once(kind="initial")
    store = engine.store
    hs_id, sf_id, key = _forget_hubspot_side(engine)
    contacts = len(small_pair.hs_contacts())
    with store.write() as tx:  # as if the contact had never been read nor linked
        tx.conn.execute("DELETE FROM id_links WHERE hs_id = ?", [hs_id])
        tx.conn.execute("DELETE FROM synced_bases WHERE hs_id = ?", [hs_id])
        tx.conn.execute("UPDATE records SET dirty = true WHERE id = ?", [sf_id])

    engine.run_once()  # creates in HubSpot, which answers 409 with the existing id
    engine.run_once()

    assert len(small_pair.hs_contacts()) == contacts  # nothing copied
    with store.read() as conn:
        links = conn.execute(
            "SELECT hs_id, match_key FROM id_links WHERE object = 'contact' AND sf_id = ?",
            [sf_id],
        ).fetchall()
        mirrored = conn.execute(
            "SELECT key FROM records WHERE system = 'hubspot' AND id = ?", [hs_id]
        ).fetchall()
        based = conn.execute(
            "SELECT count(*) FROM synced_bases WHERE hs_id = ? AND sf_id = ?", [hs_id, sf_id]
        ).fetchone()[0]
    assert links == [(hs_id, key)]  # linked by the email HubSpot found it by
    assert mirrored == [(key,)]
    assert based >= 1  # the pair was decided with both sides


def _hubspot_title(pair: Pair, hs_id: str) -> str | None:
    found = pair.hs("GET", f"/crm/v3/objects/contacts/{hs_id}", params={"properties": "jobtitle"})
    return found["properties"].get("jobtitle")


def test_a_lead_edited_while_its_hubspot_contact_is_unread_reaches_it(small_pair):
    """A changed Salesforce record whose linked HubSpot contact the mirror never read reads
    that contact first, so the edit is decided with both sides and reaches it."""
    engine = small_pair.engine()
    engine.run_once(kind="initial")
    hs_id, sf_id, email = _forget_hubspot_side(engine)
    contacts = len(small_pair.hs_contacts())
    small_pair.sf("PATCH", f"sobjects/Lead/{sf_id}", json={"Title": "Head of Unread Records"})

    engine.run_once()

    assert _hubspot_title(small_pair, hs_id) == "Head of Unread Records"
    assert len(small_pair.hs_contacts()) == contacts  # nothing copied
    with engine.store.read() as conn:
        mirrored = conn.execute(
            "SELECT key FROM records WHERE system = 'hubspot' AND id = ?", [hs_id]
        ).fetchall()
    assert mirrored == [(email,)]


def test_a_failed_read_of_an_unread_partner_is_tried_again_next_cycle(small_pair):
    """The read of an unread partner fails for longer than its retries: the cycle stops with
    the Lead still undecided, and the next cycle reads the contact and syncs the edit."""
    engine = small_pair.engine()
    engine.run_once(kind="initial")
    hs_id, sf_id, _email = _forget_hubspot_side(engine)
    small_pair.sf("PATCH", f"sobjects/Lead/{sf_id}", json={"Title": "Tried Again"})
    read = engine.hs.batch_read

    def unavailable(*args, **kwargs):
        raise RetriableError("HubSpot answered 503 to POST /crm/v3/objects/contacts/batch/read")

    engine.hs.batch_read = unavailable
    with pytest.raises(RetriableError):
        engine.run_once()
    assert _hubspot_title(small_pair, hs_id) != "Tried Again"
    with engine.store.read() as conn:
        (dirty,) = conn.execute("SELECT dirty FROM records WHERE id = ?", [sf_id]).fetchone()
    assert dirty, "the Lead stays undecided"

    engine.hs.batch_read = read
    engine.run_once()
    assert _hubspot_title(small_pair, hs_id) == "Tried Again"
