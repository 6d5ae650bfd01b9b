"""Inclusion criteria: typed operators, blanks, validation messages, list membership, and the
vectorised evaluator agreeing with the per-record one."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sync_engine.config import load_config
from sync_engine.inclusion import (
    Criterion,
    Group,
    Join,
    Operator,
    evaluate_frame,
    matches,
    validate_criteria,
)
from sync_engine.models import PropertyMeta

pytestmark = pytest.mark.unit

PROPS: dict[str, PropertyMeta] = {
    "hubspotscore": PropertyMeta("hubspotscore", "number"),
    "lifecyclestage": PropertyMeta(
        "lifecyclestage",
        "enumeration",
        options=("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "customer"),
    ),
    "jobtitle": PropertyMeta("jobtitle", "string"),
    "email": PropertyMeta("email", "string"),
    "recent_conversion_date": PropertyMeta("recent_conversion_date", "datetime"),
    "birthday": PropertyMeta("birthday", "date"),
    "hs_is_unworked": PropertyMeta("hs_is_unworked", "bool"),
}


def crit(prop: str, op: str, value: Any = None) -> Criterion:
    return Criterion(prop, Operator(op), tuple(value) if isinstance(value, list) else value)


@pytest.mark.parametrize(
    ("criterion", "record", "expected"),
    [
        (crit("hubspotscore", "gte", 50), {"hubspotscore": "50"}, True),
        (crit("hubspotscore", "gte", 50), {"hubspotscore": "49.5"}, False),
        (crit("hubspotscore", "gt", 50), {"hubspotscore": "50"}, False),
        (crit("hubspotscore", "lt", 50), {"hubspotscore": " 7 "}, True),
        (crit("hubspotscore", "lte", 50), {"hubspotscore": "50.0"}, True),
        (crit("hubspotscore", "eq", 50), {"hubspotscore": "50.0"}, True),
        (crit("hubspotscore", "neq", 50), {"hubspotscore": "51"}, True),
        (crit("hubspotscore", "between", [10, 20]), {"hubspotscore": "20"}, True),
        (crit("hubspotscore", "between", [10, 20]), {"hubspotscore": "21"}, False),
        (crit("hubspotscore", "in", [1, 2, 3]), {"hubspotscore": "2"}, True),
        (crit("hubspotscore", "not_in", [1, 2, 3]), {"hubspotscore": "4"}, True),
        (crit("hubspotscore", "gte", 50), {"hubspotscore": "abc"}, False),
        (crit("lifecyclestage", "eq", "customer"), {"lifecyclestage": "Customer"}, True),
        (
            crit("lifecyclestage", "in", ["marketingqualifiedlead", "customer"]),
            {"lifecyclestage": "lead"},
            False,
        ),
        (crit("lifecyclestage", "not_in", ["customer"]), {"lifecyclestage": "lead"}, True),
        (crit("jobtitle", "contains", "vp"), {"jobtitle": "VP Marketing"}, True),
        (crit("jobtitle", "contains", "cto"), {"jobtitle": "VP Marketing"}, False),
        (crit("jobtitle", "has_property"), {"jobtitle": "  "}, False),
        (crit("jobtitle", "has_property"), {"jobtitle": "CEO"}, True),
        (crit("jobtitle", "not_has_property"), {}, True),
        (
            crit("recent_conversion_date", "gte", "2026-01-01"),
            {"recent_conversion_date": "2026-01-01T08:00:00.000Z"},
            True,
        ),
        (
            crit("recent_conversion_date", "lt", "2026-01-01"),
            {"recent_conversion_date": "1767225600000"},  # 2026-01-01T00:00Z in epoch ms
            False,
        ),
        (crit("birthday", "eq", "1990-05-01"), {"birthday": "1990-05-01"}, True),
        (crit("hs_is_unworked", "eq", True), {"hs_is_unworked": "true"}, True),
        (crit("hs_is_unworked", "eq", True), {"hs_is_unworked": "false"}, False),
    ],
)
def test_operators_compare_by_property_type(
    criterion: Criterion, record: dict[str, Any], expected: bool
) -> None:
    assert matches(criterion, record, properties=PROPS) is expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("eq", 5, False),
        ("gt", 5, False),
        ("lt", 5, False),
        ("between", [1, 9], False),
        ("in", [1, 2], False),
        ("neq", 5, True),
        ("not_in", [1, 2], True),
        ("has_property", None, False),
        ("not_has_property", None, True),
    ],
)
@pytest.mark.parametrize("blank", [None, "", "   ", float("nan"), "missing"])
def test_blank_values_only_satisfy_negative_operators(
    op: str, value: Any, expected: bool, blank: Any
) -> None:
    record = {} if blank == "missing" else {"hubspotscore": blank}
    assert matches(crit("hubspotscore", op, value), record, properties=PROPS) is expected


def test_groups_join_and_or_and_nest() -> None:
    mql = crit("hubspotscore", "gte", 50)
    customer = crit("lifecyclestage", "eq", "customer")
    has_email = crit("email", "has_property")
    criteria = Group(Join.AND, (has_email,), (Group(Join.OR, (mql, customer)),))
    assert matches(criteria, {"email": "a@x.com", "hubspotscore": "80"}, properties=PROPS)
    assert matches(criteria, {"email": "a@x.com", "lifecyclestage": "customer"}, properties=PROPS)
    assert not matches(criteria, {"hubspotscore": "80"}, properties=PROPS)
    assert not matches(criteria, {"email": "a@x.com", "hubspotscore": "10"}, properties=PROPS)


def test_empty_top_level_or_includes_nobody() -> None:
    assert matches(Group(Join.OR), {"hubspotscore": "100"}) is False


def test_in_list_uses_membership_by_name_or_id() -> None:
    memberships = {"MQLs - ready for sales": {"51", "54"}, "101": {"51", "54"}}
    by_name = Criterion("", Operator.IN_LIST, "MQLs - ready for sales")
    by_id = Criterion("", Operator.IN_LIST, "101")
    assert matches(by_name, {"hs_object_id": "51"}, memberships=memberships)
    assert matches(by_id, {}, record_id="54", memberships=memberships)
    assert not matches(by_name, {"hs_object_id": "52"}, memberships=memberships)
    assert not matches(Criterion("", Operator.IN_LIST, "Unknown"), {"hs_object_id": "51"})


@pytest.mark.parametrize(
    ("criterion", "message_part"),
    [
        (crit("hubspotscore", "gte", "abc"), "'abc' is not a number; hubspotscore is a number"),
        (crit("hubspotscore", "contains", "5"), "hubspotscore is a number property; use one of"),
        (crit("hubspotscore", "between", [20, 10]), "the low bound is above the high bound"),
        (crit("hubspotscore", "between", [10]), "between needs two values"),
        (crit("hubspotscore", "gte", True), "True is not a number"),
        (crit("lifecyclestage", "eq", "mql"), "'mql' is not an option of lifecyclestage"),
        (crit("lifecyclestage", "gt", "lead"), "lifecyclestage is a enumeration property"),
        (crit("jobtile", "eq", "CEO"), "no contact property 'jobtile'; did you mean 'jobtitle'?"),
        (crit("recent_conversion_date", "gte", "last week"), "is not a datetime"),
        (crit("hs_is_unworked", "eq", "maybe"), "'maybe' is not true or false"),
        (crit("jobtitle", "has_property", "x"), "has_property takes no value"),
        (crit("jobtitle", "in", "CEO"), "in needs a non-empty list"),
        (Criterion("", Operator.IN_LIST, "Nope"), "no HubSpot list by that name or id"),
    ],
)
def test_validate_criteria_refuses_what_a_property_cannot_answer(
    criterion: Criterion, message_part: str
) -> None:
    problems = validate_criteria(criterion, PROPS, lists={"MQLs - ready for sales", "101"})
    assert len(problems) == 1
    assert message_part in problems[0]


def test_validate_criteria_names_each_item_by_path() -> None:
    criteria = Group(
        Join.OR,
        (crit("hubspotscore", "gte", 50),),
        (Group(Join.AND, (crit("jobtitle", "eq", "CEO"), crit("hubspotscore", "gte", "x"))),),
    )
    problems = validate_criteria(criteria, PROPS)
    assert problems == [
        "groups[0].criteria[1]: hubspotscore >= 'x': 'x' is not a number; "
        "hubspotscore is a number property"
    ]
    assert validate_criteria(crit("hubspotscore", "gte", 50), PROPS) == []


# ------------------------------------------------------------------ frame == per-record

_MESSY_VALUES: dict[str, list[Any]] = {
    "hubspotscore": [
        None,
        "",
        " ",
        "0",
        "49",
        "50",
        "50.0",
        " 75 ",
        "100",
        "abc",
        50,
        49.9,
        True,
        float("nan"),
        "1e2",
        "-3",
    ],
    "lifecyclestage": [
        None,
        "",
        "lead",
        "Lead",
        "customer",
        " customer ",
        "marketingqualifiedlead",
        7,
    ],
    "jobtitle": [None, "", "VP Sales", "vp of marketing", "CEO", "Chief Executive", "  ", True],
    "recent_conversion_date": [
        None,
        "",
        "2025-12-31",
        "2026-01-01T00:00:00Z",
        "2026-02-01T10:00:00.000Z",
        "1767225600000",
        "garbage",
        1767225600000,
    ],
    "hs_is_unworked": [None, "", "true", "false", "TRUE", "yes", True, False],
}


def _random_criterion(rng: random.Random) -> Criterion:
    prop = rng.choice(list(_MESSY_VALUES))
    kind = PROPS[prop].type
    ops = {
        "number": [
            "eq",
            "neq",
            "gt",
            "gte",
            "lt",
            "lte",
            "in",
            "not_in",
            "between",
            "has_property",
        ],
        "enumeration": ["eq", "neq", "in", "not_in", "contains", "not_has_property"],
        "string": ["eq", "neq", "in", "not_in", "contains", "has_property"],
        "datetime": ["eq", "gt", "gte", "lt", "lte", "between", "has_property"],
        "bool": ["eq", "neq", "has_property", "not_has_property"],
    }[kind]
    op = rng.choice(ops)
    samples = {
        "number": [0, 49, 50, 75.5, "50"],
        "enumeration": ["lead", "customer", "Lead"],
        "string": ["vp", "CEO", "Chief"],
        "datetime": ["2026-01-01", "2026-01-15T00:00:00Z", 1767225600000],
        "bool": [True, False],
    }[kind]
    if op in ("has_property", "not_has_property"):
        return crit(prop, op)
    if op in ("in", "not_in"):
        return crit(prop, op, rng.sample(samples, 2))
    if op == "between":
        low, high = sorted(
            rng.sample([s for s in samples if not isinstance(s, str) or kind != "number"], 2),
            key=str,
        )
        return crit(prop, op, [low, high])
    return crit(prop, op, rng.choice(samples))


def _random_group(rng: random.Random, depth: int = 0) -> Group:
    criteria = tuple(_random_criterion(rng) for _ in range(rng.randint(1, 3)))
    groups = (
        tuple(_random_group(rng, depth + 1) for _ in range(rng.randint(0, 2))) if depth < 2 else ()
    )
    return Group(rng.choice(list(Join)), criteria, groups)


def _random_frame(rng: random.Random, rows: int) -> pd.DataFrame:
    data: dict[str, list[Any]] = {
        name: [rng.choice(values) for _ in range(rows)] for name, values in _MESSY_VALUES.items()
    }
    data["hs_object_id"] = [str(i) for i in range(rows)]
    return pd.DataFrame(data)


@pytest.mark.parametrize("seed", range(8))
def test_frame_evaluation_agrees_with_matches_on_a_random_corpus(seed: int) -> None:
    rng = random.Random(seed)
    df = _random_frame(rng, 400)
    memberships = {"Demo requested": {str(i) for i in range(0, 400, 3)}}
    records = df.to_dict("records")
    for _ in range(12):
        criteria = _random_group(rng)
        if rng.random() < 0.3:
            criteria = Group(
                Join.OR, (Criterion("", Operator.IN_LIST, "Demo requested"),), (criteria,)
            )
        expected = [
            matches(criteria, record, properties=PROPS, memberships=memberships)
            for record in records
        ]
        got = evaluate_frame(criteria, df, properties=PROPS, memberships=memberships)
        assert got.tolist() == expected, criteria


def test_frame_evaluation_of_a_missing_column_treats_values_as_blank() -> None:
    df = pd.DataFrame({"hs_object_id": ["1", "2"]})
    assert evaluate_frame(crit("jobtitle", "not_has_property"), df).tolist() == [True, True]
    assert evaluate_frame(crit("jobtitle", "eq", "CEO"), df).tolist() == [False, False]


def test_live_preview_of_100k_contacts_is_well_under_a_second() -> None:
    rng = random.Random(7)
    rows = 100_000
    stages = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "customer"]
    df = pd.DataFrame(
        {
            "hs_object_id": [str(i) for i in range(rows)],
            "email": [f"p{i}@example.com" if i % 50 else None for i in range(rows)],
            "hubspotscore": [str(rng.randint(0, 100)) for _ in range(rows)],
            "lifecyclestage": [rng.choice(stages) for _ in range(rows)],
            "jobtitle": [rng.choice(["VP Sales", "CEO", "Engineer", None]) for _ in range(rows)],
            "recent_conversion_date": [
                f"2026-0{rng.randint(1, 9)}-{rng.randint(10, 28)}T{rng.randint(10, 23)}:00:00Z"
                for _ in range(rows)
            ],
        }
    )
    criteria = Group(
        Join.AND,
        (crit("email", "has_property"),),
        (
            Group(
                Join.OR,
                (
                    crit("hubspotscore", "gte", 50),
                    crit("lifecyclestage", "in", ["marketingqualifiedlead", "salesqualifiedlead"]),
                    crit("recent_conversion_date", "gte", "2026-06-01"),
                    crit("jobtitle", "contains", "vp"),
                ),
            ),
        ),
    )
    started = time.perf_counter()
    result = evaluate_frame(criteria, df, properties=PROPS)
    elapsed = time.perf_counter() - started
    print(f"\nevaluate_frame: {rows:,} contacts, 5 criteria in {elapsed * 1000:.0f} ms")
    sample = df.sample(500, random_state=1)
    assert [
        matches(criteria, r, properties=PROPS) for r in sample.to_dict("records")
    ] == result.loc[sample.index].tolist()
    assert elapsed < 1.0


def test_default_inclusion_on_the_seeded_portal_agrees_with_its_lists() -> None:
    seed = pytest.importorskip("sandbox.seed")
    hs_schema = pytest.importorskip("sandbox.hubspot.schema")
    bundle = seed.build_seed_sized(7, contacts=300)
    props = {
        name: PropertyMeta(name, d.type, options=tuple(o.value for o in d.options))
        for name, d in hs_schema.PROPERTIES["contacts"].items()
    }
    df = pd.DataFrame(
        [{**r["properties"], "hs_object_id": r["id"]} for r in bundle.hubspot.records["contacts"]]
    )
    lists = {item["name"]: set(item["memberships"]) for item in bundle.hubspot.lists}
    in_mql_list = evaluate_frame(
        Criterion("", Operator.IN_LIST, "MQLs - ready for sales"), df, memberships=lists
    )
    by_score = evaluate_frame(crit("hubspotscore", "gte", 50), df, properties=props)
    assert in_mql_list.tolist() == by_score.tolist()
    assert 0 < by_score.sum() < len(df) / 2  # the MQL threshold admits a minority
    config = load_config(Path(__file__).resolve().parents[2] / "sync.toml")
    included = evaluate_frame(config.inclusion, df, properties=props, memberships=lists)
    assert included[by_score & df["email"].notna()].all()
    assert not included.all()
