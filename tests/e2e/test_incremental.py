"""Edits made by people between cycles: each reaches the other side, by its field's rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_engine.inclusion import matches

pytestmark = pytest.mark.e2e


def _linked_leads(synced, *, token: str, limit: int = 200) -> list[tuple[str, dict]]:
    """(hs_id, lead row) pairs of unconverted Leads the given person can see and edit."""
    with synced.engine.store.read() as conn:
        links = dict(
            conn.execute(
                "SELECT sf_id, hs_id FROM id_links WHERE object = 'contact' AND sf_object = 'Lead'"
            ).fetchall()
        )
    rows = synced.pair.soql(
        f"SELECT Id, Email, Phone, LeadSource, Title FROM Lead WHERE IsConverted = false "
        f"ORDER BY Id LIMIT {limit}",
        token=token,
    )
    return [(links[r["Id"]], r) for r in rows if r["Id"] in links]


_used: set[str] = set()


def _fresh_lead(synced, token: str) -> tuple[str, dict]:
    """A linked Lead no other test in this session has touched."""
    for hs_id, row in _linked_leads(synced, token=token):
        if row["Id"] not in _used:
            _used.add(row["Id"])
            return hs_id, row
    raise AssertionError("no untouched linked Lead left")


def _changes(synced, hs_id: str) -> list[tuple]:
    with synced.engine.store.read() as conn:
        return conn.execute(
            "SELECT direction, field, old_value, new_value, reason FROM field_changes "
            'WHERE hs_id = ? ORDER BY "at"',
            [hs_id],
        ).fetchall()


def test_a_reps_phone_edit_reaches_hubspot_and_stays(synced):
    pair, engine = synced.pair, synced.engine
    rep = pair.person("salesforce", "rep")
    hs_id, lead = _fresh_lead(synced, rep["token"])
    pair.sf(
        "PATCH",
        f"sobjects/Lead/{lead['Id']}",
        json={"Phone": "+1 415 555 0199"},
        token=rep["token"],
    )

    engine.run_once()
    assert pair.hs_contact(hs_id, "phone")["properties"]["phone"] == "+1 415 555 0199"
    change = [c for c in _changes(synced, hs_id) if c[1] == "phone"][-1]
    assert change[0] == "salesforce_to_hubspot"
    assert change[3] == "+1 415 555 0199"
    assert change[4] == "salesforce_changed"

    before = len(_changes(synced, hs_id))
    engine.run_once()
    assert pair.hs_contact(hs_id, "phone")["properties"]["phone"] == "+1 415 555 0199"
    assert len(_changes(synced, hs_id)) == before  # not written back, not overwritten


def test_a_marketing_lead_source_change_reaches_salesforce(synced):
    pair, engine = synced.pair, synced.engine
    admin = pair.person("salesforce", "admin")
    hs_id, lead = _fresh_lead(synced, admin["token"])
    target = "Trade Show" if lead["LeadSource"] != "Trade Show" else "Webinar"
    marketer = pair.person("hubspot", "marketer")
    pair.hs(
        "PATCH",
        f"/crm/v3/objects/contacts/{hs_id}",
        json={"properties": {"lead_source": target}},
        token=marketer["token"],
    )
    engine.run_once()
    (row,) = pair.soql(f"SELECT LeadSource, LastModifiedById FROM Lead WHERE Id = '{lead['Id']}'")
    assert row["LeadSource"] == target
    assert ("hubspot_to_salesforce", "LeadSource", target) in {
        (c[0], c[1], c[3]) for c in _changes(synced, hs_id)
    }


def test_the_same_field_edited_on_both_sides_is_one_recorded_conflict(synced):
    pair, engine = synced.pair, synced.engine
    admin = pair.person("salesforce", "admin")
    hs_id, lead = _fresh_lead(synced, admin["token"])
    base = pair.hs_contact(hs_id, "phone")["properties"].get("phone")
    pair.sf(
        "PATCH",
        f"sobjects/Lead/{lead['Id']}",
        json={"Phone": "+1 212 555 0101"},
        token=admin["token"],
    )
    pair.hs(
        "PATCH",
        f"/crm/v3/objects/contacts/{hs_id}",
        json={"properties": {"phone": "+1 646 555 0102"}},
        token=pair.person("hubspot", "marketer")["token"],
    )
    engine.run_once()
    with engine.store.read() as conn:
        rows = conn.execute(
            "SELECT field, base_value, hs_value, sf_value, rule, winner FROM conflicts "
            "WHERE hs_id = ? AND run_id = (SELECT max(run_id) FROM conflicts WHERE hs_id = ?)",
            [hs_id, hs_id],
        ).fetchall()
    assert len(rows) == 1
    field, base_value, hs_value, sf_value, rule, winner = rows[0]
    assert field == "phone"
    assert base_value == (base or "")
    assert (hs_value, sf_value) == ("+1 646 555 0102", "+1 212 555 0101")
    assert (rule, winner) == ("prefer_salesforce_unless_blank", "salesforce")
    # Salesforce won: both systems now hold its value.
    assert pair.hs_contact(hs_id, "phone")["properties"]["phone"] == "+1 212 555 0101"
    (row,) = pair.soql(f"SELECT Phone FROM Lead WHERE Id = '{lead['Id']}'")
    assert row["Phone"] == "+1 212 555 0101"


def test_a_converted_lead_relinks_to_its_contact_without_new_records(synced):
    pair, engine = synced.pair, synced.engine
    rep = pair.person("salesforce", "rep")
    hs_id, lead = _fresh_lead(synced, rep["token"])
    leads_before = len(pair.soql("SELECT Id FROM Lead"))
    contacts_before = len(pair.hs_contacts())
    converted = pair.admin(
        "salesforce", "convert-lead", {"lead_id": lead["Id"], "as_user": rep["id"]}
    )
    contact_id = converted.get("contactId") or converted.get("ContactId")
    assert contact_id

    engine.run_once()
    with engine.store.read() as conn:
        link = conn.execute(
            "SELECT sf_object, sf_id, previous_sf_id FROM id_links WHERE object = 'contact' "
            "AND hs_id = ?",
            [hs_id],
        ).fetchone()
    assert link == ("Contact", contact_id, lead["Id"])
    assert len(pair.soql("SELECT Id FROM Lead")) == leads_before  # no new Lead
    assert len(pair.hs_contacts()) == contacts_before  # no new HubSpot contact
    assert pair.hs_contact(hs_id)["properties"]["email"].lower() == lead["Email"].lower()


def test_a_contacts_account_becomes_its_hubspot_company_association(synced):
    pair, engine = synced.pair, synced.engine
    with engine.store.read() as conn:
        rows = conn.execute(
            "SELECT c.hs_id, c.sf_id, a.hs_id FROM id_links c "
            "JOIN records r ON r.system = 'salesforce' AND r.id = c.sf_id "
            "JOIN id_links a ON a.object = 'company' AND a.sf_id = r.payload->>'AccountId' "
            "WHERE c.object = 'contact' AND c.sf_object = 'Contact' LIMIT 20"
        ).fetchall()
    assert rows, "no synced Contact with a synced Account"
    for hs_id, _sf_id, company in rows:
        page = pair.hs("GET", f"/crm/v4/objects/contacts/{hs_id}/associations/companies")
        assert company in {str(r["toObjectId"]) for r in page["results"]}


def test_a_lead_deleted_in_salesforce_is_flagged_and_never_resurrected(synced):
    pair, engine = synced.pair, synced.engine
    admin = pair.person("salesforce", "admin")
    hs_id, lead = _fresh_lead(synced, admin["token"])
    pair.sf("DELETE", f"sobjects/Lead/{lead['Id']}", token=admin["token"])
    engine.run_once()
    with engine.store.read() as conn:
        flagged = conn.execute(
            "SELECT category, message, suggested_fix FROM sync_errors "
            "WHERE code = 'DELETED_IN_SALESFORCE' AND record_id = ?",
            [hs_id],
        ).fetchone()
    assert flagged is not None
    assert flagged[0] == "associations"
    assert lead["Id"] in flagged[1]
    assert pair.hs_contact(hs_id)["id"] == hs_id  # the HubSpot contact is kept (policy: flag)

    pair.hs(
        "PATCH",
        f"/crm/v3/objects/contacts/{hs_id}",
        json={"properties": {"jobtitle": "Head of Operations"}},
        token=pair.person("hubspot", "marketer")["token"],
    )
    leads_before = len(pair.soql("SELECT Id FROM Lead"))
    engine.run_once()
    assert len(pair.soql("SELECT Id FROM Lead")) == leads_before  # not re-created
    recreated = pair.soql(f"SELECT Id FROM Lead WHERE HubSpot_Contact_Id__c = '{hs_id}'")
    assert recreated == []


def test_moving_a_contact_to_another_company_in_hubspot_moves_its_contact_in_salesforce(synced):
    pair, engine = synced.pair, synced.engine
    with engine.store.read() as conn:
        hs_id, sf_id, old_company = conn.execute(
            "SELECT c.hs_id, c.sf_id, a.hs_id FROM id_links c "
            "JOIN records r ON r.system = 'salesforce' AND r.id = c.sf_id "
            "JOIN id_links a ON a.object = 'company' AND a.sf_id = r.payload->>'AccountId' "
            "WHERE c.object = 'contact' AND c.sf_object = 'Contact' ORDER BY c.hs_id DESC LIMIT 1"
        ).fetchone()
        new_company, new_account = conn.execute(
            "SELECT hs_id, sf_id FROM id_links WHERE object = 'company' AND hs_id <> ? "
            "ORDER BY hs_id LIMIT 1",
            [old_company],
        ).fetchone()
    marketer = pair.person("hubspot", "marketer")["token"]
    base = f"/crm/v4/objects/contacts/{hs_id}/associations"
    pair.hs("DELETE", f"{base}/companies/{old_company}", token=marketer)
    pair.hs("PUT", f"{base}/default/companies/{new_company}", token=marketer)
    pair.hs(  # marketing qualifies the contact (only qualifying contacts are pushed)
        "PATCH",
        f"/crm/v3/objects/contacts/{hs_id}",
        json={"properties": {"jobtitle": "VP Operations", "lifecyclestage": "salesqualifiedlead"}},
        token=marketer,
    )
    engine.run_once()
    (row,) = pair.soql(f"SELECT AccountId, Title FROM Contact WHERE Id = '{sf_id}'")
    assert row["AccountId"] == new_account
    assert row["Title"] == "VP Operations"


def test_a_reps_edit_just_before_the_engine_writes_that_lead_still_reaches_hubspot(synced):
    """A rep edits a Lead's title while a cycle, deciding from an earlier read, is about to
    write another field of it. Salesforce then names the integration user as the Lead's last
    modifier, but the title is the rep's edit, not an echo of ours: it must reach HubSpot."""
    pair = synced.pair
    admin = pair.person("salesforce", "admin")
    engine = pair.engine()  # on the session's audit store, with a person acting mid-cycle
    props = engine.schema().hs_properties["contacts"]
    names = ("email", "hubspotscore", "lifecyclestage", "recent_conversion_event_name")
    hs_id, lead = next(
        (hs_id, lead)
        for hs_id, lead in (_fresh_lead(synced, admin["token"]) for _ in range(20))
        if matches(
            engine.config.inclusion,
            pair.hs_contact(hs_id, *names)["properties"],
            properties=props,
            record_id=hs_id,
        )
    )  # on the inclusion list, so a HubSpot edit goes to Salesforce
    source = "Trade Show" if lead["LeadSource"] != "Trade Show" else "Webinar"
    pair.hs(
        "PATCH",
        f"/crm/v3/objects/contacts/{hs_id}",
        json={"properties": {"lead_source": source}},
        token=pair.person("hubspot", "marketer")["token"],
    )
    title = "Head of Crash Safety"
    write = engine._write_salesforce

    def rep_edits_first(run_id, obj, sf_object, op, writes, report):
        if any(w.sf_id == lead["Id"] for w in writes):
            pair.sf(
                "PATCH",
                f"sobjects/Lead/{lead['Id']}",
                json={"Title": title},
                token=admin["token"],
            )
        return write(run_id, obj, sf_object, op, writes, report)

    engine._write_salesforce = rep_edits_first
    engine.run_once()
    (row,) = pair.soql(f"SELECT Title, LeadSource FROM Lead WHERE Id = '{lead['Id']}'")
    assert (row["Title"], row["LeadSource"]) == (title, source)  # the rep first, then the sync

    engine.run_once()
    assert pair.hs_contact(hs_id, "jobtitle")["properties"]["jobtitle"] == title
    assert ("salesforce_to_hubspot", "jobtitle", title) in {
        (c[0], c[1], c[3]) for c in _changes(synced, hs_id)
    }


