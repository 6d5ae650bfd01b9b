"""The SOQL engine of the Salesforce emulator, against a small in-test org.

Each case states a query a client would send and what Salesforce answers: which rows, in which
order and shape, or which error code and message.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from sandbox.salesforce import soql
from sandbox.salesforce.ids import make_id

pytestmark = pytest.mark.unit

TODAY = date(2026, 11, 28)

_FIELDS: dict[str, dict[str, str]] = {
    "Lead": {
        "Id": "id",
        "LastName": "string",
        "Email": "email",
        "Company": "string",
        "Description": "textarea",
        "LeadSource": "picklist",
        "NumberOfEmployees": "int",
        "AnnualRevenue": "currency",
        "IsConverted": "boolean",
        "OwnerId": "reference",
        "ConvertedContactId": "reference",
        "CreatedDate": "datetime",
        "SystemModstamp": "datetime",
        "LastActivityDate": "date",
    },
    "Contact": {"Id": "id", "Email": "email", "LastName": "string", "OwnerId": "reference"},
    "User": {"Id": "id", "Name": "string", "Email": "email", "ManagerId": "reference"},
}
_RELATIONSHIPS: dict[tuple[str, str], tuple[str, str]] = {
    ("Lead", "owner"): ("User", "OwnerId"),
    ("Lead", "convertedcontact"): ("Contact", "ConvertedContactId"),
    ("Contact", "owner"): ("User", "OwnerId"),
    ("User", "manager"): ("User", "ManagerId"),
}


class FakeSchema:
    """Case-insensitive names, as the emulator's describe tables answer them."""

    def canonical_object(self, name: str) -> str | None:
        return next((o for o in _FIELDS if o.lower() == name.lower()), None)

    def field_type(self, sobject: str, field: str) -> str | None:
        return next((t for f, t in _FIELDS[sobject].items() if f.lower() == field.lower()), None)

    def canonical_field(self, sobject: str, field: str) -> str:
        return next(f for f in _FIELDS[sobject] if f.lower() == field.lower())

    def relationship_target(self, sobject: str, relationship: str) -> tuple[str, str] | None:
        return _RELATIONSHIPS.get((sobject, relationship.lower()))


SCHEMA = FakeSchema()

U1, U2, U3 = (make_id("005", n) for n in (1, 2, 3))
C1 = make_id("003", 1)
L1, L2, L3, L4, L5 = (make_id("00Q", n) for n in (1, 2, 3, 4, 5))
MISSING_USER = make_id("005", 99)

USERS = {
    U1: {"Id": U1, "Name": "Rita Rep", "Email": "rep1@example.com", "ManagerId": U3},
    U2: {"Id": U2, "Name": "Sam Seller", "Email": "rep2@example.com", "ManagerId": None},
    U3: {"Id": U3, "Name": "Ada Boss", "Email": "ada.boss@example.com", "ManagerId": None},
}
CONTACTS = {C1: {"Id": C1, "Email": "jsmith@globex.com", "LastName": "Smith", "OwnerId": U2}}

