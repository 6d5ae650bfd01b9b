"""Which changed records a decide chunk may decide beside its own (`engine._absorbable`).

A record loaded as a partner or a key-sharer that changed too is decided in the chunk that
loaded it only when everything its decision needs is loaded; otherwise it waits for its own."""

from __future__ import annotations

import pytest

from sync_engine.engine import _absorbable
from sync_engine.models import System
from sync_engine.plan import Record


def _sf(rid: str, *, key: str | None = "ann@acme.com", **extra: object) -> Record:
    values = {"IsConverted": True, "ConvertedContactId": "003C"} if extra.get("converted") else {}
    return Record(
        system=System.SALESFORCE,
        object=str(extra.get("object", "Lead")),
        id=rid,
        values=values,
        key=key,
        deleted=bool(extra.get("deleted", False)),
    )


@pytest.mark.parametrize(
    ("record", "dirty", "partner_of", "expected"),
    [
        pytest.param(_sf("00Q1"), {"00Q1"}, {"00Q1": "101"}, True, id="linked, partner loaded"),
        pytest.param(_sf("00Q1"), {"00Q1"}, {"00Q1": "999"}, False, id="partner not loaded"),
        pytest.param(_sf("00Q1"), {"00Q1"}, {}, True, id="unlinked, its key loaded"),
        pytest.param(_sf("00Q1", key="bo@x.io"), {"00Q1"}, {}, False, id="key not loaded"),
        pytest.param(_sf("00Q1", key=None), {"00Q1"}, {}, False, id="unlinked, no key"),
        pytest.param(_sf("00Q1"), set(), {"00Q1": "101"}, False, id="not changed"),
        pytest.param(_sf("00Q1", deleted=True), {"00Q1"}, {"00Q1": "101"}, False, id="deleted"),
        pytest.param(
            _sf("00Q1", converted=True), {"00Q1"}, {"00Q1": "101"}, False, id="converted Lead"
        ),
        pytest.param(
            _sf("003A", object="Contact", converted=True),
            {"003A"},
            {"003A": "101"},
            True,
            id="a Contact is never converted",
        ),
    ],
)
def test_a_changed_record_is_absorbed_only_when_its_decision_is_loaded(
    record: Record, dirty: set[str], partner_of: dict[str, str], expected: bool
) -> None:
    found = _absorbable([record], dirty, partner_of, partners={"101"}, keys={"ann@acme.com"})
    assert found == ([record] if expected else [])


def test_absorbed_records_keep_their_order() -> None:
    loaded = [_sf(f"00Q{i}") for i in range(5)]
    found = _absorbable(loaded, {"00Q3", "00Q1"}, {}, partners=set(), keys={"ann@acme.com"})
    assert [r.id for r in found] == ["00Q1", "00Q3"]
