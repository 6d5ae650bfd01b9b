"""Dashboard fixtures: one sandbox and one real engine run per session, a real DuckDB to check
pages against, and the environment that points the app at them (no embedded sandbox or
scheduler: LEADBRIDGE_EMBEDDED=0)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

from sandbox.runner import Sandbox
from sync_engine.runtime import build_engine
from sync_engine.settings import load_settings
from sync_engine.store import AuditStore

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("dashboard")
    sandbox = Sandbox(seed="default", data_dir=tmp / "sandbox")
    (tmp / "sandbox").mkdir(exist_ok=True)
    env = sandbox.start()
    config = tmp / "sync.toml"
    shutil.copy(REPO / "sync.toml", config)
    values = {
        **env.as_env(),
        "SYNC_DB": str(tmp / "sync.duckdb"),
        "SYNC_CONFIG": str(config),
        "LEADBRIDGE_EMBEDDED": "0",
    }
    engine = build_engine(load_settings(values))
    engine.run_once()
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield {"env": values, "db": Path(values["SYNC_DB"]), "config": config, "engine": engine}
    for key, old in saved.items():
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old
    sandbox.stop()


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()


def sql(world: dict, query: str, params: list | None = None) -> list[tuple]:
    """Read the test DuckDB through the store, as the pages do (a raw connection would clash
    with the attachment this process may still hold)."""
    with AuditStore(Path(world["db"])).read() as conn:
        return conn.execute(query, params or []).fetchall()
