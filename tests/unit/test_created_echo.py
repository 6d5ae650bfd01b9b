"""The echo of a record the sync created in Salesforce: what the create sent reads as the sync's
own write, and what Salesforce filled in itself (a default Lead Status, the owner its assignment
rules picked, even over the one the create sent) reaches HubSpot like any Salesforce value. The
integration user, whom Salesforce makes the owner when nothing assigns one, is no owner for
HubSpot and no error either."""

from __future__ import annotations

from dataclasses import replace

import pytest
from seeded import SHIPPED, seeded, snapshot

from sync_engine.mapping import MappingContext, OwnerDirectory
from sync_engine.models import System
from sync_engine.plan import (
    EXTERNAL_ID_FIELDS,
    Link,
    Plan,
    Record,
    Snapshot,
    _filled_on_create,
    plan,
)

pytestmark = pytest.mark.unit

CONTACT = SHIPPED.object("contact")
INTEGRATION = "005000000000INTAAA"
REP, OTHER_REP = "005000000000REPAAA", "005000000000REPBAA"
OWNERS = OwnerDirectory.build(
    [
        {"id": "77", "email": "rep@acme.io", "firstName": "Rita", "lastName": "Rep"},
        {"id": "78", "email": "sam@acme.io", "firstName": "Sam", "lastName": "Seller"},
    ],
    [
        {"Id": INTEGRATION, "Email": "sync@acme.io", "Name": "Integration", "IsActive": True},
        {"Id": REP, "Email": "rep@acme.io", "Name": "Rita Rep", "IsActive": True},
        {"Id": OTHER_REP, "Email": "sam@acme.io", "Name": "Sam Seller", "IsActive": True},
    ],
    integration_user=INTEGRATION,
)
CONTEXT = replace(MappingContext.from_config(SHIPPED), owners=OWNERS)
# A new contact with neither lead status, owner nor company: a Lead with the placeholder Company.
HS = Record(System.HUBSPOT, "contacts", "101",
            {"email": "ada@acme.io", "firstname": "Ada", "lastname": "Lovelace"},
            key="ada@acme.io")  # fmt: skip


def _snapshot(hs: Record = HS, **kw) -> Snapshot:
    given = {"dirty_hs": (), "dirty_sf": (), "salesforce": {}, "links": (), "base": {}, **kw}
    return Snapshot(
        obj=CONTACT, hubspot={hs.id: hs}, context=CONTEXT, integration_user_id=INTEGRATION,
        **given,
    )  # fmt: skip


def _created_and_read_back(hs: Record = HS, **filled: str) -> tuple[Record, Plan]:
    """Plan the create, then plan its echo: the Lead as Salesforce holds it, holding what the
    create sent (the integration user as owner when it sent none) plus `filled`, last modified
    by the integration user."""
    [create] = plan(_snapshot(hs, dirty_hs=(hs,))).writes
    assert (create.system, create.object) == (System.SALESFORCE, "Lead")
    sf = Record(
        System.SALESFORCE, "Lead", "00Q000000000001AAA",
        {"OwnerId": INTEGRATION, **create.values, **filled},
        key=hs.key, modified_by=INTEGRATION,
    )  # fmt: skip
    echo = _snapshot(
        hs,
        dirty_sf=(sf,),
        salesforce={sf.id: sf},
        links=(Link(hs.id, "Lead", sf.id, hs.key),),
        base={hs.id: create.new_base},
    )
    return create, plan(echo)


def _hubspot_writes(decided: Plan) -> dict[str, object]:
    assert [w.system for w in decided.writes] == [System.HUBSPOT] * len(decided.writes)
    return {k: v for w in decided.writes for k, v in w.values.items()}


def test_what_the_create_sent_is_the_syncs_own_echo() -> None:
    """Including the placeholder Company the sync filled in: it never reaches HubSpot."""
    create, decided = _created_and_read_back()
    assert create.values["Company"] == CONTACT.placeholder_company
    assert decided.writes == [] and decided.refusals == []


def test_a_default_lead_status_salesforce_set_reaches_hubspot() -> None:
    _create, decided = _created_and_read_back(Status="Open - Not Contacted")
    assert _hubspot_writes(decided) == {"hs_lead_status": "OPEN"}
    assert decided.refusals == []


@pytest.mark.parametrize(
    ("owner", "expected"),
    [(INTEGRATION, {}), (REP, {"hubspot_owner_id": "77"}), (REP[:15], {"hubspot_owner_id": "77"})],
    ids=["integration user", "assigned rep", "assigned rep (15-char id)"],
)
def test_the_owner_salesforce_assigned_reaches_hubspot_unless_it_is_the_integration_user(
    owner: str, expected: dict[str, str]
) -> None:
    _create, decided = _created_and_read_back(OwnerId=owner)
    assert _hubspot_writes(decided) == expected
    assert decided.refusals == []


@pytest.mark.parametrize(
    ("owner", "expected"),
    [(REP, {}), (OTHER_REP, {"hubspot_owner_id": "78"})],
    ids=["kept", "routed by an assignment rule"],
)
def test_an_owner_the_create_sent_is_salesforces_to_keep_or_route(
    owner: str, expected: dict[str, str]
) -> None:
    """The create gives the Lead the HubSpot owner's user; an active assignment rule may route
    it to someone else, and HubSpot follows (the owner is Salesforce's: always_salesforce)."""
    owned = replace(HS, values={**HS.values, "hubspot_owner_id": "77"})
    create, decided = _created_and_read_back(owned, OwnerId=owner)
    assert create.values["OwnerId"] == REP
    assert _hubspot_writes(decided) == expected
    assert decided.refusals == []


def test_a_rep_edit_of_a_field_the_create_sent_is_not_an_echo() -> None:
    """The rep saved after the sync: every field is the rep's again, the changed one flows."""
    [create] = plan(_snapshot(dirty_hs=(HS,))).writes
    sf = Record(
        System.SALESFORCE, "Lead", "00Q000000000001AAA",
        {**create.values, "OwnerId": REP, "FirstName": "Augusta"},
        key="ada@acme.io", modified_by=REP,
    )  # fmt: skip
    decided = plan(
        _snapshot(
            dirty_sf=(sf,),
            salesforce={sf.id: sf},
            links=(Link(HS.id, "Lead", sf.id, HS.key),),
            base={HS.id: create.new_base},
        )
    )
    assert _hubspot_writes(decided)["firstname"] == "Augusta"


@pytest.mark.parametrize("object_name", ["contact", "company"])  # the seed's deals all match
def test_every_field_a_create_fills_itself_is_known_as_filled_on_create(object_name: str) -> None:
    """What a create sends beyond the source's mapped values (and the owner, which comes from
    the HubSpot owner) is read as the sync's own echo: FILLED_ON_CREATE must name it all."""
    data = seeded()
    obj = data.config.object(object_name)
    assert obj is not None
    decided = plan(snapshot(data, obj))
    hubspot = {r.id: r for r in data.hubspot[obj.hubspot_object]}
    checked = 0
    for w in decided.writes:
        if w.system is not System.SALESFORCE or w.op not in ("create", "upsert"):
            continue
        source = hubspot[w.hs_id]
        from_source = {
            m.salesforce
            for m in obj.mappings_for(w.object)
            if source.values.get(m.hubspot) not in (None, "")
        }
        own = set(w.values) - from_source - {EXTERNAL_ID_FIELDS.get(w.object), "OwnerId"}
        assert own <= _filled_on_create(obj, w.object), (w.object, own)
        checked += 1
    assert checked
