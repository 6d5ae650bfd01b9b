"""The command line answers --help everywhere and turns bad input into one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync_engine", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", [[], ["sandbox"]])
def test_every_command_answers_help(command):
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert "usage:" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["sandbox", "--seed", "lots"], "--seed must be 'default', 'empty' or a number"),
        (["sandbox", "--fault-rate", "1.5"], "must be between 0 and 1"),
        (["sandbox", "--sf-port", "http"], "not a port number"),
        (["no-such-command"], "invalid choice"),
    ],
)
def test_bad_input_is_one_clear_line_not_a_traceback(args, fragment):
    result = run_cli(*args)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_an_engine_process_freezes_its_startup_objects_and_collects_less_often() -> None:
    """`once`/`run` settle the process after building the engine: start-up objects leave the
    collector's walk and young objects are collected per 10,000, not per 700."""
    import gc

    from sync_engine.runtime import ENGINE_GC_THRESHOLD, settle_engine_process

    before = gc.get_threshold()
    try:
        settle_engine_process()
        assert gc.get_threshold() == ENGINE_GC_THRESHOLD
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_an_engine_process_converts_to_arrow_without_importing_pandas() -> None:
    """pandas costs the engine ~45 MB and it never uses it; the dashboard still can."""
    script = (
        "import sys, duckdb, pyarrow as pa\n"
        "from sync_engine.runtime import prepare_engine_process\n"
        "prepare_engine_process()\n"
        "from sync_engine import mirror\n"
        "conn = duckdb.connect()\n"
        "conn.execute('CREATE TABLE t (id VARCHAR)')\n"
        "conn.register('b', pa.table({'id': pa.array(['a', None])}))\n"
        "conn.execute('INSERT INTO t SELECT * FROM b')\n"
        "print('pandas' in sys.modules, conn.execute('SELECT count(*) FROM t').fetchone()[0])\n"
        "print(pa.table({'id': ['x']}).to_pandas().shape)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert found.stdout.split("\n")[:2] == ["False 2", "(1, 1)"]
