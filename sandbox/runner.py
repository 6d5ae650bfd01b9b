"""Both emulators together: seeded, served on 127.0.0.1, optionally driven by the simulator.

This is what `python -m sync_engine sandbox`, the embedded default of the dashboard and the test
fixtures start. Tokens stay the same across a reseed, so a running engine keeps working after the
admin endpoint `POST /__sandbox/reset` swaps the data underneath it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.admin import SandboxHooks
from sandbox.core import Clock, ServerThread, ensure_tls
from sandbox.seeddata import SeedBundle

DEFAULT_DATA_DIR = Path("data/sandbox")
ENV_FILE = "sandbox.env"


LOGIN_KEYS = {
    "password": {
        "username": "SALESFORCE_USERNAME",
        "password": "SALESFORCE_PASSWORD",
        "security_token": "SALESFORCE_SECURITY_TOKEN",
    },
    "client_credentials": {
        "client_id": "SALESFORCE_CLIENT_ID",
        "client_secret": "SALESFORCE_CLIENT_SECRET",
    },
}


@dataclass(frozen=True)
class SandboxEnv:
    """How to connect to a running sandbox: the KEY=value lines of SPEC section 6.

    `salesforce_login` holds the integration user's username, password, security token and
    connected app client id and secret (the emulator's `GET /__sandbox/login`): `as_env(login=...)`
    gives the variables of a password or client credentials login instead of the session id, for
    an engine that must log in again when its session expires.
    """

    salesforce_url: str
    salesforce_token: str
    ca_bundle: Path
    hubspot_url: str
    hubspot_token: str
    salesforce_login: dict[str, str] = field(default_factory=dict, repr=False)

    def as_env(self, *, login: str = "session") -> dict[str, str]:
        """The variables of one Salesforce login method: session, password or
        client_credentials."""
        if login != "session" and login not in LOGIN_KEYS:
            raise ValueError(f"login must be session, {' or '.join(LOGIN_KEYS)}, not {login!r}")
        salesforce = (
            {"SALESFORCE_SESSION_ID": self.salesforce_token}
            if login == "session"
            else {key: self.salesforce_login[name] for name, key in LOGIN_KEYS[login].items()}
        )
        return {
            "SALESFORCE_INSTANCE_URL": self.salesforce_url,
            **salesforce,
            "SALESFORCE_CA_BUNDLE": str(self.ca_bundle),
            "HUBSPOT_BASE_URL": self.hubspot_url,
            "HUBSPOT_ACCESS_TOKEN": self.hubspot_token,
        }

    def lines(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.as_env().items()]

    def __repr__(self) -> str:
        return f"SandboxEnv(salesforce={self.salesforce_url!r}, hubspot={self.hubspot_url!r})"


def parse_seed_spec(value: str) -> str | int:
    """`default`, `empty` or a seed number; anything else is refused with the allowed forms."""
    if value in ("default", "empty"):
        return value
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"--seed must be 'default', 'empty' or a number, not {value!r}") from None
    if number < 0:
        raise ValueError(f"--seed number must be >= 0, not {number}")
    return number


class Sandbox:
    """The pair of emulators with their seed, servers and (optionally) the simulated people."""

    def __init__(
        self,
        *,
        seed: str | int = "default",
        data_dir: Path = DEFAULT_DATA_DIR,
        sf_port: int = 0,
        hs_port: int = 0,
        fault_rate: float = 0.0,
        bundle: SeedBundle | None = None,
    ) -> None:
        from sandbox.hubspot.emulator import HubSpotEmulator
        from sandbox.salesforce.emulator import SalesforceEmulator

        self.data_dir = data_dir
        self.clock = Clock()
        hooks = SandboxHooks(reset=self.reseed, simulate=self.simulate)
        self.salesforce = SalesforceEmulator(clock=self.clock, hooks=hooks)
        self.hubspot = HubSpotEmulator(clock=self.clock, hooks=hooks)
        self._tokens: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._simulator: Any = None
        self._sf_server = ServerThread(self.salesforce.wsgi_app, port=sf_port)
        self._hs_server = ServerThread(self.hubspot.wsgi_app, port=hs_port)
        self._load(bundle if bundle is not None else _build(seed))
        if fault_rate:
            self.salesforce.faults.configure(rate=fault_rate)
            self.hubspot.faults.configure(rate=fault_rate)
        self.env: SandboxEnv | None = None

    def start(self, *, write_env: bool = True) -> SandboxEnv:
        """Serve both emulators (Salesforce over HTTPS, local CA) and return how to connect."""
        tls = ensure_tls(self.data_dir)
        self._sf_server.tls = tls
        sf_url = self._sf_server.start()
        hs_url = self._hs_server.start()
        self.env = SandboxEnv(
            salesforce_url=sf_url,
            salesforce_token=self.salesforce.integration_token,
            ca_bundle=tls.ca_pem.resolve(),
            hubspot_url=hs_url,
            hubspot_token=self.hubspot.integration_token,
            salesforce_login=self.salesforce.login_credentials(),
        )
        if write_env:
            env_file = self.data_dir / ENV_FILE
            env_file.write_text("\n".join(self.env.lines()) + "\n", encoding="utf-8")
            env_file.chmod(0o600)
        return self.env

    def stop(self) -> None:
        self.simulate(0)
        self._sf_server.stop()
        self._hs_server.stop()

    def reseed(self, spec: str) -> None:
        """Replace both orgs' data with a fresh seed (the admin `reset`), keeping every token."""
        self._load(_build(parse_seed_spec(spec)))

    def load_bundle(self, bundle: SeedBundle) -> None:
        """Replace both orgs' data with a prepared bundle (tests, benchmarks), keeping tokens."""
        self._load(bundle)

    def simulate(self, rate: float) -> dict[str, Any]:
        """Start the simulated people at `rate` actions per second, or stop them with 0."""
        with self._lock:
            if self._simulator is not None:
                self._simulator.stop()
                self._simulator = None
            if rate <= 0:
                return {"simulating": False, "rate": 0.0}
            if self.env is None:
                raise ValueError("start the sandbox before the simulator")
            from sandbox.simulator import Simulator

            self._simulator = Simulator(
                salesforce_url=self.env.salesforce_url,
                hubspot_url=self.env.hubspot_url,
                people=self.people(),
                ca_bundle=self.env.ca_bundle,
                rate=rate,
            )
            self._simulator.start()
            return {"simulating": True, "rate": rate}

    @property
    def simulator(self) -> Any:
        return self._simulator

    def people(self) -> list[Any]:
        return [*self.salesforce.people(), *self.hubspot.people()]

    def _load(self, bundle: SeedBundle) -> None:
        self._keep_tokens(bundle)
        self.salesforce.load(bundle.salesforce)
        self.hubspot.load(bundle.hubspot)

    def _keep_tokens(self, bundle: SeedBundle) -> None:
        """Give people of the new seed the tokens their namesakes had, and remember new ones."""
        entries: list[tuple[str, dict[str, Any]]] = [
            ("salesforce", u) for u in bundle.salesforce.users
        ]
        entries += [("hubspot", u) for u in bundle.hubspot.users]
        if bundle.hubspot.app:
            entries.append(("hubspot-app", bundle.hubspot.app))
        for system, person in entries:
            key = (system, str(person.get("Id") or person.get("id") or person.get("appId")))
            if key in self._tokens:
                person["_token"] = self._tokens[key]
            elif person.get("_token"):
                self._tokens[key] = person["_token"]


def _build(spec: str | int) -> SeedBundle:
    from sandbox.seed import build_seed

    return build_seed(spec)
