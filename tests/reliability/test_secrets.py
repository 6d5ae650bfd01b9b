"""Secrets: the Salesforce session, the HubSpot token and a password planted in the environment
never appear in DuckDB, logs, exceptions, the dashboard or sync.toml, after runs with faults and
refused records; secrets.toml and data/ are git-ignored."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sync_engine.config import load_config
from sync_engine.runtime import build_engine
from sync_engine.settings import load_settings
from sync_engine.store import AuditStore
from tests.app.test_pages import PAGES
from tests.reliability.conftest import ROOT, Pair, dashboard_env, open_page, start_pair

pytestmark = pytest.mark.reliability

PASSWORD = "PLANTED-pw-7f3c1e9a2b"
CLIENT_SECRET = "PLANTED-cs-5d8e0f4a6c"


@dataclass
class Run:
    pair: Pair
    env: dict[str, str] = field(repr=False)  # a failing test's report must not print them
    secrets: tuple[str, ...] = field(repr=False)
    db: Path = Path()
    logs: list[str] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)
    cli: str = ""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("secrets")
    pair = start_pair(tmp, seed=7, contacts=200)
    env = pair.settings_env(SALESFORCE_PASSWORD=PASSWORD, SALESFORCE_CLIENT_SECRET=CLIENT_SECRET)
    env["SALESFORCE_USERNAME"] = "integration@example.com"
    secrets = (
        env["SALESFORCE_SESSION_ID"],
        env["HUBSPOT_ACCESS_TOKEN"],
        PASSWORD,
        CLIENT_SECRET,
    )
    out = Run(pair=pair, env=env, secrets=secrets, db=tmp / "sync.duckdb")
    handler = _Collect(out.logs)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        settings = load_settings(env, secrets_path=tmp / "none.toml")
        out.raised.append(repr(settings))
        engine = build_engine(
            settings,
            config=load_config(ROOT / "sync.toml"),
            store=AuditStore(out.db, secrets=settings.secrets),
        )
        for system in ("salesforce", "hubspot"):
            pair.admin(system, "faults", {"rate": 0.3, "seed": 5})
        for _ in range(3):  # faults, retries, refused records (the seed's mess)
            try:
                engine.run_once()
            except Exception as exc:  # a cycle may give up under faults: its words are checked
                out.raised += [str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)]
        out.cli = _cli(env)
        for system in ("salesforce", "hubspot"):
            pair.admin(system, "faults", {"rate": 0})
        engine.run_once()
        # A refused login: the error names the method, never the secret.
        bad = {**env, "SALESFORCE_SESSION_ID": env["SALESFORCE_SESSION_ID"][:-4] + "XXXX"}
        try:
            build_engine(load_settings(bad, secrets_path=tmp / "none.toml")).run_once()
        except Exception as exc:
            out.raised += [str(exc), repr(exc)]
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        pair.sandbox.stop()


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(self.format(record))
        if record.exc_info:
            self.into.append(logging.Formatter().formatException(record.exc_info))


def _cli(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sync_engine", "once"],
        env={**env, "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.stdout + done.stderr


def _leaks(run: Run, text: str) -> list[str]:
    """The secrets in text, also a recognisable half of each (a truncated copy leaks too)."""
    return [s[:8] + "…" for s in run.secrets if s in text or s[len(s) // 2 :] in text]


def test_the_runs_met_faults_and_refused_records(run: Run) -> None:
    """Otherwise the search below proves little: errors and retries were recorded."""
    store = AuditStore(run.db)
    with store.read() as conn:
        categories = {r[0] for r in conn.execute("SELECT category FROM sync_errors").fetchall()}
    assert "property_value" in categories
    assert any("retry" in line.lower() or "transient" in line.lower() for line in run.logs) or (
        "transient" in categories
    )


def test_no_secret_in_any_duckdb_table(run: Run) -> None:
    store = AuditStore(run.db)
    found: dict[str, list[str]] = {}
    with store.read() as conn:
        tables = [r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        assert "sync_errors" in tables and "api_usage" in tables
        for table in tables:
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            leaks = _leaks(run, "\n".join(repr(row) for row in rows))
            if leaks:
                found[table] = leaks
    assert not found


def test_no_secret_in_logs_exceptions_or_the_cli_output(run: Run) -> None:
    assert run.cli and run.raised  # logs may be empty: whatever was logged is searched
    assert not _leaks(run, "\n".join(run.logs))
    assert not _leaks(run, "\n".join(run.raised))
    assert not _leaks(run, run.cli)


def test_no_secret_in_sync_toml(run: Run) -> None:
    assert not _leaks(run, (ROOT / "sync.toml").read_text())


def _page_text(at: AppTest) -> str:
    parts: list[str] = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "text", "code", "json"):
        parts += [str(e.value) for e in getattr(at, kind)]
    for kind in ("error", "warning", "info", "success", "exception"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value} {m.help}" for m in at.metric]
    parts += [df.value.to_csv() for df in at.dataframe]
    for kind in ("text_input", "selectbox", "multiselect", "button"):
        parts += [f"{e.label} {getattr(e, 'value', '')}" for e in getattr(at, kind)]
    return "\n".join(parts)


@pytest.mark.parametrize("page", PAGES)
def test_no_secret_on_any_dashboard_page(run: Run, page: str) -> None:
    planted = {k: run.env[k] for k in ("SALESFORCE_PASSWORD", "SALESFORCE_CLIENT_SECRET")}
    with dashboard_env(run.pair, run.db, **planted):  # the environment the runs had
        at = open_page(page)
        text = _page_text(at)
    assert text.strip(), f"{page} rendered nothing"
    assert not _leaks(run, text)


@pytest.mark.parametrize("path", [".streamlit/secrets.toml", "data/sync.duckdb", "data/x/y.env"])
def test_secrets_file_and_data_are_git_ignored(path: str) -> None:
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == path