LEADS: list[dict[str, Any]] = [
    {
        "Id": L1,
        "LastName": "O'Brien",
        "Email": "obrien@acme.com",
        "Company": "Acme",
        "LeadSource": "Web",
        "NumberOfEmployees": 50,
        "AnnualRevenue": 1_000_000.5,
        "IsConverted": False,
        "OwnerId": U1,
        "ConvertedContactId": None,
        "CreatedDate": "2026-11-20T08:00:00.000+0000",
        "SystemModstamp": "2026-11-28T20:49:32.000+0000",
        "LastActivityDate": "2026-11-27",
    },
    {
        "Id": L2,
        "LastName": "Smith",
        "Email": "jsmith@globex.com",
        "Company": "Globex",
        "LeadSource": "Partner Referral",
        "NumberOfEmployees": 500,
        "AnnualRevenue": None,
        "IsConverted": True,
        "OwnerId": U2,
        "ConvertedContactId": C1,
        "CreatedDate": "2026-01-05T12:00:00.000+0000",
        "SystemModstamp": "2026-11-27T23:59:59.999+0000",
        "LastActivityDate": "2026-11-28",
    },
    {
        "Id": L3,
        "LastName": "smithers",
        "Email": None,
        "Company": "100%_Natural",
        "Description": "line1\nline2",
        "LeadSource": None,
        "NumberOfEmployees": None,
        "AnnualRevenue": 5000.0,
        "IsConverted": False,
        "OwnerId": None,
        "ConvertedContactId": None,
        "CreatedDate": "2025-12-31T23:00:00.000+0000",
        "SystemModstamp": "2026-11-28T00:00:00.000+0000",
        "LastActivityDate": None,
    },
    {
        "Id": L4,
        "LastName": "Back\\slash",
        "Email": "ops@initech.com",
        "Company": "Initech",
        "LeadSource": "Web",
        "NumberOfEmployees": 5,
        "AnnualRevenue": 250.0,
        "IsConverted": False,
        "OwnerId": U1,
        "ConvertedContactId": None,
        "CreatedDate": "2026-11-27T10:00:00.000+0000",
        "SystemModstamp": "2026-10-01T09:30:00.000+0000",
        "LastActivityDate": "2026-10-01",
    },
    {
        "Id": L5,
        "LastName": "Zoë",
        "Email": "zoe@umbrella.com",
        "Company": "Umbrella",
        "LeadSource": "Trade Show",
        "NumberOfEmployees": 50,
        "AnnualRevenue": 75_000.0,
        "IsConverted": False,
        "OwnerId": U3,
        "ConvertedContactId": None,
        "CreatedDate": "2026-06-01T00:00:00.000+0000",
        # Not in Salesforce's own format: still compared and sorted by instant.
        "SystemModstamp": "2026-11-28T12:00:00Z",
        "LastActivityDate": "2025-06-01",
    },
]
NAMES = {L1: "L1", L2: "L2", L3: "L3", L4: "L4", L5: "L5"}


def lookup(sobject: str, record_id: str) -> dict[str, Any] | None:
    return {"User": USERS, "Contact": CONTACTS}.get(sobject, {}).get(record_id)


def run(text: str, records: list[dict[str, Any]] | None = None, **kw: Any) -> list[dict[str, Any]]:
    query = soql.parse(text, SCHEMA)
    return soql.execute(
        query, LEADS if records is None else records, lookup=lookup, today=TODAY, **kw
    )


def ids_of(text: str) -> list[str]:
    return [NAMES[row["Id"]] for row in run(text)]


def error_of(text: str) -> soql.SoqlError:
    with pytest.raises(soql.SoqlError) as caught:
        soql.parse(text, SCHEMA)
    return caught.value