def test_records_sharing_the_cursors_stamp_are_not_read_again_every_cycle(small_pair):
    """A bulk update gives many HubSpot records one modification time; once read, a quiet cycle
    reads none of them again (the cursor's id tie-break), and a later edit still arrives."""
    engine = small_pair.engine()
    engine.run_once(kind="initial")
    contacts = small_pair.hs_contacts("jobtitle")[:100]
    small_pair.hs(  # one batch call: one modification time for all hundred
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        json={
            "inputs": [
                {"id": c["id"], "properties": {"jobtitle": f"Bulk title {i}"}}
                for i, c in enumerate(contacts)
            ]
        },
    )
    for _ in range(5):
        if engine.run_once().records_read == 0:
            break
    rows_read: list[int] = []
    search = engine.hs.search_modified_since

    def counted(object_type: str, **kw):  # wraps our connector, not the client library
        found = list(search(object_type, **kw))
        if object_type == "contacts":
            rows_read.append(len(found))
        return iter(found)

    engine.hs.search_modified_since = counted
    engine.run_once()
    assert rows_read == [100], "while the stamp is recent, its records are read again"
    engine.clock = lambda: datetime.now(UTC) + timedelta(minutes=2)  # the stamp has aged
    engine.run_once()
    assert rows_read[-1] == 0, "a quiet cycle re-read the records at the cursor's old stamp"

    small_pair.hs(
        "PATCH",
        f"/crm/v3/objects/contacts/{contacts[0]['id']}",
        json={"properties": {"jobtitle": "After"}},
    )
    engine.run_once()
    assert rows_read[-1] == 1, "the next edit is read, once"


