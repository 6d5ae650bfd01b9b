"""HubSpot's marketing reads for the activity sync: email events, forms and form submissions.

Marketing email events and form submissions are not CRM objects in HubSpot's v3 API (no search,
no hs_lastmodifieddate): they come from the Email Events API (`/email/public/v1/events`) and the
Forms / Form Submissions APIs. hubspot-api-client has no generated client for the first and the
last, so they are called through the client's own API client (same host, token, pool and
timeouts) by `HubSpotConnector.raw_get`, so each request is counted in its CallLog, retried when
transient, and mapped to LeadBridge's errors like any other HubSpot call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sync_engine.connectors.hubspot import HubSpotConnector

EVENTS_PAGE = 1000  # the Email Events API returns at most 1,000 events per request
SUBMISSIONS_PAGE = 50  # the Form Submissions API returns at most 50 per request
FORMS_PAGE = 500
EVENTS_ENDPOINT = "GET /email/public/v1/events"
FORMS_ENDPOINT = "GET /marketing/v3/forms/"
SUBMISSIONS_ENDPOINT = "GET /form-integrations/v1/submissions/forms/{formGuid}"


class MarketingReader:
    """Reads marketing activity through a HubSpotConnector (calls counted in its CallLog)."""

    def __init__(self, hubspot: HubSpotConnector) -> None:
        self.hs = hubspot

    def _get(self, endpoint: str, path: str, query: Mapping[str, Any]) -> dict[str, Any]:
        return self.hs.raw_get(endpoint, path, query)

    def email_events(
        self,
        *,
        since_ms: int,
        event_types: Sequence[str],
        until_ms: int | None = None,
    ) -> list[dict[str, Any]]:
        """Events of the given types at or after since_ms, oldest first (one query per type:
        the API filters one eventType at a time)."""
        found: list[dict[str, Any]] = []
        for kind in event_types:
            found.extend(self._events_of(kind, since_ms=since_ms, until_ms=until_ms))
        return sorted(found, key=lambda e: (int(e.get("created") or 0), str(e.get("id"))))

    def _events_of(
        self, kind: str, *, since_ms: int, until_ms: int | None
    ) -> Iterator[dict[str, Any]]:
        offset: str | None = None
        while True:
            page = self._get(
                EVENTS_ENDPOINT,
                "/email/public/v1/events",
                {
                    "eventType": kind,
                    "startTimestamp": since_ms,
                    "endTimestamp": until_ms,
                    "limit": EVENTS_PAGE,
                    "offset": offset,
                },
            )
            yield from page.get("events") or []
            offset = page.get("offset")
            if not page.get("hasMore") or not offset:
                return

    def forms(self) -> list[dict[str, Any]]:
        """Every form of the portal: `{id, name, ...}`."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = self._get(
                FORMS_ENDPOINT, "/marketing/v3/forms/", {"limit": FORMS_PAGE, "after": after}
            )
            out.extend(page.get("results") or [])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return out

    def form_submissions(self, form_id: str, *, since_ms: int) -> list[dict[str, Any]]:
        """Submissions of one form at or after since_ms, oldest first. The API answers newest
        first, so paging stops at the first page that reaches back past since_ms."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = self._get(
                SUBMISSIONS_ENDPOINT,
                f"/form-integrations/v1/submissions/forms/{form_id}",
                {"limit": SUBMISSIONS_PAGE, "after": after},
            )
            rows = page.get("results") or []
            out.extend(r for r in rows if int(r.get("submittedAt") or 0) >= since_ms)
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            older = any(int(r.get("submittedAt") or 0) < since_ms for r in rows)
            if not after or older:
                return sorted(out, key=lambda r: int(r.get("submittedAt") or 0))
