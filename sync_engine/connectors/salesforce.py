"""The Salesforce edge: a simple-salesforce client built from credentials, session injected.

Tests and the embedded sandbox pass a `requests.Session` that trusts the sandbox CA; real orgs get a
session built here. `trust_env` is always off when a CA bundle is given, because an environment
`REQUESTS_CA_BUNDLE` would otherwise override `session.verify` (client-facts.md).
"""

from __future__ import annotations

from urllib.parse import urlparse

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from sync_engine.errors import AuthenticationError, ConfigurationError
from sync_engine.settings import SalesforceCredentials

API_VERSION = "59.0"


def make_session(creds: SalesforceCredentials) -> requests.Session:
    """A requests session for this org: trusting the configured CA bundle when there is one."""
    session = requests.Session()
    if creds.ca_bundle is not None:
        if not creds.ca_bundle.exists():
            raise ConfigurationError(
                f"SALESFORCE_CA_BUNDLE points at {creds.ca_bundle}, which does not exist; "
                "start the sandbox (python -m sync_engine sandbox) or fix the path"
            )
        session.verify = str(creds.ca_bundle)
        session.trust_env = False
    return session


def make_salesforce_client(
    creds: SalesforceCredentials,
    *,
    session: requests.Session | None = None,
    version: str = API_VERSION,
) -> Salesforce:
    """Log in with whichever method the credentials allow and return the client.

    Raises ConfigurationError when no method is configured and AuthenticationError when the org
    refuses the login, each with the fix in the message (never the secret itself).
    """
    method = creds.method
    if method is None:
        raise ConfigurationError(
            "Salesforce is not configured: set SALESFORCE_INSTANCE_URL and SALESFORCE_SESSION_ID, "
            "or SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN, or "
            "SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET with SALESFORCE_DOMAIN"
        )
    session = session if session is not None else make_session(creds)
    try:
        if method == "session":
            return Salesforce(
                instance_url=creds.instance_url,
                session_id=creds.session_id,
                session=session,
                version=version,
            )
        if method == "password":
            return Salesforce(
                username=creds.username,
                password=creds.password,
                security_token=creds.security_token or "",
                domain=creds.domain,
                session=session,
                version=version,
            )
        return Salesforce(
            consumer_key=creds.client_id,
            consumer_secret=creds.client_secret,
            domain=_my_domain(creds),
            session=session,
            version=version,
        )
    except SalesforceAuthenticationFailed as exc:
        raise AuthenticationError(
            f"Salesforce refused the {method} login ({exc.code}); check the credentials "
            "and that the user is active and API-enabled"
        ) from None


def _my_domain(creds: SalesforceCredentials) -> str | None:
    """simple-salesforce wants the My Domain host without `.salesforce.com` for OAuth flows."""
    if creds.domain:
        return creds.domain
    host = urlparse(creds.instance_url or "").hostname or ""
    return host.removesuffix(".salesforce.com") or None
