"""The seeded pair of orgs: deterministic, the right size, believable, and messy as promised.

Each kind of planted mess is checked twice: `describe_mess` must report it, and the records it
names must really have the property (checked here with independent, simpler code).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.hubspot import schema as hs_schema
from sandbox.salesforce import schema as sf_schema
from sandbox.salesforce.ids import KEY_PREFIXES, is_valid_id
from sandbox.seed import (
    AUTOMATION_RULES,
    HUBSPOT_SQL_RULE,
    MQL_THRESHOLD,
    SALESFORCE_HOT_LEAD_RULE,
    build_seed,
    build_seed_sized,
    describe_mess,
    seed_counts,
)
from sandbox.seeddata import SeedBundle

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 28, 20, 49, 32, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
SF_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000$")
HS_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$")


def fingerprint(bundle: SeedBundle) -> str:
    """A digest of everything in the bundle except tokens (fresh secrets on every build)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "_token"}
        if isinstance(value, list | tuple):
            return [strip(v) for v in value]
        return value

    data = {
        "seed": bundle.seed,
        "sf": strip({"users": bundle.salesforce.users, "records": bundle.salesforce.records}),
        "hs": strip(
            {
                "app": bundle.hubspot.app,
                "users": bundle.hubspot.users,
                "owners": bundle.hubspot.owners,
                "records": bundle.hubspot.records,
                "associations": bundle.hubspot.associations,
                "lists": bundle.hubspot.lists,
            }
        ),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@pytest.fixture(scope="module")
def timed_default() -> tuple[SeedBundle, float]:
    started = time.perf_counter()
    bundle = build_seed("default", now=NOW)
    return bundle, time.perf_counter() - started


@pytest.fixture(scope="module")
def bundle(timed_default: tuple[SeedBundle, float]) -> SeedBundle:
    return timed_default[0]


@pytest.fixture(scope="module")
def rebuilt() -> SeedBundle:
    """The default seed built a second time with the same spec and `now`."""
    return build_seed("default", now=NOW)


@pytest.fixture(scope="module")
def mess(bundle: SeedBundle) -> dict[str, list[Any]]:
    return describe_mess(bundle)


def email_key(value: str | None) -> str:
    return (value or "").strip().lower()


def hs_contacts(bundle: SeedBundle) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in bundle.hubspot.records["contacts"]}


def sf_index(bundle: SeedBundle) -> dict[str, tuple[str, dict[str, Any]]]:
    return {r["Id"]: (obj, r) for obj, rows in bundle.salesforce.records.items() for r in rows}


# --------------------------------------------------------------------------------------------
# Determinism and size


def test_default_seed_is_fast_and_prints_its_figures(timed_default: tuple[SeedBundle, float]):
    bundle, seconds = timed_default
    counts = seed_counts(bundle)
    total = sum(v for k, v in counts.items() if k != "hubspot.associations")
    print(f"\ndefault seed: {seconds:.2f} s for {total} records; {counts}")
    assert seconds < 5.0


def test_same_spec_gives_the_same_records(bundle: SeedBundle, rebuilt: SeedBundle):
    assert fingerprint(rebuilt) == fingerprint(bundle)
    assert rebuilt.salesforce.records["Lead"][:50] == bundle.salesforce.records["Lead"][:50]


def test_tokens_are_fresh_secrets_not_part_of_the_seed(bundle: SeedBundle, rebuilt: SeedBundle):
    again = rebuilt
    first = {u["Id"]: u["_token"] for u in bundle.salesforce.users}
    second = {u["Id"]: u["_token"] for u in again.salesforce.users}
    assert first.keys() == second.keys()
    assert all(first[k] != second[k] for k in first)
    assert bundle.hubspot.app["_token"] != again.hubspot.app["_token"]


def test_a_different_seed_number_gives_different_records():
    one = build_seed_sized(42, contacts=400, now=NOW)
    other = build_seed_sized(43, contacts=400, now=NOW)
    emails_one = {c["properties"].get("email") for c in one.hubspot.records["contacts"]}
    emails_other = {c["properties"].get("email") for c in other.hubspot.records["contacts"]}
    assert len(emails_one & emails_other) < 20
    assert fingerprint(one) != fingerprint(other)


