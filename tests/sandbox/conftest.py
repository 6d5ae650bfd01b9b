"""Shared fixtures for the sandbox conformance tests.

Salesforce: one emulator served over HTTPS (local CA) for the whole session; `sf_org` resets it
to an empty org before each test and hands out simple-salesforce clients for any of its people.
Tests build the records they need themselves (in a `SalesforceSeed` or through the API).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from sandbox.core import ServerThread, TLSMaterial, ensure_tls
from sandbox.salesforce.emulator import DEFAULT_PEOPLE, SalesforceEmulator
from sandbox.salesforce.ids import make_id
from sandbox.seeddata import SalesforceSeed, SandboxPerson


@dataclass
class SfServer:
    emulator: SalesforceEmulator
    url: str
    tls: TLSMaterial


@pytest.fixture(scope="session")
def sf_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SfServer]:
    emulator = SalesforceEmulator()
    tls = ensure_tls(Path(tmp_path_factory.mktemp("sf-tls")))
    server = ServerThread(emulator.wsgi_app, tls=tls)
    url = server.start()
    yield SfServer(emulator, url, tls)
    server.stop()


class SfOrg:
    """The emulated org of one test: clients per person, the admin set, seed loading."""

    def __init__(self, server: SfServer) -> None:
        self.server = server
        self.emulator = server.emulator
        self.url = server.url

    def session(self) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.server.tls.ca_pem)
        session.trust_env = False
        return session

    def client(self, token: str | None = None) -> Salesforce:
        """simple-salesforce exactly as client-facts.md says (integration user by default)."""
        return Salesforce(
            instance_url=self.url,
            session_id=token or self.emulator.integration_token,
            session=self.session(),
        )

    def person(self, role: str, index: int = 0) -> SandboxPerson:
        return [p for p in self.emulator.people() if p.role == role][index]

    def as_role(self, role: str, index: int = 0) -> Salesforce:
        return self.client(self.person(role, index).token)

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.session().request(method, f"{self.url}/__sandbox/{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def load(self, records: dict[str, list[dict[str, Any]]], **kw: Any) -> None:
        users = [dict(p) for p in DEFAULT_PEOPLE]
        self.emulator.load(SalesforceSeed(users=users, records=records, **kw))


@pytest.fixture
def sf_org(sf_server: SfServer) -> SfOrg:
    sf_server.emulator.clear()
    sf_server.emulator.faults.reset()
    return SfOrg(sf_server)


def _lead(serial: int, **fields: Any) -> dict[str, Any]:
    """A seeded Lead with a known id (serials below the emulator's own, so ids never clash)."""
    base = {
        "Id": make_id("00Q", 100 + serial),
        "FirstName": f"Pat{serial}",
        "LastName": f"Lead{serial:05d}",
        "Company": f"Company {serial % 97}",
        "Email": f"pat{serial}@example.com",
        "Status": "Open - Not Contacted",
        "LeadSource": "Web",
    }
    base.update(fields)
    return base


@pytest.fixture
def sf_lead() -> Any:
    """Builder of seeded Lead dicts: `sf_lead(7, Title="CTO")`."""
    return _lead
