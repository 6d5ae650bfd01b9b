"""kill -9 the engine at random points of an initial sync and of incremental cycles, while people
keep editing: every restart converges to the state of an undisturbed sync.

Each trial is a fresh sandbox of one seed. Phase 1: `python -m sync_engine once` (the initial
sync) is killed one to three times, people editing in between. Phase 2: `python -m sync_engine
run` (continuous cycles) is killed twice while people edit concurrently. Then a clean engine
converges (cycles until one reads and writes nothing), and we check what a RevOps admin would:

- both systems hold exactly what the undisturbed reference run left (no record lost, none
  duplicated: people by email, Accounts by name, company, Opportunity and deal counts);
- every edit people made reached the other system (cursors never skipped a change);
- the audit store: no run left `running` and the runs a kill cut short are `interrupted`; every
  record the engine created has its creation recorded in field_changes exactly once (one run, no
  field twice), and every recorded creation exists; id_links holds no hs_id or sf_id twice, only
  records that exist, and the same pairs as the reference (by match key).

Kill points are drawn from a seeded RNG (printed) by time, by write calls served, or by the
records the audit store has counted written. `pytest -m slow` runs 20 trials.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sync_engine.store import AuditStore
from tests.e2e.conftest import Pair, start_pair
from tests.reliability.crash import (
    EDIT_FIELDS,
    Edit,
    Editor,
    EngineProcess,
    KillPoint,
    apply,
    digits,
    edit_script,
    fingerprint,
    hs_id_of,
    ids_now,
)

pytestmark = pytest.mark.reliability

SEED, CONTACTS, EDITS_PER_PHASE = 7, 500, 12
SHORT_TRIALS, LONG_TRIALS = 2, 20
TRIAL_SEED = 20240917  # trial n draws its kill points from Random(TRIAL_SEED + n)


def converge(pair: Pair, *, cycles: int = 8) -> list[Any]:
    """Run a clean engine (the restart) until one cycle reads nothing new and writes nothing."""
    engine = pair.engine()
    reports = []
    for _ in range(cycles):
        report = engine.run_once()
        reports.append(report)
        if report.records_written == 0 and report.records_read == 0:
            return reports
    raise AssertionError(f"no quiet cycle after {cycles}: {[r.summary() for r in reports]}")


def script(pair: Pair) -> tuple[list[Edit], list[Edit]]:
    return edit_script(pair, seed=SEED, per_phase=EDITS_PER_PHASE)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The end state of an undisturbed sync with the same edits."""
    pair = start_pair(tmp_path_factory.mktemp("crash-reference"), seed=SEED, contacts=CONTACTS)
    try:
        phase1, phase2 = script(pair)
        for edit in phase1:
            apply(pair, edit)
        converge(pair)
        for edit in phase2:
            apply(pair, edit)
        converge(pair)
        return {"state": fingerprint(pair), "links": link_keys(pair)}
    finally:
        pair.sandbox.stop()


# ------------------------------------------------------------------ what the store holds


def link_keys(pair: Pair) -> dict[str, list[str]]:
    """The linked pairs per object, by the HubSpot record's match key (ids differ per run)."""
    with AuditStore(pair.workdir / "sync.duckdb").read() as conn:
        rows = conn.execute(
            "SELECT l.object, coalesce(r.key, '') FROM id_links l LEFT JOIN records r "
            "ON r.system = 'hubspot' AND r.id = l.hs_id"
        ).fetchall()
    found: dict[str, list[str]] = {}
    for obj, key in rows:
        found.setdefault(obj, []).append(key)
    return {obj: sorted(keys) for obj, keys in found.items()}