# --- WHERE: every operator, literal and null rule -----------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # text: case-insensitive equality, Salesforce's string escapes
        ("LastName = 'smith'", {"L2"}),
        ("LastName = 'o\\'brien'", {"L1"}),
        ("LastName = 'Back\\\\slash'", {"L4"}),
        ("Description = 'line1\\nline2'", {"L3"}),
        ("LastName = 'Zo\\u00eb'", {"L5"}),
        ("LastName != 'Smith'", {"L1", "L3", "L4", "L5"}),
        ("LastName <> 'SMITH'", {"L1", "L3", "L4", "L5"}),
        ("LastName < 'Smith'", {"L1", "L4"}),
        ("LastName >= 'smith'", {"L2", "L3", "L5"}),
        ("LeadSource IN ('web', 'Partner Referral')", {"L1", "L2", "L4"}),
        ("LeadSource IN ('Web', null)", {"L1", "L3", "L4"}),
        # null is a value for equality: != and NOT IN keep empty fields, = null finds them
        ("LeadSource != 'Web'", {"L2", "L3", "L5"}),
        ("LeadSource NOT IN ('Web')", {"L2", "L3", "L5"}),
        ("LeadSource = null", {"L3"}),
        ("LeadSource != NULL", {"L1", "L2", "L4", "L5"}),
        ("Email = ''", {"L3"}),
        ("Email != ''", {"L1", "L2", "L4", "L5"}),
        # LIKE: % and _ wildcards, \% and \_ literal, case-insensitive, whole value
        ("LastName LIKE 'smith%'", {"L2", "L3"}),
        ("LastName LIKE 'SMITH'", {"L2"}),
        ("Company LIKE '_lobex'", {"L2"}),
        ("Email LIKE '%@%.com'", {"L1", "L2", "L4", "L5"}),
        ("Company LIKE '100\\%\\_%'", {"L3"}),
        ("Company LIKE '100\\%\\_'", set()),
        ("LastName LIKE 'o\\'b%'", {"L1"}),
        ("NOT LastName LIKE 'smith%'", {"L1", "L4", "L5"}),
        # numbers; comparisons never match an empty field
        ("NumberOfEmployees > 49", {"L1", "L2", "L5"}),
        ("NumberOfEmployees <= 50", {"L1", "L4", "L5"}),
        ("NumberOfEmployees != 50", {"L2", "L3", "L4"}),
        ("NumberOfEmployees IN (5, 500)", {"L2", "L4"}),
        ("AnnualRevenue >= 1000000.5", {"L1"}),
        ("AnnualRevenue < 1000", {"L4"}),
        # booleans: never null, so = null means = false
        ("IsConverted = true", {"L2"}),
        ("IsConverted = FALSE", {"L1", "L3", "L4", "L5"}),
        ("IsConverted = null", {"L1", "L3", "L4", "L5"}),
        ("IsConverted != null", {"L2"}),
        # ids: a 15-character id matches the stored 18-character one
        (f"Id = '{L1[:15]}'", {"L1"}),
        (f"Id IN ('{L1}', '{L2}')", {"L1", "L2"}),
        (f"OwnerId = '{U1}'", {"L1", "L4"}),
        ("OwnerId = null", {"L3"}),
        # datetime literals, with Z, Salesforce's own format, and offsets
        ("SystemModstamp >= 2026-11-28T00:00:00Z", {"L1", "L3", "L5"}),
        ("SystemModstamp = 2026-11-28T20:49:32.000+0000", {"L1"}),
        ("SystemModstamp > 2026-11-28T01:00:00+02:00", {"L1", "L2", "L3", "L5"}),
        ("SystemModstamp < 2026-11-27T16:00:00-08:00", {"L2", "L4"}),
        ("SystemModstamp <= 2026-11-27T23:59:59.999Z", {"L2", "L4"}),
        ("SystemModstamp > 2026-11-28T17:30:00.000+0530", {"L1"}),
        # date literals are day ranges
        ("SystemModstamp = TODAY", {"L1", "L3", "L5"}),
        ("SystemModstamp = YESTERDAY", {"L2"}),
        ("SystemModstamp < TODAY", {"L2", "L4"}),
        ("CreatedDate = LAST_N_DAYS:1", {"L4"}),
        ("CreatedDate = LAST_N_DAYS:8", {"L1", "L4"}),
        ("CreatedDate < LAST_N_DAYS:8", {"L2", "L3", "L5"}),
        ("CreatedDate > TODAY", set()),
        ("CreatedDate = THIS_YEAR", {"L1", "L2", "L4", "L5"}),
        # date fields
        ("LastActivityDate = 2026-11-28", {"L2"}),
        ("LastActivityDate < 2026-11-27", {"L4", "L5"}),
        ("LastActivityDate = YESTERDAY", {"L1"}),
        ("LastActivityDate = LAST_N_DAYS:1", {"L1", "L2"}),
        ("LastActivityDate = null", {"L3"}),
        # parent fields in WHERE; a missing parent reads as null
        ("Owner.Email = 'REP1@example.com'", {"L1", "L4"}),
        ("Owner.Email = null", {"L3"}),
        ("Owner.Manager.Email = 'ada.boss@example.com'", {"L1", "L4"}),
        ("ConvertedContact.Email = 'jsmith@globex.com'", {"L2"}),
        # AND, OR, NOT and parentheses
        ("LeadSource = 'Web' AND NumberOfEmployees > 10", {"L1"}),
        ("(LeadSource = 'Web' OR IsConverted = true) AND NumberOfEmployees > 10", {"L1", "L2"}),
        (
            "LeadSource = 'Web' OR LeadSource = 'Trade Show' OR IsConverted = true",
            {"L1", "L2", "L4", "L5"},
        ),
        ("NOT (LeadSource = 'Web' OR LeadSource = null)", {"L2", "L5"}),
        ("NOT NOT IsConverted = true", {"L2"}),
        ("((LastName = 'Smith'))", {"L2"}),
    ],
)
def test_where_selects_the_rows_salesforce_would(where: str, expected: set[str]) -> None:
    assert set(ids_of(f"SELECT Id FROM Lead WHERE {where}")) == expected


