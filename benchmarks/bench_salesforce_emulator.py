"""Benchmark of the Salesforce emulator through simple-salesforce over HTTPS.

Run: `.venv/bin/python -m benchmarks.bench_salesforce_emulator` (prints figures; not collected by
pytest). Measures, against an emulator serving a 10,000-Lead org on a local TLS server:
- query_all of all 10,000 Leads (5 pages of 2,000 through nextRecordsUrl), with and without a
  WHERE on SystemModstamp, the engine's incremental read;
- one sObject Collections insert of 200 Leads (the engine's write batch) and an update of 200;
- a single-record round trip (the fixed cost per API call).
Targets from the issue: 10,000 records queried under 2 s; a 200-record collection write under
100 ms.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

from sandbox.core import ServerThread, ensure_tls
from sandbox.salesforce.emulator import DEFAULT_PEOPLE, SalesforceEmulator
from sandbox.salesforce.ids import make_id
from sandbox.seeddata import SalesforceSeed

LEADS = 10_000
REPEATS = 5


def _seed() -> SalesforceSeed:
    leads = [
        {
            "Id": make_id("00Q", 100 + i),
            "FirstName": f"Bench{i}",
            "LastName": f"Lead{i:05d}",
            "Company": f"Company {i % 500}",
            "Email": f"bench{i}@example.com",
            "Title": "Head of Operations",
            "Phone": "+1 555 0100",
            "LeadSource": "Web",
            "Status": "Open - Not Contacted",
            "SystemModstamp": f"2026-0{1 + i % 9}-15T10:00:00.000+0000",
        }
        for i in range(LEADS)
    ]
    return SalesforceSeed(users=[dict(p) for p in DEFAULT_PEOPLE], records={"Lead": leads})


def _batch(offset: int) -> list[dict[str, Any]]:
    return [
        {
            "attributes": {"type": "Lead"},
            "LastName": f"Batch{offset + i}",
            "Company": "Bench Writes",
            "Email": f"write{offset + i}@example.com",
            "LeadSource": "Web",
        }
        for i in range(200)
    ]


def _timed(label: str, work: Callable[[], Any], *, repeats: int = REPEATS) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    print(f"{label:<58} median {median * 1000:8.1f} ms   best {min(seconds) * 1000:8.1f} ms")
    return median


def main() -> None:
    emulator = SalesforceEmulator()
    emulator.load(_seed())
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerThread(emulator.wsgi_app, tls=ensure_tls(Path(tmp)))
        url = server.start()
        session = requests.Session()
        session.verify = str(server.tls.ca_pem) if server.tls else True
        session.trust_env = False
        sf = Salesforce(instance_url=url, session_id=emulator.integration_token, session=session)
        try:
            _run(sf)
        finally:
            server.stop()


def _run(sf: Salesforce) -> None:
    fields = "Id, FirstName, LastName, Company, Email, Title, Phone, LeadSource, SystemModstamp"
    everything = f"SELECT {fields} FROM Lead"
    rows = len(sf.query_all(everything)["records"])
    print(f"org: {rows} Leads; simple-salesforce over HTTPS (local CA) to 127.0.0.1")
    query_all = _timed(
        f"query_all {rows} Leads (5 pages of 2,000)", lambda: sf.query_all(everything)
    )
    _timed(
        "query_all incremental (SystemModstamp >= .., ORDER BY)",
        lambda: sf.query_all(
            f"{everything} WHERE SystemModstamp >= 2026-05-01T00:00:00Z ORDER BY SystemModstamp, Id"
        ),
    )
    counter = iter(range(0, 10**6, 200))
    inserts = _timed(
        "collection insert of 200 Leads (POST /composite/sobjects)",
        lambda: sf.restful(
            "composite/sobjects", method="POST", json={"records": _batch(next(counter))}
        ),
    )
    ids = [r["Id"] for r in sf.query("SELECT Id FROM Lead LIMIT 200")["records"]]
    updates = [{"attributes": {"type": "Lead"}, "id": i, "Title": "VP Operations"} for i in ids]
    _timed(
        "collection update of 200 Leads (PATCH /composite/sobjects)",
        lambda: sf.restful("composite/sobjects", method="PATCH", json={"records": updates}),
    )
    _timed("single call round trip (GET /limits)", sf.limits, repeats=50)
    print()
    verdict = {True: "met", False: "MISSED"}
    print(f"target: 10,000 records queried under 2 s -> {verdict[query_all < 2]}")
    print(f"target: 200-record collection write under 100 ms -> {verdict[inserts < 0.1]}")


if __name__ == "__main__":
    main()
