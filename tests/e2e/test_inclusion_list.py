"""Inclusion by HubSpot list membership: only the list's members are pushed to Salesforce."""

from __future__ import annotations

import re

import pytest

from sync_engine.config import parse_config
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e


def _config_with_list(name: str):
    text = (ROOT / "sync.toml").read_text()
    start = text.index("[inclusion]")
    end = text.index("# ----", start)
    block = f'[inclusion]\njoin = "and"\ncriteria = [\n  {{ in_list = "{name}" }},\n]\n\n'
    return parse_config(text[:start] + block + text[end:])


def test_only_members_of_the_named_list_are_pushed(small_pair):
    lists = small_pair.hs("POST", "/crm/v3/lists/search", json={"query": "Demo requested"})
    (found,) = [entry for entry in lists["lists"] if entry["name"] == "Demo requested"]
    page = small_pair.hs("GET", f"/crm/v3/lists/{found['listId']}/memberships?limit=250")
    members = {m["recordId"] for m in page["results"]}
    assert members

    engine = small_pair.engine(config=_config_with_list("Demo requested"))
    engine.run_once()
    created = small_pair.soql(
        "SELECT HubSpot_Contact_Id__c FROM Lead WHERE HubSpot_Contact_Id__c != null"
    )
    created_for = {row["HubSpot_Contact_Id__c"] for row in created}
    assert created_for  # some members were new to Salesforce
    assert created_for <= members
    assert all(re.fullmatch(r"\d+", hs_id) for hs_id in created_for)
