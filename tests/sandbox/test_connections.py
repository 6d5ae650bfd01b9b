"""Connections: the emulators keep them alive, as Salesforce and HubSpot do, and the connectors
reuse them. A call per connection (a TCP connection, and for Salesforce a TLS handshake, per
call) is what a client pays against a server that closes every connection: not what it pays in
production, so not what the sandbox may make the engine pay either."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from sandbox.core import ServerThread, ensure_tls
from sandbox.hubspot import HubSpotEmulator
from sandbox.salesforce.emulator import SalesforceEmulator
from sync_engine.connectors.hubspot import HubSpotConnector, make_hubspot_client
from sync_engine.errors import RetriableError
from sync_engine.settings import HubSpotCredentials


@pytest.fixture
def hubspot() -> Iterator[tuple[ServerThread, HubSpotEmulator]]:
    emulator = HubSpotEmulator()
    server = ServerThread(emulator.wsgi_app)
    server.start()
    yield server, emulator
    server.stop()


def _connector(server: ServerThread, emulator: HubSpotEmulator) -> HubSpotConnector:
    creds = HubSpotCredentials(access_token=emulator.integration_token, base_url=server.url)
    return HubSpotConnector(make_hubspot_client(creds))


def test_hubspot_connector_makes_its_calls_on_kept_alive_connections(hubspot):
    server, emulator = hubspot
    connector = _connector(server, emulator)
    for round_ in range(3):
        created = connector.batch_create(
            "contacts",
            [{"properties": {"email": f"keep{round_}-{n}@example.com"}} for n in range(3)],
        )
        assert all(o.success for o in created)
        updated = connector.batch_update(
            "contacts", [{"id": o.id, "properties": {"firstname": "Kept"}} for o in created]
        )
        assert all(o.success for o in updated)
        found = list(
            connector.search_modified_since("contacts", properties=["firstname"], since_ms=0)
        )
        assert len(found) == 3 * (round_ + 1)
    # nine calls: one connection for the batch API and one for search, opened once each
    assert connector.calls.total("hubspot") == 9
    assert server.connections_accepted == 2


def test_salesforce_client_makes_its_calls_on_one_kept_alive_connection(tmp_path: Path):
    emulator = SalesforceEmulator()
    tls = ensure_tls(tmp_path)
    server = ServerThread(emulator.wsgi_app, tls=tls)
    url = server.start()
    try:
        session = requests.Session()
        session.verify, session.trust_env = str(tls.ca_pem), False
        sf = Salesforce(instance_url=url, session_id=emulator.integration_token, session=session)
        ids = [sf.Account.create({"Name": f"Keep {n}"})["id"] for n in range(3)]
        rows = sf.query_all("SELECT Id, Name FROM Account")["records"]
        assert {r["Id"] for r in rows} == set(ids)
        assert server.connections_accepted == 1
    finally:
        server.stop()


def _hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"got ", body]


def test_bodies_stay_apart_on_a_kept_alive_connection():
    server = ServerThread(_hello)
    url = server.start()
    try:
        session = requests.Session()
        answers = [session.post(url, data=f"body {n}").text for n in range(3)]
        answers.append(session.get(url).text)
        assert answers == ["got body 0", "got body 1", "got body 2", "got "]
        assert server.connections_accepted == 1
        assert session.get(url, headers={"Connection": "close"}).headers["Connection"] == "close"
        session.get(url)
        assert server.connections_accepted == 2
    finally:
        server.stop()


def test_a_stopped_sandbox_answers_nothing_on_kept_alive_connections(hubspot):
    server, emulator = hubspot
    connector = _connector(server, emulator)
    assert connector.batch_create("contacts", [{"properties": {"email": "a@example.com"}}])
    server.stop()
    with pytest.raises(RetriableError):
        connector.batch_create("contacts", [{"properties": {"email": "b@example.com"}}])
