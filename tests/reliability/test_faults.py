"""Faults: with 3 calls in 10 failing, of every kind both sandboxes can inject, the sync ends where
a fault-free run ends; every failure is retried with backoff and audited as transient (or as an
api_limit wait), and an expired Salesforce session is renewed when the credentials allow a login.

The short version runs by default; the long one (more seeds and both login methods) is `slow`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from sync_engine.engine import SyncEngine
from sync_engine.errors import RetriableError
from sync_engine.runtime import build_engine
from sync_engine.settings import load_settings
from sync_engine.store import AuditStore
from tests.e2e.conftest import ROOT, Pair, start_pair
from tests.e2e.test_audit import _cli
from tests.e2e.test_resilience import (
    CONTACTS,
    SEED,
    _no_duplicates,
    fingerprint,
    undisturbed_state,
)

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]

RATE = 0.3
SF_KINDS = (
    "503",
    "UNABLE_TO_LOCK_ROW",
    "concurrent_limit",
    "timeout",
    "reset",
    "malformed",
    "expired_session",
)
HS_KINDS = ("502", "503", "429", "429_no_retry_after", "timeout", "reset", "malformed")
EVERY_KIND = {"sf": SF_KINDS, "hs": HS_KINDS}
# The faults that strike after the work is done, so a retry repeats a write that succeeded.
ANSWER_LOST = {"sf": ("malformed", "timeout"), "hs": ("malformed",)}
CLIENT_TIMEOUT_S = 4.0  # the engine's wait for an answer in these tests
FAULT_TIMEOUT_S = 5.0  # a `timeout` fault holds the answer longer than that

# How the engine audits each injected fault kind: (category, code) of its resolved retry row.
# A lock refused inside a collection is retried per record by the engine and is not listed.
AUDITED: dict[str, dict[str, tuple[str, str]]] = {
    "salesforce": {
        "503": ("transient", "SERVER_UNAVAILABLE"),
        "concurrent_limit": ("api_limit", "REQUEST_LIMIT_EXCEEDED"),
        "timeout": ("transient", "TIMEOUT"),
        "reset": ("transient", "CONNECTION_FAILED"),
        "malformed": ("transient", "MALFORMED_RESPONSE"),
        "expired_session": ("transient", "INVALID_SESSION_ID"),
    },
    "hubspot": {
        "502": ("transient", "502"),
        "503": ("transient", "SERVICE_UNAVAILABLE"),
        "429": ("api_limit", "RATE_LIMITS"),
        "429_no_retry_after": ("api_limit", "RATE_LIMITS"),
        "timeout": ("transient", "TIMEOUT"),
        "reset": ("transient", "CONNECTION_FAILED"),
        "malformed": ("transient", "MALFORMED_RESPONSE"),
    },
}


def login_env(pair: Pair, login: str) -> dict[str, str]:
    """The environment of an engine that reaches Salesforce by `login` (session, password or
    client_credentials), with its own audit store."""
    return {
        **pair.env.as_env(login=login),
        "SYNC_DB": str(pair.workdir / f"sync-{login}.duckdb"),
        "SYNC_CONFIG": str(ROOT / "sync.toml"),
    }


def engine_for(pair: Pair, login: str) -> SyncEngine:
    settings = load_settings(login_env(pair, login), secrets_path=pair.workdir / "none.toml")
    store = AuditStore(settings.db_path, secrets=settings.secrets)
    engine = build_engine(settings, store=store, timeout=CLIENT_TIMEOUT_S)
    pair.engines.append(engine)
    return engine


def inject(pair: Pair, *, rate: float, seed: int, kinds: dict[str, tuple[str, ...]]) -> None:
    pair.admin("salesforce", "faults", {"rate": rate, "seed": seed, "kinds": list(kinds["sf"])})
    pair.admin("hubspot", "faults", {"rate": rate, "seed": seed + 1, "kinds": list(kinds["hs"])})


def faults_off(pair: Pair) -> dict[str, dict[str, int]]:
    """Stop injecting; returns how many faults of each kind each system injected."""
    injected = {}
    for system in ("salesforce", "hubspot"):
        injected[system] = pair.admin(system, "faults", {"rate": 0})["injected"]
    return injected


def run_under_faults(engine: SyncEngine, *, cycles: int) -> int:
    """Cycles as the scheduler runs them (a cycle whose retries all failed waits for the next);
    after the sync settles the idle cycles keep polling under faults. Returns how many cycles
    read and wrote nothing."""
    quiet = 0
    for _ in range(cycles):
        try:
            report = engine.run_once()
        except RetriableError:
            continue
        quiet += report.records_written == 0 and report.records_read == 0
    return quiet


def retry_audit(engine: SyncEngine) -> dict[str, dict[tuple[str, str], int]]:
    """Resolved retries per system: (category, code) -> attempts."""
    with engine.store.read() as conn:
        rows = conn.execute(
            "SELECT system, category, code, sum(attempts) FROM sync_errors "
            "WHERE object = 'api' AND status = 'resolved' GROUP BY ALL"
        ).fetchall()
    audit: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    for system, category, code, attempts in rows:
        audit[system][(category, code)] = int(attempts)
    return audit


def assert_converged(pair: Pair, engine: SyncEngine, reference: dict[str, object]) -> None:
    """Faults are off: one more cycle finds nothing to do, and both systems hold exactly what a
    fault-free run left (same records, none duplicated, no update lost)."""
    report = engine.run_once()
    assert (report.records_read, report.records_written) == (0, 0), report.summary()
    state = fingerprint(pair)
    _no_duplicates(state)
    assert state == reference


def assert_every_fault_audited(engine: SyncEngine, injected: dict[str, dict[str, int]]) -> None:
    """Each kind of fault injected shows as a resolved retry of its category and code."""
    audit = retry_audit(engine)
    for system, counts in injected.items():
        for kind, count in counts.items():
            expected = AUDITED[system].get(kind)
            if expected is None or not count:
                continue
            attempts = audit[system].get(expected, 0)
            assert attempts > 0, f"{system} injected {count} {kind} but audited none: {audit}"
    # A fault is never audited as anything but a retried, resolved transient or limit wait.
    categories = {category for rows in audit.values() for category, _code in rows}
    assert categories <= {"transient", "api_limit"}


@pytest.fixture(scope="module")
def fault_free(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Where an undisturbed sync of the same seed ends (the state every trial must reach)."""
    return undisturbed_state(tmp_path_factory.mktemp("fault-free"))