def audit_problems(
    pair: Pair, *, before: dict[str, set[str]], ours: set[str], killed_runs: list[list[int]]
) -> list[str]:
    """Everything wrong in the audit store, as sentences."""
    problems: list[str] = []
    after = ids_now(pair)
    with AuditStore(pair.workdir / "sync.duckdb").read() as conn:
        runs = dict(conn.execute("SELECT run_id, status FROM sync_runs").fetchall())
        links = conn.execute("SELECT object, hs_id, sf_id FROM id_links").fetchall()
        created = conn.execute(
            "SELECT direction, CASE WHEN direction = 'hubspot_to_salesforce' THEN sf_id "
            "ELSE hs_id END AS id, run_id, field FROM field_changes "
            "WHERE reason = 'created' AND applied"
        ).fetchall()
        doubled = conn.execute(
            "SELECT run_id, direction, hs_id, sf_id, field, count(*) FROM field_changes "
            "WHERE applied AND reason != 'created' GROUP BY ALL HAVING count(*) > 1"
        ).fetchall()
    # Runs: none left running; the one a kill cut short is interrupted, the others finished.
    problems += [f"run {r} is still 'running'" for r, s in runs.items() if s == "running"]
    for started in killed_runs:
        for run_id in started[:-1]:
            if runs.get(run_id) not in ("succeeded", "partial"):
                problems.append(f"run {run_id} ended before the kill but is {runs.get(run_id)}")
        if started and runs.get(started[-1]) not in ("interrupted", "succeeded", "partial"):
            problems.append(f"killed run {started[-1]} is {runs.get(started[-1])}")
    # Links: each id once, every linked record exists.
    for obj, column in (("hs_id", 1), ("sf_id", 2)):
        counts = Counter((row[0], row[column]) for row in links)
        problems += [f"id_links holds {obj} {k} {n} times" for k, n in counts.items() if n > 1]
    hs_all = set().union(*(v for k, v in after.items() if k.startswith("hubspot:")))
    sf_all = set().union(*(v for k, v in after.items() if k.startswith("salesforce:")))
    for obj, hs_id, sf_id in links:
        if hs_id not in hs_all:
            problems.append(f"id_links {obj} names HubSpot {hs_id}, which does not exist")
        if sf_id not in sf_all and not sf_id.startswith("00Q"):  # a converted Lead is gone
            problems.append(f"id_links {obj} names Salesforce {sf_id}, which does not exist")
    # Creations: every record the engine created is recorded once; every record is real.
    runs_of: dict[str, set[int]] = {}
    fields_of: Counter[tuple[str, str]] = Counter()
    for _direction, rid, run_id, field_name in created:
        runs_of.setdefault(rid, set()).add(run_id)
        fields_of[(rid, field_name)] += 1
    new = {rid for name, ids in after.items() for rid in ids - before.get(name, set())}
    new -= ours | _converted(pair)
    for rid in sorted(new):
        if rid not in runs_of:
            problems.append(f"{rid} was created by the engine with no creation in field_changes")
        elif len(runs_of[rid]) > 1:
            problems.append(f"{rid}'s creation is recorded by runs {sorted(runs_of[rid])}")
    problems += [
        f"{rid}'s created {field_name} is recorded {n} times"
        for (rid, field_name), n in fields_of.items()
        if n > 1
    ]
    problems += [
        f"field_changes records the creation of {rid}, which does not exist"
        for rid in runs_of
        if rid not in hs_all and rid not in sf_all
    ]
    problems += [f"field change recorded {row[-1]} times: {row[:-1]}" for row in doubled]
    return problems


def _converted(pair: Pair) -> set[str]:
    """Accounts, Contacts and Opportunities a rep's Lead conversion made (not the engine)."""
    rows = pair.soql(
        "SELECT ConvertedAccountId, ConvertedContactId, ConvertedOpportunityId FROM Lead "
        "WHERE IsConverted = true"
    )
    return {str(v) for r in rows for k, v in r.items() if k != "attributes" and v}


def lost_edits(pair: Pair, edits: list[Edit]) -> list[str]:
    """Edits whose value is not in both systems."""
    lost = []
    for edit in edits:
        sf_field, hs_prop = EDIT_FIELDS[edit.kind]
        sf_rows = pair.soql(
            f"SELECT {sf_field} FROM Lead WHERE Email = '{edit.email}' AND IsConverted = false"
        ) + pair.soql(f"SELECT {sf_field} FROM Contact WHERE Email = '{edit.email}'")
        hs = pair.hs_contact(hs_id_of(pair, edit.email), hs_prop)["properties"]
        same = digits if edit.kind == "phone" else (lambda v: str(v or ""))
        sf_values = [same(r.get(sf_field)) for r in sf_rows]
        if sf_values != [same(edit.value)] or same(hs.get(hs_prop)) != same(edit.value):
            lost.append(
                f"{edit.system} {edit.kind} of {edit.email} = {edit.value!r}: "
                f"Salesforce has {sf_values}, HubSpot {hs.get(hs_prop)!r}"
            )
    return lost


