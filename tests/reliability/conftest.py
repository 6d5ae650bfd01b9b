"""Reliability and security: crashes, faults, hostile data, injection, secrets, access, soak.

The pair helpers and fixtures are the e2e ones (a running sandbox, engines on fresh audit stores);
long versions of the trials carry the `slow` marker and run with `pytest -m slow`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.e2e.conftest import ROOT, Pair, small_pair, start_pair, synced  # noqa: F401


@contextmanager
def dashboard_env(pair: Pair, db: Path, **overrides: str) -> Iterator[None]:
    """The process environment the dashboard pages read (AppTest runs them in this process),
    pointed at pair's sandbox and the audit store at db, with Streamlit's caches cleared."""
    values = {**pair.settings_env(**overrides), "SYNC_DB": str(db), "LEADBRIDGE_EMBEDDED": "0"}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        yield
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page(page)
    return at.run()
