"""What the audit store says agrees with what happened, and writes go out in batches."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

WRITE_ENDPOINTS = ("POST /composite/sobjects", "PATCH /composite/sobjects")


def test_every_written_field_is_in_field_changes_and_runs_agree(synced):
    engine, first = synced.engine, synced.report
    with engine.store.read() as conn:
        run = conn.execute(
            "SELECT records_written, sf_api_calls, hs_api_calls FROM sync_runs WHERE run_id = ?",
            [first.run_id],
        ).fetchone()
        written = conn.execute(
            "SELECT count(DISTINCT (direction, hs_id, sf_id)) FROM field_changes "
            "WHERE run_id = ? AND reason <> 'association'",
            [first.run_id],
        ).fetchone()[0]
        incomplete = conn.execute(
            "SELECT count(*) FROM field_changes WHERE run_id = ? AND (reason IS NULL "
            "OR field IS NULL OR hs_id IS NULL OR sf_id IS NULL)",
            [first.run_id],
        ).fetchone()[0]
        updates_without_old = conn.execute(
            "SELECT count(*) FROM field_changes WHERE run_id = ? AND reason <> 'created' "
            "AND old_value IS NULL AND new_value IS NULL",
            [first.run_id],
        ).fetchone()[0]
        usage = dict(
            conn.execute(
                "SELECT system, sum(calls) FROM api_usage WHERE run_id = ? GROUP BY system",
                [first.run_id],
            ).fetchall()
        )
    assert run[0] == first.records_written == written > 0
    assert incomplete == 0
    assert updates_without_old == 0
    assert (run[1], run[2]) == (usage["salesforce"], usage["hubspot"])


def test_api_usage_agrees_with_the_sandboxs_own_counters(synced):
    """Over a cycle, the calls the store records equal the calls the sandbox counted for the
    integration's own tokens (other tests share this pair and may call with those tokens too,
    so both sides are compared as deltas)."""
    pair, engine = synced.pair, synced.engine
    sf_user = next(p for p in pair.sandbox.salesforce.people() if p.role == "integration")
    hs_app = next(p for p in pair.sandbox.hubspot.people() if p.role == "integration")

    def counts() -> tuple[dict[str, int], int, int]:
        with engine.store.read() as conn:
            usage = dict(
                conn.execute("SELECT system, sum(calls) FROM api_usage GROUP BY system").fetchall()
            )
        sf = pair.stats("salesforce")["by_user"].get(sf_user.id, 0)
        hs = pair.stats("hubspot")["by_token_owner"].get(hs_app.name, 0)
        return usage, sf, hs

    before, sf_before, hs_before = counts()
    pair.hs(  # a change, so that the cycle reads and writes on both sides
        "PATCH",
        f"/crm/v3/objects/contacts/{next(iter(_linked_hs_ids(engine)))}",
        json={"properties": {"jobtitle": "Director of Audits"}},
        token=pair.person("hubspot", "marketer")["token"],
    )
    engine.run_once()
    after, sf_after, hs_after = counts()
    assert after["salesforce"] - before["salesforce"] == sf_after - sf_before > 0
    assert after["hubspot"] - before["hubspot"] == hs_after - hs_before > 0


def _linked_hs_ids(engine) -> list[str]:
    with engine.store.read() as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT hs_id FROM id_links WHERE object = 'contact' ORDER BY hs_id LIMIT 5"
            ).fetchall()
        ]


def test_writes_use_collections_and_batches(small_pair):
    engine = small_pair.engine()
    sf_before = small_pair.stats("salesforce")["by_endpoint"]
    hs_before = small_pair.stats("hubspot")["by_endpoint"]
    report = engine.run_once()
    sf_after = small_pair.stats("salesforce")["by_endpoint"]
    hs_after = small_pair.stats("hubspot")["by_endpoint"]
    with engine.store.read() as conn:
        per_object = conn.execute(
            "SELECT direction, coalesce(sf_object, object), count(DISTINCT (hs_id, sf_id)) "
            "FROM field_changes WHERE run_id = ? AND reason <> 'association' GROUP BY ALL",
            [report.run_id],
        ).fetchall()
    to_sf = {obj: n for direction, obj, n in per_object if direction == "hubspot_to_salesforce"}
    to_hs = {obj: n for direction, obj, n in per_object if direction == "salesforce_to_hubspot"}

    def delta(after, before, prefix):
        return sum(n - before.get(k, 0) for k, n in after.items() if k.startswith(prefix))

    sf_writes = sum(delta(sf_after, sf_before, p) for p in WRITE_ENDPOINTS)
    assert 0 < sf_writes <= sum(math.ceil(n / 200) + 1 for n in to_sf.values())
    hs_writes = delta(hs_after, hs_before, "POST /crm/v3/objects/") - delta(
        hs_after, hs_before, "POST /crm/v3/objects/contacts/search"
    )
    hs_writes -= sum(
        delta(hs_after, hs_before, f"POST /crm/v3/objects/{o}/search")
        for o in ("companies", "deals")
    )
    assert sum(to_hs.values()) > 0
    # HubSpot objects: contacts from Lead/Contact, companies from Account, deals from Opportunity.
    assert 0 < hs_writes <= sum(math.ceil(n / 100) + 1 for n in to_hs.values())


def _cli(pair, tmp_path: Path, **env_overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **pair.settings_env(**env_overrides), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "sync_engine", "once"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("broken_toml", "sync.toml:3"),
        ("unknown_field", "Titel"),
        ("bad_token", "INVALID_SESSION_ID"),
    ],
)
def test_bad_input_is_one_clear_line_and_nothing_is_written(small_pair, tmp_path, case, fragment):
    config = tmp_path / "sync.toml"
    text = (ROOT / "sync.toml").read_text()
    overrides = {"SYNC_CONFIG": str(config), "SYNC_DB": str(tmp_path / "audit.duckdb")}
    if case == "broken_toml":
        text = "version = 1\n[schedule]\ninterval_seconds = = 5\n"
    elif case == "unknown_field":
        text = text.replace('salesforce = "Title"', 'salesforce = "Titel"', 1)
    else:
        overrides["SALESFORCE_SESSION_ID"] = "00Dbogus!token"
    config.write_text(text)
    before = small_pair.stats("salesforce")["by_endpoint"]
    result = _cli(small_pair, tmp_path, **overrides)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "audit.duckdb").exists()
    after = small_pair.stats("salesforce")["by_endpoint"]
    assert all(after.get(k, 0) == before.get(k, 0) for k in after if "composite" in k)