def state_diff(state: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """What differs from the reference, per part: rows only here and rows only there."""
    diff: dict[str, Any] = {}
    for key, want in reference.items():
        got = state[key]
        if got == want:
            continue
        if isinstance(want, list):
            here, there = Counter(got), Counter(want)
            diff[key] = {
                "only here": sorted(here - there),
                "only in reference": sorted(there - here),
            }
        else:
            diff[key] = {"here": got, "reference": want}
    return diff


def created_by_us(pair: Pair, edits: list[Edit]) -> set[str]:
    ids: set[str] = set()
    for edit in edits:
        if edit.kind != "new":
            continue
        if edit.system == "hubspot":
            ids.add(hs_id_of(pair, edit.email))
        else:
            rows = pair.soql(f"SELECT Id FROM Lead WHERE Email = '{edit.email}'")
            ids |= {str(r["Id"]) for r in rows}
    return ids


# ------------------------------------------------------------------ one trial


def max_run(pair: Pair) -> int:
    store = AuditStore(pair.workdir / "sync.duckdb", lock_timeout=60)
    with store.read() as conn:
        row = conn.execute("SELECT coalesce(max(run_id), 0) FROM sync_runs").fetchone()
    return int(row[0]) if row else 0


def runs_since(pair: Pair, last: int) -> list[int]:
    store = AuditStore(pair.workdir / "sync.duckdb", lock_timeout=60)
    with store.read() as conn:
        rows = conn.execute(
            "SELECT run_id FROM sync_runs WHERE run_id > ? ORDER BY run_id", [last]
        ).fetchall()
    return [int(r[0]) for r in rows]


def crash_trial(tmp: Path, trial: int, reference: dict[str, Any]) -> None:
    rng = random.Random(TRIAL_SEED + trial)
    pair = start_pair(tmp, seed=SEED, contacts=CONTACTS)
    log = tmp / "engine.log"
    try:
        before = ids_now(pair)
        phase1, phase2 = script(pair)
        killed_runs: list[list[int]] = []
        plan: list[str] = []

        def cut(args: tuple[str, ...], point: KillPoint, edits: list[Edit], limit: float) -> None:
            first = max_run(pair)
            engine = EngineProcess(pair, args, log).start()
            editor = Editor(pair, edits, random.Random(rng.random())).start()
            point.wait(engine, limit=limit)
            killed = engine.kill()
            editor.join()
            killed_runs.append(runs_since(pair, first) if killed else [])
            plan.append(f"{args[0]} {point.by}={point.value}: {'killed' if killed else 'ended'}")

        # Phase 1: the initial sync, killed one to three times, people editing meanwhile.
        kills = rng.randint(1, 3)
        chunks = [phase1[i::kills] for i in range(kills)]
        for chunk in chunks:
            cut(("once",), KillPoint.draw(rng, seconds=8, writes=12, records=450), chunk, 120)
        # Phase 2: continuous cycles, killed twice while people edit.
        for chunk in (phase2[::2], phase2[1::2]):
            point = KillPoint.draw(rng, seconds=8, writes=4, records=8)
            cut(("run", "--interval", "1"), point, chunk, 12)
        print(f"trial {trial} (seed {TRIAL_SEED + trial}): " + "; ".join(plan))

        reports = converge(pair)
        print(f"trial {trial} converged: " + " | ".join(r.summary() for r in reports))

        assert sum(bool(r) for r in killed_runs) >= 1, f"no kill landed: {plan}"
        state = fingerprint(pair)
        for name in ("leads", "hubspot"):
            emails = Counter(row[0] for row in state[name] if row[0])
            dupes = sorted(e for e, n in emails.items() if n > 1)
            ref = Counter(row[0] for row in reference["state"][name] if row[0])
            assert [e for e in dupes if ref[e] < emails[e]] == [], f"duplicated {name}"
        assert lost_edits(pair, [*phase1, *phase2]) == []
        assert state_diff(state, reference["state"]) == {}
        assert link_keys(pair) == reference["links"]
        ours = created_by_us(pair, [*phase1, *phase2])
        problems = audit_problems(pair, before=before, ours=ours, killed_runs=killed_runs)
        assert not problems, "\n".join(problems)
    except BaseException:
        if log.exists():
            print(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        pair.sandbox.stop()


@pytest.mark.parametrize("trial", range(SHORT_TRIALS))
def test_killed_engine_converges_to_the_undisturbed_state(trial, reference, tmp_path):
    crash_trial(tmp_path, trial, reference)


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(SHORT_TRIALS, SHORT_TRIALS + LONG_TRIALS))
def test_killed_engine_converges_many_trials(trial, reference, tmp_path):
    started = time.monotonic()
    crash_trial(tmp_path, trial, reference)
    print(f"trial {trial} took {time.monotonic() - started:.1f} s")
