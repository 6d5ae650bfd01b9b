"""Every page renders against a DuckDB made by a real engine run, and shows what SQL says."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from sync_engine import mirror
from sync_engine.inclusion import matches
from sync_engine.models import System
from tests.app.conftest import APP, sql

pytestmark = pytest.mark.app

PAGES = [
    "pages/health.py",
    "pages/inclusion.py",
    "pages/mappings.py",
    "pages/errors.py",
    "pages/duplicates.py",
    "pages/segment.py",
    "pages/history.py",
]


def page(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(path)
    return at.run()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_without_exception(world: dict, path: str) -> None:
    at = page(path)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{path} shows no title"


def test_health_shows_the_store_counts(world: dict) -> None:
    at = page("pages/health.py")
    (records,) = sql(
        world,
        'SELECT count(DISTINCT (hs_id, sf_id)) FROM field_changes WHERE "at" >= now() - '
        "INTERVAL 1 DAY",
    )[0]
    assert metric(at, "Records synced, last 24 h") == f"{records:,}"
    open_errors = dict(
        sql(
            world,
            "SELECT category, count(*) FROM sync_errors WHERE status IN ('open', 'retrying') "
            "GROUP BY 1",
        )
    )
    shown = at.dataframe[0].value
    assert dict(zip(shown["category"], shown["open errors"], strict=True)) == open_errors
    assert open_errors, "the seeded mess must produce errors"


def test_errors_page_lists_every_open_error(world: dict) -> None:
    at = page("pages/errors.py")
    (count,) = sql(world, "SELECT count(*) FROM sync_errors WHERE status IN ('open','retrying')")[0]
    assert len(at.dataframe[0].value) == count
    assert at.get("download_button"), "the CSV export is offered"


def test_inclusion_preview_count_equals_the_engines_evaluation(world: dict) -> None:
    engine = world["engine"]
    props = engine.schema().hs_properties["contacts"]
    with engine.store.read() as conn:
        contacts = mirror.all_of(conn, System.HUBSPOT, ["contacts"])
    expected = sum(
        matches(engine.config.inclusion, r.values, properties=props, record_id=r.id)
        for r in contacts
    )
    at = page("pages/inclusion.py")
    assert metric(at, "Qualifying contacts") == f"{expected:,}"
    assert metric(at, "Added vs active") == "0"


def test_history_shows_a_persons_timeline(world: dict) -> None:
    email, changes = sql(
        world,
        "SELECT r.key, count(*) FROM records r JOIN field_changes c "
        "ON c.hs_id = r.id AND c.object = 'contact' WHERE r.system = 'hubspot' "
        "AND r.object = 'contacts' AND r.key IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
    )[0]
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/history.py")
    at.run()
    at.text_input[0].input(email).run()
    assert not at.exception
    assert int(metric(at, "Changes")) >= changes