def test_keywords_and_names_are_case_insensitive_and_answers_use_canonical_names() -> None:
    rows = run("select lastname, OWNER.email from LEAD where LASTNAME = 'smith' Order By id")
    assert rows == [
        {
            "attributes": {"type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{L2}"},
            "LastName": "Smith",
            "Owner": {
                "attributes": {"type": "User", "url": f"/services/data/v59.0/sobjects/User/{U2}"},
                "Email": "rep2@example.com",
            },
        }
    ]


def test_query_reports_its_object_fields_and_paging() -> None:
    query = soql.parse("select id, owner.email from lead limit 10 offset 20", SCHEMA)
    assert (query.sobject, query.fields, query.limit, query.offset, query.is_count) == (
        "Lead",
        ("Id", "Owner.Email"),
        10,
        20,
        False,
    )


def test_the_object_name_may_prefix_a_field() -> None:
    assert run(f"SELECT Lead.LastName FROM Lead WHERE Id = '{L1}'")[0]["LastName"] == "O'Brien"


# --- ORDER BY, LIMIT, OFFSET ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("LastName", ["L4", "L1", "L2", "L3", "L5"]),
        ("LastName DESC", ["L5", "L3", "L2", "L1", "L4"]),
        ("LeadSource, LastName", ["L3", "L2", "L5", "L4", "L1"]),
        ("LeadSource ASC NULLS LAST, Id", ["L2", "L5", "L1", "L4", "L3"]),
        ("LeadSource DESC, LastName", ["L4", "L1", "L5", "L2", "L3"]),
        ("LeadSource DESC NULLS FIRST, LastName DESC", ["L3", "L1", "L4", "L5", "L2"]),
        ("NumberOfEmployees DESC, LastName", ["L2", "L1", "L5", "L4", "L3"]),
        ("SystemModstamp, Id", ["L4", "L2", "L3", "L5", "L1"]),
        ("LastActivityDate DESC", ["L2", "L1", "L4", "L5", "L3"]),
        ("Owner.Email, Id", ["L3", "L5", "L1", "L4", "L2"]),
        ("IsConverted DESC, Id DESC", ["L2", "L5", "L4", "L3", "L1"]),
    ],
)
def test_order_by_sorts_with_salesforce_null_and_case_rules(
    order_by: str, expected: list[str]
) -> None:
    assert ids_of(f"SELECT Id FROM Lead ORDER BY {order_by}") == expected


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("ORDER BY LastName LIMIT 2", ["L4", "L1"]),
        ("ORDER BY LastName OFFSET 3", ["L3", "L5"]),
        ("ORDER BY LastName LIMIT 2 OFFSET 1", ["L1", "L2"]),
        ("ORDER BY LastName LIMIT 0", []),
        ("ORDER BY LastName OFFSET 10", []),
        ("LIMIT 2", ["L1", "L2"]),
        ("LIMIT 2 OFFSET 4", ["L5"]),
        ("OFFSET 2000", []),
    ],
)
def test_limit_and_offset_page_the_ordered_rows(clause: str, expected: list[str]) -> None:
    assert ids_of(f"SELECT Id FROM Lead {clause}") == expected


# --- COUNT ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT COUNT() FROM Lead", 5),
        ("select count() from lead where IsConverted = false", 4),
        ("SELECT COUNT() FROM Lead WHERE Owner.Email LIKE 'rep%'", 3),
        ("SELECT COUNT() FROM Lead LIMIT 3", 3),
        ("SELECT COUNT() FROM Lead WHERE LastName = 'nobody'", 0),
    ],
)
def test_count_answers_how_many_rows_match(text: str, expected: int) -> None:
    query = soql.parse(text, SCHEMA)
    assert query.is_count
    assert soql.count(query, LEADS, lookup=lookup, today=TODAY) == expected
    assert soql.execute(query, LEADS, lookup=lookup, today=TODAY) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT COUNT(Id) FROM Lead WHERE LeadSource = 'Web'", {"expr0": 2}),
        ("SELECT COUNT(Email) total FROM Lead", {"total": 4}),
        ("SELECT COUNT(Id), COUNT(LeadSource) FROM Lead", {"expr0": 5, "expr1": 4}),
    ],
)
def test_count_of_a_field_is_one_aggregate_result(text: str, expected: dict[str, int]) -> None:
    assert run(text) == [{"attributes": {"type": "AggregateResult"}, **expected}]


# --- relationship paths and the answer's shape ----------------------------------------------------


