"""Every API call the engine makes, counted at the edge where it happens.

Connectors append one `ApiCall` per HTTP request (including failed ones: they cost budget too) with
the remaining-quota figures the vendor reported; the engine drains the log once per batch into the
`api_usage` table, and the budget guard reads the latest quota from it.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

_SF_ID = re.compile(r"/[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?(?=/|$)")
_SF_VERSION = re.compile(r"^/services/data/v\d+\.\d+")
_SF_LIMIT = re.compile(r"api-usage=(\d+)/(\d+)")
_NUMERIC_ID = re.compile(r"/\d+(?=/|$)")


@dataclass(frozen=True)
class ApiCall:
    """One HTTP request: which system and endpoint, its status, and the quota after it."""

    system: str
    endpoint: str
    status: int
    at: datetime
    used_today: int | None = None
    daily_limit: int | None = None


class CallLog:
    """Thread-safe log of calls since the last drain, plus running totals per system."""

    def __init__(self) -> None:
        self._pending: list[ApiCall] = []
        self._totals: Counter[str] = Counter()
        self._latest: dict[str, ApiCall] = {}
        self._lock = threading.Lock()

    def add(self, call: ApiCall) -> None:
        with self._lock:
            self._pending.append(call)
            self._totals[call.system] += 1
            if call.used_today is not None:
                self._latest[call.system] = call

    def drain(self) -> list[ApiCall]:
        """Return and forget the calls logged since the previous drain."""
        with self._lock:
            calls, self._pending = self._pending, []
            return calls

    def total(self, system: str) -> int:
        """Calls made to system since this log was created."""
        with self._lock:
            return self._totals[system]

    def latest(self, system: str) -> ApiCall | None:
        """The last call to system that reported its daily quota."""
        with self._lock:
            return self._latest.get(system)

    def quota(self, system: str) -> tuple[int, int] | None:
        """(used today, daily limit) as last reported by the system, if it ever reported it."""
        with self._lock:
            call = self._latest.get(system)
        if call is None or call.used_today is None or call.daily_limit is None:
            return None
        return call.used_today, call.daily_limit


def salesforce_endpoint(method: str, path: str) -> str:
    """`GET /services/data/v59.0/sobjects/Lead/00Q...` -> `GET /sobjects/Lead/{id}`."""
    path = _SF_VERSION.sub("", path.split("?", 1)[0]).rstrip("/") or "/"
    first = path.split("/")[1] if path != "/" else ""
    if first in ("query", "queryAll"):
        return f"{method.upper()} /{first}"  # a first page and its nextRecordsUrl pages alike
    return f"{method.upper()} {_SF_ID.sub('/{id}', path)}"


def salesforce_quota(headers: object) -> tuple[int | None, int | None]:
    """Parse `Sforce-Limit-Info: api-usage=N/M` (N used today, M the daily max)."""
    value = getattr(headers, "get", lambda _k: None)("Sforce-Limit-Info")
    match = _SF_LIMIT.search(value or "")
    if not match:
        return None, None
    return int(match.group(1)), int(match.group(2))


def hubspot_endpoint(method: str, path: str) -> str:
    """`GET /crm/v3/objects/contacts/123` -> `GET /crm/v3/objects/contacts/{id}`."""
    return f"{method.upper()} {_NUMERIC_ID.sub('/{id}', path.split('?', 1)[0])}"


def hubspot_quota(headers: object) -> tuple[int | None, int | None]:
    """Daily usage from `X-HubSpot-RateLimit-Daily` and `-Daily-Remaining` (absent on search)."""
    get = getattr(headers, "get", lambda _k: None)
    daily, remaining = get("X-HubSpot-RateLimit-Daily"), get("X-HubSpot-RateLimit-Daily-Remaining")
    if daily is None or remaining is None:
        return None, None
    try:
        return int(daily) - int(remaining), int(daily)
    except ValueError:
        return None, None


def now_utc() -> datetime:
    return datetime.now(UTC)
