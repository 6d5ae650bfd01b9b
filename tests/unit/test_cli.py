"""The command line answers --help everywhere and turns bad input into one line and exit 2."""

from __future__ import annotations

import subprocess
import sys

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
