"""The three-way merge: one-sided changes, conflicts by rule, directions, first sync, value-map
and blank equality, unmappable values, and whole-record merges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync_engine.config import FieldMapping, ValueMap, load_config
from sync_engine.conflicts import (
    Action,
    FieldValue,
    decide_field,
    merge_record,
)
from sync_engine.mapping import (
    MappingContext,
    OwnerDirectory,
    canonical_from_hubspot,
    canonical_from_salesforce,
)
from sync_engine.models import Direction, Rule, System, Transform

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=1)


def text_field(
    direction: Direction = Direction.TWO_WAY, rule: Rule = Rule.MOST_RECENT
) -> FieldMapping:
    return FieldMapping("jobtitle", "Title", direction, rule)


def hs(value: object, at: datetime | None = None) -> FieldValue:
    return FieldValue(value, at)


sf = hs


@pytest.mark.parametrize("rule", list(Rule))
@pytest.mark.parametrize(
    ("base", "hs_value", "sf_value", "action", "value", "reason"),
    [
        ("CEO", "CTO", "CEO", Action.WRITE_SALESFORCE, "CTO", "hubspot_changed"),
        ("CEO", "CEO", "CFO", Action.WRITE_HUBSPOT, "CFO", "salesforce_changed"),
        ("CEO", "CEO", "CEO", Action.NONE, None, "equal"),
        ("CEO", "CTO", "CTO", Action.NONE, None, "equal"),
        ("CEO", "", "CEO", Action.WRITE_SALESFORCE, None, "hubspot_changed"),
        ("CEO", "CEO", None, Action.WRITE_HUBSPOT, "", "salesforce_changed"),
        ("", "CTO", None, Action.WRITE_SALESFORCE, "CTO", "hubspot_changed"),
    ],
)
def test_one_sided_changes_are_taken_whatever_the_rule(
    rule: Rule,
    base: str,
    hs_value: str,
    sf_value: str | None,
    action: Action,
    value: str | None,
    reason: str,
) -> None:
    decision = decide_field(base, hs(hs_value), sf(sf_value), text_field(rule=rule))
    assert (decision.action, decision.value, decision.reason) == (action, value, reason)
    assert decision.conflict is None


@pytest.mark.parametrize(
    ("rule", "hs_value", "hs_at", "sf_value", "sf_at", "winner", "value"),
    [
        (Rule.PREFER_SALESFORCE_UNLESS_BLANK, "CTO", NOW, "CFO", EARLIER, System.SALESFORCE, "CFO"),
        (Rule.PREFER_SALESFORCE_UNLESS_BLANK, "CTO", NOW, "", EARLIER, System.HUBSPOT, "CTO"),
        (Rule.ALWAYS_SALESFORCE, "CTO", NOW, "CFO", EARLIER, System.SALESFORCE, "CFO"),
        (Rule.ALWAYS_SALESFORCE, "CTO", NOW, None, EARLIER, System.SALESFORCE, ""),
        (Rule.ALWAYS_HUBSPOT, "CTO", EARLIER, "CFO", NOW, System.HUBSPOT, "CTO"),
        (Rule.ALWAYS_HUBSPOT, "", EARLIER, "CFO", NOW, System.HUBSPOT, None),
        (Rule.MOST_RECENT, "CTO", NOW, "CFO", EARLIER, System.HUBSPOT, "CTO"),
        (Rule.MOST_RECENT, "CTO", EARLIER, "CFO", NOW, System.SALESFORCE, "CFO"),
        (Rule.MOST_RECENT, "CTO", NOW, "CFO", NOW, System.SALESFORCE, "CFO"),
        (Rule.MOST_RECENT, "CTO", None, "CFO", EARLIER, System.SALESFORCE, "CFO"),
    ],
)
def test_two_sided_changes_are_conflicts_settled_by_the_rule(
    rule: Rule,
    hs_value: str,
    hs_at: datetime | None,
    sf_value: str | None,
    sf_at: datetime,
    winner: System,
    value: str | None,
) -> None:
    decision = decide_field("CEO", hs(hs_value, hs_at), sf(sf_value, sf_at), text_field(rule=rule))
    expected_action = Action.WRITE_SALESFORCE if winner is System.HUBSPOT else Action.WRITE_HUBSPOT
    assert decision.action is expected_action
    assert decision.value == value
    assert decision.reason == f"conflict:{rule.value}"
    assert decision.conflict is not None
    assert decision.conflict.winner is winner and decision.conflict.rule is rule
    assert decision.conflict.base == "CEO"
    assert (decision.conflict.hubspot, decision.conflict.salesforce) == (
        hs_value or None,
        sf_value or None,
    )
    assert decision.new_base == (value or "")


def test_most_recent_compares_naive_times_as_utc() -> None:
    naive_later = datetime(2026, 11, 28, 13, 0)
    decision = decide_field("CEO", hs("CTO", naive_later), sf("CFO", NOW), text_field())
    assert decision.conflict is not None and decision.conflict.winner is System.HUBSPOT


@pytest.mark.parametrize(
    ("direction", "hs_value", "sf_value", "action", "reason"),
    [
        (Direction.HUBSPOT_TO_SALESFORCE, "CTO", "CEO", Action.WRITE_SALESFORCE, "hubspot_changed"),
        (Direction.HUBSPOT_TO_SALESFORCE, "CEO", "CFO", Action.NONE, "direction"),
        (Direction.HUBSPOT_TO_SALESFORCE, "CTO", "CFO", Action.WRITE_SALESFORCE, "hubspot_changed"),
        (Direction.SALESFORCE_TO_HUBSPOT, "CEO", "CFO", Action.WRITE_HUBSPOT, "salesforce_changed"),
        (Direction.SALESFORCE_TO_HUBSPOT, "CTO", "CEO", Action.NONE, "direction"),
        (Direction.SALESFORCE_TO_HUBSPOT, "CTO", "CFO", Action.WRITE_HUBSPOT, "salesforce_changed"),
        (Direction.NONE, "CTO", "CFO", Action.NONE, "disabled"),
        (Direction.NONE, "CTO", "CEO", Action.NONE, "disabled"),
    ],
)
def test_direction_limits_what_may_be_written(
    direction: Direction, hs_value: str, sf_value: str, action: Action, reason: str
) -> None:
    # The rule would pick the other side: a one-way field never conflicts, its source wins.
    rule = Rule.ALWAYS_SALESFORCE if direction.to_salesforce else Rule.ALWAYS_HUBSPOT
    decision = decide_field("CEO", hs(hs_value), sf(sf_value), text_field(direction, rule))
    assert (decision.action, decision.reason, decision.conflict) == (action, reason, None)
    if action is Action.NONE:
        assert decision.new_base == "CEO"  # nothing agreed: the base stays


@pytest.mark.parametrize(
    ("direction", "rule", "hs_value", "sf_value", "action", "value", "reason", "conflict"),
    [
        # a blank never overwrites a value
        (
            Direction.TWO_WAY,
            Rule.ALWAYS_HUBSPOT,
            "",
            "CFO",
            Action.WRITE_HUBSPOT,
            "CFO",
            "initial_salesforce",
            False,
        ),
        (
            Direction.TWO_WAY,
            Rule.ALWAYS_SALESFORCE,
            "CTO",
            None,
            Action.WRITE_SALESFORCE,
            "CTO",
            "initial_hubspot",
            False,
        ),
        # both set and different: the rule decides, recorded as a conflict without base
        (
            Direction.TWO_WAY,
            Rule.PREFER_SALESFORCE_UNLESS_BLANK,
            "CTO",
            "CFO",
            Action.WRITE_HUBSPOT,
            "CFO",
            "initial_salesforce",
            True,
        ),
        (
            Direction.TWO_WAY,
            Rule.ALWAYS_HUBSPOT,
            "CTO",
            "CFO",
            Action.WRITE_SALESFORCE,
            "CTO",
            "initial_hubspot",
            True,
        ),
        # one-way: only the source may be copied
        (
            Direction.HUBSPOT_TO_SALESFORCE,
            Rule.ALWAYS_SALESFORCE,
            "CTO",
            "CFO",
            Action.WRITE_SALESFORCE,
            "CTO",
            "initial_hubspot",
            True,
        ),
        (
            Direction.SALESFORCE_TO_HUBSPOT,
            Rule.ALWAYS_HUBSPOT,
            "CTO",
            None,
            Action.NONE,
            None,
            "direction",
            False,
        ),
        (Direction.TWO_WAY, Rule.MOST_RECENT, None, "", Action.NONE, None, "equal", False),
    ],
)
def test_first_sync_without_base(
    direction: Direction,
    rule: Rule,
    hs_value: str | None,
    sf_value: str | None,
    action: Action,
    value: str | None,
    reason: str,
    conflict: bool,
) -> None:
    decision = decide_field(
        None, hs(hs_value, NOW), sf(sf_value, EARLIER), text_field(direction, rule)
    )
    assert (decision.action, decision.value, decision.reason) == (action, value, reason)
    assert (decision.conflict is not None) is conflict
    if conflict:
        assert decision.conflict is not None and decision.conflict.base is None
    if action is Action.NONE and reason == "direction":
        assert decision.new_base is None  # still never synced


def test_blank_base_differs_from_no_base() -> None:
    # "" = a blank was synced: a value appearing on one side is a change, not a first sync.
    synced_blank = decide_field("", hs("CTO"), sf("CFO"), text_field(rule=Rule.ALWAYS_HUBSPOT))
    assert synced_blank.reason == "conflict:always_hubspot"
    never = decide_field(None, hs("CTO"), sf("CFO"), text_field(rule=Rule.ALWAYS_HUBSPOT))
    assert never.reason == "initial_hubspot"


LEAD_SOURCE = FieldMapping(
    "lead_source", "LeadSource", Direction.TWO_WAY, Rule.ALWAYS_HUBSPOT, value_map="src"
)
CONTEXT = MappingContext(
    value_maps={
        "src": ValueMap(
            "src",
            (("Website", "Web"), ("Organic Search", "Web"), ("Fair", "Trade Show")),
            (("Web", "Website"),),
        )
    }
)


@pytest.mark.parametrize(
    ("base", "hs_value", "sf_value"),
    [
        ("Web", "website", "web"),
        ("Web", "Organic Search", "Web"),  # many-to-one: still the same Salesforce value
        (None, "WEBSITE", "Web"),
        ("", "", None),
        (None, None, "  "),
    ],
)
def test_values_equal_after_mapping_need_no_write(
    base: str | None, hs_value: str | None, sf_value: str | None
) -> None:
    decision = decide_field(base, hs(hs_value), sf(sf_value), LEAD_SOURCE, context=CONTEXT)
    assert (decision.action, decision.reason) == (Action.NONE, "equal")


INDUSTRY = FieldMapping(
    "industry", "Industry", Direction.TWO_WAY, Rule.PREFER_SALESFORCE_UNLESS_BLANK, value_map="ind"
)
# Many to one both ways: Communications and Telecommunications are one HubSpot option.
INDUSTRY_CONTEXT = MappingContext(
    value_maps={
        "ind": ValueMap(
            "ind",
            (("TELECOMMUNICATIONS", "Telecommunications"), ("MACHINERY", "Machinery")),
            (("Communications", "TELECOMMUNICATIONS"), ("Manufacturing", "MACHINERY")),
        )
    }
)


@pytest.mark.parametrize(
    ("sf_value", "hs_value"),
    [("Communications", "TELECOMMUNICATIONS"), ("Manufacturing", "machinery")],
)
@pytest.mark.parametrize("base_from", ["salesforce", "hubspot", None])
def test_a_salesforce_value_and_the_hubspot_value_it_maps_to_agree(
    sf_value: str, hs_value: str, base_from: str | None
) -> None:
    """A company created from an Account holds the HubSpot value the Account's maps to; read
    back through to_salesforce it is another Salesforce value of the same HubSpot option. The
    two sides agree: nothing is written (the Account's Industry used to be overwritten)."""
    base = {
        "salesforce": canonical_from_salesforce(INDUSTRY, sf_value, INDUSTRY_CONTEXT).value,
        "hubspot": canonical_from_hubspot(INDUSTRY, hs_value, INDUSTRY_CONTEXT).value,
        None: None,
    }[base_from]
    decision = decide_field(
        base, hs(hs_value, NOW), sf(sf_value, EARLIER), INDUSTRY, context=INDUSTRY_CONTEXT
    )
    assert (decision.action, decision.reason) == (Action.NONE, "equal")


def test_a_salesforce_change_within_one_hubspot_option_writes_nothing() -> None:
    """Telecommunications -> Communications in Salesforce: HubSpot already holds the option
    both map to; a change to another option is written."""
    base = canonical_from_salesforce(INDUSTRY, "Telecommunications", INDUSTRY_CONTEXT).value
    same = decide_field(
        base, hs("TELECOMMUNICATIONS"), sf("Communications"), INDUSTRY, context=INDUSTRY_CONTEXT
    )
    assert same.action is Action.NONE
    other = decide_field(
        base, hs("TELECOMMUNICATIONS"), sf("Manufacturing"), INDUSTRY, context=INDUSTRY_CONTEXT
    )
    assert (other.action, other.value) == (Action.WRITE_HUBSPOT, "MACHINERY")


def test_mapped_values_are_written_in_the_target_spelling() -> None:
    to_sf = decide_field("Web", hs("fair"), sf("Web"), LEAD_SOURCE, context=CONTEXT)
    assert (to_sf.action, to_sf.value, to_sf.new_base) == (
        Action.WRITE_SALESFORCE,
        "Trade Show",
        "Trade Show",
    )
    to_hs = decide_field("Trade Show", hs("Fair"), sf("web"), LEAD_SOURCE, context=CONTEXT)
    assert (to_hs.action, to_hs.value, to_hs.new_base) == (Action.WRITE_HUBSPOT, "Website", "Web")


def test_unmappable_values_are_reported_not_written() -> None:
    decision = decide_field("Web", hs("Podcast"), sf("Web"), LEAD_SOURCE, context=CONTEXT)
    assert (decision.action, decision.reason, decision.new_base) == (
        Action.NONE,
        "unmappable",
        "Web",
    )
    assert decision.issue is not None and decision.issue.value == "Podcast"
    back = decide_field("Web", hs("Website"), sf("Other"), LEAD_SOURCE, context=CONTEXT)
    assert back.action is Action.NONE and back.issue is not None
    assert "no HubSpot value" in back.issue.reason


# to_hubspot maps Salesforce "Advertisement" to HubSpot "Paid Social", and to_salesforce has no
# entry for "Paid Social": the sync writes a value it cannot read back (sync.toml's lead_source).
ONE_WAY = MappingContext(
    value_maps={"src": ValueMap("src", (("Web", "Web"),), (("Advertisement", "Paid Social"),))}
)


@pytest.mark.parametrize("base", ["Advertisement", None])
@pytest.mark.parametrize("hs_value", ["Paid Social", "paid social "])
def test_a_hubspot_value_written_from_salesforce_agrees_though_it_has_no_way_back(
    base: str | None, hs_value: str
) -> None:
    """The pair holds Salesforce's value and the HubSpot value it is written as: nothing to
    write and nothing to refuse (each later decision used to file "'Paid Social' has no entry
    in value map" for a value the sync had written itself)."""
    decision = decide_field(
        base, hs(hs_value, NOW), sf("Advertisement", EARLIER), LEAD_SOURCE, context=ONE_WAY
    )
    assert (decision.action, decision.reason, decision.issue) == (Action.NONE, "equal", None)
    assert decision.new_base == "Advertisement"


def test_a_hubspot_value_with_no_way_back_is_still_refused_where_it_is_a_change() -> None:
    """Paid Social set in HubSpot on a pair that agreed on Web is not Salesforce's value
    written over: it is refused as unmappable, and the base stays."""
    decision = decide_field("Web", hs("Paid Social", NOW), sf("Web"), LEAD_SOURCE, context=ONE_WAY)
    assert (decision.action, decision.reason, decision.new_base) == (
        Action.NONE,
        "unmappable",
        "Web",
    )
    assert decision.issue is not None and decision.issue.value == "Paid Social"


def test_phone_formatting_is_not_a_change() -> None:
    phone = FieldMapping("phone", "Phone", transform=Transform.PHONE)
    decision = decide_field("+1 555 010 2000", hs("+1 (555) 010-2000"), sf("+15550102000"), phone)
    assert (decision.action, decision.reason) == (Action.NONE, "equal")


# ------------------------------------------------------------------ whole records

SHIPPED = load_config(Path(__file__).resolve().parents[2] / "sync.toml")
SF_REP = "0055g00000AbCdEAAZ"
SHIPPED_CONTEXT = MappingContext.from_config(
    SHIPPED,
    owners=OwnerDirectory.build(
        [{"id": "101", "email": "ana@brightwave.io"}, {"id": "102", "email": "bo@brightwave.io"}],
        [
            {"Id": SF_REP, "Email": "ana@brightwave.io", "IsActive": True},
            {"Id": "0055g00000BoBoBAAZ", "Email": "bo@brightwave.io", "IsActive": True},
        ],
    ),
)


def test_merge_record_over_a_lead() -> None:
    contact = SHIPPED.object("contact")
    assert contact is not None
    base = {
        "email": "jo@acme.com",
        "firstname": "Jo",
        "phone": "+1 555 010 2000",
        "jobtitle": "CEO",
        "lead_source": "Web",
        "hs_lead_status": "Open - Not Contacted",
        "hubspot_owner_id": "ana@brightwave.io",
    }
    hubspot = {
        "email": hs("JO@acme.com", NOW),
        "firstname": hs("Joanna", NOW),  # changed in HubSpot only
        "phone": hs("+1 555 010 9999", NOW),  # changed on both sides
        "jobtitle": hs("CEO", NOW),
        "lead_source": hs("Trade Show", NOW),
        "hs_lead_status": hs("NEW", NOW),
        "hubspot_owner_id": hs("101", NOW),
    }
    salesforce = {
        "Email": sf("jo@acme.com", EARLIER),
        "FirstName": sf("Jo", EARLIER),
        "Phone": sf("+1 555 010 7777", EARLIER),
        "Title": sf("Founder & CEO", EARLIER),  # changed in Salesforce only
        "LeadSource": sf("Web", EARLIER),
        "Status": sf("Working - Contacted", EARLIER),  # changed in Salesforce only
        "OwnerId": sf("0055g00000BoBoBAAZ", EARLIER),  # reassigned in Salesforce
    }
    merged = merge_record(base, hubspot, salesforce, contact, "Lead", context=SHIPPED_CONTEXT)
    assert merged.salesforce_updates == {"FirstName": "Joanna", "LeadSource": "Trade Show"}
    assert merged.hubspot_updates == {
        "phone": "+1 555 010 7777",  # prefer_salesforce_unless_blank
        "jobtitle": "Founder & CEO",
        "hs_lead_status": "IN_PROGRESS",
        "hubspot_owner_id": "102",
    }
    assert [(c.field, c.winner) for c in merged.conflicts] == [("phone", System.SALESFORCE)]
    assert merged.issues == ()
    assert merged.new_base["firstname"] == "Joanna"
    assert merged.new_base["hubspot_owner_id"] == "bo@brightwave.io"
    assert merged.new_base["email"] == "jo@acme.com"
    # Lead-only and disabled mappings: MailingCity is a Contact field, hubspotscore is off.
    assert "MailingCity" not in merged.salesforce_updates
    assert merged.new_base["hubspotscore"] is None


def test_merge_record_picks_the_deal_stage_map_by_pipeline() -> None:
    deal = SHIPPED.object("deal")
    assert deal is not None
    merged = merge_record(
        {"dealstage": "Needs Analysis"},
        {"dealstage": hs("146342715"), "pipeline": hs("75112203")},
        {"StageName": sf("Negotiation/Review")},
        deal,
        "Opportunity",
        context=SHIPPED_CONTEXT,
    )
    assert merged.hubspot_updates == {"dealstage": "146342716"}
