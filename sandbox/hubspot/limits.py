"""HubSpot's API limits: a rolling ten-second burst per token, a daily count per portal, and
four search requests per second per token.

Search requests are exempt from the ten-second burst (HubSpot's OpenAPI documents say so with
`x-hubspot-rate-limit-exemptions: ten-secondly`) and their answers carry no rate-limit headers;
every other answer reports the counts in `X-HubSpot-RateLimit-*` headers. A refused request is
not counted, so a client that backs off recovers when the window moves on. Time comes from the
emulator's clock, so tests can move past a window or a day instead of waiting.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sandbox.hubspot.errors import ApiError

BURST_WINDOW_S = 10.0
SEARCH_WINDOW_S = 1.0


@dataclass
class Limits:
    daily: int = 500_000
    burst: int = 190
    search_per_second: int = 4

    def as_dict(self) -> dict[str, int]:
        return {
            "daily": self.daily,
            "burst": self.burst,
            "search_per_second": self.search_per_second,
        }


@dataclass
class Verdict:
    """Headers for an admitted call (empty for search); raising happens for refused ones."""

    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._burst: dict[str, deque[float]] = {}
        self._search: dict[str, deque[float]] = {}
        self._day: date | None = None
        self.used_today = 0
        self.refused = 0
        self._lock = threading.Lock()

    def configure(self, body: dict[str, Any], *, now: datetime) -> dict[str, int]:
        """Change limits from an admin body; unknown keys and non-positive numbers are refused.
        `used_today` (0 or more) starts the day part-used, as another integration of the portal
        would have it."""
        unknown = sorted(set(body) - {"daily", "burst", "search_per_second", "used_today"})
        if unknown:
            raise ValueError(
                f"unknown limit keys {unknown}; use daily, burst, search_per_second, used_today"
            )
        with self._lock:
            for key, value in body.items():
                number = int(value)
                least = 0 if key == "used_today" else 1
                if number < least:
                    raise ValueError(f"{key} must be {least} or more, got {value!r}")
                if key == "used_today":
                    self._roll_day(now)
                    self.used_today = number
                else:
                    setattr(self.limits, key, number)
            return {**self.limits.as_dict(), "used_today": self.used_today}

    def reset(self) -> None:
        with self._lock:
            self._burst.clear()
            self._search.clear()
            self.used_today = 0
            self._day = None

    def today(self, now: datetime) -> int:
        with self._lock:
            self._roll_day(now)
            return self.used_today

    def admit(self, key: str, *, search: bool, now: datetime, group: str) -> Verdict:
        """Count one call for key (a token), or raise the 429 HubSpot would answer."""
        stamp = now.timestamp()
        with self._lock:
            self._roll_day(now)
            if self.used_today >= self.limits.daily:
                self.refused += 1
                raise self._daily_error()
            if search:
                self._admit_search(key, stamp)
                self.used_today += 1
                return Verdict()
            window = _window(self._burst, key, stamp, BURST_WINDOW_S)
            if len(window) >= self.limits.burst:
                self.refused += 1
                raise self._burst_error(window, stamp, group)
            window.append(stamp)
            self.used_today += 1
            return Verdict(self._headers(window, stamp))

    def _admit_search(self, key: str, stamp: float) -> None:
        window = _window(self._search, key, stamp, SEARCH_WINDOW_S)
        if len(window) >= self.limits.search_per_second:
            self.refused += 1
            wait = max(1, math.ceil(window[0] + SEARCH_WINDOW_S - stamp))
            raise ApiError(
                429,
                "RATE_LIMITS",
                "You have reached your secondly limit.",
                extra={"errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
                headers={"Retry-After": str(wait)},
            )
        window.append(stamp)

    def _roll_day(self, now: datetime) -> None:
        today = now.astimezone(UTC).date()
        if today != self._day:
            self._day = today
            self.used_today = 0

    def _headers(self, window: deque[float], stamp: float) -> dict[str, str]:
        limits = self.limits
        secondly = max(1, limits.burst // int(BURST_WINDOW_S))
        last_second = sum(1 for t in window if t > stamp - 1.0)
        return {
            "X-HubSpot-RateLimit-Daily": str(limits.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, limits.daily - self.used_today)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(BURST_WINDOW_S * 1000)),
            "X-HubSpot-RateLimit-Max": str(limits.burst),
            "X-HubSpot-RateLimit-Remaining": str(max(0, limits.burst - len(window))),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, secondly - last_second)),
        }

    def _burst_error(self, window: deque[float], stamp: float, group: str) -> ApiError:
        wait = max(1, math.ceil(window[0] + BURST_WINDOW_S - stamp))
        headers = self._headers(window, stamp)
        headers["Retry-After"] = str(wait)
        return ApiError(
            429,
            "RATE_LIMITS",
            "You have reached your ten_secondly_rolling limit.",
            extra={
                "errorType": "RATE_LIMIT",
                "policyName": "TEN_SECONDLY_ROLLING",
                "groupName": group,
            },
            headers=headers,
        )

    def _daily_error(self) -> ApiError:
        limits = self.limits
        headers = {
            "X-HubSpot-RateLimit-Daily": str(limits.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": "0",
        }
        return ApiError(
            429,
            "RATE_LIMITS",
            "You have reached your daily limit.",
            extra={"errorType": "RATE_LIMIT", "policyName": "DAILY"},
            headers=headers,
        )


def _window(table: dict[str, deque[float]], key: str, stamp: float, span: float) -> deque[float]:
    window = table.setdefault(key, deque())
    while window and window[0] <= stamp - span:
        window.popleft()
    return window
