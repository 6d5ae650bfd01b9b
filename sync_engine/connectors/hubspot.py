"""The HubSpot edge: a hubspot-api-client built from a base URL, a token and a retry policy.

The engine does its own retrying (honouring Retry-After and recording each attempt), so the default
policy here retries nothing: urllib3's default would silently retry a GET answered 429 with
Retry-After and hide the call from the API budget (client-facts.md).
"""

from __future__ import annotations

from hubspot import HubSpot
from urllib3.util.retry import Retry

from sync_engine.errors import ConfigurationError
from sync_engine.settings import HubSpotCredentials

NO_RETRY = Retry(
    total=0,
    connect=0,
    read=0,
    redirect=0,
    status=0,
    status_forcelist=(),
    respect_retry_after_header=False,
    raise_on_status=False,
)


def make_hubspot_client(creds: HubSpotCredentials, *, retry: Retry | None = None) -> HubSpot:
    """A client pointed at creds.base_url (HubSpot, or the sandbox) with the given retry policy."""
    if not creds.access_token:
        raise ConfigurationError(
            "HubSpot is not configured: set HUBSPOT_ACCESS_TOKEN to a private app token "
            "(and HUBSPOT_BASE_URL for the sandbox)"
        )
    return HubSpot(
        access_token=creds.access_token,
        host=creds.base_url.rstrip("/"),
        retry=retry if retry is not None else NO_RETRY,
    )
