"""A lower bound on a server's clock, from the `Date` headers of its answers.

Salesforce stamps records with its own clock, to the second. Whether a read saw every record of
its cursor's second depends on whether that second was over on Salesforce when the read was
sent, which the engine's clock cannot tell (it may be skewed). An answer dated D was made at D or
later, so a request sent after it is served at D or later; between answers the engine's monotonic
clock carries the bound forward (clocks drift apart by parts per million, not seconds).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime


class ServerClock:
    """The latest moment a server's clock is known to have reached, carried forward."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._known: tuple[datetime, float] | None = None  # (server time, monotonic when seen)
        self._lock = threading.Lock()

    def note(self, date_header: str | None) -> None:
        """Take in an answer's `Date` header; a missing or malformed one teaches nothing."""
        if not date_header:
            return
        try:
            stamp = parsedate_to_datetime(date_header)
        except (TypeError, ValueError):
            return
        if stamp.tzinfo is None:  # RFC 9110 dates are GMT; a naive parse means "-0000"
            return
        seen = self._monotonic()
        with self._lock:
            if self._known is None or stamp > self._carried(seen):
                self._known = (stamp, seen)

    def floor(self) -> datetime | None:
        """A moment the server's clock has certainly passed; None before any dated answer."""
        with self._lock:
            return None if self._known is None else self._carried(self._monotonic())

    def _carried(self, now: float) -> datetime:
        assert self._known is not None
        stamp, seen = self._known
        return stamp + timedelta(seconds=max(0.0, now - seen))