def test_parent_fields_nest_under_the_relationship_in_select_order() -> None:
    rows = run(
        f"SELECT Id, Owner.Email, LastName, Owner.Name, ConvertedContact.Email FROM Lead "
        f"WHERE Id IN ('{L1}', '{L2}') ORDER BY Id",
        api_version="60.0",
    )
    base = "/services/data/v60.0/sobjects"
    assert rows == [
        {
            "attributes": {"type": "Lead", "url": f"{base}/Lead/{L1}"},
            "Id": L1,
            "Owner": {
                "attributes": {"type": "User", "url": f"{base}/User/{U1}"},
                "Email": "rep1@example.com",
                "Name": "Rita Rep",
            },
            "LastName": "O'Brien",
            "ConvertedContact": None,
        },
        {
            "attributes": {"type": "Lead", "url": f"{base}/Lead/{L2}"},
            "Id": L2,
            "Owner": {
                "attributes": {"type": "User", "url": f"{base}/User/{U2}"},
                "Email": "rep2@example.com",
                "Name": "Sam Seller",
            },
            "LastName": "Smith",
            "ConvertedContact": {
                "attributes": {"type": "Contact", "url": f"{base}/Contact/{C1}"},
                "Email": "jsmith@globex.com",
            },
        },
    ]
    assert list(rows[0]) == ["attributes", "Id", "Owner", "LastName", "ConvertedContact"]


def test_two_hop_paths_nest_twice_and_an_empty_reference_is_null() -> None:
    rows = run("SELECT Owner.Manager.Email FROM Lead ORDER BY LastName")
    owners = [row["Owner"] for row in rows]
    assert owners[0]["Manager"]["Email"] == "ada.boss@example.com"  # L4 -> U1 -> U3
    assert owners[2]["Manager"] is None  # L2 -> U2, who has no manager
    assert owners[3] is None  # L3 has no owner


def test_a_reference_to_a_record_that_cannot_be_found_renders_null() -> None:
    orphan = {**LEADS[0], "OwnerId": MISSING_USER}
    assert run("SELECT Id, Owner.Email FROM Lead", [orphan])[0]["Owner"] is None


def test_fields_missing_from_a_stored_row_come_back_null() -> None:
    rows = run("SELECT Id, Description FROM Lead ORDER BY Id LIMIT 1")
    assert rows[0]["Description"] is None


# --- errors ---------------------------------------------------------------------------------------

_NO_SUCH_COLUMN = (
    "No such column 'Foo' on entity 'Lead'. If you are attempting to use a custom field, be sure "
    "to append the '__c' after the custom field name. Please reference your WSDL or the describe "
    "call for the appropriate names."
)


