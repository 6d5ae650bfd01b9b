"""A create staged before its call comes back whole after a crash (`_recover_creates`)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from sync_engine.engine import MIXED, _group, _staged, _write_from
from sync_engine.models import System
from sync_engine.plan import Change, Write

pytestmark = pytest.mark.unit

WRITE = Write(
    system=System.SALESFORCE,
    op="upsert",
    object="Lead",
    record_id=None,
    values={"LastName": "Ng", "Email": "jo@acme.com", "NumberOfEmployees": 40},
    changes=(
        Change("hubspot_to_salesforce", "LastName", "lastname", None, "Ng", "created"),
        Change("hubspot_to_salesforce", "Email", "email", None, "jo@acme.com", "created"),
    ),
    hs_id="101",
    sf_object="Lead",
    sf_id=None,
    new_base={"lastname": "Ng", "email": "jo@acme.com", "industry": ""},
    key="jo@acme.com",
)


@pytest.mark.parametrize("changes_as", ["lists", "names"])
def test_a_staged_write_reads_back_as_the_write(changes_as: str) -> None:
    data = json.loads(json.dumps(_staged(WRITE)))
    if changes_as == "names":  # how versions before this one staged them
        fields = ("direction", "field", "source_field", "old_value", "new_value", "reason")
        data["changes"] = [dict(zip(fields, c, strict=True)) for c in data["changes"]]
    assert _write_from(data) == WRITE


def test_a_plans_salesforce_updates_form_one_group_each_type_contiguous() -> None:
    """Lead and Contact updates share collections (`engine._group`); upserts keep their type."""

    def update(obj: str, rid: str) -> Write:
        return replace(WRITE, op="update", object=obj, sf_object=obj, record_id=rid)

    writes = [update("Lead", "L1"), update("Contact", "C1"), WRITE, update("Lead", "L2")]
    grouped = _group(writes, mixed_updates=True)
    assert list(grouped) == [(MIXED, "update"), ("Lead", "upsert")]
    assert [w.record_id for w in grouped[(MIXED, "update")]] == ["C1", "L1", "L2"]
    assert list(_group(writes)) == [("Lead", "update"), ("Contact", "update"), ("Lead", "upsert")]
