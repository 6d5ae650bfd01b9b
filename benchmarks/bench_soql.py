"""Benchmark of the SOQL engine: the engine's incremental read over a 20,000-Lead org.

Run: `.venv/bin/python -m benchmarks.bench_soql` (prints figures; not collected by pytest).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox.salesforce import soql
from sandbox.salesforce.ids import make_id

_TYPES = {
    "Id": "id",
    "Email": "email",
    "LastName": "string",
    "OwnerId": "reference",
    "SystemModstamp": "datetime",
}


class _Schema:
    def canonical_object(self, name: str) -> str | None:
        return "Lead" if name.lower() == "lead" else None

    def field_type(self, sobject: str, field: str) -> str | None:
        return next((t for f, t in _TYPES.items() if f.lower() == field.lower()), None)

    def canonical_field(self, sobject: str, field: str) -> str:
        return next(f for f in _TYPES if f.lower() == field.lower())

    def relationship_target(self, sobject: str, relationship: str) -> tuple[str, str] | None:
        return ("User", "OwnerId") if relationship.lower() == "owner" else None


def _leads(n: int) -> list[dict[str, Any]]:
    """n Leads, half modified in 2025 and half in 2026, stamped as Salesforce writes them."""
    rng = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    leads = []
    for serial in range(n):
        stamp = start + timedelta(seconds=rng.randrange(0, 2 * 365 * 86400))
        leads.append(
            {
                "Id": make_id("00Q", serial),
                "Email": f"lead{serial}@example.com",
                "LastName": f"Lead {serial}",
                "OwnerId": make_id("005", serial % 20),
                "SystemModstamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            }
        )
    return leads


def _best_of(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    records = _leads(20_000)
    users = {
        make_id("005", n): {"Id": make_id("005", n), "Email": f"u{n}@x.com"} for n in range(20)
    }
    text = (
        "SELECT Id, Email, SystemModstamp FROM Lead "
        "WHERE SystemModstamp >= 2026-01-01T00:00:00Z ORDER BY SystemModstamp, Id"
    )
    parse_s, query = _best_of(20, lambda: soql.parse(text, _Schema()))
    today = date(2026, 11, 28)

    def run(q: soql.Query) -> list[dict[str, Any]]:
        return soql.execute(q, records, lookup=lambda o, i: users.get(i), today=today)

    exec_s, rows = _best_of(5, lambda: run(query))
    with_owner = soql.parse(text.replace("SystemModstamp FROM", "Owner.Email FROM"), _Schema())
    owner_s, _ = _best_of(5, lambda: run(with_owner))
    print(f"parse: {parse_s * 1e3:.2f} ms")
    print(f"execute over {len(records):,} records -> {len(rows):,} rows: {exec_s * 1e3:.1f} ms")
    print(f"same with Owner.Email (parent lookups): {owner_s * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
