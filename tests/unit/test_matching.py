"""Identity decisions: normalised keys, the duplicate rule, links and conversions."""

from __future__ import annotations

import pytest

from sync_engine.engine import record_key
from sync_engine.matching import (
    Candidate,
    choose,
    clusters_of,
    follow_conversion,
    match,
    normalize_company_name,
    normalize_domain,
    normalize_email,
)
from sync_engine.models import System

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jane.Doe@Acme.IO ", "jane.doe@acme.io"),
        ("jane+news@acme.io", "jane+news@acme.io"),
        ("not-an-email", None),
        ("a@b@c", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_email(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Acme.io/about", "acme.io"),
        ("acme.io", "acme.io"),
        ("http://acme.co.uk", "acme.co.uk"),
        ("WWW.ACME.IO.", "acme.io"),
        ("localhost", None),
        ("", None),
        ("[x]", None),  # urlparse raises on these: a typed domain must not stop the sync
        ("http://[::1", None),
    ],
)
def test_normalize_domain(raw, expected):
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Acme, Inc.", "acme"), ("ACME inc", "acme"), ("Globex Corporation", "globex"), (" ", None)],
)
def test_normalize_company_name(raw, expected):
    assert normalize_company_name(raw) == expected


def sf(obj: str, id_: str, key: str, created: str = "2025", **kw) -> Candidate:
    return Candidate(system="salesforce", object=obj, id=id_, key=key, created=created, **kw)


def hs(id_: str, key: str | None) -> Candidate:
    return Candidate(system="hubspot", object="contact", id=id_, key=key)


def test_contact_beats_lead_and_oldest_wins_among_equals():
    lead = sf("Lead", "00Q1", "a@x.io", created="2020")
    contact_new = sf("Contact", "0032", "a@x.io", created="2024")
    contact_old = sf("Contact", "0031", "a@x.io", created="2022")
    kept, others = choose([lead, contact_new, contact_old])
    assert kept == contact_old
    assert set(others) == {lead, contact_new}


def test_an_existing_link_is_kept_over_the_rule():
    lead = sf("Lead", "00Q1", "a@x.io")
    contact = sf("Contact", "0031", "a@x.io")
    kept, _ = choose([lead, contact], linked=frozenset({"00Q1"}))
    assert kept == lead


def test_unconverted_lead_beats_converted_one():
    converted = sf("Lead", "00Q1", "a@x.io", created="2019", is_converted=True)
    fresh = sf("Lead", "00Q2", "a@x.io", created="2024")
    assert choose([converted, fresh])[0] == fresh


def test_clusters_name_the_reason():
    rows = [sf("Lead", "00Q1", "a@x.io"), sf("Contact", "0031", "a@x.io"), sf("Lead", "00Q9", "b")]
    (cluster,) = clusters_of(rows, linked=frozenset())
    assert cluster.reason == "same person as Lead and Contact"
    assert cluster.kept.id == "0031"
    assert [c.id for c in cluster.others] == ["00Q1"]


def test_match_links_once_and_blocks_instead_of_creating_duplicates():
    targets = [sf("Contact", "0031", "a@x.io"), sf("Lead", "00Q1", "a@x.io")]
    result = match(
        [hs("1", "a@x.io"), hs("2", None), hs("3", "z@x.io")],
        targets,
        existing={},
    )
    assert {k: v.id for k, v in result.links.items()} == {"1": "0031"}
    assert result.blocked == frozenset()
    assert len(result.clusters) == 1


def test_match_leaves_existing_links_alone_and_blocks_taken_keys():
    targets = [sf("Contact", "0031", "a@x.io")]
    result = match(
        [hs("1", "a@x.io"), hs("2", "a@x.io")],
        targets,
        existing={"1": "0031"},
        linked_targets=frozenset({"0031"}),
    )
    assert result.links == {}
    assert result.blocked == frozenset({"2"})


def test_converted_lead_follows_to_its_contact():
    contact = sf("Contact", "0031", "a@x.io")
    lead = sf("Lead", "00Q1", "a@x.io", is_converted=True, converted_to="0031")
    assert follow_conversion(lead, {"0031": contact}) == contact
    assert follow_conversion(lead, {}) == lead


@pytest.mark.parametrize(
    ("system", "obj", "values", "key"),
    [
        (System.SALESFORCE, "Opportunity", {"Id": "006000000000001AAA"}, "sfid:006000000000001AAA"),
        (  # a deal the sync created from that Opportunity: the same key, so it is found again
            System.HUBSPOT,
            "deals",
            {"dealname": "Renewal", "hs_salesforceopportunityid": "006000000000001AAA"},
            "sfid:006000000000001AAA",
        ),
        (System.HUBSPOT, "deals", {"dealname": "Made in HubSpot"}, None),
        (System.HUBSPOT, "deals", {"hs_salesforceopportunityid": "  "}, None),
        (System.SALESFORCE, "Lead", {"Id": "00Q1", "Email": " A@B.io"}, "a@b.io"),
        (System.HUBSPOT, "companies", {"name": "Acme, Inc."}, "name:acme"),
    ],
)
def test_record_keys(system: System, obj: str, values: dict[str, str], key: str | None) -> None:
    assert record_key(system, obj, values) == key