def test_a_bulk_saves_last_second_is_read_whole_until_salesforce_has_left_it(small_pair):
    """A collection update gives many Leads one SystemModstamp (whole seconds). While that
    second may still take saves, a quiet cycle reads it again (a Lead saved twice within it keeps
    stamp and id); once Salesforce's clock (its Date header) is past it, quiet cycles read none
    of them, and a later edit still arrives, once."""
    engine = small_pair.engine()
    engine.run_once(kind="initial")
    for _ in range(5):
        if engine.run_once().records_read == 0:
            break
    leads = small_pair.soql("SELECT Id FROM Lead WHERE IsConverted = false ORDER BY Id LIMIT 150")
    small_pair.sf(  # one collection call: one stamp for all of them
        "PATCH",
        "composite/sobjects",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Lead"}, "Id": r["Id"], "Title": f"Bulk title {i}"}
                for i, r in enumerate(leads)
            ],
        },
    )
    rows_read: list[int] = []
    query_pages = engine.sf.query_pages

    def counted(queries, **kw):  # wraps our connector, not the client library
        found = [0]
        for name, page in query_pages(queries, **kw):
            found[0] += len(page) if name == "Lead" else 0
            yield name, page
        rows_read.append(found[0])

    engine.sf.query_pages = counted
    engine.run_once()
    engine.run_once()
    assert rows_read[0] >= 100, "the bulk update is read (the Leads shared with the engine)"
    assert rows_read[1] > 0, "while its second is recent, the Leads saved in it are read again"

    small_pair.admin("salesforce", "clock", {"advance_seconds": 5})
    for _ in range(3):  # one full read sent after Salesforce's clock passed the second
        engine.run_once()
        if rows_read[-1] == 0:
            break
    engine.run_once()
    assert rows_read[-2:] == [0, 0], "a quiet cycle re-read the Leads at the cursor's old stamp"

    small_pair.sf("PATCH", f"sobjects/Lead/{leads[0]['Id']}", json={"Title": "After"})
    engine.run_once()
    assert rows_read[-1] == 1, "the next edit is read, once"
