"""The dashboard's fix actions (sync_engine.fixes) against the sandbox and a real engine.

Each fix is checked the way an admin would: the value in both systems after the next cycle, the
error's status on the Errors page, sync.toml on disk, and the audit_log row saying who did it and
when. One small seeded pair and one first cycle serve the module; each test picks records no
other test touches (a different error field, cluster or conflict).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sync_engine import fixes
from sync_engine.access import Identity
from sync_engine.config import load_config, save_config
from sync_engine.embedded import Runtime
from sync_engine.engine import SyncEngine
from sync_engine.runtime import build_engine
from sync_engine.settings import load_settings
from tests.e2e.conftest import ROOT, Pair, start_pair

pytestmark = pytest.mark.e2e

ACTOR = Identity("ops.lead@brightwave.io", admin=True, via="oidc", email="ops.lead@brightwave.io")
LEAD_SOURCES = ("Web", "Webinar", "Trade Show", "Phone Inquiry")  # mapped to themselves


@dataclass
class World:
    pair: Pair
    engine: SyncEngine
    rt: Runtime
    config: Path

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with self.engine.store.read() as conn:
            return conn.execute(sql, params or []).fetchall()

    def dicts(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        with self.engine.store.read() as conn:
            cur = conn.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def status(self, error_id: int) -> str:
        return self.rows("SELECT status FROM sync_errors WHERE error_id = ?", [error_id])[0][0]

    def audited(self, action: str, *, since: datetime, **match: Any) -> list[dict[str, Any]]:
        """audit_log rows of one action written since `since`, matching the given columns."""
        rows = self.dicts(
            'SELECT * FROM audit_log WHERE action = ? AND "at" >= ? ORDER BY audit_id',
            [action, since],
        )
        return [r for r in rows if all(r[k] == v for k, v in match.items())]

    def sf_value(self, sf_object: str, sf_id: str, field: str) -> Any:
        return self.pair.sf("GET", f"sobjects/{sf_object}/{sf_id}")[field]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("fixes")
    pair = start_pair(tmp, seed=7, contacts=500)
    config = tmp / "sync.toml"
    shutil.copy(ROOT / "sync.toml", config)
    settings = load_settings(
        {**pair.env.as_env(), "SYNC_DB": str(tmp / "sync.duckdb"), "SYNC_CONFIG": str(config)},
        secrets_path=tmp / "none.toml",
    )
    engine = build_engine(settings)
    engine.run_once()
    yield World(pair, engine, Runtime(settings=settings, store=engine.store, engine=engine), config)
    pair.sandbox.stop()


def assert_audited(rows: list[dict[str, Any]], *, since: datetime) -> None:
    """At least one row, each naming the person and a time within the test."""
    assert rows, "the fix left no audit_log row"
    for row in rows:
        assert row["actor"] == ACTOR.name
        assert since <= row["at"] <= datetime.now(UTC)


def lead_source_errors(world: World, value: str) -> list[dict[str, Any]]:
    return world.dicts(
        "SELECT error_id, object AS sf_object, payload->>'sf_id' AS sf_id, "
        "payload->>'hs_id' AS hs_id FROM sync_errors WHERE field = 'LeadSource' AND value = ? "
        "AND status IN ('open', 'retrying') AND payload->>'sf_id' IS NOT NULL ORDER BY error_id",
        [value],
    )


# ------------------------------------------------------------------------------ errors


def test_a_corrected_value_reaches_the_source_then_the_target(world: World) -> None:
    error = lead_source_errors(world, "Content Download")[0]
    current = world.sf_value(error["sf_object"], error["sf_id"], "LeadSource")
    corrected = next(v for v in LEAD_SOURCES if v != current)  # so the cycle has to write it
    since = datetime.now(UTC)

    outcome = fixes.set_value_and_retry(world.rt, error["error_id"], corrected, actor=ACTOR)

    assert outcome.ok, outcome.message
    source = world.pair.hs_contact(error["hs_id"], "lead_source")["properties"]
    assert source["lead_source"] == corrected  # written to HubSpot at once
    assert world.status(error["error_id"]) == "retrying"
    world.engine.run_once()
    assert world.sf_value(error["sf_object"], error["sf_id"], "LeadSource") == corrected
    assert world.status(error["error_id"]) == "resolved"
    assert_audited(
        world.audited("fix_set_value", since=since, error_id=error["error_id"]), since=since
    )
    assert_audited(
        world.audited("error_retrying", since=since, error_id=error["error_id"]), since=since
    )


def test_a_value_the_source_refuses_is_not_written(world: World) -> None:
    error = lead_source_errors(world, "Content Download")[-1]
    before = world.pair.hs_contact(error["hs_id"], "lead_source")["properties"]["lead_source"]

    outcome = fixes.set_value_and_retry(world.rt, error["error_id"], "Carrier Pigeon", actor=ACTOR)

    assert not outcome.ok
    assert "refused" in outcome.message
    assert world.pair.hs_contact(error["hs_id"], "lead_source")["properties"]["lead_source"] == (
        before
    )
    assert world.status(error["error_id"]) == "open"


def test_a_value_map_entry_is_saved_and_its_errors_written(world: World) -> None:
    """Issue 5: adding the missing lead-source entry and retrying clears the errors and writes
    the records."""
    errors = lead_source_errors(world, "Paid Social")
    assert errors, "the seed plants Paid Social contacts"
    (pending,) = world.rows(
        "SELECT count(*) FROM sync_errors WHERE field = 'LeadSource' AND value = 'Paid Social' "
        "AND status IN ('open', 'retrying')"
    )[0]
    repo_config = (ROOT / "sync.toml").read_text()
    since = datetime.now(UTC)

    outcome = fixes.add_value_map_entry(
        world.rt, "lead_source", "Paid Social", "Advertisement", actor=ACTOR
    )

    assert outcome.ok, outcome.message
    assert outcome.retried == pending  # those errors only, not other values of the field
    saved = load_config(world.config).value_map("lead_source")
    assert saved.salesforce_for("Paid Social") == "Advertisement"
    assert (ROOT / "sync.toml").read_text() == repo_config  # only the temp copy changed
    entry = world.audited("value_map_entry", since=since)
    assert_audited(entry, since=since)
    assert entry[0]["details"] is not None and "Paid Social" in entry[0]["details"]

    world.engine.run_once()
    for error in errors:
        assert world.sf_value(error["sf_object"], error["sf_id"], "LeadSource") == ("Advertisement")
    written = {
        e["error_id"]
        for e in errors
        if world.rows(
            "SELECT 1 FROM field_changes WHERE sf_id = ? AND field = 'LeadSource' AND \"at\" >= ?",
            [e["sf_id"], since],
        )
    }
    assert written, "the cycle wrote the records the entry unblocked"
    for error_id in written:
        assert world.status(error_id) == "resolved"


def test_every_retried_error_ends_resolved_when_its_cause_is_gone(world: World) -> None:
    stuck = world.rows(
        "SELECT error_id FROM sync_errors WHERE field = 'LeadSource' AND value = 'Paid Social' "
        "AND status IN ('open', 'retrying')"
    )
    assert stuck == []


def test_retrying_a_category_after_fixing_its_cause(world: World) -> None:
    """RevOps fixes the cause outside the dashboard (sync.toml edited in git), then retries the
    whole property_value category: what the fix cured is resolved, the rest is open again."""
    cured = lead_source_errors(world, "Content Download")
    config = load_config(world.config)
    value_map = config.value_map("lead_source").with_entry("Content Download", "Web")
    save_config(config.with_value_map(value_map), world.config)
    still_broken = world.dicts(
        "SELECT error_id, attempts FROM sync_errors WHERE field = 'hubspot_owner_id' "
        "AND system = 'salesforce' AND status = 'open'"
    )
    (open_count,) = world.rows(
        "SELECT count(*) FROM sync_errors WHERE category = 'property_value' "
        "AND status IN ('open', 'retrying')"
    )[0]
    since = datetime.now(UTC)

    outcome = fixes.retry_category(world.rt, "property_value", actor=ACTOR)

    assert outcome.ok, outcome.message
    assert outcome.retried == open_count
    assert world.rows(
        "SELECT count(*) FROM sync_errors WHERE category = 'property_value' AND status = 'open'"
    ) == [(0,)]
    retried = world.audited("error_retrying", since=since)
    assert_audited(retried, since=since)
    assert len(retried) == open_count

    world.engine.run_once()
    written = [
        e
        for e in cured
        if world.sf_value(e["sf_object"], e["sf_id"], "LeadSource") == "Web"
        and world.rows(
            "SELECT 1 FROM field_changes WHERE sf_id = ? AND field = 'LeadSource' AND \"at\" >= ?",
            [e["sf_id"], since],
        )
    ]
    assert written, "the edited map let the cycle write Content Download contacts"
    for error in written:
        assert world.status(error["error_id"]) == "resolved"
    for error in still_broken:  # the owner is still missing: tried again, refused again
        status, attempts = world.rows(
            "SELECT status, attempts FROM sync_errors WHERE error_id = ?", [error["error_id"]]
        )[0]
        assert status == "open"
        assert attempts > error["attempts"]


def test_an_ignored_error_stays_ignored_when_it_recurs(world: World) -> None:
    error = world.dicts(
        "SELECT error_id, attempts, payload->>'hs_id' AS hs_id FROM sync_errors "
        "WHERE object = 'Account' AND field = 'industry' AND status = 'open' LIMIT 1"
    )[0]
    since = datetime.now(UTC)

    outcome = fixes.ignore_error(world.rt, error["error_id"], actor=ACTOR)

    assert outcome.ok, outcome.message
    assert world.status(error["error_id"]) == "ignored"
    assert_audited(
        world.audited("error_ignored", since=since, error_id=error["error_id"]), since=since
    )
    marketer = world.pair.person("hubspot", "marketer")
    world.pair.hs(  # the company is edited again, so the cycle decides it (and refuses) again
        "PATCH",
        f"/crm/v3/objects/companies/{error['hs_id']}",
        json={"properties": {"phone": "+1 617 555 0142"}},
        token=marketer["token"],
    )
    world.engine.run_once()
    status, attempts = world.rows(
        "SELECT status, attempts FROM sync_errors WHERE error_id = ?", [error["error_id"]]
    )[0]
    assert attempts > error["attempts"], "the refusal recurred"
    assert status == "ignored"


def test_fixing_a_closed_or_unknown_error_is_refused(world: World) -> None:
    assert not fixes.retry_error(world.rt, 10**9, actor=ACTOR).ok
    assert not fixes.ignore_error(world.rt, 10**9, actor=ACTOR).ok
    assert not fixes.add_value_map_entry(world.rt, "no_such_map", "a", "b", actor=ACTOR).ok


# ------------------------------------------------------------------------------ duplicates


def test_a_cluster_marked_not_a_duplicate_is_no_longer_reported(world: World) -> None:
    cluster = world.dicts(
        "SELECT cluster_id, object, record_ids FROM duplicates WHERE status = 'open' "
        "AND object = 'Account' LIMIT 1"
    )[0]
    since = datetime.now(UTC)

    outcome = fixes.mark_not_duplicate(world.rt, cluster["cluster_id"], actor=ACTOR)

    assert outcome.ok
    assert_audited(
        world.audited("duplicate_ignored", since=since, record_id=cluster["cluster_id"]),
        since=since,
    )
    for sf_id in cluster["record_ids"]:  # both records come up again in the next cycle
        world.pair.sf("PATCH", f"sobjects/Account/{sf_id}", json={"Phone": "+1 617 555 0100"})
    world.engine.run_once()
    status, last_seen = world.rows(
        "SELECT status, last_seen FROM duplicates WHERE cluster_id = ?", [cluster["cluster_id"]]
    )[0]
    assert status == "ignored"
    assert last_seen >= since, "the cluster was detected again, and stayed ignored"


# ------------------------------------------------------------------------------ conflicts


def test_overriding_a_conflict_makes_the_other_value_win_on_both_sides(world: World) -> None:
    conflict = world.dicts(
        "SELECT * FROM conflicts WHERE object = 'company' AND field = 'name' "
        "AND winner = 'salesforce' AND hs_value IS NOT NULL AND hs_value <> sf_value LIMIT 1"
    )[0]
    wanted = conflict["hs_value"]
    since = datetime.now(UTC)

    outcome = fixes.override_conflict(world.rt, conflict, actor=ACTOR)

    assert outcome.ok, outcome.message
    assert world.sf_value("Account", conflict["sf_id"], "Name") == wanted
    assert world.rows(
        "SELECT direction, new_value FROM field_changes WHERE reason = 'override' AND sf_id = ? "
        "ORDER BY direction",
        [conflict["sf_id"]],
    ) == [("hubspot_to_salesforce", wanted), ("salesforce_to_hubspot", wanted)]
    assert_audited(
        world.audited("conflict_override", since=since, record_id=conflict["hs_id"]), since=since
    )
    world.engine.run_once()
    world.engine.run_once()
    company = world.pair.hs("GET", f"/crm/v3/objects/companies/{conflict['hs_id']}?properties=name")
    assert company["properties"]["name"] == wanted
    assert world.sf_value("Account", conflict["sf_id"], "Name") == wanted
