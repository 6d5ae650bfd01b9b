"""The audit store survives kill -9 during a write: DuckDB's write-ahead log keeps every committed
batch, and a batch cut short leaves nothing behind.

A child process writes numbered batches (a run, its field changes, its counts) in a loop and prints
each batch number after its commit returns; the test kills it -9 at a random moment while it
writes, reopens the file in this process, and checks what a RevOps admin would: the file opens,
every batch the child saw committed is there, and every batch present is whole.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sync_engine.store import AuditStore, FieldChange
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.reliability

ROWS_PER_BATCH = 500
KILL_SEED = 4242

WRITER = f"""
import sys
from pathlib import Path
from sync_engine.store import AuditStore, FieldChange

store = AuditStore(Path(sys.argv[1]), lock_timeout=60)
batch = 0
while True:
    batch += 1
    with store.write() as tx:
        run_id = tx.start_run("scheduled")
        print("writing", batch, run_id, flush=True)
        tx.record_changes(
            FieldChange(
                object="contact", direction="hubspot_to_salesforce", field="Phone",
                old_value=None, new_value=f"{{batch}}-{{i}}", hs_id=str(i), sf_id=f"00Q{{i}}",
                reason="created",
            )
            for i in range({ROWS_PER_BATCH})
        )
        tx.finish_run(run_id, status="succeeded", records_written={ROWS_PER_BATCH})
    print("committed", batch, run_id, flush=True)
"""


def test_kill_during_writes_keeps_committed_batches_whole(tmp_path: Path) -> None:
    db = tmp_path / "audit.duckdb"
    rng = random.Random(KILL_SEED)
    committed: set[int] = set()  # run ids whose commit returned in the child
    for round_no in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        seen: list[int] = []
        wanted = rng.randint(3, 12)  # the batch to kill: this many after the child started
        delay = rng.uniform(0.0, 0.02)  # this far into its transaction
        in_flight = None
        while in_flight is None:
            line = child.stdout.readline()
            assert line, f"the writer died: {child.stderr.read() if child.stderr else ''}"
            what, batch, run_id = line.split()
            if what == "committed":
                seen.append(int(run_id))
            elif int(batch) == wanted:
                in_flight = int(run_id)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        rest = child.stdout.read().split("\n")  # its commit may have returned before the kill
        returned = f"committed {wanted} {in_flight}" in rest
        committed |= set(seen) | ({in_flight} if returned else set())
        with AuditStore(db).read() as conn:
            runs = dict(conn.execute("SELECT run_id, status FROM sync_runs").fetchall())
            per_run = dict(
                conn.execute(
                    "SELECT run_id, count(*) FROM field_changes GROUP BY run_id"
                ).fetchall()
            )
        missing = sorted(set(committed) - set(runs))
        assert missing == [], f"committed runs lost after kill -9: {missing}"
        partial = {r: n for r, n in per_run.items() if n != ROWS_PER_BATCH}
        assert partial == {}, f"batches present only in part: {partial}"
        unfinished = sorted(r for r, s in runs.items() if s != "succeeded")
        assert unfinished == [], f"runs written without their finish: {unfinished}"
        assert set(per_run) == set(runs)
        # Only the batch in flight at the kill may be there without its commit having returned.
        assert set(runs) - committed <= {in_flight}
        print(
            f"round {round_no}: killed in batch {wanted}, {delay * 1000:.0f} ms into its "
            f"transaction; its commit {'returned' if returned else 'did not return'}, and it is "
            f"{'there, whole' if in_flight in runs else 'absent'}"
        )
        committed |= set(runs)

    # The file takes new writes after all that.
    with AuditStore(db).write() as tx:
        tx.record_changes(
            [FieldChange("contact", "hubspot_to_salesforce", "Phone", None, "after", hs_id="x")]
        )
    with AuditStore(db).read() as conn:
        assert conn.execute(
            "SELECT count(*) FROM field_changes WHERE new_value = 'after'"
        ).fetchone() == (1,)
