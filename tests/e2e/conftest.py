"""The engine against the sandbox: real clients, real HTTP, nothing patched.

`Pair` is one running sandbox with helpers to act as its people (a rep in Salesforce, a marketer
in HubSpot), to read both systems as an admin would, and to build engines on a fresh audit store.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.runner import Sandbox, SandboxEnv
from sandbox.seed import build_seed, build_seed_sized
from sync_engine.config import SyncConfig, load_config
from sync_engine.engine import SyncEngine
from sync_engine.runtime import build_engine
from sync_engine.settings import load_settings
from sync_engine.store import AuditStore

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Pair:
    """A running sandbox pair and what the tests do with it."""

    sandbox: Sandbox
    env: SandboxEnv
    workdir: Path
    engines: list[SyncEngine] = field(default_factory=list)

    # -- engines ------------------------------------------------------------------------------

    def settings_env(self, **overrides: str) -> dict[str, str]:
        env = self.env.as_env()
        env["SYNC_DB"] = str(self.workdir / "sync.duckdb")
        env["SYNC_CONFIG"] = str(ROOT / "sync.toml")
        env.update(overrides)
        return env

    def engine(self, *, config: SyncConfig | None = None, db: Path | None = None) -> SyncEngine:
        settings = load_settings(self.settings_env(), secrets_path=self.workdir / "none.toml")
        store = AuditStore(db or settings.db_path, secrets=settings.secrets)
        engine = build_engine(
            settings, config=config or load_config(ROOT / "sync.toml"), store=store
        )
        self.engines.append(engine)
        return engine

    # -- people -------------------------------------------------------------------------------

    def person(self, system: str, role: str) -> dict[str, Any]:
        return next(
            p.public()
            for p in self.sandbox.people()
            if p.system == system and p.role == role and p.active
        )

    def sf_session(self) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.env.ca_bundle)
        session.trust_env = False
        return session

    def sf(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> Any:
        """A Salesforce REST call (default: as the admin, so it sees every record)."""
        token = token or self.person("salesforce", "admin")["token"]
        response = self.sf_session().request(
            method,
            f"{self.env.salesforce_url}/services/data/v59.0/{path.lstrip('/')}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
            **kw,
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def soql(self, query: str, *, token: str | None = None) -> list[dict[str, Any]]:
        page = self.sf("GET", "query", params={"q": query}, token=token)
        rows = list(page["records"])
        while not page["done"]:
            page = self.sf("GET", page["nextRecordsUrl"].split("/v59.0/", 1)[1], token=token)
            rows.extend(page["records"])
        return rows

    def hs(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> Any:
        token = token or self.person("hubspot", "admin")["token"]
        for _attempt in range(30):  # a person reading fast meets the burst limit too: wait it out
            response = requests.request(
                method,
                f"{self.env.hubspot_url}{path}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
                **kw,
            )
            if response.status_code != 429:
                break
            time.sleep(float(response.headers.get("Retry-After") or 1))
        response.raise_for_status()
        return response.json() if response.content else None

    def hs_contacts(self, *properties: str) -> list[dict[str, Any]]:
        """Every HubSpot contact through the basic list API, paged (read by the admin)."""
        props = ",".join(sorted({"email", *properties}))
        out: list[dict[str, Any]] = []
        after = None
        while True:
            params = {"limit": 100, "properties": props}
            if after:
                params["after"] = after
            page = self.hs("GET", "/crm/v3/objects/contacts", params=params)
            out.extend(page["results"])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return out

    def hs_contact(self, contact_id: str, *properties: str) -> dict[str, Any]:
        props = ",".join(sorted({"email", *properties}))
        return self.hs("GET", f"/crm/v3/objects/contacts/{contact_id}?properties={props}")

    def stats(self, system: str) -> dict[str, Any]:
        if system == "salesforce":
            response = self.sf_session().get(
                f"{self.env.salesforce_url}/__sandbox/stats", timeout=30
            )
        else:
            response = requests.get(f"{self.env.hubspot_url}/__sandbox/stats", timeout=30)
        response.raise_for_status()
        return response.json()

    def admin(self, system: str, path: str, body: dict[str, Any]) -> Any:
        if system == "salesforce":
            response = self.sf_session().post(
                f"{self.env.salesforce_url}/__sandbox/{path}", json=body, timeout=60
            )
        else:
            response = requests.post(
                f"{self.env.hubspot_url}/__sandbox/{path}", json=body, timeout=60
            )
        response.raise_for_status()
        return response.json()


def start_pair(tmp: Path, *, seed: str | int = "default", contacts: int | None = None) -> Pair:
    bundle = build_seed_sized(seed, contacts=contacts) if contacts else build_seed(seed)
    sandbox = Sandbox(data_dir=tmp / "sandbox", bundle=bundle)
    env = sandbox.start(write_env=False)
    return Pair(sandbox=sandbox, env=env, workdir=tmp)


@dataclass
class Synced:
    """The default seed after one full cycle, with what both systems held before it."""

    pair: Pair
    engine: SyncEngine
    report: Any
    sf_before: list[dict[str, Any]]
    hs_before: list[dict[str, Any]]


PEOPLE_SOQL = {
    "Lead": "SELECT Id, Email FROM Lead WHERE IsConverted = false",
    "Contact": "SELECT Id, Email FROM Contact",
}


@pytest.fixture(scope="session")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    pair = start_pair(tmp_path_factory.mktemp("synced"))
    sf_before = [
        {**row, "object": obj} for obj in ("Lead", "Contact") for row in pair.soql(PEOPLE_SOQL[obj])
    ]
    hs_before = pair.hs_contacts()
    engine = pair.engine()
    report = engine.run_once()
    yield Synced(pair, engine, report, sf_before, hs_before)
    pair.sandbox.stop()


@pytest.fixture
def small_pair(tmp_path: Path) -> Iterator[Pair]:
    """A fresh, smaller seeded pair (500 contacts) for tests that restart or break things."""
    pair = start_pair(tmp_path, seed=7, contacts=500)
    yield pair
    pair.sandbox.stop()
