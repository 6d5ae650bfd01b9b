"""Bad input is refused in the page with a message, and nothing is saved (sync.toml unchanged)."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from sync_engine import ui_state
from tests.app.conftest import APP, sql

pytestmark = pytest.mark.app


def open_page(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(path)
    return at.run()


def errors_of(at: AppTest) -> str:
    """The errors as a person reads them (Markdown escapes of values from data resolved)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", " ".join(e.value for e in at.error))


@pytest.mark.parametrize(
    ("prop", "value", "said"),
    [
        ("hubspotscore", "abc", "is not a number"),
        ("no_such_property", "x", "HubSpot has no contact property 'no_such_property'"),
    ],
)
def test_an_invalid_criterion_is_refused(world: dict, prop: str, value: str, said: str) -> None:
    before = world["config"].read_text()
    at = open_page("pages/inclusion.py")
    # A new row, as "Add criterion" and typing into it would leave the draft (AppTest cannot
    # type a new option into a selectbox).
    draft = at.session_state[ui_state.INCLUSION_DRAFT]
    draft["groups"][0]["criteria"].append(
        {"id": 10**6, "property": prop, "operator": "gte", "value": value}
    )
    at.session_state[ui_state.INCLUSION_DRAFT] = draft
    at.run()
    assert said in errors_of(at)
    assert not [b for b in at.button if b.label.startswith("Save and activate")]
    assert world["config"].read_text() == before


def test_an_invalid_mapping_edit_is_refused(world: dict) -> None:
    before = world["config"].read_text()
    at = open_page("pages/mappings.py")
    at.text_input(key="map_sf").input("NoSuchField__c").run()
    at.button(key="map_save").click().run()
    assert "has no field 'NoSuchField__c'" in errors_of(at)
    assert world["config"].read_text() == before


def test_a_value_map_entry_outside_the_picklist_is_refused(world: dict) -> None:
    before = world["config"].read_text()
    at = open_page("pages/mappings.py")
    at.text_input(key="vm_lead_source_hs").input("Paid Social")
    at.text_input(key="vm_lead_source_sf").input("Not A Source")
    at.button(key="vm_lead_source_add").click().run()
    message = errors_of(at)
    assert "'Not A Source' is not a value of the" in message
    assert "use one of:" in message and "Web" in message
    assert world["config"].read_text() == before
    assert not sql(world, "SELECT * FROM audit_log WHERE action = 'value_map_entry'")


def test_retrying_an_error_queues_it_and_records_who(world: dict) -> None:
    error_id, hs_id = sql(
        world,
        "SELECT error_id, payload->>'hs_id' FROM sync_errors WHERE status = 'open' "
        "AND payload->>'hs_id' IS NOT NULL ORDER BY error_id LIMIT 1",
    )[0]
    at = open_page("pages/errors.py")
    at.selectbox(key="lb_error_selected").set_value(error_id).run()
    next(b for b in at.button if b.label == "Retry this error").click().run()
    assert not at.exception
    assert sql(world, "SELECT status FROM sync_errors WHERE error_id = ?", [error_id]) == [
        ("retrying",)
    ]
    assert sql(world, "SELECT dirty FROM records WHERE system = 'hubspot' AND id = ?", [hs_id]) == [
        (True,)
    ]
    assert sql(
        world,
        "SELECT actor FROM audit_log WHERE error_id = ? AND action = 'error_retrying'",
        [error_id],
    ) == [("local",)]
