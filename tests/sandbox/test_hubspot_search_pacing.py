"""The connector paces HubSpot searches under the per-second limit: no 429, no wasted call."""

from __future__ import annotations

import time

import pytest
from hubspot_fixtures import *  # noqa: F403
from hubspot_fixtures import HsPortal

from sync_engine.connectors.hubspot import HubSpotConnector

pytestmark = pytest.mark.sandbox


def test_searches_in_a_row_meet_no_rate_limit_and_the_first_ones_do_not_wait(
    hs_portal: HsPortal,
) -> None:
    connector = HubSpotConnector(hs_portal.client())
    retried: list[str] = []
    connector.on_retry = lambda exc, attempt, wait: retried.append(str(exc))
    started = time.monotonic()
    for _ in range(4):  # an idle poll's searches: within the limit, so at once
        list(connector.search_modified_since("contacts", properties=["email"], since_ms=0))
    first_four = time.monotonic() - started
    for _ in range(8):
        list(connector.search_modified_since("contacts", properties=["email"], since_ms=0))
    calls = connector.calls.drain()
    assert retried == [] and {c.status for c in calls} == {200}
    assert len(calls) == 12  # every search answered the first time
    assert first_four < 0.5
    assert time.monotonic() - started >= 2.0  # 12 searches at 4 per rolling second


def test_a_read_of_more_than_10000_changed_records_gets_them_all_in_one_go(
    hs_portal: HsPortal,
) -> None:
    """HubSpot's search stops at 10,000 results (no next page at the cap): the connector starts
    a new window at the last stamp seen instead of taking the cap for the end."""
    from hubspot_fixtures import contact_seed

    hs_portal.load({"contacts": contact_seed(10_450)})
    connector = HubSpotConnector(hs_portal.client())
    ids = [r["id"] for r in connector.search_modified_since("contacts", properties=[], since_ms=0)]
    assert len(ids) == len(set(ids)) == 10_450
