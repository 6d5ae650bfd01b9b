"""Salesforce record ids: 15-character case-sensitive ids with an 18-character case-safe suffix.

Salesforce appends three characters that encode, for each 5-character chunk of the 15-character
id, which positions hold an upper-case letter; clients compare ids case-insensitively thanks to it.
"""

from __future__ import annotations

import itertools
import threading

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "Lead": "00Q",
    "Task": "00T",
    "User": "005",
}


def case_safe(id15: str) -> str:
    """Return the 18-character form of a 15-character id (Salesforce's checksum suffix)."""
    if len(id15) != 15:
        raise ValueError(f"a 15-character id is required, got {id15!r}")
    suffix = ""
    for chunk in range(3):
        bits = 0
        for pos, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << pos
        suffix += _ALPHABET[bits]
    return id15 + suffix


def make_id(prefix: str, serial: int, *, pod: str = "5g") -> str:
    """Build an 18-character id: key prefix, pod/instance characters, base-62 serial, checksum."""
    digits = ""
    n = serial
    for _ in range(10):
        n, rem = divmod(n, 62)
        digits = _BASE62[rem] + digits
    return case_safe(f"{prefix}{pod}{digits}")


def is_valid_id(value: str) -> bool:
    """True when value is a well-formed 15- or 18-character id (18: with the right checksum)."""
    if len(value) == 15:
        return value.isalnum()
    if len(value) == 18 and value[:15].isalnum():
        return case_safe(value[:15]).upper() == value.upper()
    return False


def to_18(value: str) -> str:
    """Normalise a 15- or 18-character id to 18 characters (as the API accepts either)."""
    return case_safe(value) if len(value) == 15 else case_safe(value[:15])


class IdAllocator:
    """Allocates ids per object, thread-safe; serials start high so ids look like a real org's."""

    def __init__(self, *, start: int = 1_000_000) -> None:
        self._counters: dict[str, itertools.count[int]] = {}
        self._start = start
        self._lock = threading.Lock()

    def next(self, sobject: str) -> str:
        with self._lock:
            counter = self._counters.setdefault(sobject, itertools.count(self._start))
            return make_id(KEY_PREFIXES[sobject], next(counter))