def test_same_seed_in_another_process_gives_the_same_records():
    """No dependence on hash randomisation or global random state."""
    here = fingerprint(build_seed_sized(7, contacts=300, now=NOW))
    script = (
        "from datetime import datetime, UTC\n"
        "from sandbox.seed import build_seed_sized\n"
        "from tests.sandbox.test_seed import fingerprint\n"
        "import random; random.seed(999)\n"
        "now = datetime(2026, 11, 28, 20, 49, 32, tzinfo=UTC)\n"
        "print(fingerprint(build_seed_sized(7, contacts=300, now=now)))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == here


def test_default_seed_has_the_stated_orders_of_magnitude(bundle: SeedBundle):
    counts = seed_counts(bundle)
    assert counts["hubspot.contacts"] == 5_000
    assert 1_000 <= counts["hubspot.companies"] <= 1_400
    assert 500 <= counts["hubspot.deals"] <= 700
    engagements = sum(counts[f"hubspot.{t}"] for t in hs_schema.ENGAGEMENTS)
    assert engagements >= 3_000
    assert all(counts[f"hubspot.{t}"] > 100 for t in hs_schema.ENGAGEMENTS)
    assert 2_000 <= counts["salesforce.Lead"] + counts["salesforce.Contact"] <= 3_000
    assert counts["salesforce.Lead"] > 500 and counts["salesforce.Contact"] > 500
    assert 600 <= counts["salesforce.Account"] <= 800
    assert 300 <= counts["salesforce.Opportunity"] <= 500
    assert counts["salesforce.Task"] > 500
    assert counts["hubspot.owners"] >= 8 and counts["salesforce.User"] >= 8


def test_sized_seed_scales_with_the_contact_count():
    small = seed_counts(build_seed_sized(5, contacts=500, now=NOW))
    large = seed_counts(build_seed_sized(5, contacts=2_000, now=NOW))
    for key in ("hubspot.companies", "hubspot.deals", "salesforce.Account", "salesforce.Task"):
        assert 3.5 <= large[key] / small[key] <= 4.5, key


def test_empty_seed_has_people_and_no_records(bundle: SeedBundle):
    empty = build_seed("empty", now=NOW)
    assert not any(empty.salesforce.records.values())
    assert not any(empty.hubspot.records.values())
    assert not empty.hubspot.associations
    roles = Counter(u["_role"] for u in empty.salesforce.users)
    assert roles["integration"] == 1 and roles["admin"] >= 1
    assert roles["rep"] >= 2 and roles["marketer"] >= 1
    hs_roles = Counter(u["_role"] for u in empty.hubspot.users)
    assert hs_roles["admin"] >= 1 and hs_roles["rep"] >= 2 and hs_roles["marketer"] >= 1
    assert empty.hubspot.app["_token"] and empty.hubspot.owners
    integration = next(u for u in empty.salesforce.users if u["_role"] == "integration")
    assert integration["_profile"] == sf_schema.INTEGRATION_PROFILE
    assert integration["Email"].startswith("integration@")
    # People keep their ids whatever the seed, so a reseed keeps their tokens.
    default_ids = {u["Id"] for u in bundle.salesforce.users}
    assert integration["Id"] in default_ids
    tokens = [u["_token"] for u in [*empty.salesforce.users, *empty.hubspot.users]]
    assert all(tokens) and len(set(tokens)) == len(tokens)


@pytest.mark.parametrize("spec", ["nonsense", -1, True, 1.5])
def test_bad_specs_are_refused(spec: Any):
    with pytest.raises(ValueError, match="seed spec"):
        build_seed(spec, now=NOW)


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        build_seed_sized(1, contacts=10, now=datetime(2026, 1, 1))


# --------------------------------------------------------------------------------------------
# Validity against the emulators' schemas and referential integrity


def test_every_hubspot_value_is_a_known_property_and_option(bundle: SeedBundle):
    problems = []
    for obj, records in bundle.hubspot.records.items():
        props = hs_schema.PROPERTIES[obj]
        for record in records:
            for name, value in record["properties"].items():
                spec = props.get(name)
                if spec is None:
                    problems.append((obj, name, "unknown property"))
                elif spec.options and value not in spec.option_values:
                    problems.append((obj, name, value))
                elif not isinstance(value, str):
                    problems.append((obj, name, "not a string"))
    assert problems == []


def test_every_salesforce_value_fits_its_field(bundle: SeedBundle):
    problems = []
    for obj, records in bundle.salesforce.records.items():
        fields = sf_schema.SCHEMA.objects[obj].field_map()
        for record in records:
            for name, value in record.items():
                spec = fields.get(name)
                if name.startswith("_"):
                    continue
                if spec is None:
                    problems.append((obj, name, "unknown field"))
                elif spec.restricted and value not in spec.picklist_values():
                    problems.append((obj, name, value))
                elif isinstance(value, str) and spec.length and len(value) > spec.length:
                    problems.append((obj, name, "too long"))
            missing = [f.name for f in fields.values() if f.required and f.name not in record]
            if missing:
                problems.append((obj, record["Id"], f"missing {missing}"))
    assert problems == []


def test_salesforce_ids_and_stamps_look_like_salesforce(bundle: SeedBundle):
    seen: set[str] = set()
    for obj, records in bundle.salesforce.records.items():
        for record in records:
            assert is_valid_id(record["Id"]) and record["Id"].startswith(KEY_PREFIXES[obj])
            assert record["Id"] not in seen
            seen.add(record["Id"])
            for stamp in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                assert SF_STAMP.match(record[stamp]), record[stamp]
            assert record["CreatedDate"] <= record["LastModifiedDate"]
            assert record["IsDeleted"] is False
    newest = max(r["LastModifiedDate"] for rs in bundle.salesforce.records.values() for r in rs)
    assert newest <= NOW.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def test_salesforce_references_point_at_existing_records(bundle: SeedBundle):
    index = sf_index(bundle)
    users = {u["Id"]: u for u in bundle.salesforce.users}
    integration = next(u["Id"] for u in bundle.salesforce.users if u["_role"] == "integration")
    expected = {
        "AccountId": {"Account"},
        "WhoId": {"Lead", "Contact"},
        "WhatId": {"Account", "Opportunity"},
        "ConvertedContactId": {"Contact"},
        "ConvertedAccountId": {"Account"},
        "ConvertedOpportunityId": {"Opportunity"},
    }
    for records in bundle.salesforce.records.values():
        for record in records:
            for name, objects in expected.items():
                if record.get(name):
                    assert index[record[name]][0] in objects, (record["Id"], name)
            for name in ("OwnerId", "CreatedById", "LastModifiedById"):
                assert record[name] in users, (record["Id"], name)
                assert record[name] != integration, "the seed must look like human edits"
            if record.get("WhoId", "").startswith("00Q"):
                assert "WhatId" not in record, "a Lead's task cannot relate to an account"


def test_converted_leads_are_consistent(bundle: SeedBundle):
    index = sf_index(bundle)
    converted = [x for x in bundle.salesforce.records["Lead"] if x["IsConverted"]]
    assert len(converted) >= 10
    for lead in converted:
        contact = index[lead["ConvertedContactId"]][1]
        assert lead["Status"] == "Closed - Converted"
        assert email_key(lead["Email"]) == email_key(contact["Email"])
        assert contact["AccountId"] == lead["ConvertedAccountId"]
        assert lead["ConvertedDate"] <= contact["CreatedDate"][:10]


def test_hubspot_references_point_at_existing_records(bundle: SeedBundle):
    ids = {obj: {r["id"] for r in rows} for obj, rows in bundle.hubspot.records.items()}
    owners = {o["id"] for o in bundle.hubspot.owners}
    for from_type, from_id, to_type, to_id, type_id in bundle.hubspot.associations:
        assert from_id in ids[from_type] and to_id in ids[to_type]
        kind = hs_schema.ASSOCIATION_TYPES[type_id]
        assert (kind.source, kind.target) == (from_type, to_type)
    for rows in bundle.hubspot.records.values():
        for record in rows:
            owner = record["properties"].get("hubspot_owner_id")
            assert owner is None or owner in owners
            assert HS_STAMP.match(record["createdAt"]) and HS_STAMP.match(record["updatedAt"])
            assert record["createdAt"] <= record["updatedAt"]
    for hs_list in bundle.hubspot.lists:
        assert set(hs_list["memberships"]) <= ids["contacts"]
    users = {u["id"] for u in bundle.hubspot.users}
    assert all(o["userId"] in users for o in bundle.hubspot.owners)


def test_hubspot_contact_emails_are_unique(bundle: SeedBundle):
    emails = [email_key(c["properties"].get("email")) for c in bundle.hubspot.records["contacts"]]
    present = [e for e in emails if e]
    assert len(present) == len(set(present))
    assert len(present) < len(emails), "a few contacts have no email at all"


def test_list_memberships_agree_with_properties(bundle: SeedBundle):
    lists = {x["name"]: set(x["memberships"]) for x in bundle.hubspot.lists}
    contacts = bundle.hubspot.records["contacts"]
    mqls = {c["id"] for c in contacts if float(c["properties"]["hubspotscore"]) >= MQL_THRESHOLD}
    demos = {
        c["id"]
        for c in contacts
        if c["properties"].get("recent_conversion_event_name") == "Demo request"
    }
    assert lists["MQLs - ready for sales"] == mqls
    assert lists["Demo requested"] == demos and demos
    assert lists["Newsletter"]


# --------------------------------------------------------------------------------------------
# Believable data


def test_most_contacts_work_where_their_email_says(bundle: SeedBundle):
    contacts = hs_contacts(bundle)
    domains = {c["id"]: c["properties"]["domain"] for c in bundle.hubspot.records["companies"]}
    pairs = [(a[1], a[3]) for a in bundle.hubspot.associations if a[4] == 279]
    matching = sum(
        email_key(contacts[c]["properties"].get("email")).endswith("@" + domains[co])
        for c, co in pairs
    )
    assert matching / len(pairs) > 0.9
    personal = [
        c
        for c in contacts.values()
        if email_key(c["properties"].get("email")).split("@")[-1] in ("gmail.com", "yahoo.com")
    ]
    assert len(personal) > 100


def test_data_has_everyday_mess(bundle: SeedBundle):
    contacts = [c["properties"] for c in bundle.hubspot.records["contacts"]]
    messy = [p["email"] for p in contacts if p.get("email") and p["email"] != p["email"].strip()]
    assert messy and all(e.strip() != e.strip().lower() for e in messy)
    assert sum("phone" not in p for p in contacts) > len(contacts) * 0.1
    assert len({p.get("country") for p in contacts} - {None}) > 7  # "USA", "US", ...


def test_amounts_are_log_normal_and_dates_span_two_years(bundle: SeedBundle):
    amounts = [float(d["properties"]["amount"]) for d in bundle.hubspot.records["deals"]]
    amounts += [o["Amount"] for o in bundle.salesforce.records["Opportunity"]]
    median = statistics.median(amounts)
    assert 10_000 <= median <= 60_000
    assert max(amounts) > 4 * median and min(amounts) < median / 3
    created = sorted(c["createdAt"] for c in bundle.hubspot.records["contacts"])
    oldest = datetime.fromisoformat(created[0])
    newest = datetime.fromisoformat(created[-1])
    assert NOW - oldest > timedelta(days=600)
    assert NOW - newest < timedelta(days=30)


def test_titles_and_industries_are_spread(bundle: SeedBundle):
    titles = Counter(c["properties"].get("jobtitle") for c in bundle.hubspot.records["contacts"])
    industries = Counter(a.get("Industry") for a in bundle.salesforce.records["Account"])
    assert len(titles) > 20 and titles.most_common(1)[0][1] < 1_000
    assert len(industries) > 20 and industries["Technology"] == industries.most_common(1)[0][1]


# --------------------------------------------------------------------------------------------
# The planted mess


def test_every_kind_of_mess_is_present(mess: dict[str, list[Any]]):
    kinds = {
        "lead_and_contact",
        "duplicate_accounts",
        "contacts_without_company",
        "lead_source_outside_picklist",
        "owner_email_mismatch",
        "inactive_owner",
        "contacts_sharing_email",
        "mql_threshold",
        "automation_pair",
        "private_records",
    }
    assert kinds <= mess.keys()
    assert [k for k in sorted(kinds) if not mess[k]] == []


def test_lead_and_contact_are_the_same_person_in_all_three_places(
    bundle: SeedBundle, mess: dict[str, list[Any]]
):
    index = sf_index(bundle)
    contacts = hs_contacts(bundle)
    assert len(mess["lead_and_contact"]) >= 10
    for entry in mess["lead_and_contact"]:
        leads = [index[i][1] for i in entry["lead_ids"]]
        sf_contacts = [index[i][1] for i in entry["contact_ids"]]
        assert all(x["IsConverted"] is False for x in leads)
        assert {email_key(x["Email"]) for x in leads + sf_contacts} == {entry["email"]}
        assert [email_key(contacts[i]["properties"]["email"]) for i in entry["hubspot_contact_ids"]]
        for hs_id in entry["hubspot_contact_ids"]:
            assert email_key(contacts[hs_id]["properties"]["email"]) == entry["email"]


def test_duplicate_accounts_really_are_one_organisation(
    bundle: SeedBundle, mess: dict[str, list[Any]]
):
    index = sf_index(bundle)
    assert len(mess["duplicate_accounts"]) >= 10
    for group in mess["duplicate_accounts"]:
        accounts = [index[i][1] for i in group["account_ids"]]
        assert len(accounts) >= 2
        first_words = {re.findall(r"[a-z0-9]+", a["Name"].lower())[0] for a in accounts}
        sites = {
            re.sub(r"^(https?://)?(www\.)?", "", a["Website"].lower()).rstrip("/")
            for a in accounts
            if a.get("Website")
        }
        assert len(first_words) == 1, group
        assert len(sites) <= 1, group
        assert len({a["Name"] for a in accounts}) > 1 or len(sites) == 1


def test_contacts_without_company_have_no_association(
    bundle: SeedBundle, mess: dict[str, list[Any]]
):
    associated = {a[1] for a in bundle.hubspot.associations if a[0] == "contacts" and a[4] == 279}
    without = mess["contacts_without_company"]
    assert 0.05 < len(without) / len(bundle.hubspot.records["contacts"]) < 0.2
    assert not set(without) & associated
    contacts = hs_contacts(bundle)
    corporate = [
        i
        for i in without
        if email_key(contacts[i]["properties"].get("email")).split("@")[-1]
        not in ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com", "")
    ]
    assert corporate, "some have a work email and still no company"


def test_lead_sources_outside_the_picklist_are_rejected_by_salesforce(
    bundle: SeedBundle, mess: dict[str, list[Any]]
):
    contacts = hs_contacts(bundle)
    picklist = sf_schema.SCHEMA.field("Lead", "LeadSource")
    options = hs_schema.PROPERTIES["contacts"]["lead_source"].option_values
    assert picklist is not None and picklist.restricted
    assert len(mess["lead_source_outside_picklist"]) >= 2
    for entry in mess["lead_source_outside_picklist"]:
        assert entry["value"] not in picklist.picklist_values()
        assert entry["value"] in options
        assert len(entry["hubspot_contact_ids"]) >= 10
        for hs_id in entry["hubspot_contact_ids"]:
            assert contacts[hs_id]["properties"]["lead_source"] == entry["value"]


def test_owner_email_mismatch_is_one_person_with_two_emails(
    bundle: SeedBundle, mess: dict[str, list[Any]]
):
    owners = {o["id"]: o for o in bundle.hubspot.owners}
    users = {u["Id"]: u for u in bundle.salesforce.users}
    assert mess["owner_email_mismatch"]
    for entry in mess["owner_email_mismatch"]:
        owner, user = owners[entry["hubspot_owner_id"]], users[entry["salesforce_user_id"]]
        assert (owner["firstName"], owner["lastName"]) == (user["FirstName"], user["LastName"])
        assert email_key(owner["email"]) != email_key(user["Email"])
        assert (
            user["LastName"].lower() in owner["email"] and user["LastName"].lower() in user["Email"]
        )
    matched = {e["hubspot_owner_id"] for e in mess["owner_email_mismatch"]}
    same = [o for o in bundle.hubspot.owners if o["id"] not in matched]
    sf_emails = {email_key(u["Email"]) for u in bundle.salesforce.users}
    assert sum(email_key(o["email"]) in sf_emails for o in same) >= len(same) - 2


def test_inactive_owner_still_owns_records(bundle: SeedBundle, mess: dict[str, list[Any]]):
    users = {u["Id"]: u for u in bundle.salesforce.users}
    owners = {o["id"]: o for o in bundle.hubspot.owners}
    by_system = {e["system"]: e for e in mess["inactive_owner"]}
    sf_entry, hs_entry = by_system["salesforce"], by_system["hubspot"]
    assert users[sf_entry["user_id"]]["IsActive"] is False
    assert owners[hs_entry["owner_id"]]["archived"] is True
    assert len(sf_entry["records"]) >= 20 and len(hs_entry["records"]) >= 10
    index = sf_index(bundle)
    assert all(index[r["id"]][1]["OwnerId"] == sf_entry["user_id"] for r in sf_entry["records"])
    hs_users = {u["id"]: u for u in bundle.hubspot.users}
    assert hs_users[owners[hs_entry["owner_id"]]["userId"]]["active"] is False


def test_salesforce_contacts_share_emails(bundle: SeedBundle, mess: dict[str, list[Any]]):
    index = sf_index(bundle)
    assert mess["contacts_sharing_email"]
    for entry in mess["contacts_sharing_email"]:
        contacts = [index[i][1] for i in entry["contact_ids"]]
        assert len(contacts) >= 2
        assert {email_key(c["Email"]) for c in contacts} == {entry["email"]}
        assert len({c["AccountId"] for c in contacts}) == len(contacts)


def test_mql_threshold_admits_a_minority(bundle: SeedBundle, mess: dict[str, list[Any]]):
    (entry,) = mess["mql_threshold"]
    scores = [float(c["properties"]["hubspotscore"]) for c in bundle.hubspot.records["contacts"]]
    share = sum(s >= MQL_THRESHOLD for s in scores) / len(scores)
    assert entry["threshold"] == MQL_THRESHOLD == 50
    assert 0.10 <= share <= 0.25
    assert entry["share_above"] == pytest.approx(share, abs=1e-3)
    assert statistics.median(scores) < 30 and max(scores) == 100


def test_automation_pair_is_primed_and_would_loop(bundle: SeedBundle, mess: dict[str, list[Any]]):
    hs_rule, sf_rule = mess["automation_pair"]
    assert (hs_rule["system"], sf_rule["system"]) == ("hubspot", "salesforce")
    contacts = hs_contacts(bundle)
    index = sf_index(bundle)
    primed = hs_rule["records"]
    assert 2 <= len(primed) <= 10
    for hs_id in primed:
        props = contacts[hs_id]["properties"]
        assert (props["lifecyclestage"], props["hs_lead_status"]) == ("salesqualifiedlead", "OPEN")
    emails = {email_key(contacts[i]["properties"]["email"]) for i in primed}
    leads = [index[i][1] for i in sf_rule["records"]]
    assert {email_key(x["Email"]) for x in leads} == emails
    assert all((x["Rating"], x["Status"]) == ("Hot", "Open - Not Contacted") for x in leads)
    # Nobody else sits in either trigger, so the loop is exactly where it is expected.
    everyone = [c for c in contacts.values() if HUBSPOT_SQL_RULE.matches(c["properties"])]
    assert sorted(c["id"] for c in everyone) == sorted(primed)
    hot_working = [
        x for x in bundle.salesforce.records["Lead"] if SALESFORCE_HOT_LEAD_RULE.matches(x)
    ]
    assert hot_working == []


def test_automation_rules_ping_pong_through_the_usual_value_map():
    """Echoing each rule's write to the other side never settles (the loop to detect)."""
    to_sf = {"IN_PROGRESS": "Working - Contacted", "OPEN": "Open - Not Contacted"}
    to_hs = {v: k for k, v in to_sf.items()}
    hs_rule, sf_rule = AUTOMATION_RULES
    contact = {"lifecyclestage": "salesqualifiedlead", "hs_lead_status": "OPEN"}
    lead = {"Rating": "Hot", "Status": "Open - Not Contacted"}
    seen = []
    for _ in range(4):
        assert hs_rule.matches(contact)
        contact |= dict(hs_rule.then)
        lead["Status"] = to_sf[contact["hs_lead_status"]]
        assert sf_rule.matches(lead)
        lead |= dict(sf_rule.then)
        contact["hs_lead_status"] = to_hs[lead["Status"]]
        seen.append((contact["hs_lead_status"], lead["Status"]))
    assert len(set(seen)) == 1 and seen[0] == ("OPEN", "Open - Not Contacted")


def test_private_records_are_hidden_from_the_integration_user(
    bundle: SeedBundle, mess: dict[str, list[Any]]
):
    index = sf_index(bundle)
    users = {u["Id"]: u for u in bundle.salesforce.users}
    private = mess["private_records"]
    objects = Counter(p["object"] for p in private)
    assert objects["Account"] >= 5 and objects["Lead"] >= 5
    for entry in private:
        record = index[entry["id"]][1]
        assert record["_private"] is True
        assert users[record["OwnerId"]]["_role"] != "integration"
    by_account = defaultdict(list)
    for contact in bundle.salesforce.records["Contact"]:
        by_account[contact.get("AccountId")].append(contact)
    private_accounts = [p["id"] for p in private if p["object"] == "Account"]
    for account_id in private_accounts:
        assert all(c.get("_private") for c in by_account[account_id])
