"""A contact deleted in HubSpot: its Salesforce partner follows `[deletion] policy`.

HubSpot's search never returns archived records, so the engine reads HubSpot's archived list,
every `[deletion] records_check_minutes`. Before, a deletion there was only noticed when a later
write to the contact failed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sync_engine.config import load_config
from sync_engine.models import DeletionPolicy
from tests.e2e.conftest import ROOT, Pair

LIST_ARCHIVED = "GET /crm/v3/objects/contacts"


def _engine(pair: Pair, *, policy: DeletionPolicy, minutes: int):
    config = load_config(ROOT / "sync.toml")
    return pair.engine(
        config=replace(config, deletion=policy, record_deletion_check_minutes=minutes)
    )


def _linked_lead(engine) -> tuple[str, str]:
    with engine.store.read() as conn:
        hs_id, sf_id = conn.execute(
            "SELECT hs_id, sf_id FROM id_links WHERE object = 'contact' AND sf_object = 'Lead' "
            "ORDER BY hs_id LIMIT 1"
        ).fetchone()
    return hs_id, sf_id


def _a_linked_contact_deleted(pair: Pair, policy: DeletionPolicy):
    """After a first sync, a marketer deletes a contact synced with a Lead; a cycle follows.
    Returns the engine and the pair's ids."""
    engine = _engine(pair, policy=policy, minutes=0)
    engine.run_once()
    hs_id, sf_id = _linked_lead(engine)
    marketer = pair.person("hubspot", "marketer")["token"]
    pair.hs("DELETE", f"/crm/v3/objects/contacts/{hs_id}", token=marketer)
    engine.run_once()
    return engine, hs_id, sf_id


def _errors(engine, code: str, record_id: str) -> list[tuple[str, str, str]]:
    with engine.store.read() as conn:
        return conn.execute(
            "SELECT status, message, suggested_fix FROM sync_errors "
            "WHERE code = ? AND record_id = ?",
            [code, record_id],
        ).fetchall()


def _list_archived_calls(engine, run_id: int) -> int:
    with engine.store.read() as conn:
        row = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM api_usage WHERE run_id = ? AND endpoint = ?",
            [run_id, LIST_ARCHIVED],
        ).fetchone()
    return int(row[0])


def _is_archived(pair: Pair, hs_id: str) -> bool:
    found = pair.hs("GET", f"/crm/v3/objects/contacts/{hs_id}?archived=true")
    return bool(found.get("archived"))


def test_a_deleted_contact_flags_its_lead_which_is_kept_and_never_written_back(small_pair):
    engine, hs_id, sf_id = _a_linked_contact_deleted(small_pair, DeletionPolicy.FLAG)

    [(status, message, fix)] = _errors(engine, "DELETED_IN_HUBSPOT", sf_id)
    assert status == "open"
    assert f"HubSpot contact {hs_id}" in message and f"Lead {sf_id} is kept" in message
    assert "restore the HubSpot one" in fix and 'policy = "archive"' in fix
    assert small_pair.soql(f"SELECT Id FROM Lead WHERE Id = '{sf_id}'")  # kept

    # A rep's edit of the kept Lead is not written to the deleted contact, nor re-creates it.
    small_pair.sf("PATCH", f"sobjects/Lead/{sf_id}", json={"Title": "VP Deleted Things"})
    contacts = len(small_pair.hs_contacts())
    engine.run_once()
    assert len(small_pair.hs_contacts()) == contacts
    assert _is_archived(small_pair, hs_id)
    assert _errors(engine, "OBJECT_NOT_FOUND", hs_id) == []
    assert [row[0] for row in _errors(engine, "DELETED_IN_HUBSPOT", sf_id)] == ["open"]


def test_a_deleted_contact_deletes_its_lead_under_the_archive_policy(small_pair):
    engine, hs_id, sf_id = _a_linked_contact_deleted(small_pair, DeletionPolicy.ARCHIVE)
    echo = engine.run_once()  # reads the deleted Lead back (queryAll): nothing more to follow

    assert small_pair.soql(f"SELECT Id FROM Lead WHERE Id = '{sf_id}'") == []
    with engine.store.read() as conn:
        changes = conn.execute(
            "SELECT direction, field, new_value FROM field_changes WHERE sf_id = ? "
            "AND reason = 'deleted'",
            [sf_id],
        ).fetchall()
    assert changes == [("hubspot_to_salesforce", "IsDeleted", "true")]
    assert _errors(engine, "DELETED_IN_SALESFORCE", hs_id) == []  # its own delete's echo
    assert echo.records_written == 0 and _is_archived(small_pair, hs_id)


def test_the_archived_list_is_read_at_its_own_cadence(small_pair):
    """Not by the initial sync (nothing mirrored could have been deleted), then once per
    `records_check_minutes`: a quiet cycle in between makes no call for it."""
    offset = timedelta(0)
    engine = _engine(small_pair, policy=DeletionPolicy.FLAG, minutes=60)
    engine.clock = lambda: datetime.now(UTC) + offset
    runs = [engine.run_once(), engine.run_once()]
    offset = timedelta(minutes=61)
    runs += [engine.run_once(), engine.run_once()]
    assert [_list_archived_calls(engine, r.run_id) for r in runs] == [0, 0, 1, 0]
