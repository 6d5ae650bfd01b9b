"""sync.toml: the shipped default, every kind of problem (all reported, with lines), schema checks
against describe/properties metadata, and dump/load round trips."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from sync_engine.config import (
    ConfigError,
    ConfigProblem,
    FieldMapping,
    ObjectSync,
    SyncConfig,
    ValueMap,
    dump_config,
    load_config,
    locate_keys,
    parse_config,
    save_config,
    validate_against_schema,
)
from sync_engine.errors import FatalError
from sync_engine.inclusion import Criterion, Group, Join, Operator
from sync_engine.models import (
    CreateAs,
    DeletionPolicy,
    Direction,
    FieldMeta,
    NoCompany,
    PropertyMeta,
    Rule,
    Transform,
)

pytestmark = pytest.mark.unit

SHIPPED = Path(__file__).resolve().parents[2] / "sync.toml"

MINIMAL = """\
[objects.contact]

[[objects.contact.fields]]
hubspot = "email"
salesforce = "Email"
transform = "email"
"""


def problems_of(text: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text))
    return caught.value.problems


# ------------------------------------------------------------------ the shipped default


def test_shipped_sync_toml_loads_with_the_standard_mappings() -> None:
    config = load_config(SHIPPED)
    contact, company, deal = (config.object(n) for n in ("contact", "company", "deal"))
    assert contact and company and deal
    pairs = {(m.hubspot, m.salesforce) for m in contact.fields}
    for pair in [
        ("firstname", "FirstName"),
        ("lastname", "LastName"),
        ("email", "Email"),
        ("phone", "Phone"),
        ("company", "Company"),
        ("jobtitle", "Title"),
        ("hs_lead_status", "Status"),
        ("lead_source", "LeadSource"),
        ("hubspot_owner_id", "OwnerId"),
        ("city", "City"),
        ("city", "MailingCity"),
    ]:
        assert pair in pairs
    assert {m.salesforce for m in company.fields} >= {"Name", "Website", "Industry"}
    assert {m.salesforce for m in deal.fields} >= {"Name", "Amount", "StageName", "CloseDate"}
    # Opportunities are read-only in HubSpot by default, the common setup.
    assert deal.direction is Direction.SALESFORCE_TO_HUBSPOT and not deal.create_in_salesforce
    assert contact.create_as is CreateAs.LEAD
    assert config.guards.loop_detection and config.deletion is DeletionPolicy.FLAG
    assert not any(a.enabled for a in config.activities)
    # City maps to City on Leads and MailingCity on Contacts.
    assert {m.salesforce for m in contact.mappings_for("Contact") if m.hubspot == "city"} == {
        "MailingCity"
    }
    assert "Company" not in {m.salesforce for m in contact.mappings_for("Contact")}


def test_shipped_lead_source_map_lacks_some_hubspot_values_on_purpose() -> None:
    lead_source = load_config(SHIPPED).value_map("lead_source")
    assert lead_source is not None
    assert lead_source.salesforce_for("Organic Search") == "Web"
    assert lead_source.salesforce_for("Paid Social") is None
    assert lead_source.salesforce_for("Content Download") is None


def test_shipped_sync_toml_matches_the_sandbox_schemas() -> None:
    sf_schema = pytest.importorskip("sandbox.salesforce.schema")
    hs_schema = pytest.importorskip("sandbox.hubspot.schema")
    profile = next(p for p in sf_schema.PROFILES if p.name == sf_schema.INTEGRATION_PROFILE)
    sf_fields = {
        name: {
            f["name"]: FieldMeta.from_describe(f)
            for f in sf_schema.SCHEMA.describe_object(name, version="59.0", profile=profile)[
                "fields"
            ]
        }
        for name in ("Lead", "Contact", "Account", "Opportunity")
    }
    hs_props = {
        object_type: {
            name: PropertyMeta(
                name,
                d.type,
                options=tuple(o.value for o in d.options),
                read_only=d.read_only,
            )
            for name, d in props.items()
        }
        for object_type, props in hs_schema.PROPERTIES.items()
    }
    config = load_config(SHIPPED)
    assert validate_against_schema(config, sf_fields, hs_props) == []


def test_shipped_sync_toml_round_trips_through_dump() -> None:
    config = load_config(SHIPPED)
    assert parse_config(dump_config(config)) == config


# ------------------------------------------------------------------ problems, one kind each


@pytest.mark.parametrize(
    ("text", "line", "path", "message"),
    [
        (
            MINIMAL + 'rule = "prefer_sf"\n',
            7,
            "objects.contact.fields[0].rule",
            "'prefer_sf' is not a rule; use one of prefer_salesforce_unless_blank, "
            "always_salesforce, always_hubspot, most_recent",
        ),
        (
            MINIMAL + 'direction = "both"\n',
            7,
            "objects.contact.fields[0].direction",
            "'both' is not a direction; use one of two_way",
        ),
        (MINIMAL + 'transform = "upper"\n', 7, "", "Cannot overwrite a value"),
        (
            MINIMAL.replace('transform = "email"', 'transform = "upper"'),
            6,
            "objects.contact.fields[0].transform",
            "'upper' is not a transform",
        ),
        (
            MINIMAL + 'directon = "two_way"\n',
            7,
            "objects.contact.fields[0].directon",
            "unknown key 'directon'; did you mean 'direction'?",
        ),
        (
            MINIMAL + 'value_map = "sources"\n',
            7,
            "objects.contact.fields[0].value_map",
            "no value map named 'sources'",
        ),
        (
            MINIMAL.replace('salesforce = "Email"', 'salesforce = "E-mail"'),
            5,
            "objects.contact.fields[0].salesforce",
            "'E-mail' is not a Salesforce field API name",
        ),
        (
            MINIMAL.replace('hubspot = "email"\n', ""),
            3,
            "objects.contact.fields[0].hubspot",
            'missing the HubSpot property name; add hubspot = "..."',
        ),
        (
            MINIMAL + 'salesforce_objects = ["Account"]\n',
            7,
            "objects.contact.fields[0].salesforce_objects",
            "'Account' is not one of this object's Salesforce objects (Lead, Contact)",
        ),
        (
            "[objects.person]\nenabled = true\n",
            1,
            "objects.person",
            "unknown object 'person'; use one of contact, company, deal",
        ),
        (
            '[objects.company]\ncreate_as = "lead"\n',
            2,
            "objects.company.create_as",
            "unknown key 'create_as'",
        ),
        (
            '[objects.contact]\ncreate_as = "contact"\n',
            2,
            "objects.contact.create_as",
            "'contact' is not a create_as choice; use one of lead, contact_when_account_exists",
        ),
        (
            '[schedule]\ninterval_seconds = "fast"\n',
            2,
            "schedule.interval_seconds",
            "expected a whole number, got 'fast'",
        ),
        (
            "[guards.budget]\nper_run_share = 1.5\n",
            2,
            "guards.budget.per_run_share",
            "1.5 is out of range; use a value above 0.0 and at most 1.0",
        ),
        (
            '[deletion]\npolicy = "purge"\n',
            2,
            "deletion.policy",
            "'purge' is not a deletion policy; use one of archive, flag",
        ),
        (
            "[activities.sms]\nenabled = true\n",
            1,
            "activities.sms",
            "unknown key 'sms'",
        ),
        ('colour = "blue"\n', 1, "colour", "unknown key 'colour'"),
        ("version = 2\n", 1, "version", "version 2 is not supported"),
        (
            '[value_maps.lead_source]\nnote = "empty"\n',
            1,
            "value_maps.lead_source",
            "the value map has no entries",
        ),
        (
            '[value_maps.x.to_salesforce]\nWeb = "Web"\nweb = "Other"\n',
            3,
            "value_maps.x.to_salesforce.web",
            "'web' repeats 'Web' (lookups ignore case); keep one",
        ),
        (
            '[inclusion]\ncriteria = [\n  { property = "hubspotscore", operator = "between", '
            "value = [1] },\n]\n",
            3,
            "inclusion.criteria[0]",
            "between needs two values [low, high]",
        ),
        (
            '[inclusion]\ncriteria = [\n  { property = "hubspotscore", operator = "gte=", '
            "value = 50 },\n]\n",
            3,
            "inclusion.criteria[0].operator",
            "'gte=' is not an operator",
        ),
        (
            '[[inclusion.groups]]\njoin = "or"\n',
            1,
            "inclusion.groups[0]",
            "an empty group would match every contact (or none)",
        ),
        (
            '[hubspot]\naccess_token = "x"\n',
            2,
            "hubspot.access_token",
            "looks like a secret: secrets never belong in sync.toml",
        ),
        (
            '[schedule]\nnote = "pat-na1-0a1b2c3d-4e5f-6789-abcd-ef0123456789"\n',
            2,
            "schedule.note",
            "this value looks like a token",
        ),
        ("[deletion]\nrecords_check_minutes = -5\n", 2, "deletion.records_check_minutes", "-5"),
    ],
)
def test_each_problem_names_line_path_and_fix(
    text: str, line: int, path: str, message: str
) -> None:
    found = problems_of(text)
    assert any(p.line == line and p.path == path and message in p.message for p in found), found


def test_secrets_are_never_echoed_in_messages() -> None:
    token = "pat-na1-0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    with pytest.raises(ConfigError) as caught:
        parse_config(f'[objects.contact]\nnote = "{token}"\npassword = "hunter2-hunter2"\n')
    assert token not in str(caught.value) and "hunter2" not in str(caught.value)
    assert len(caught.value.problems) == 2


def test_all_problems_are_reported_at_once_in_line_order() -> None:
    text = textwrap.dedent(
        """\
        [schedule]
        interval_seconds = 0

        [objects.contact]
        create_as = "account"

        [[objects.contact.fields]]
        hubspot = "email"
        salesforce = "Email"
        rule = "prefer_sf"

        [[objects.contact.fields]]
        hubspot = "phone"
        salesforce = "Phone"
        direction = "sideways"
        value_map = "missing"
        """
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="conf/sync.toml")
    lines = str(caught.value).splitlines()
    assert [p.line for p in caught.value.problems] == [2, 5, 10, 15, 16]
    assert len(lines) == 5
    assert lines[2] == (
        "conf/sync.toml:10: objects.contact.fields[0].rule: 'prefer_sf' is not a rule; use one "
        "of prefer_salesforce_unless_blank, always_salesforce, always_hubspot, most_recent"
    )
    assert all(line.startswith("conf/sync.toml:") for line in lines)


def test_a_toml_syntax_error_is_one_line_with_its_position() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("[schedule]\ninterval_seconds = 300\nrule = prefer_sf\n")
    assert str(caught.value).startswith("sync.toml:3: not valid TOML (column 8")
    assert "\n" not in str(caught.value)


def test_a_missing_file_is_one_clear_fatal_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.toml")
    assert isinstance(caught.value, FatalError)
    assert "file not found; set SYNC_CONFIG" in str(caught.value)


def test_duplicate_mappings_for_one_salesforce_object_are_refused() -> None:
    found = problems_of(
        """\
        [objects.contact]
        [[objects.contact.fields]]
        hubspot = "city"
        salesforce = "City"
        salesforce_objects = ["Lead"]
        [[objects.contact.fields]]
        hubspot = "city"
        salesforce = "MailingCity"
        [[objects.contact.fields]]
        hubspot = "town"
        salesforce = "City"
        """
    )
    assert [(p.line, p.path) for p in found] == [
        (7, "objects.contact.fields[1].hubspot"),
        (11, "objects.contact.fields[2].salesforce"),
    ]
    # The same property on Lead and Contact fields is fine when each is limited.
    parse_config(
        'objects.contact.fields = [{hubspot = "city", salesforce = "City", salesforce_objects '
        '= ["Lead"]}, {hubspot = "city", salesforce = "MailingCity", salesforce_objects = '
        '["Contact"]}]\n'
    )


def test_value_map_with_a_non_text_transform_is_refused() -> None:
    found = problems_of(
        '[value_maps.m.to_salesforce]\na = "b"\n[objects.deal]\n[[objects.deal.fields]]\n'
        'hubspot = "amount"\nsalesforce = "Amount"\ntransform = "number"\nvalue_map = "m"\n'
    )
    assert [(p.line, p.path) for p in found] == [(7, "objects.deal.fields[0].transform")]


# ------------------------------------------------------------------ line location


def test_locate_keys_follows_tables_arrays_and_inline_values() -> None:
    text = textwrap.dedent(
        """\
        # comment [not.a.table]
        top = 1
        [a]
        b.c = "x # not a comment"
        [[a.items]]
        name = "first"
        [[a.items]]
        name = 'second'
        [a.items.sub]
        deep = true
        arr = [
          { k = 1 },
          { k = 2, "quoted key" = 3 },
        ]
        """
    )
    lines = locate_keys(text)
    assert lines[("top",)] == 2
    assert lines[("a", "b", "c")] == 4
    assert lines[("a", "items", 0, "name")] == 6
    assert lines[("a", "items", 1, "name")] == 8
    assert lines[("a", "items", 1, "sub", "deep")] == 10
    assert lines[("a", "items", 1, "sub", "arr", 1, "quoted key")] == 13
    assert lines[("a", "items", 1, "sub", "arr", 0)] == 12


# ------------------------------------------------------------------ schema validation

SF_FIELDS = {
    "Lead": {
        "Email": FieldMeta("Email", "email"),
        "LeadSource": FieldMeta(
            "LeadSource",
            "picklist",
            picklist_values=("Web", "Phone Inquiry", "Other"),
            restricted_picklist=True,
        ),
        "Name": FieldMeta("Name", "string", updateable=False, createable=False),
        "NumberOfEmployees": FieldMeta("NumberOfEmployees", "int"),
    },
}
HS_PROPS = {
    "contacts": {
        "email": PropertyMeta("email", "string"),
        "lead_source": PropertyMeta("lead_source", "enumeration", options=("Web", "Webinar")),
        "hubspotscore": PropertyMeta("hubspotscore", "number", read_only=True),
        "fullname": PropertyMeta("fullname", "string"),
        "numemployees": PropertyMeta("numemployees", "enumeration", options=("1-5",)),
    }
}


def _schema_problems(extra_fields: str, extra: str = "") -> list[ConfigProblem]:
    text = (
        '[value_maps.lead_source.to_salesforce]\nWeb = "Web"\nWebinar = "Webinars"\n'
        '[objects.contact]\nsalesforce_objects = ["Lead"]\n' + extra_fields + extra
    )
    return validate_against_schema(parse_config(text), SF_FIELDS, HS_PROPS)


@pytest.mark.parametrize(
    ("fields", "line", "path", "message"),
    [
        (
            '[[objects.contact.fields]]\nhubspot = "email"\nsalesforce = "Emial"\n',
            8,
            "objects.contact.fields[0].salesforce",
            "Salesforce Lead has no field 'Emial'; did you mean 'Email'?",
        ),
        (
            '[[objects.contact.fields]]\nhubspot = "emali"\nsalesforce = "Email"\n',
            7,
            "objects.contact.fields[0].hubspot",
            "HubSpot contacts have no property 'emali'; did you mean 'email'?",
        ),
        (
            '[[objects.contact.fields]]\nhubspot = "lead_source"\nsalesforce = "LeadSource"\n'
            'value_map = "lead_source"\n',
            3,
            "value_maps.lead_source.to_salesforce.Webinar",
            "'Webinars' is not a value of the Lead.LeadSource picklist; "
            "use one of: Web, Phone Inquiry, Other",
        ),
        (
            '[[objects.contact.fields]]\nhubspot = "fullname"\nsalesforce = "Name"\n'
            'direction = "hubspot_to_salesforce"\n',
            9,
            "objects.contact.fields[0].direction",
            "Lead.Name is read-only for the integration user",
        ),
        (
            '[[objects.contact.fields]]\nhubspot = "hubspotscore"\nsalesforce = "Email"\n',
            6,  # no direction key (two_way by default): the table's line
            "objects.contact.fields[0].direction",
            "HubSpot property 'hubspotscore' is read-only",
        ),
        (
            '[[objects.contact.fields]]\nhubspot = "email"\nsalesforce = "Email"\n'
            'transform = "number"\n',
            9,
            "objects.contact.fields[0].transform",
            "transform 'number' does not fit Lead.Email (a email field); "
            "use transform = 'text' or 'email'",
        ),
        (
            '[[objects.contact.fields]]\nhubspot = "numemployees"\n'
            'salesforce = "NumberOfEmployees"\n',
            6,
            "objects.contact.fields[0].transform",
            "transform 'text' does not fit Lead.NumberOfEmployees (a int field); use transform = "
            "'number' or 'integer' or 'employee_range'",
        ),
    ],
)
def test_schema_problems_name_the_field_and_the_fix(
    fields: str, line: int, path: str, message: str
) -> None:
    found = _schema_problems(fields)
    assert any(p.line == line and p.path == path and message in p.message for p in found), found


def test_schema_check_refuses_uncomparable_inclusion_criteria() -> None:
    found = _schema_problems(
        "",
        '[inclusion]\ncriteria = [\n  { property = "hubspotscore", operator = "gte", '
        'value = "abc" },\n]\n',
    )
    assert [(p.line, p.path) for p in found] == [(8, "inclusion.criteria[0]")]
    assert "hubspotscore >= 'abc': 'abc' is not a number" in found[0].message


def test_one_way_none_fields_skip_writability_checks() -> None:
    found = _schema_problems(
        '[[objects.contact.fields]]\nhubspot = "fullname"\nsalesforce = "Name"\n'
        'direction = "salesforce_to_hubspot"\n'
    )
    assert found == []


# ------------------------------------------------------------------ dump / load


def test_edited_config_round_trips_through_dump() -> None:
    config = load_config(SHIPPED)
    lead_source = config.value_map("lead_source")
    assert lead_source is not None
    edited = config.with_value_map(lead_source.with_entry("Paid Social", "Advertisement"))
    edited = edited.with_value_map(
        ValueMap("brand new", to_salesforce=(('a "quoted" value', "B"),))
    )
    edited = edited.with_inclusion(
        Group(
            Join.OR,
            (Criterion("", Operator.IN_LIST, "MQLs - ready for sales"),),
            (
                Group(
                    Join.AND,
                    (
                        Criterion("hubspotscore", Operator.BETWEEN, (10, 49.5)),
                        Criterion("jobtitle", Operator.CONTAINS, "vp"),
                    ),
                    (Group(Join.OR, (Criterion("country", Operator.NOT_IN, ("FR", "DE")),)),),
                ),
            ),
        )
    )
    edited = replace(
        edited,
        owner_aliases=(("j.smith@brightwave.io", "jsmith@brightwave.com"),),
    )
    reloaded = parse_config(dump_config(edited))
    assert reloaded == edited
    assert reloaded.value_maps[0].name == "lead_source"  # edited in place
    assert reloaded.value_map("lead_source").salesforce_for("paid social") == "Advertisement"
    assert reloaded.value_map("brand new").salesforce_for('A "QUOTED" value') == "B"


def test_programmatic_config_round_trips() -> None:
    config = SyncConfig(
        objects=(
            ObjectSync(
                name="contact",
                create_as=CreateAs.CONTACT_WHEN_ACCOUNT_EXISTS,
                no_company=NoCompany.FLAG,
                fields=(
                    FieldMapping(
                        "lead_source",
                        "LeadSource",
                        Direction.HUBSPOT_TO_SALESFORCE,
                        Rule.ALWAYS_HUBSPOT,
                        value_map="src",
                    ),
                    FieldMapping(
                        "numemployees", "NumberOfEmployees", transform=Transform.EMPLOYEE_RANGE
                    ),
                ),
            ),
        ),
        value_maps=(ValueMap("src", (("Web", "Web"),), (("Other", "Web"),), pass_unmapped=True),),
        deletion=DeletionPolicy.ARCHIVE,
    )
    assert parse_config(dump_config(config)) == config


def test_save_config_writes_a_loadable_file_and_refuses_a_broken_one(tmp_path: Path) -> None:
    target = tmp_path / "sync.toml"
    config = load_config(SHIPPED)
    save_config(config, target)
    assert load_config(target) == config
    before = target.read_text()
    broken = replace(
        config,
        objects=(ObjectSync("contact", fields=(FieldMapping("x", "X", value_map="missing"),)),),
    )
    with pytest.raises(ConfigError, match="no value map named 'missing'"):
        save_config(broken, target)
    assert target.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["sync.toml"]


def _comment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def test_saving_over_a_commented_file_keeps_its_comments(tmp_path: Path) -> None:
    target = tmp_path / "sync.toml"
    original = SHIPPED.read_text()
    target.write_text(original)
    config = load_config(target)
    lead_source = config.value_map("lead_source")
    assert lead_source is not None
    edited = config.with_value_map(lead_source.with_entry("Paid Social", "Advertisement"))
    save_config(edited, target)
    saved = target.read_text()
    assert load_config(target) == edited
    assert _comment_lines(saved) == _comment_lines(original)
    # A comment stays above the key it explains.
    lines = saved.splitlines()
    assert lines[lines.index("interval_seconds = 60") - 1].startswith("# at most a minute")
    # Saving again changes nothing.
    save_config(edited, target)
    assert target.read_text() == saved


def test_saving_a_fresh_file_writes_section_notes_once(tmp_path: Path) -> None:
    target = tmp_path / "sync.toml"
    config = load_config(SHIPPED)
    save_config(config, target)
    first = target.read_text()
    save_config(config, target)
    assert target.read_text() == first
    assert first.count("# How often a sync cycle runs") == 1


@pytest.mark.parametrize(
    ("deal_props", "text", "wrong"),
    [
        ({}, "", "have no property 'hs_salesforceopportunityid'"),
        (
            {"hs_salesforceopportunityid": PropertyMeta("x", "string", read_only=True)},
            "",
            "have a read-only property 'hs_salesforceopportunityid'",
        ),
        ({"hs_salesforceopportunityid": PropertyMeta("x", "string")}, "", None),
        ({}, "create_in_hubspot = false\n", None),
        ({}, 'direction = "hubspot_to_salesforce"\n', None),
    ],
)
def test_deals_created_in_hubspot_need_the_property_that_keeps_their_opportunity_id(
    deal_props: dict[str, PropertyMeta], text: str, wrong: str | None
) -> None:
    config = parse_config("[objects.deal]\n" + text)
    found = validate_against_schema(config, {}, {"deals": deal_props})
    if wrong is None:
        assert found == []
    else:
        assert [p.path for p in found] == ["objects.deal.create_in_hubspot"]
        assert wrong in found[0].message and "create_in_hubspot = false" in found[0].message


def test_the_hubspot_deletion_checks_have_cadences_of_their_own() -> None:
    config = parse_config("[deletion]\nrecords_check_minutes = 15\n")
    assert (config.record_deletion_check_minutes, config.deletion_check_minutes) == (15, 60)
    assert parse_config(dump_config(config)) == config
