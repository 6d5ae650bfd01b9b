"""Wiring: from settings (environment, secrets, sync.toml) to a ready SyncEngine.

Kept apart from the engine so that the CLI, the dashboard and tests build engines the same way,
and so that the engine itself only ever sees injected connectors.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Mapping
from importlib.machinery import ModuleSpec
from pathlib import Path

from sync_engine.config import SyncConfig, load_config
from sync_engine.connectors.hubspot import DEFAULT_TIMEOUT as HUBSPOT_TIMEOUT
from sync_engine.connectors.hubspot import HubSpotConnector, make_hubspot_client
from sync_engine.connectors.salesforce import connect_salesforce
from sync_engine.connectors.usage import CallLog
from sync_engine.engine import SyncEngine
from sync_engine.errors import ConfigurationError
from sync_engine.settings import Settings, load_settings
from sync_engine.store import ENGINE_PROFILE, AuditStore, use_profile

SANDBOX_ENV = Path("data/sandbox/sandbox.env")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines (the sandbox's connection file); comments and blanks ignored."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


def resolve_settings(
    env: Mapping[str, str] | None = None, *, sandbox_env: Path = SANDBOX_ENV
) -> Settings:
    """Settings from the environment; with no credentials at all, those of a running sandbox
    (its `sandbox.env`), so `python -m sync_engine once` works right after `... sandbox`."""
    settings = load_settings(env)
    if settings.has_credentials or not sandbox_env.exists():
        return settings
    merged = {**read_env_file(sandbox_env), **dict(env if env is not None else _environ())}
    return load_settings(merged)


def _environ() -> Mapping[str, str]:
    import os

    return os.environ


def require_credentials(settings: Settings) -> None:
    if not settings.has_credentials:
        raise ConfigurationError(
            "no credentials: set the SALESFORCE_* and HUBSPOT_* variables (see README), or "
            "start the sandbox with `python -m sync_engine sandbox` first"
        )


def build_engine(
    settings: Settings,
    *,
    config: SyncConfig | None = None,
    store: AuditStore | None = None,
    timeout: float | None = None,
) -> SyncEngine:
    """An engine over both systems; nothing is called until the first cycle (except a
    Salesforce login, when the credentials are a password or client credentials).

    timeout: seconds to wait for either system's answer (each connector's default otherwise).
    """
    require_credentials(settings)
    config = config if config is not None else load_config(settings.config_path)
    calls = CallLog()
    salesforce = connect_salesforce(settings.salesforce, calls=calls, timeout=timeout)
    hubspot = HubSpotConnector(
        make_hubspot_client(settings.hubspot), calls=calls, timeout=timeout or HUBSPOT_TIMEOUT
    )
    store = store if store is not None else AuditStore(settings.db_path, secrets=settings.secrets)
    return SyncEngine(
        config,
        salesforce=salesforce,
        hubspot=hubspot,
        store=store,
        config_path=settings.config_path,
    )


# Young objects collected per generation-0 pass: a cycle allocates records by the ten thousand,
# and with Python's default (700) the collector ran every few records (~7 % of an initial
# sync's CPU) for objects that seldom form reference cycles. At 10,000 it still ran 60 times in
# an initial sync of 20,000 contacts, plus two older-generation passes (0.27 s, measured); at
# 50,000, 6 times (0.11 s): a young object is then more often freed before a pass walks it.
ENGINE_GC_THRESHOLD = (50_000, 20, 20)


def prepare_engine_process() -> None:
    """Before an engine process builds anything: a DuckDB sized for syncing, and no pandas."""
    use_profile(ENGINE_PROFILE)
    keep_pandas_out()


class _NoPandas:
    """An import finder that refuses pandas (see `keep_pandas_out`)."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if name == "pandas":
            raise ImportError("pandas is kept out of the engine process")
        return None


def keep_pandas_out() -> None:
    """pyarrow imports pandas (~45 MB) the first time it converts a Python list, only to ask
    whether the list is a pandas object; the engine never uses pandas. Its one-time check runs
    here with pandas refused, so it concludes there is none; anything that really needs pandas
    later (`Table.to_pandas`) still imports it."""
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    sys.meta_path.insert(0, _NoPandas)  # type: ignore[arg-type]
    try:
        pa.array([])
    finally:
        sys.meta_path.remove(_NoPandas)  # type: ignore[arg-type]


def settle_engine_process() -> None:
    """Once the engine is built: what exists now (modules, clients, config) lives as long as
    the process, so the collector stops walking it (gc.freeze), and collects young objects
    less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*ENGINE_GC_THRESHOLD)
