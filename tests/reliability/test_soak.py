"""Soak: the engine, two dashboards and the simulated people together for minutes.

Processes, as in production: `python -m sync_engine run` (the engine), two `streamlit run app.py`
servers (headless, on free ports, pointed at the same SYNC_DB; polled on Streamlit's health
endpoint), and two reader processes issuing the dashboard's queries (sync_engine.queries) in a
loop against that store. In this process: the sandbox with its simulated people, and a rep and a
marketer editing titles of people on both sides.

What a RevOps admin would check afterwards:
- no lock error anywhere: not in the engine's log, the dashboards' logs, nor the readers' output
  (the store waits and retries instead of showing one);
- no lost write: every title edited reached the other system, and every Salesforce phone the
  simulated reps edited on a synced person is in HubSpot;
- memory flat: the engine's RSS, sampled every few seconds, does not keep growing (the growth
  over the second half of the soak stays under a generous bound); the figures are printed.

2 minutes by default; `pytest -m slow` soaks for 10.
"""

from __future__ import annotations

import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from sync_engine.store import AuditStore
from tests.e2e.conftest import ROOT, Pair, start_pair
from tests.reliability.crash import (
    EDIT_FIELDS,
    INCLUSION_PROPERTIES,
    Edit,
    EngineProcess,
    _included,
    apply,
    digits,
    hs_id_of,
    sf_record,
    unique_emails,
)

pytestmark = pytest.mark.reliability

SIM_RATE = 2.0  # simulated people's actions per second
EDIT_EVERY_S = 3.0
SAMPLE_EVERY_S = 5.0
RSS_GROWTH_LIMIT_MB = 60.0  # last quarter over second quarter; generous: a leak keeps growing
LOCK_ERRORS = re.compile(
    r"Could not set lock|Conflicting lock|StoreBusyError|is locked by another process|"
    r"stayed busy|kept writing to",
    re.IGNORECASE,
)

READER = """
import sys, time, traceback
from pathlib import Path
from sync_engine import queries
from sync_engine.store import AuditStore

store, stop = AuditStore(Path(sys.argv[1])), Path(sys.argv[2])
reads = errors = 0
while not stop.exists():
    try:
        queries.status_summary(store)
        queries.runs_frame(store, limit=50)
        queries.errors_frame(store, limit=200)
        queries.changes_frame(store)
        queries.error_counts(store)
        queries.api_usage_frame(store)
        reads += 1
    except Exception:
        errors += 1
        traceback.print_exc()
    time.sleep(0.2)
print(f"reader done: {reads} rounds of reads, {errors} failed", flush=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def dashboards(pair: Pair, tmp: Path, count: int) -> list[tuple[subprocess.Popen[bytes], int]]:
    env = {**os.environ, **pair.settings_env(), "PYTHONPATH": str(ROOT)}
    env["LEADBRIDGE_SANDBOX_DIR"] = str(tmp / "no-sandbox")
    started = []
    for n in range(count):
        port = _free_port()
        with (tmp / f"dashboard{n}.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                 "--server.headless", "true", "--server.port", str(port),
                 "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        started.append((proc, port))
    return started


def healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=10).ok
    except requests.RequestException:
        return False


def _still_missing(missing: Callable[[], list[str]], timeout: float) -> list[str]:
    """Poll `missing()` (what has not arrived yet) until it is empty or the time is up; what
    is still missing then."""
    deadline = time.monotonic() + timeout
    while (left := missing()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 180) -> None:
    if _still_missing(lambda: [] if condition() else [what], timeout):
        raise AssertionError(f"timed out waiting for {what}")


def wait_until_none(missing: Callable[[], list[str]], what: str, timeout: float, log: Path) -> None:
    """wait_for a list of what has not arrived to empty; on a timeout, say which items are still
    missing and how the engine's log ends, so that a failure can be diagnosed."""
    if left := _still_missing(missing, timeout):
        tail = log.read_text(errors="replace").splitlines()[-40:]
        raise AssertionError(
            f"timed out waiting for {what}, {len(left)} missing:\n" + "\n".join(left[:20])
            + "\nthe engine's log ends:\n" + "\n".join(tail)
        )  # fmt: skip


def first_run_done(pair: Pair) -> bool:
    store = AuditStore(pair.workdir / "sync.duckdb")
    if not store.exists:
        return False
    with store.read() as conn:
        row = conn.execute(
            "SELECT count(*) FROM sync_runs WHERE status IN ('succeeded', 'partial')"
        ).fetchone()
    return bool(row and row[0])


