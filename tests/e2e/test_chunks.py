"""A sync decided in many small chunks ends where one decided in a single chunk does.

Large backlogs are decided DECIDE_CHUNK changed records at a time (bounded memory); the chunk
boundaries must change nothing people can see: the same links, the same records in both
systems, the same audited field changes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sync_engine import engine as engine_mod
from tests.e2e.conftest import Pair, start_pair

pytestmark = pytest.mark.e2e


def _outcome(pair: Pair) -> dict[str, Any]:
    engine = pair.engine()
    report = engine.run_once(kind="initial")
    with engine.store.read() as conn:
        links = Counter(
            dict(conn.execute("SELECT object, count(*) FROM id_links GROUP BY 1").fetchall())
        )
        changes = Counter(
            {
                tuple(row[:3]): row[3]
                for row in conn.execute(
                    "SELECT object, direction, field, count(*) FROM field_changes GROUP BY ALL"
                ).fetchall()
            }
        )
        dirty = conn.execute("SELECT count(*) FROM records WHERE dirty").fetchone()
    leads = sorted(
        (r["Email"] or "", r["Company"] or "")
        for r in pair.soql("SELECT Email, Company FROM Lead WHERE IsConverted = false")
    )
    contacts = sorted(
        (c["properties"].get("email") or "", c["properties"].get("lifecyclestage") or "")
        for c in pair.hs_contacts("email", "lifecyclestage")
    )
    return {
        "status": report.status,
        "links": links,
        "changes": changes,
        "dirty": dirty,
        "leads": leads,
        "contacts": contacts,
    }


def test_small_decide_chunks_change_nothing_but_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = start_pair(tmp_path / "whole", seed=7, contacts=150)
    try:
        expected = _outcome(whole)
    finally:
        whole.sandbox.stop()
    monkeypatch.setattr(engine_mod, "DECIDE_CHUNK", 13)
    chunked = start_pair(tmp_path / "chunked", seed=7, contacts=150)
    try:
        found = _outcome(chunked)
    finally:
        chunked.sandbox.stop()
    assert expected["links"]["contact"] > 13  # the small chunks really split the work
    assert found == expected