@pytest.fixture
def fault_pair(tmp_path: Path) -> Any:
    pair = start_pair(tmp_path, seed=SEED, contacts=CONTACTS)
    pair.admin("salesforce", "faults", {"timeout_seconds": FAULT_TIMEOUT_S})
    pair.admin("hubspot", "fault-settings", {"timeout_seconds": FAULT_TIMEOUT_S})
    yield pair
    pair.sandbox.stop()


def fault_trial(
    pair: Pair,
    reference: dict[str, object],
    *,
    kinds: dict[str, tuple[str, ...]],
    seed: int,
    cycles: int,
) -> SyncEngine:
    engine = engine_for(pair, "password")
    inject(pair, rate=RATE, seed=seed, kinds=kinds)
    quiet = run_under_faults(engine, cycles=cycles)
    injected = faults_off(pair)

    assert quiet, f"no quiet cycle in {cycles} under faults; injected {injected}"
    assert sum(injected["salesforce"].values()) >= 3, injected
    assert sum(injected["hubspot"].values()) >= 3, injected
    assert_every_fault_audited(engine, injected)
    assert engine.sf.renewals == injected["salesforce"].get("expired_session", 0)
    assert_converged(pair, engine, reference)
    return engine


@pytest.mark.parametrize("kinds", [EVERY_KIND, ANSWER_LOST], ids=["every-kind", "answer-lost"])
def test_faults_at_three_in_ten_converge_to_the_fault_free_state(fault_pair, fault_free, kinds):
    fault_trial(fault_pair, fault_free, kinds=kinds, seed=11, cycles=10)


@pytest.mark.parametrize("login", ["password", "client_credentials"])
def test_an_expired_session_is_renewed_mid_run(fault_pair, fault_free, login):
    engine = engine_for(fault_pair, login)
    logins_before = fault_pair.stats("salesforce")["logins"]["logins"]
    inject(fault_pair, rate=0.1, seed=5, kinds={"sf": ("expired_session",), "hs": ("503",)})
    quiet = run_under_faults(engine, cycles=8)
    injected = faults_off(fault_pair)

    assert quiet
    expired = injected["salesforce"].get("expired_session", 0)
    assert expired >= 1, injected
    assert engine.sf.renewals == expired
    assert fault_pair.stats("salesforce")["logins"]["logins"] == logins_before + expired
    assert retry_audit(engine)["salesforce"][("transient", "INVALID_SESSION_ID")] >= 1
    assert_converged(fault_pair, engine, fault_free)


def test_with_a_session_id_only_an_expired_session_stops_once_with_one_clear_line(
    fault_pair, tmp_path
):
    fault_pair.admin(
        "salesforce", "faults", {"rate": RATE, "seed": 3, "kinds": ["expired_session"]}
    )
    done = _cli(fault_pair, tmp_path)  # `python -m sync_engine once` with the session id
    faults_off(fault_pair)

    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: Salesforce answered 401 INVALID_SESSION_ID")
    assert "set a fresh SALESFORCE_SESSION_ID" in lines[0]
    assert "SALESFORCE_USERNAME" in lines[0] and "SALESFORCE_CLIENT_ID" in lines[0]
    assert fault_pair.env.salesforce_token not in done.stderr + done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("seed", [21, 37, 58, 73])
def test_long_faults_of_every_kind_over_more_seeds_and_cycles(fault_pair, fault_free, seed):
    engine = fault_trial(fault_pair, fault_free, kinds=EVERY_KIND, seed=seed, cycles=20)
    # More idle cycles under faults: nothing is read or written again, nothing changes.
    inject(fault_pair, rate=RATE, seed=seed + 100, kinds=EVERY_KIND)
    assert run_under_faults(engine, cycles=10)
    faults_off(fault_pair)
    assert_converged(fault_pair, engine, fault_free)
