"""The deletion policy in the plan, both ways: a linked record deleted on one side deletes its
partner (archive) or flags it (flag); a partner already deleted needs nothing; neither is ever
written to again."""

from __future__ import annotations

from dataclasses import replace

import pytest
from seeded import SHIPPED

from sync_engine.mapping import MappingContext
from sync_engine.models import DeletionPolicy, System
from sync_engine.plan import Link, Record, Snapshot, plan

CONTACT = SHIPPED.object("contact")
HS = Record(System.HUBSPOT, "contacts", "101", {"email": "ada@acme.io", "firstname": "Ada"},
            key="ada@acme.io")  # fmt: skip
SF = Record(System.SALESFORCE, "Lead", "00Q000000000001AAA",
            {"Email": "ada@acme.io", "FirstName": "Ada", "LastName": "L", "Company": "Acme"},
            key="ada@acme.io")  # fmt: skip


def _plan(hs: Record, sf: Record, *, dirty: Record, policy: DeletionPolicy, obj=CONTACT):
    return plan(
        Snapshot(
            obj=obj,
            dirty_hs=(dirty,) if dirty.system is System.HUBSPOT else (),
            dirty_sf=(dirty,) if dirty.system is System.SALESFORCE else (),
            hubspot={hs.id: hs},
            salesforce={sf.id: sf},
            links=(Link(hs.id, sf.object, sf.id, hs.key),),
            base={},
            context=MappingContext.from_config(SHIPPED),
            deletion=policy,
        )
    )


FROM_HUBSPOT = (
    "hubspot", System.SALESFORCE, "delete", ("IsDeleted", "archived"), "DELETED_IN_HUBSPOT"
)  # fmt: skip
FROM_SALESFORCE = (
    "salesforce", System.HUBSPOT, "archive", ("archived", "IsDeleted"), "DELETED_IN_SALESFORCE"
)  # fmt: skip


@pytest.mark.parametrize(
    ("deleted", "target", "op", "change", "code"), [FROM_HUBSPOT, FROM_SALESFORCE]
)
@pytest.mark.parametrize("policy", list(DeletionPolicy))
def test_a_deletion_on_one_side_reaches_the_partner_per_policy(
    deleted, target, op, change, code, policy
):
    hs = replace(HS, deleted=deleted == "hubspot")
    sf = replace(SF, deleted=deleted == "salesforce")
    decided = _plan(hs, sf, dirty=hs if deleted == "hubspot" else sf, policy=policy)
    partner = SF.id if target is System.SALESFORCE else HS.id
    if policy is DeletionPolicy.ARCHIVE:
        [write] = decided.writes
        assert (write.system, write.op, write.record_id) == (target, op, partner)
        assert [(c.field, c.source_field, c.new_value) for c in write.changes] == [(*change, True)]
        assert decided.refusals == []
    else:
        assert decided.writes == []
        [refusal] = decided.refusals
        assert (refusal.system, refusal.record_id, refusal.code) == (target, partner, code)
        assert "ada@acme.io" in refusal.message and "kept and no longer synced" in refusal.message


@pytest.mark.parametrize("policy", list(DeletionPolicy))
@pytest.mark.parametrize("echo", [System.HUBSPOT, System.SALESFORCE])
def test_both_sides_deleted_need_nothing_more(policy, echo):
    """The echo of a delete the policy made: the partner is gone already."""
    hs, sf = replace(HS, deleted=True), replace(SF, deleted=True)
    decided = _plan(hs, sf, dirty=hs if echo is System.HUBSPOT else sf, policy=policy)
    assert decided.writes == [] and decided.refusals == []


def test_a_change_to_the_partner_of_a_deleted_record_is_not_written_back():
    hs = replace(HS, deleted=True)
    sf = replace(SF, values={**SF.values, "Title": "VP"})
    decided = _plan(hs, sf, dirty=sf, policy=DeletionPolicy.FLAG)
    assert decided.writes == []


@pytest.mark.parametrize("policy", list(DeletionPolicy))
def test_an_account_is_never_deleted_for_a_company_archived_in_hubspot(policy):
    """Deleting an Account deletes its Contacts and Opportunities: always a person's call."""
    company = SHIPPED.object("company")
    hs = Record(System.HUBSPOT, "companies", "7", {"domain": "acme.io", "name": "Acme"},
                key="acme.io", deleted=True)  # fmt: skip
    sf = Record(System.SALESFORCE, "Account", "001000000000007AAA",
                {"Website": "acme.io", "Name": "Acme"}, key="acme.io")  # fmt: skip
    decided = _plan(hs, sf, dirty=hs, policy=policy, obj=company)
    assert decided.writes == []
    [refusal] = decided.refusals
    assert (refusal.record_id, refusal.code) == (sf.id, "DELETED_IN_HUBSPOT")
    assert "its Contacts, Opportunities and Cases" in refusal.message
    assert "never deletes it on its own" in refusal.fix
