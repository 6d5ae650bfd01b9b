"""The first sync of the default seed, and the quiet cycle after it."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from sync_engine.inclusion import matches
from sync_engine.matching import normalize_email
from sync_engine.models import System

pytestmark = pytest.mark.e2e


def _links(engine, object_: str = "contact") -> dict[str, tuple[str, str]]:
    with engine.store.read() as conn:
        rows = conn.execute(
            "SELECT hs_id, sf_object, sf_id FROM id_links WHERE object = ?", [object_]
        ).fetchall()
    return {hs: (obj, sf) for hs, obj, sf in rows}


def _open_error_records(engine) -> set[str]:
    with engine.store.read() as conn:
        rows = conn.execute(
            "SELECT record_id, payload->>'hs_id' FROM sync_errors WHERE status = 'open'"
        ).fetchall()
    return {value for row in rows for value in row if value}


def test_qualifying_contacts_reach_salesforce_and_no_one_else_is_created(synced):
    engine, pair = synced.engine, synced.pair
    props = engine.schema().hs_properties["contacts"]
    inclusion = engine.config.inclusion
    contacts = pair.hs_contacts(*_criteria_properties(inclusion))
    seeded = {c["id"] for c in synced.hs_before}
    qualifying = {
        c["id"]
        for c in contacts
        if c["id"] in seeded and matches(inclusion, c["properties"], properties=props)
    }
    assert 0 < len(qualifying) < len(seeded) / 2  # the MQL threshold admits a minority
    links = _links(engine)
    refused = _open_error_records(engine)
    missing = qualifying - set(links) - refused
    assert not missing, f"{len(missing)} qualifying contacts neither linked nor explained"

    created = pair.soql(
        "SELECT Id, HubSpot_Contact_Id__c FROM Lead WHERE HubSpot_Contact_Id__c != null"
    )
    created_for = {row["HubSpot_Contact_Id__c"] for row in created}
    assert created_for  # new Leads were made for qualifying contacts
    assert created_for <= qualifying  # and only for them
    for row in created:  # each new Lead is linked to the contact that made it
        assert links[row["HubSpot_Contact_Id__c"]] == ("Lead", row["Id"])


def test_what_salesforce_fills_in_on_a_lead_the_sync_created_reaches_hubspot(synced):
    """A contact that became a Lead without a lead status gets the status Salesforce gave the
    Lead (its default); one Salesforce left on the integration user keeps no HubSpot owner,
    and no error about its owner asks anyone to make the integration user a HubSpot owner."""
    engine, pair = synced.engine, synced.pair
    integration = engine.schema().integration_user_id
    statuses = engine.config.value_maps_by_name["lead_status"]
    leads = pair.soql(
        "SELECT Id, Status, OwnerId, HubSpot_Contact_Id__c FROM Lead "
        "WHERE HubSpot_Contact_Id__c != null"
    )
    contacts = {
        c["id"]: c["properties"] for c in pair.hs_contacts("hs_lead_status", "hubspot_owner_id")
    }
    assert leads
    for lead in leads:
        contact = contacts[lead["HubSpot_Contact_Id__c"]]
        assert contact.get("hs_lead_status"), (lead, contact)
        assert statuses.salesforce_for(contact["hs_lead_status"]) == lead["Status"]
    unowned = [lead for lead in leads if lead["OwnerId"] == integration]
    assert unowned  # the seed has new contacts without an owner
    assert all(
        not contacts[lead["HubSpot_Contact_Id__c"]].get("hubspot_owner_id") for lead in unowned
    )
    with engine.store.read() as conn:
        (named,) = conn.execute(
            "SELECT count(*) FROM sync_errors WHERE field IN ('OwnerId', 'hubspot_owner_id') "
            "AND (record_id IN (SELECT unnest($1::VARCHAR[])) "
            "OR payload->>'sf_id' IN (SELECT unnest($1::VARCHAR[])))",
            [[lead["Id"] for lead in unowned]],
        ).fetchone()
    assert named == 0


def test_a_field_refused_on_a_record_written_anyway_stays_an_open_error(synced):
    """A record is created or updated without the values the plan refused (an owner with no
    counterpart, a picklist value with no map entry): the refusal is what tells the admin the
    field did not sync, so writing the rest of the record must not close it."""
    with synced.engine.store.read() as conn:  # later tests edit records: the first run only
        rows = conn.execute(
            """
            SELECT e.system, e.object, e.field, r.finished_at >= e.resolved_at, count(*)
            FROM sync_errors e JOIN sync_runs r ON r.run_id = ?
            WHERE e.code = 'VALUE_REFUSED' AND e.first_seen <= r.finished_at AND EXISTS (
                SELECT 1 FROM field_changes c
                WHERE e.record_id IN (c.hs_id, c.sf_id) AND c.run_id = r.run_id)
            GROUP BY ALL ORDER BY ALL
            """,
            [synced.report.run_id],
        ).fetchall()
    assert rows, "the seed plants refused values on records that are written"
    closed = [row for row in rows if row[3]]
    assert not closed, f"refusals closed by the write of their record: {closed}"


def test_a_record_created_without_a_refused_value_never_blanks_it_in_its_source(synced):
    """The new record lacks the refused value; the next decision must not take that blank for
    an edit and copy it back over the value the source record still holds."""
    with synced.engine.store.read() as conn:
        blanked = conn.execute(
            """
            SELECT e.system, e.field, c.direction, c.field, count(*) FROM sync_errors e
            JOIN field_changes c ON e.record_id IN (c.hs_id, c.sf_id)
                AND e.field IN (c.field, c.source_field)
            WHERE e.code = 'VALUE_REFUSED' AND c.reason <> 'created' AND c.run_id = ?
                AND coalesce(c.new_value, '') = '' AND coalesce(c.old_value, '') <> ''
            GROUP BY ALL ORDER BY ALL
            """,
            [synced.report.run_id],
        ).fetchall()
    assert not blanked, f"source values blanked after a refusal: {blanked}"


def test_no_salesforce_value_is_rewritten_as_another_of_its_hubspot_option(synced):
    """The seed's value maps are many to one both ways (an Account's "Communications" and
    "Telecommunications" are one HubSpot industry). A company created from an Account holds
    that option; reading it back must not overwrite the Account's value with the option's other
    Salesforce spelling."""
    config = synced.engine.config
    maps = {m.name: m for m in config.value_maps}
    mapped = {
        m.salesforce: maps[m.value_map] for obj in config.objects for m in obj.fields if m.value_map
    }
    with synced.engine.store.read() as conn:
        rows = conn.execute(
            "SELECT field, old_value, new_value FROM field_changes WHERE run_id = ? "
            "AND direction = 'hubspot_to_salesforce' AND coalesce(old_value, '') <> ''",
            [synced.report.run_id],
        ).fetchall()
    rewritten = Counter(
        (field, old, new)
        for field, old, new in rows
        if field in mapped
        and mapped[field].hubspot_for(old) is not None
        and mapped[field].hubspot_for(old) == mapped[field].hubspot_for(str(new))
    )
    assert not rewritten, f"Salesforce values rewritten within one HubSpot option: {rewritten}"


def test_each_pair_keeps_one_base_per_field_and_written_pairs_have_them(synced):
    """A pair's first bases are appended without looking for rows to replace (a write of a
    pair that had none): no field may end with two, and a written pair has its bases."""
    with synced.engine.store.read() as conn:
        twice = conn.execute(
            "SELECT object, hs_id, sf_id, field, count(*) FROM synced_values "
            "GROUP BY ALL HAVING count(*) > 1 LIMIT 5"
        ).fetchall()
        unbased = conn.execute(
            """
            SELECT count(DISTINCT (c.hs_id, c.sf_id)) FROM field_changes c
            WHERE c.run_id = ? AND c.reason <> 'association' AND NOT EXISTS (
                SELECT 1 FROM synced_values v
                WHERE v.hs_id = c.hs_id AND v.sf_id = c.sf_id AND v.object = c.object)
            """,
            [synced.report.run_id],
        ).fetchone()[0]
        updated = conn.execute(
            "SELECT count(DISTINCT (hs_id, sf_id)) FROM field_changes "
            "WHERE run_id = ? AND reason NOT IN ('created', 'association')",
            [synced.report.run_id],
        ).fetchone()[0]
    assert not twice, f"fields with two bases: {twice}"
    assert updated > 100, "the initial sync updates matched pairs (the case under test)"
    assert unbased == 0, f"{unbased} written pairs have no base"


def test_nobody_who_existed_is_created_again(synced):
    pair = synced.pair
    before = Counter(normalize_email(r["Email"]) for r in synced.sf_before if r["Email"])
    after_rows = [
        *pair.soql("SELECT Id, Email FROM Lead WHERE IsConverted = false"),
        *pair.soql("SELECT Id, Email FROM Contact"),
    ]
    after = Counter(normalize_email(r["Email"]) for r in after_rows if r["Email"])
    grown = {email: n for email, n in after.items() if n > max(before.get(email, 0), 1)}
    assert not grown, f"persons duplicated in Salesforce: {list(grown)[:5]}"
    hs_after = Counter(normalize_email(c["properties"].get("email")) for c in pair.hs_contacts())
    assert all(n == 1 for email, n in hs_after.items() if email), "duplicate HubSpot contacts"


def test_visible_salesforce_people_are_brought_into_hubspot(synced):
    pair, engine = synced.pair, synced.engine
    integration = pair.sandbox.salesforce.integration_token
    visible = [
        *pair.soql("SELECT Id, Email FROM Lead WHERE IsConverted = false", token=integration),
        *pair.soql("SELECT Id, Email FROM Contact", token=integration),
    ]
    hubspot_emails = {normalize_email(c["properties"].get("email")) for c in pair.hs_contacts()}
    missing = [
        r
        for r in visible
        if normalize_email(r["Email"]) and normalize_email(r["Email"]) not in hubspot_emails
    ]
    refused = _open_error_records(engine)
    unexplained = [r for r in missing if r["Id"] not in refused]
    assert not unexplained, f"{len(unexplained)} visible people not in HubSpot: {unexplained[:3]}"
    linked_sf = {sf for _obj, sf in _links(engine).values()}
    with_email = [r for r in visible if normalize_email(r["Email"])]
    assert sum(r["Id"] in linked_sf for r in with_email) >= 0.95 * len(with_email)


def test_every_link_points_at_records_that_exist(synced):
    pair, engine = synced.pair, synced.engine
    links = _links(engine)
    hs_ids = {c["id"] for c in pair.hs_contacts()}
    assert set(links) <= hs_ids
    sf_ids = {r["Id"] for obj in ("Lead", "Contact") for r in pair.soql(f"SELECT Id FROM {obj}")}
    with engine.store.read() as conn:  # a link to a record deleted since is flagged, not dropped
        deleted = {
            row[0]
            for row in conn.execute(
                "SELECT payload->>'sf_id' FROM sync_errors WHERE code = 'DELETED_IN_SALESFORCE'"
            ).fetchall()
        }
    assert {sf for _obj, sf in links.values()} - deleted <= sf_ids


def test_a_second_cycle_with_nothing_changed_writes_nothing_and_costs_a_handful_of_calls(synced):
    pair, engine = synced.pair, synced.engine
    for _ in range(5):  # other tests share this pair: settle what they changed first
        settled = engine.run_once()
        if settled.records_written == 0 and settled.records_read == 0:
            break
    sf_before, hs_before = pair.stats("salesforce")["total"], pair.stats("hubspot")["total"]
    report = engine.run_once()
    sf_calls = pair.stats("salesforce")["total"] - sf_before
    hs_calls = pair.stats("hubspot")["total"] - hs_before
    assert report.records_written == 0
    assert report.errors == 0
    # One Composite request for every Salesforce object; one search per HubSpot object.
    assert (sf_calls, hs_calls) == (1, 3)
    assert (report.sf_api_calls, report.hs_api_calls) == (1, 3)


def _criteria_properties(group) -> set[str]:
    found = set()
    for item in (*getattr(group, "criteria", ()), *getattr(group, "groups", ())):
        if getattr(item, "property", None):
            found.add(item.property)
        found |= _criteria_properties(item)
    return found


def test_a_created_record_is_decided_again_only_when_its_echo_differs_from_what_was_written(
    small_pair,
):
    """The engine mirrors each record it creates as written, so the next read pass (which reads
    the cycle's own echoes) decides it again only where HubSpot holds something else: here,
    contacts created from Salesforce people, whose echo is compared with the creation's field
    changes (one is edited by a workflow before it is read back). Every created record is read
    back all the same, and left queued by none."""
    engine = small_pair.engine()
    passes: list[set[str]] = []
    read, carry_out = engine._read, engine._carry_out

    def reading(run_id):
        if len(passes) == 1:  # before the echoes are read, a workflow edits one new contact
            with engine.store.read() as conn:
                (made,) = conn.execute(
                    "SELECT min(hs_id) FROM field_changes WHERE object = 'contact' "
                    "AND reason = 'created' AND direction = 'salesforce_to_hubspot'"
                ).fetchone()
            small_pair.hs(
                "PATCH",
                f"/crm/v3/objects/contacts/{made}",
                json={"properties": {"jobtitle": "Set by a workflow"}},
            )
        passes.append(set())
        return read(run_id)

    def deciding(run_id, obj, decided, considered, report):
        if obj.name == "contact":
            passes[-1].update(r.id for r in considered.get(System.HUBSPOT, []))
        return carry_out(run_id, obj, decided, considered, report)

    engine._read, engine._carry_out = reading, deciding
    engine.run_once()
    assert len(passes) >= 2, "the cycle read its echoes"
    with engine.store.read() as conn:
        wrote = conn.execute(
            "SELECT hs_id, field, new_value FROM field_changes WHERE object = 'contact' "
            "AND reason = 'created' AND direction = 'salesforce_to_hubspot'"
        ).fetchall()
        created: dict[str, dict[str, str]] = {}
        for hs_id, name, value in wrote:
            created.setdefault(hs_id, {})[name] = value
        rows = conn.execute(
            "SELECT id, payload, dirty, read_at FROM records WHERE system = 'hubspot' "
            "AND id IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(created)],
        ).fetchall()
    assert len(rows) == len(created) > 0
    assert [rid for rid, _p, dirty, read_at in rows if dirty or read_at is None] == []
    unset = {"hs_object_id", "createdate", "lastmodifieddate"}
    differs = {
        rid
        for rid, payload, _dirty, _read in rows
        if any(
            value != created[rid].get(name)
            for name, value in json.loads(payload).items()
            if name not in unset and (value is not None or name in created[rid])
        )
    }
    again = set().union(*passes[1:]) & set(created)
    assert again == differs
    assert 0 < len(again) < len(created)  # most echoes are what was written


def test_new_leads_follow_salesforce_assignment_rules_and_sync_updates_never_reroute(small_pair):
    """With a lead assignment rule active (the REST API runs it on every Lead written unless
    told not to): the Leads the sync creates go where the rule sends them, over the owner the
    create sent, and their HubSpot contacts get that owner; the Leads the sync only updates keep
    the owners they had."""
    pair = small_pair
    hs_owners = {
        o["email"].lower(): o["id"]
        for o in pair.hs("GET", "/crm/v3/owners/", params={"limit": 500})["results"]
        if o.get("email") and not o.get("archived")
    }
    routed_to = next(
        u
        for u in pair.soql("SELECT Id, Email, IsActive FROM User")
        if u["IsActive"] and (u["Email"] or "").lower() in hs_owners
    )
    pair.admin("salesforce", "assignment-rule", {"active": True, "owner": routed_to["Id"]})
    before = {row["Id"]: row["OwnerId"] for row in pair.soql("SELECT Id, OwnerId FROM Lead")}

    engine = pair.engine()
    engine.run_once()

    with engine.store.read() as conn:
        updated = {
            sf_id
            for (sf_id,) in conn.execute(
                "SELECT DISTINCT sf_id FROM field_changes WHERE sf_object = 'Lead' "
                "AND direction = 'hubspot_to_salesforce' AND reason <> 'created'"
            ).fetchall()
        }
    leads = pair.soql("SELECT Id, OwnerId, HubSpot_Contact_Id__c FROM Lead")
    assert updated & set(before), "the sync updated Leads that existed before it"
    assert {r["Id"]: r["OwnerId"] for r in leads if r["Id"] in before} == before
    created = [r for r in leads if r["Id"] not in before]
    assert created and {r["OwnerId"] for r in created} == {routed_to["Id"]}
    contacts = {c["id"]: c["properties"] for c in pair.hs_contacts("hubspot_owner_id")}
    owner = hs_owners[routed_to["Email"].lower()]
    assert {contacts[r["HubSpot_Contact_Id__c"]].get("hubspot_owner_id") for r in created} == {
        owner
    }
