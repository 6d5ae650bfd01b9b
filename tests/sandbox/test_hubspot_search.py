"""Paging and search through hubspot-api-client: 5,000 contacts, operators, sorts, the caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hubspot_fixtures import *  # noqa: F403  (fixtures: hs_server, hs_portal)
from hubspot_fixtures import HsPortal, contact_seed, refused

pytestmark = pytest.mark.sandbox

START = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=7)


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def _search(client: Any, body: dict[str, Any], object_type: str = "contacts") -> Any:
    request = {"limit": 100, "after": "0", "properties": [], "sorts": [], "filterGroups": []}
    return client.crm.objects.search_api.do_search(object_type, {**request, **body})


def _ids(page: Any) -> list[str]:
    return [r.id for r in page.results]


@pytest.fixture
def five_thousand(hs_portal: HsPortal) -> HsPortal:
    seeded = contact_seed(5000, start=START, step=STEP)
    # Two pairs share a modification time, so the id tie-break is exercised.
    seeded[2000]["updatedAt"] = seeded[2001]["updatedAt"]
    seeded[4000]["updatedAt"] = seeded[4001]["updatedAt"]
    hs_portal.load({"contacts": seeded})
    return hs_portal


def test_basic_api_pages_through_5000_contacts(five_thousand: HsPortal):
    contacts = five_thousand.client().crm.contacts.basic_api
    seen: list[str] = []
    after = None
    calls = 0
    while True:
        page = contacts.get_page(limit=100, after=after, properties=["email"])
        calls += 1
        seen.extend(_ids(page))
        if page.paging is None:
            break
        after = page.paging.next.after
    assert calls == 50
    assert seen == [str(n) for n in range(1, 5001)]
    assert refused(contacts.get_page, limit=101).status == 400


def test_search_pages_5000_contacts_sorted_by_lastmodifieddate_across_200_limit(
    five_thousand: HsPortal,
):
    five_thousand.emulator.set_limits({"search_per_second": 1000})  # paging, not throttling
    client = five_thousand.client()
    cutoff = START + STEP * 1234
    gte = {"propertyName": "lastmodifieddate", "operator": "GTE", "value": _ms(cutoff)}
    body: dict[str, Any] = {
        "filterGroups": [{"filters": [gte]}],
        "sorts": ["lastmodifieddate"],
        "properties": ["email", "lastmodifieddate"],
        "limit": 200,
    }
    records: list[Any] = []
    after = "0"
    while after is not None:
        page = _search(client, {**body, "after": after})
        assert page.total == 5000 - 1234
        assert len(page.results) <= 200
        records.extend(page.results)
        after = page.paging.next.after if page.paging else None
    ids = [int(r.id) for r in records]
    assert len(ids) == len(set(ids)) == 5000 - 1234
    assert set(ids) == set(range(1235, 5001))
    stamps = [r.properties["lastmodifieddate"] for r in records]
    assert stamps == sorted(stamps)
    assert stamps[0] == cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")  # HubSpot drops a .000 fraction
    tied = [int(r.id) for r in records if r.properties["lastmodifieddate"] == stamps[2001 - 1235]]
    assert tied == [2001, 2002]  # equal stamps come in id order

    over = refused(client.crm.objects.search_api.do_search, "contacts", {**body, "limit": 201})
    assert over.status == 400 and over.body["category"] == "VALIDATION_ERROR"
    assert "200" in over.body["message"]


def test_search_never_pages_past_10000_results(hs_portal: HsPortal):
    hs_portal.load({"contacts": contact_seed(10_050)})
    client = hs_portal.client()
    last = _search(client, {"limit": 200, "after": "9800", "sorts": ["hs_object_id"]})
    assert last.total == 10_050
    assert len(last.results) == 200 and last.paging is None
    assert last.results[-1].id == "10000"
    beyond = refused(
        client.crm.objects.search_api.do_search,
        "contacts",
        {"limit": 10, "after": "10000", "filterGroups": [], "sorts": [], "properties": []},
    )
    assert beyond.status == 400 and "10000" in beyond.body["message"]


@pytest.fixture
def people(hs_portal: HsPortal) -> HsPortal:
    rows = contact_seed(6)
    extra = [
        {"jobtitle": "Chief Technology Officer", "lead_source": "Webinar"},
        {"jobtitle": "CTO", "lead_source": "Web", "phone": "+1 555 0100"},
        {"jobtitle": "VP Sales", "lead_source": "Trade Show"},
        {"jobtitle": "Engineer", "email": "dev@acme.io"},
        {"jobtitle": "Engineer", "email": "ops@acme.io", "lead_source": "Web"},
        {},
    ]
    for row, props in zip(rows, extra, strict=True):
        row["properties"].update(props)
    hs_portal.load({"contacts": rows})
    return hs_portal


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([{"propertyName": "jobtitle", "operator": "EQ", "value": "cto"}], {"2"}),
        (
            [{"propertyName": "jobtitle", "operator": "NEQ", "value": "Engineer"}],
            {"1", "2", "3", "6"},
        ),
        ([{"propertyName": "hs_object_id", "operator": "LT", "value": "3"}], {"1", "2"}),
        ([{"propertyName": "hs_object_id", "operator": "LTE", "value": "3"}], {"1", "2", "3"}),
        ([{"propertyName": "hs_object_id", "operator": "GT", "value": "4"}], {"5", "6"}),
        (
            [
                {
                    "propertyName": "hs_object_id",
                    "operator": "BETWEEN",
                    "value": "2",
                    "highValue": "4",
                }
            ],
            {"2", "3", "4"},
        ),
        (
            [{"propertyName": "lead_source", "operator": "IN", "values": ["Web", "Webinar"]}],
            {"1", "2", "5"},
        ),
        (  # enumeration values match exactly
            [{"propertyName": "lead_source", "operator": "EQ", "value": "web"}],
            set(),
        ),
        (
            [{"propertyName": "lead_source", "operator": "NOT_IN", "values": ["Web"]}],
            {"1", "3", "4", "6"},
        ),
        (  # string properties: HubSpot lowercases the stored value, so IN values are lowercase
            [{"propertyName": "jobtitle", "operator": "IN", "values": ["cto", "vp sales"]}],
            {"2", "3"},
        ),
        (
            [{"propertyName": "jobtitle", "operator": "IN", "values": ["CTO"]}],
            set(),
        ),
        (
            [{"propertyName": "hs_object_id", "operator": "IN", "values": ["3", "6"]}],
            {"3", "6"},
        ),
        ([{"propertyName": "phone", "operator": "HAS_PROPERTY"}], {"2"}),
        ([{"propertyName": "lead_source", "operator": "NOT_HAS_PROPERTY"}], {"4", "6"}),
        (
            [{"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@acme.io"}],
            {"4", "5"},
        ),
        (
            [{"propertyName": "jobtitle", "operator": "CONTAINS_TOKEN", "value": "technology"}],
            {"1"},
        ),
        (
            [
                {"propertyName": "jobtitle", "operator": "EQ", "value": "Engineer"},
                {"propertyName": "lead_source", "operator": "EQ", "value": "Web"},
            ],
            {"5"},
        ),
    ],
)
def test_search_operators(people: HsPortal, filters: list[dict[str, Any]], expected: set[str]):
    page = _search(people.client(), {"filterGroups": [{"filters": filters}]})
    assert set(_ids(page)) == expected
    assert page.total == len(expected)


def test_filter_groups_are_ored_and_sorts_descend(people: HsPortal):
    groups = [
        {"filters": [{"propertyName": "jobtitle", "operator": "EQ", "value": "CTO"}]},
        {"filters": [{"propertyName": "lead_source", "operator": "EQ", "value": "Trade Show"}]},
    ]
    page = _search(
        people.client(),
        {
            "filterGroups": groups,
            "sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}],
        },
    )
    assert _ids(page) == ["3", "2"]


def test_top_level_filters_count_as_one_more_group(people: HsPortal):
    top = [{"propertyName": "jobtitle", "operator": "EQ", "value": "VP Sales"}]
    groups = [{"filters": [{"propertyName": "jobtitle", "operator": "EQ", "value": "CTO"}]}]
    page = _search(people.client(), {"filterGroups": groups, "filters": top})
    assert _ids(page) == ["2", "3"]


def test_search_never_returns_archived_records(people: HsPortal):
    client = people.client()
    client.crm.contacts.basic_api.archive("2")
    page = _search(client, {"filterGroups": []})
    assert "2" not in _ids(page) and page.total == 5


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {
                "filterGroups": [
                    {"filters": [{"propertyName": "nope", "operator": "EQ", "value": "1"}]}
                ]
            },
            "nope",
        ),
        (
            {
                "filterGroups": [
                    {"filters": [{"propertyName": "email", "operator": "LIKE", "value": "x"}]}
                ]
            },
            "LIKE",
        ),
        ({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "IN"}]}]}, "values"),
        (
            {
                "filterGroups": [
                    {
                        "filters": [
                            {"propertyName": "hubspotscore", "operator": "GT", "value": "lots"}
                        ]
                    }
                ]
            },
            "lots",
        ),
        (
            {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ"}]}] * 6},
            "filter groups",
        ),
        (
            {
                "filterGroups": [
                    {"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 7}
                ]
            },
            "filters",
        ),
        ({"filterGroups": "email = x"}, "filterGroups"),
        ({"sorts": ["email", "firstname"]}, "sort"),
        ({"sorts": ["nope"]}, "nope"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_malformed_search_is_400_naming_the_problem(
    people: HsPortal, body: dict[str, Any], fragment: str
):
    request = {"limit": 10, "after": "0", "properties": [], "sorts": [], "filterGroups": [], **body}
    answer = refused(people.client().crm.objects.search_api.do_search, "contacts", request)
    assert answer.status == 400
    assert answer.body["category"] == "VALIDATION_ERROR"
    assert fragment.lower() in answer.body["message"].lower()
    assert people.emulator.stats()["internal_errors"] == 0


def test_search_by_datetime_accepts_iso_and_epoch_ms(people: HsPortal):
    client = people.client()
    iso = {"propertyName": "createdate", "operator": "GTE", "value": "2024-01-01T00:14:00Z"}
    ms = {**iso, "value": _ms(START + timedelta(minutes=14))}
    assert _ids(_search(client, {"filterGroups": [{"filters": [iso]}]})) == ["3", "4", "5", "6"]
    assert _ids(_search(client, {"filterGroups": [{"filters": [ms]}]})) == ["3", "4", "5", "6"]


def test_search_on_other_object_types(hs_portal: HsPortal):
    client = hs_portal.client()
    for name in ("Acme", "Globex", "Initech"):
        client.crm.companies.basic_api.create({"properties": {"name": name}, "associations": []})
    page = _search(
        client,
        {
            "filterGroups": [
                {"filters": [{"propertyName": "name", "operator": "EQ", "value": "globex"}]}
            ]
        },
        "companies",
    )
    assert [r.properties["name"] for r in page.results] == ["Globex"]
    assert set(page.results[0].properties) == {
        "createdate",
        "domain",
        "hs_lastmodifieddate",
        "hs_object_id",
        "name",
    }
