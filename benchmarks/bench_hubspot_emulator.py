"""Benchmark of the HubSpot emulator, in process and through hubspot-api-client over HTTP.

Run: `.venv/bin/python -m benchmarks.bench_hubspot_emulator` (prints figures; not collected by
pytest). Against a portal of 5,000 contacts it measures the engine's four hot paths: a page of 100
from the basic list, a search page of 200 (lastmodifieddate GTE, sorted), a batch create of 100 and
a batch update of 100. "server" is the emulator's own time (WSGI called in process, no socket);
"client" adds HTTP and hubspot-api-client's model building. Target from the issue: a few
milliseconds per call on the server side.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import urllib3
from hubspot import HubSpot
from werkzeug.test import Client

from sandbox.core import ServerThread
from sandbox.hubspot import HubSpotEmulator
from sandbox.seeddata import HubSpotSeed

CONTACTS = 5_000
REPEATS = 30
START = datetime(2024, 1, 1, tzinfo=UTC)


def _contacts() -> list[dict[str, Any]]:
    out = []
    for n in range(CONTACTS):
        stamp = (START + timedelta(minutes=7 * n)).isoformat(timespec="milliseconds")
        out.append(
            {
                "id": str(n + 1),
                "properties": {
                    "email": f"bench{n:05d}@example.com",
                    "firstname": f"Bench{n}",
                    "lastname": "Contact",
                    "lifecyclestage": "lead",
                    "jobtitle": "Head of Operations",
                },
                "createdAt": stamp.replace("+00:00", "Z"),
                "updatedAt": stamp.replace("+00:00", "Z"),
            }
        )
    return out


def _emulator() -> HubSpotEmulator:
    emulator = HubSpotEmulator()
    directory = emulator.directory
    emulator.load(
        HubSpotSeed(
            portal_id=directory.portal_id,
            app=dict(directory.app),
            users=[dict(u) for u in directory.users],
            owners=[dict(o) for o in directory.owners],
            records={"contacts": _contacts()},
        )
    )
    emulator.set_limits({"burst": 1_000_000, "search_per_second": 1_000_000})
    return emulator


def _timed(label: str, fn: Callable[[], Any], repeats: int = REPEATS) -> None:
    fn()  # warm up
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    print(f"{label:<44} median {statistics.median(samples):7.2f} ms   max {max(samples):7.2f} ms")


SEARCH = {
    "filterGroups": [
        {
            "filters": [
                {"propertyName": "lastmodifieddate", "operator": "GTE", "value": "1704067200000"}
            ]
        }
    ],
    "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
    "properties": ["email", "lastmodifieddate"],
    "limit": 200,
    "after": "2400",
}


class _Writes:
    """Fresh inputs for every repetition, so creates never collide on email."""

    def __init__(self) -> None:
        self.round = 0

    def creates(self) -> dict[str, Any]:
        self.round += 1
        return {
            "inputs": [
                {
                    "properties": {"email": f"w{self.round}-{i}@example.com", "firstname": "W"},
                    "associations": [],
                    "objectWriteTraceId": str(i),
                }
                for i in range(100)
            ]
        }

    def updates(self) -> dict[str, Any]:
        self.round += 1
        return {
            "inputs": [
                {"id": str(i), "properties": {"jobtitle": f"Title {self.round}"}}
                for i in range(1, 101)
            ]
        }


def server_side(emulator: HubSpotEmulator) -> None:
    client = Client(emulator.wsgi_app)
    headers = {"Authorization": f"Bearer {emulator.integration_token}"}
    writes = _Writes()
    base = "/crm/v3/objects/contacts"
    _timed(
        "server: page of 100 (GET, after=2500)",
        lambda: client.get(f"{base}?limit=100&after=2500&properties=email", headers=headers),
    )
    _timed(
        "server: search page of 200",
        lambda: client.post(f"{base}/search", json=SEARCH, headers=headers),
    )
    _timed(
        "server: batch create of 100",
        lambda: client.post(f"{base}/batch/create", json=writes.creates(), headers=headers),
    )
    _timed(
        "server: batch update of 100",
        lambda: client.post(f"{base}/batch/update", json=writes.updates(), headers=headers),
    )


def through_client(emulator: HubSpotEmulator) -> None:
    server = ServerThread(emulator.wsgi_app)
    url = server.start()
    try:
        hs = HubSpot(access_token=emulator.integration_token, host=url, retry=urllib3.Retry(0))
        writes = _Writes()
        contacts = hs.crm.contacts
        _timed(
            "client: page of 100",
            lambda: contacts.basic_api.get_page(limit=100, after="2500", properties=["email"]),
        )
        _timed(
            "client: search page of 200",
            lambda: hs.crm.objects.search_api.do_search("contacts", SEARCH),
        )
        _timed("client: batch create of 100", lambda: contacts.batch_api.create(writes.creates()))
        _timed("client: batch update of 100", lambda: contacts.batch_api.update(writes.updates()))

        def every_page() -> None:
            after = None
            while True:
                page = contacts.basic_api.get_page(limit=100, after=after)
                if page.paging is None:
                    return
                after = page.paging.next.after

        _timed("client: all 5,000+ contacts by basic paging", every_page, repeats=3)
    finally:
        server.stop()


def main() -> None:
    started = time.perf_counter()
    emulator = _emulator()
    print(f"seeded {CONTACTS} contacts in {(time.perf_counter() - started) * 1000:.0f} ms")
    server_side(emulator)
    through_client(emulator)


if __name__ == "__main__":
    main()
