"""Where LeadBridge finds its credentials and files: the environment, or `.streamlit/secrets.toml`.

Secrets live only in these frozen dataclasses, whose `repr` masks them, so that printing a settings
object, logging it or raising with it never leaks a token. Nothing here writes them anywhere.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

DEFAULT_HUBSPOT_BASE_URL = "https://api.hubapi.com"
DEFAULT_DB = Path("data/sync.duckdb")
DEFAULT_CONFIG = Path("sync.toml")
SECRETS_FILE = Path(".streamlit/secrets.toml")

KEYS = (
    "SALESFORCE_INSTANCE_URL",
    "SALESFORCE_SESSION_ID",
    "SALESFORCE_USERNAME",
    "SALESFORCE_PASSWORD",
    "SALESFORCE_SECURITY_TOKEN",
    "SALESFORCE_DOMAIN",
    "SALESFORCE_CLIENT_ID",
    "SALESFORCE_CLIENT_SECRET",
    "SALESFORCE_CA_BUNDLE",
    "HUBSPOT_ACCESS_TOKEN",
    "HUBSPOT_BASE_URL",
    "SYNC_DB",
    "SYNC_CONFIG",
)


def mask(value: str | None) -> str:
    """Show that a secret is set without showing it."""
    if not value:
        return "<unset>"
    return "<set:***>"


def secret_field() -> object:
    """A dataclass field that never appears in repr."""
    return field(default=None, repr=False)


@dataclass(frozen=True)
class SalesforceCredentials:
    """How to reach one Salesforce org: a session id, a username/password/token, or OAuth client
    credentials (consumer key and secret with the org's My Domain)."""

    instance_url: str | None = None
    session_id: str | None = secret_field()  # type: ignore[assignment]
    username: str | None = None
    password: str | None = secret_field()  # type: ignore[assignment]
    security_token: str | None = secret_field()  # type: ignore[assignment]
    domain: str | None = None
    client_id: str | None = None
    client_secret: str | None = secret_field()  # type: ignore[assignment]
    ca_bundle: Path | None = None

    @property
    def method(self) -> str | None:
        """Which login this configuration allows: session, password, client_credentials or None."""
        if self.instance_url and self.session_id:
            return "session"
        return self.login_method

    @property
    def login_method(self) -> str | None:
        """How a new session can be had when the current one expires: password,
        client_credentials, or None when only a session id is configured."""
        if self.username and self.password:
            return "password"
        if self.client_id and self.client_secret and (self.domain or self.instance_url):
            return "client_credentials"
        return None

    def __repr__(self) -> str:
        return (
            f"SalesforceCredentials(instance_url={self.instance_url!r}, method={self.method!r}, "
            f"session_id={mask(self.session_id)}, username={self.username!r}, "
            f"password={mask(self.password)}, client_secret={mask(self.client_secret)})"
        )


@dataclass(frozen=True)
class HubSpotCredentials:
    """A HubSpot private-app token and the API base URL (the sandbox's, or HubSpot's)."""

    access_token: str | None = secret_field()  # type: ignore[assignment]
    base_url: str = DEFAULT_HUBSPOT_BASE_URL

    def __repr__(self) -> str:
        return (
            f"HubSpotCredentials(base_url={self.base_url!r}, "
            f"access_token={mask(self.access_token)})"
        )


@dataclass(frozen=True)
class Settings:
    """Everything read from the environment: both systems' credentials and the two file paths."""

    salesforce: SalesforceCredentials
    hubspot: HubSpotCredentials
    db_path: Path = DEFAULT_DB
    config_path: Path = DEFAULT_CONFIG

    @property
    def has_credentials(self) -> bool:
        """True when both systems are configured; otherwise the product runs the sandbox."""
        return self.salesforce.method is not None and bool(self.hubspot.access_token)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value set, so that tests and guards can search outputs for them."""
        found: list[str] = []
        for creds in (self.salesforce, self.hubspot):
            for f in fields(creds):
                value = getattr(creds, f.name)
                if not f.repr and isinstance(value, str) and value:
                    found.append(value)
        return tuple(found)


def read_secrets_file(path: Path = SECRETS_FILE) -> dict[str, str]:
    """The flat string keys of `.streamlit/secrets.toml`, or nothing when it is absent."""
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {k: str(v) for k, v in data.items() if isinstance(v, str | int | float)}


def load_settings(
    env: Mapping[str, str] | None = None, *, secrets_path: Path = SECRETS_FILE
) -> Settings:
    """Build Settings from secrets.toml overlaid by the environment (the environment wins)."""
    source: dict[str, str] = dict(read_secrets_file(secrets_path))
    environ = os.environ if env is None else env
    source.update({k: v for k, v in environ.items() if k in KEYS and v})

    def get(key: str) -> str | None:
        return source.get(key) or None

    ca = get("SALESFORCE_CA_BUNDLE")
    return Settings(
        salesforce=SalesforceCredentials(
            instance_url=get("SALESFORCE_INSTANCE_URL"),
            session_id=get("SALESFORCE_SESSION_ID"),
            username=get("SALESFORCE_USERNAME"),
            password=get("SALESFORCE_PASSWORD"),
            security_token=get("SALESFORCE_SECURITY_TOKEN"),
            domain=get("SALESFORCE_DOMAIN"),
            client_id=get("SALESFORCE_CLIENT_ID"),
            client_secret=get("SALESFORCE_CLIENT_SECRET"),
            ca_bundle=Path(ca) if ca else None,
        ),
        hubspot=HubSpotCredentials(
            access_token=get("HUBSPOT_ACCESS_TOKEN"),
            base_url=get("HUBSPOT_BASE_URL") or DEFAULT_HUBSPOT_BASE_URL,
        ),
        db_path=Path(get("SYNC_DB") or DEFAULT_DB),
        config_path=Path(get("SYNC_CONFIG") or DEFAULT_CONFIG),
    )
