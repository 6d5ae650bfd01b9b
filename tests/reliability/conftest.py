"""Reliability and security: crashes, faults, hostile data, injection, secrets, access, soak.

The pair helpers and fixtures are the e2e ones (a running sandbox, engines on fresh audit stores);
long versions of the trials carry the `slow` marker and run with `pytest -m slow`.
"""

from __future__ import annotations

from tests.e2e.conftest import Pair, small_pair, start_pair, synced  # noqa: F401
