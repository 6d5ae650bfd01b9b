"""A sync decided in many small chunks ends where one decided in a single chunk does.

Large backlogs are decided DECIDE_CHUNK changed records at a time (bounded memory); the chunk
boundaries must change nothing people can see: the same links, the same records in both
systems, the same audited field changes."""

from __future__ import annotations

import itertools
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


def test_each_side_keeps_its_place_until_the_pass_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks move forward on both sides: a side that ran out of changed records while the
    other goes on never starts again from its first record (which would decide again, within
    the pass, the records left dirty to retry next cycle)."""
    monkeypatch.setattr(engine_mod, "DECIDE_CHUNK", 13)
    seen: list[tuple[str, dict[Any, Any]]] = []
    chunk = engine_mod.SyncEngine._chunk

    def recorded(self: Any, run_id: int, obj: Any, schema: Any, *, after: Any) -> Any:
        seen.append((obj.name, dict(after)))
        return chunk(self, run_id, obj, schema, after=after)

    monkeypatch.setattr(engine_mod.SyncEngine, "_chunk", recorded)
    pair = start_pair(tmp_path / "pair", seed=7, contacts=150)
    try:
        pair.engine().run_once(kind="initial")
    finally:
        pair.sandbox.stop()
    loops: list[list[dict[Any, Any]]] = []
    for _name, after in seen:
        if not after:  # each object's pass starts with no position
            loops.append([])
        loops[-1].append(after)
    moved_on = 0
    for positions in loops:
        for earlier, later in itertools.pairwise(positions):
            for side, place in earlier.items():
                assert side in later and later[side] >= place
                moved_on += later[side] > place
    assert moved_on > 20  # the chunks really took turns on both sides
