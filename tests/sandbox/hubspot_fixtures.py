"""Shared fixtures for the HubSpot emulator tests: a served emulator and clients for its people.

One emulator is served over plain HTTP for the whole session; `hs_portal` empties it (records,
counters, limits, faults) before each test and hands out hubspot-api-client instances built the way
client-facts.md says, with urllib3 retries off so a test sees every raw answer. Tests build the
records they need through the API or with `hs_portal.load(...)`.

Import into a conftest with `from hubspot_fixtures import *  # noqa: F403` (or import the fixtures
by name in a test module).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from hubspot import HubSpot

from sandbox.core import ServerThread
from sandbox.hubspot import HubSpotEmulator
from sandbox.seeddata import HubSpotSeed, SandboxPerson

OPENAPI_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference" / "hubspot-openapi"
DEFAULT_LIMITS = {"daily": 500_000, "burst": 190, "search_per_second": 4}

__all__ = [
    "HsPortal",
    "HsServer",
    "Refusal",
    "contact_seed",
    "hs_portal",
    "hs_server",
    "openapi_docs",
    "refused",
]


@dataclass
class HsServer:
    emulator: HubSpotEmulator
    url: str


@pytest.fixture(scope="session")
def hs_server() -> Iterator[HsServer]:
    emulator = HubSpotEmulator()
    server = ServerThread(emulator.wsgi_app)
    url = server.start()
    yield HsServer(emulator, url)
    server.stop()


class HsPortal:
    """The emulated portal of one test: clients per person, the admin set, seed loading."""

    def __init__(self, server: HsServer) -> None:
        self.server = server
        self.emulator = server.emulator
        self.url = server.url

    def client(self, token: str | None = None, *, retry: urllib3.Retry | None = None) -> HubSpot:
        """hubspot-api-client pointed at the sandbox (the integration app's token by default)."""
        return HubSpot(
            access_token=token or self.emulator.integration_token,
            host=self.url,
            retry=retry
            if retry is not None
            else urllib3.Retry(0, respect_retry_after_header=False),
        )

    def person(self, role: str, index: int = 0) -> SandboxPerson:
        return [p for p in self.emulator.people() if p.role == role][index]

    def as_role(self, role: str, index: int = 0) -> HubSpot:
        return self.client(self.person(role, index).token)

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(method, f"{self.url}/__sandbox/{path}", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def load(
        self,
        records: dict[str, list[dict[str, Any]]],
        *,
        associations: list[tuple[str, str, str, str, int]] | None = None,
        lists: list[dict[str, Any]] | None = None,
    ) -> None:
        """Replace the portal's records, keeping its app, users, owners and their tokens."""
        directory = self.emulator.directory
        seed = HubSpotSeed(
            portal_id=directory.portal_id,
            app=dict(directory.app),
            users=[dict(u) for u in directory.users],
            owners=[dict(o) for o in directory.owners],
            records=records,
            associations=associations or [],
            lists=lists or [],
        )
        self.emulator.load(seed)
        self.emulator.set_limits(dict(DEFAULT_LIMITS))

    def owner_id(self, index: int = 0) -> str:
        return str(self.emulator.directory.owners[index]["id"])


@pytest.fixture
def hs_portal(hs_server: HsServer) -> HsPortal:
    emulator = hs_server.emulator
    emulator.clear()
    emulator.faults.reset()
    emulator.set_limits(dict(DEFAULT_LIMITS))
    return HsPortal(hs_server)


def contact_seed(
    count: int,
    *,
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC),
    step: timedelta = timedelta(minutes=7),
    first_id: int = 1,
) -> list[dict[str, Any]]:
    """`count` contacts with ids first_id.., distinct emails, modified `step` apart from start."""
    out = []
    for n in range(count):
        modified = start + step * n
        stamp = modified.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        out.append(
            {
                "id": str(first_id + n),
                "properties": {
                    "email": f"person{n:05d}@example.com",
                    "firstname": f"First{n:05d}",
                    "lastname": f"Last{n % 97:02d}",
                    "lifecyclestage": "lead" if n % 3 else "subscriber",
                },
                "createdAt": stamp,
                "updatedAt": stamp,
                "archived": False,
            }
        )
    return out


@pytest.fixture(scope="session")
def openapi_docs() -> dict[str, dict[str, Any]]:
    """HubSpot's published OpenAPI documents, kept beside the checkout (CI has them)."""
    if not OPENAPI_DIR.is_dir():
        pytest.skip(
            f"HubSpot's OpenAPI documents are not at {OPENAPI_DIR} (../shared/ exists beside the "
            "checkout in CI, not in a user's clone)"
        )
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in OPENAPI_DIR.glob("*.json")}


@dataclass
class Refusal:
    """A refused call as the client reports it: status, parsed JSON body, headers."""

    status: int
    body: dict[str, Any]
    headers: Any


def refused(fn: Any, *args: Any, **kwargs: Any) -> Refusal:
    """Call a client method that must fail; hubspot-api-client raises one ApiException class per
    API module (no common base), so any exception with a status counts."""
    try:
        fn(*args, **kwargs)
    except Exception as exc:
        status = getattr(exc, "status", None)
        if status is None:
            raise
        raw = getattr(exc, "body", None) or "{}"
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"_raw": raw}
        return Refusal(int(status), body, getattr(exc, "headers", None) or {})
    raise AssertionError(f"{getattr(fn, '__name__', fn)} succeeded but was expected to fail")
