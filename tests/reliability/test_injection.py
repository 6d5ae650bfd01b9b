"""Injection: a value typed into the dashboard or carried by the data can never change a SOQL
query or a DuckDB statement beyond its value.

Where such input reaches a query: SOQL string literals go through `soql_quote` (connector), SOQL
identifiers (mapped field names) only through config validation; DuckDB statements take values
as parameters (queries, fixes, preview, the person search of the history page); the inclusion
preview evaluates criteria in pandas over the mirror, not in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sandbox.salesforce import soql
from sandbox.salesforce.schema import SCHEMA
from sync_engine import queries, ui_state
from sync_engine.config import ConfigError, parse_config
from sync_engine.connectors.salesforce import soql_quote
from sync_engine.engine import SyncEngine
from tests.reliability.conftest import Pair, dashboard_env, open_page, start_pair

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = (
    "' OR Id != null --",
    "\\'",
    "'; DROP TABLE sync_errors; --",
    "x' OR '1'='1",
    "\u2019 OR \u2018a\u2018=\u2018a",  # typographic quotes
    "\uff07 OR 1=1",  # fullwidth apostrophe
    "trailing backslash\\",
    "\\",
    "O'Brien",
    'say "hi"\n\r\tnow',
    "100% _real_",
    "%",
    "Robert'); DROP TABLE Students;--",
)


# ------------------------------------------------------------------ SOQL (unit)


@pytest.mark.parametrize("value", HOSTILE)
def test_a_quoted_soql_value_is_one_literal_equal_to_the_input(value: str) -> None:
    """Parsed as Salesforce parses it (the sandbox's SOQL grammar): one comparison, one string
    literal, exactly the value; nothing after it."""
    query = soql.parse(f"SELECT Id FROM Lead WHERE LastName = {soql_quote(value)}", SCHEMA)
    assert isinstance(query.where, soql.Comparison)
    assert query.where.path.name == "LastName" and query.where.operator == "="
    assert [(lit.kind, lit.value) for lit in query.where.values] == [("string", value)]
    assert query.limit is None and not query.order_by


def test_a_null_byte_cannot_be_quoted_into_soql() -> None:
    with pytest.raises(ValueError, match="null byte"):
        soql_quote("nul\x00byte")


@pytest.mark.parametrize(
    "name",
    ["Email FROM User --", "Email, (SELECT Id FROM Contacts)", "Id;", "Title\nFROM Lead", "É"],
)
def test_a_mapped_salesforce_field_must_be_an_api_name(name: str) -> None:
    """Mapped field names are the only text composed into SOQL: config refuses anything else."""
    text = (ROOT / "sync.toml").read_text()
    hostile = text.replace('salesforce = "Title"', f"salesforce = {_toml(name)}", 1)
    assert hostile != text
    with pytest.raises(ConfigError, match="is not a Salesforce field API name"):
        parse_config(hostile)


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# ------------------------------------------------------------------ against a real sync


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pair, SyncEngine]]:
    pair = start_pair(tmp_path_factory.mktemp("injection"), seed=7, contacts=200)
    try:
        engine = pair.engine()
        engine.run_once()
        yield pair, engine
    finally:
        pair.sandbox.stop()


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_soql_values_select_only_what_equals_them_in_the_org(
    world: tuple[Pair, SyncEngine], value: str
) -> None:
    _pair, engine = world
    everyone = engine.sf.query_all("SELECT Id FROM Lead")
    where = f"LastName = {soql_quote(value)}"
    rows = engine.sf.query_all(f"SELECT Id, LastName FROM Lead WHERE {where}")
    assert everyone and all(r["LastName"] == value for r in rows)
    assert len(rows) < len(everyone)


def _counts(engine: SyncEngine) -> dict[str, int]:
    with engine.store.read() as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("sync_errors", "id_links", "records", "field_changes")
        }


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_filters_and_searches_select_nothing_from_duckdb(
    world: tuple[Pair, SyncEngine], value: str
) -> None:
    _pair, engine = world
    before = _counts(engine)
    assert queries.errors_frame(engine.store, category=value).empty
    assert queries.errors_frame(engine.store, status=[value, "open' OR '1'='1"]).empty
    assert queries.runs_frame(engine.store, kind=value).empty
    assert queries.conflicts_frame(engine.store, field=value).empty
    assert queries.person_timeline(engine.store, value).empty
    assert _counts(engine) == before


# ------------------------------------------------------------------ from the dashboard


@pytest.fixture
def dashboard(world: tuple[Pair, SyncEngine]) -> Iterator[SyncEngine]:
    pair, engine = world
    with dashboard_env(pair, engine.store.path):
        yield engine


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("value", ["' OR Id != null --", "\\", "'; DROP TABLE records; --"])
def test_a_hostile_criterion_value_in_the_inclusion_preview_selects_nobody(
    dashboard: SyncEngine, value: str
) -> None:
    before = _counts(dashboard)
    at = open_page("pages/inclusion.py")
    assert int(_metric(at, "Qualifying contacts").replace(",", "")) > 0
    row = {"id": 10**6, "property": "email", "operator": "eq", "value": value}
    at.session_state[ui_state.INCLUSION_DRAFT] = {
        "join": "and",
        "groups": [{"join": "and", "criteria": [row]}],
    }
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert _metric(at, "Qualifying contacts") == "0"
    assert _counts(dashboard) == before


@pytest.mark.parametrize("value", ["' OR 1=1 --", "%", "\\", "'; DROP TABLE id_links; --"])
def test_a_hostile_search_on_the_history_page_finds_nothing_and_breaks_nothing(
    dashboard: SyncEngine, value: str
) -> None:
    before = _counts(dashboard)
    at = open_page("pages/history.py")
    at.text_input(key=ui_state.HISTORY_EMAIL).input(value).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Nothing recorded for this email" in w.value for w in at.warning)
    assert not at.dataframe
    assert _counts(dashboard) == before