@pytest.mark.parametrize(
    ("text", "code", "detail"),
    [
        ("SELECT Id FORM Lead", "MALFORMED_QUERY", "unexpected token: 'FORM'"),
        ("SELECT * FROM Lead", "MALFORMED_QUERY", "unexpected token: '*'"),
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY", "unexpected token: '<EOF>'"),
        (
            "SELECT Id FROM Lead WHERE IsConverted = true AND LastName = 'x' OR Email = null",
            "MALFORMED_QUERY",
            "unexpected token: 'OR'",
        ),
        (
            "SELECT Id FROM Lead WHERE LastName = Smith",
            "MALFORMED_QUERY",
            "unexpected token: 'Smith'",
        ),
        ("SELECT Id FROM Lead WHERE LastName = 'Smith", "MALFORMED_QUERY", "expecting '''"),
        (
            "SELECT Id FROM Lead WHERE LastName = 'a\\qb'",
            "MALFORMED_QUERY",
            "Illegal character sequence '\\q'",
        ),
        ("SELECT Id FROM Lead WHERE LastName = 'a\\_b'", "MALFORMED_QUERY", "outside a LIKE"),
        ("SELECT Id, id FROM Lead", "MALFORMED_QUERY", "duplicate field selected: Id"),
        ("SELECT Id, COUNT() FROM Lead", "MALFORMED_QUERY", "unexpected token: 'COUNT'"),
        (
            "SELECT COUNT(Id), Email FROM Lead",
            "MALFORMED_QUERY",
            "Field must be grouped or aggregated: Email",
        ),
        ("SELECT Id FROM Lead LIMIT -1", "MALFORMED_QUERY", "unexpected token: '-1'"),
        ("SELECT Id FROM Lead ORDER BY LastName NULLS", "MALFORMED_QUERY", "'<EOF>'"),
        (
            "SELECT Id FROM Lead WHERE SystemModstamp > 2026-11-28T20:49:32",
            "MALFORMED_QUERY",
            "unexpected token: '2026-11-28T20:49:32'",
        ),
        ("SELECT Id FROM Lead WHERE CreatedDate > LAST_N_DAYS", "MALFORMED_QUERY", "LAST_N_DAYS"),
        (
            "SELECT Id FROM Lead WHERE Id IN (SELECT Id FROM Contact)",
            "MALFORMED_QUERY",
            "unexpected token: 'SELECT'",
        ),
        (
            "SELECT Id FROM Lead WHERE Email = :email",
            "MALFORMED_QUERY",
            "unexpected token: ':email'",
        ),
        ("SELECT Id, Foo FROM Lead", "INVALID_FIELD", _NO_SUCH_COLUMN),
        ("SELECT Id FROM Lead WHERE Foo = 1", "INVALID_FIELD", _NO_SUCH_COLUMN),
        ("SELECT Id FROM Lead ORDER BY Foo", "INVALID_FIELD", _NO_SUCH_COLUMN),
        ("SELECT Owner.Foo FROM Lead", "INVALID_FIELD", "No such column 'Foo' on entity 'User'."),
        (
            "SELECT Bogus.Email FROM Lead",
            "INVALID_FIELD",
            "Didn't understand relationship 'Bogus' in field path. If you are attempting to use "
            "a custom relationship, be sure to append the '__r' after the custom relationship",
        ),
        (
            "SELECT Id FROM Foo",
            "INVALID_TYPE",
            "sObject type 'Foo' is not supported. If you are attempting to use a custom object, "
            "be sure to append the '__c' after the entity name.",
        ),
        (
            "SELECT Id FROM Lead OFFSET 2001",
            "NUMBER_OUTSIDE_VALID_RANGE",
            "Maximum SOQL offset allowed is 2000",
        ),
        (
            "SELECT Id FROM Lead WHERE CreatedDate > '2020-01-01'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "value of filter criterion for field 'CreatedDate' must be of type dateTime and "
            "should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Lead WHERE CreatedDate > 2020-01-01",
            "INVALID_QUERY_FILTER_OPERATOR",
            "field 'CreatedDate' must be of type dateTime",
        ),
        (
            "SELECT Id FROM Lead WHERE LastActivityDate > 2020-01-01T00:00:00Z",
            "INVALID_QUERY_FILTER_OPERATOR",
            "field 'LastActivityDate' must be of type date and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Lead WHERE NumberOfEmployees = '5'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "must be of type integer and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Lead WHERE AnnualRevenue IN (1, '5')",
            "INVALID_QUERY_FILTER_OPERATOR",
            "must be of type double and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Lead WHERE IsConverted = 'true'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "must be of type boolean",
        ),
        (
            "SELECT Id FROM Lead WHERE LastName = 5",
            "INVALID_QUERY_FILTER_OPERATOR",
            "field 'LastName' must be of type string and should be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Lead WHERE LastName = TODAY",
            "INVALID_QUERY_FILTER_OPERATOR",
            "must be of type string",
        ),
        (
            "SELECT Id FROM Lead WHERE IsConverted LIKE 'x%'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "invalid operator on boolean field",
        ),
        (
            "SELECT Id FROM Lead WHERE Id LIKE '00Q%'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "invalid operator on id field",
        ),
        (
            "SELECT Id FROM Lead WHERE OwnerId = 'Edge Communications'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "invalid ID field: Edge Communications",
        ),
    ],
)
def test_refused_queries_carry_salesforce_code_and_message(
    text: str, code: str, detail: str
) -> None:
    error = error_of(text)
    assert error.error_code == code
    assert detail in error.message
    assert error.to_json() == [{"message": error.message, "errorCode": code}]


def test_syntax_errors_point_at_the_row_and_column() -> None:
    error = error_of("SELECT Id\nFROM Lead\nWHERE Foo = 1")
    assert (error.error_code, error.row, error.column) == ("INVALID_FIELD", 3, 7)
    assert error.message.startswith("\nWHERE Foo = 1\n      ^\nERROR at Row:3:Column:7\n")


def test_a_syntax_error_is_reported_before_an_unknown_name() -> None:
    assert error_of("SELECT Foo FROM Bar WHERE").error_code == "MALFORMED_QUERY"
