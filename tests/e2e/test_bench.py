"""`python -m sync_engine bench` at a tiny size: every figure is there, and measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync_engine.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    argv = ["bench", "--contacts", "200", "--quiet", "6", "--edits", "4", "--edit-every", "2"]
    argv += ["--baseline-sample", "40", "--json", str(out)]
    assert main(argv) == 0
    return json.loads(Path(out).read_text(encoding="utf-8"))


def test_every_figure_is_in_the_json(figures: dict) -> None:
    initial, idle, latency = figures["initial"], figures["idle"], figures["latency"]
    assert figures["contacts"] == 200 and figures["machine"] and figures["date"]
    assert initial["records_written"] > 0 and initial["records_per_s"] > 0
    assert initial["cpu_s_per_1000_written"] > 0
    assert initial["host_reference_cpu_s"] > 0
    assert len(initial["cpu_s_by_pass"]) == initial["read_passes"]
    assert sum(initial["cpu_s_by_pass"]) == pytest.approx(initial["cpu_s"], abs=0.02)
    assert initial["cpu_over_reference"] == pytest.approx(
        initial["cpu_s"] / initial["host_reference_cpu_s"], rel=0.05
    )
    for system in ("salesforce", "hubspot"):
        calls = figures["calls"][system]
        assert calls["per_1000_written"] > 0 and calls["minimum_per_1000_written"] > 0
        assert figures["baseline"][system]["calls"] > calls["sync_calls"]
    assert idle["sf_calls_per_cycle"] >= 1 and idle["sf_calls_per_day"] >= 1
    assert latency["median_s"] is not None and latency["p95_s"] >= latency["median_s"]
    assert figures["memory"]["engine_peak_rss_mb"] > 0
    assert figures["baseline"]["calls_ratio"] > 1


def test_initial_sync_calls_are_within_5_percent_of_the_minimum(figures: dict) -> None:
    for system in ("salesforce", "hubspot"):
        calls = figures["calls"][system]
        assert calls["sync_calls"] <= calls["minimum"] * 1.05, (system, calls)


def test_every_edit_reached_the_other_system(figures: dict) -> None:
    latency = figures["latency"]
    assert latency["arrived"] == latency["edits"] == 4
    assert {e["side"] for e in latency["each"]} == {"salesforce", "hubspot"}


def test_an_idle_cycle_costs_one_salesforce_call_and_one_search_per_object(figures: dict) -> None:
    idle = figures["idle"]
    assert idle["sf_calls_per_cycle"] == 1
    assert idle["hs_calls_per_cycle"] <= 3


def test_the_hourly_deletion_checks_count_in_the_idle_day(figures: dict) -> None:
    """No idle cycle of the bench meets a check (one an hour per object): it is added."""
    idle = figures["idle"]
    assert idle["hs_deletion_check_calls_per_day"] == 24 * 3  # sync.toml: hourly, 3 objects
    per_day = 86_400 // int(idle["max_interval_s"]) * idle["hs_calls_per_cycle"]
    assert idle["hs_calls_per_day"] == per_day + 24 * 3
