"""Test segment through the page: pick, dry run (recorded as dry_run), apply (a segment run)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, sql

pytestmark = pytest.mark.app


def test_dry_run_then_apply_a_segment(world: dict) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/segment.py")
    at.run()
    at.checkbox[0].uncheck().run()  # the first sync already pushed most qualifying contacts
    next(b for b in at.button if b.label == "Pick contacts at random").click().run()
    next(b for b in at.button if b.label.startswith("Dry run")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    (dry,) = sql(world, "SELECT count(*) FROM sync_runs WHERE kind = 'dry_run'")[0]
    assert dry == 1
    next(b for b in at.button if b.label.startswith("Confirm: apply")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    status, written = sql(
        world, "SELECT status, records_written FROM sync_runs WHERE kind = 'segment'"
    )[0]
    assert status in ("succeeded", "partial")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Records written"] == str(written)
    assert shown["Contacts in the segment"] == "50"