def soak(tmp: Path, *, minutes: float) -> None:
    pair = start_pair(tmp, seed=7, contacts=500)
    rng = random.Random(99)
    stop = tmp / "stop-readers"
    procs: list[subprocess.Popen[Any]] = []
    engine = EngineProcess(pair, ("run", "--interval", "2"), tmp / "engine.log")
    try:
        targets = list(unique_emails(pair).items())
        rng.shuffle(targets)
        engine.start()
        wait_for(lambda: first_run_done(pair), "the engine's first run")
        servers = dashboards(pair, tmp, 2)
        procs += [p for p, _ in servers]
        readers = [
            subprocess.Popen(
                [sys.executable, "-c", READER, str(pair.workdir / "sync.duckdb"), str(stop)],
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in servers
        ]
        procs += readers
        for _proc, port in servers:
            wait_for(lambda port=port: healthy(port), f"the dashboard on port {port}")
        pair.sandbox.simulate(SIM_RATE)

        edits: list[Edit] = []
        samples: list[tuple[float, float]] = []
        began = time.monotonic()
        next_edit = next_sample = began
        while time.monotonic() - began < minutes * 60:
            assert engine.alive(), "the engine died: " + (tmp / "engine.log").read_text()[-3000:]
            now = time.monotonic()
            if now >= next_sample:
                samples.append((now - began, rss_mb(engine.pid)))
                for _proc, port in servers:
                    assert healthy(port), f"the dashboard on port {port} stopped answering"
                next_sample = now + SAMPLE_EVERY_S
            if now >= next_edit and targets:
                email, info = targets.pop()
                system = rng.choice(("salesforce", "hubspot"))
                edit = Edit(system, "title", email, f"Soak {system[:2]} {len(edits)}",
                            info["sf_object"])  # fmt: skip
                apply(pair, edit)
                edits.append(edit)
                next_edit = now + EDIT_EVERY_S
            time.sleep(0.2)

        simulator = pair.sandbox.simulator
        pair.sandbox.simulate(0)
        actions = list(simulator.actions)
        stop.touch()
        outputs = [r.communicate(timeout=120)[0] for r in readers]
        print("engine RSS (s, MB): " + ", ".join(f"{t:.0f}:{m:.1f}" for t, m in samples))
        print(*outputs, sep="")

        # No lost write: let the engine catch up, then look at both systems.
        log = tmp / "engine.log"
        wait_until_none(lambda: lost_titles(pair, edits, actions), "every title edit", 240, log)
        phone_edits = sim_phone_edits(pair, actions)
        wait_until_none(lambda: lost_phones(pair, phone_edits), "every phone edit", 240, log)
        print(f"{len(edits)} title edits and {len(phone_edits)} simulated phone edits arrived")

        # Memory flat: the last quarter's typical RSS is not far above the second quarter's.
        quarter = [[m for t, m in samples if q * minutes * 15 <= t < (q + 1) * minutes * 15]
                   for q in range(4)]  # fmt: skip
        growth = statistics.median(quarter[3]) - statistics.median(quarter[1])
        print(f"engine RSS median by quarter: "
              f"{', '.join(f'{statistics.median(q):.1f}' for q in quarter)} MB "
              f"(growth {growth:.1f} MB)")  # fmt: skip
        assert growth < RSS_GROWTH_LIMIT_MB

        # No lock error shown anywhere.
        logs = {"engine": (tmp / "engine.log").read_text(errors="replace")}
        logs |= {f"dashboard{n}": (tmp / f"dashboard{n}.log").read_text() for n in range(2)}
        logs |= {f"reader{n}": out for n, out in enumerate(outputs)}
        locks = {name: LOCK_ERRORS.findall(text) for name, text in logs.items()}
        assert {k: v for k, v in locks.items() if v} == {}
        assert all(" 0 failed" in out for out in outputs), outputs
    finally:
        stop.touch()
        pair.sandbox.simulate(0)
        if engine.proc is not None:
            engine.kill()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=60)
        pair.sandbox.stop()


def lost_titles(pair: Pair, edits: list[Edit], actions: list[Any]) -> list[str]:
    """Edits whose value is not in both systems. A person the simulated people also gave a new
    title (their both-sides edit) keeps whichever value the conflict rule chose: for those, both
    systems must agree. A HubSpot edit of a contact the simulated people have since taken off
    the inclusion list (its score fell) stays in HubSpot: the list holds it from Salesforce."""
    retitled = {a.record_id for a in actions if a.ok and a.field in ("Title", "jobtitle")}
    lost = []
    for edit in edits:
        sf_field, hs_prop = EDIT_FIELDS[edit.kind]
        _sf_object, sf_row = sf_record(pair, edit.email, sf_field)
        sf_id, hs_id = sf_row["Id"], hs_id_of(pair, edit.email)
        sf = sf_row.get(sf_field)
        props = pair.hs_contact(hs_id, hs_prop, *INCLUSION_PROPERTIES)["properties"]
        hs = props.get(hs_prop)
        held_back = edit.system == "hubspot" and not _included(props)
        expected = sf if {sf_id, hs_id} & retitled else edit.value
        if (sf != expected and not held_back) or hs != expected:
            lost.append(f"{edit}: Salesforce {sf}, HubSpot {hs!r}")
    return lost


def sim_phone_edits(pair: Pair, actions: list[Any]) -> list[str]:
    """Salesforce records whose phone a simulated rep edited, that the sync links to HubSpot."""
    edited = {a.record_id for a in actions if a.ok and a.kind == "sf_edit_phone"}
    with AuditStore(pair.workdir / "sync.duckdb").read() as conn:
        linked = {sf for (sf,) in conn.execute("SELECT sf_id FROM id_links").fetchall()}
    return sorted(edited & linked)


def lost_phones(pair: Pair, sf_ids: list[str]) -> list[str]:
    with AuditStore(pair.workdir / "sync.duckdb").read() as conn:
        hs_of = dict(conn.execute("SELECT sf_id, hs_id FROM id_links").fetchall())
    lost = []
    for sf_id in sf_ids:
        obj = "Lead" if sf_id.startswith("00Q") else "Contact"
        sf = pair.sf("GET", f"sobjects/{obj}/{sf_id}")
        hs = pair.hs_contact(hs_of[sf_id], "phone")["properties"].get("phone")
        if digits(sf.get("Phone")) != digits(hs):
            lost.append(f"{obj} {sf_id} phone {sf.get('Phone')!r}, HubSpot {hs!r}")
    return lost


def test_soak_two_minutes(tmp_path):
    soak(tmp_path, minutes=2)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ten minutes of soak, then the start and the checks after it
def test_soak_ten_minutes(tmp_path):
    soak(tmp_path, minutes=10)
