"""Marketing reads HubSpot serves outside the CRM objects: email events, forms, form submissions.

Marketing email sends/opens/clicks and website form submissions are not CRM objects in HubSpot's
v3 API; an integration reads them through:
- the Email Events API, `GET /email/public/v1/events` (filters `recipient`, `campaignId`,
  `eventType`, `startTimestamp`/`endTimestamp` in epoch ms, `limit` 1-1000 default 10, an opaque
  `offset` token; answer `{events, hasMore, offset}`, newest first);
- the Forms API, `GET /marketing/v3/forms/` (`results` of `{id, name, formType, createdAt, ...}`);
- the Form Submissions API, `GET /form-integrations/v1/submissions/forms/{formGuid}` (`limit` up
  to 50, default 20, `after`; answer `{results: [{submittedAt, values: [{name, value}], pageUrl}],
  paging.next.after}`, newest first).

The events and submissions are the ones the admin endpoints `email-event` and `form-submission`
recorded on the portal (the simulated people produce them).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from sandbox.hubspot.calls import Call, Reply
from sandbox.hubspot.errors import not_found, validation
from sandbox.hubspot.values import parse_moment

EVENTS_MAX = 1000
EVENTS_DEFAULT = 10
SUBMISSIONS_MAX = 50
SUBMISSIONS_DEFAULT = 20
FORMS_MAX = 500
FORMS_DEFAULT = 20


def email_events(call: Call) -> Reply:
    """`GET /email/public/v1/events`: the portal's email events, newest first, filtered."""
    limit = call.number("limit", default=EVENTS_DEFAULT, maximum=EVENTS_MAX)
    start = _offset(call.query.get("offset"))
    wanted = [e for e in reversed(call.portal.email_events) if _event_matches(call, e)]
    page = wanted[start : start + limit]
    more = start + limit < len(wanted)
    body: dict[str, Any] = {
        "events": [_render_event(call, e) for e in page],
        "hasMore": more,
        "offset": _token(start + limit) if more else _token(start + len(page)),
    }
    return Reply(200, body)


def _event_matches(call: Call, event: Mapping[str, Any]) -> bool:
    query = call.query
    recipient = (query.get("recipient") or "").strip().lower()
    if recipient and str(event.get("recipient", "")).strip().lower() != recipient:
        return False
    kind = query.get("eventType")
    if kind and event.get("type") != kind:  # case-sensitive, as documented
        return False
    campaign = query.get("campaignId")
    if campaign and str(event.get("email_campaign_id") or "") != campaign.strip():
        return False
    created = _ms(event.get("created"))
    low, high = _stamp(call, "startTimestamp"), _stamp(call, "endTimestamp")
    return (low is None or created >= low) and (high is None or created <= high)


def _render_event(call: Call, event: Mapping[str, Any]) -> dict[str, Any]:
    created = _ms(event.get("created"))
    campaign = str(event.get("email_campaign_id") or "")
    rendered: dict[str, Any] = {
        "id": f"{event['id']}",
        "type": event["type"],
        "created": created,
        "recipient": event.get("recipient", ""),
        "emailCampaignId": int(campaign) if campaign.isdigit() else 0,
        "portalId": call.portal_id,
        "appId": 113,
        "appName": "BatchEmail",
        "sentBy": {"id": f"sent-{campaign or '0'}-{event.get('contact_id')}", "created": created},
        "subject": event.get("email_name", ""),
    }
    if event["type"] == "CLICK":
        rendered["url"] = event.get("url") or "https://www.example.com/"
    return rendered


def forms(call: Call) -> Reply:
    """`GET /marketing/v3/forms/`: the forms the portal has received submissions for."""
    limit = call.number("limit", default=FORMS_DEFAULT, maximum=FORMS_MAX)
    start = call.cursor()
    seen: dict[str, dict[str, Any]] = {}
    for sub in call.portal.form_submissions:
        form = seen.setdefault(
            sub["form_id"],
            {
                "id": sub["form_id"],
                "name": sub["form_name"],
                "formType": "hubspot",
                "createdAt": sub["at"],
                "updatedAt": sub["at"],
                "archived": False,
            },
        )
        form["updatedAt"] = sub["at"]
    listed = list(seen.values())
    body: dict[str, Any] = {"results": listed[start : start + limit]}
    if start + limit < len(listed):
        nxt = str(start + limit)
        body["paging"] = {
            "next": {"after": nxt, "link": call.link("/marketing/v3/forms/", after=nxt)}
        }
    return Reply(200, body)


def form_submissions(call: Call, formGuid: str) -> Reply:
    """`GET /form-integrations/v1/submissions/forms/{formGuid}`: newest first, paged by `after`."""
    subs = [s for s in reversed(call.portal.form_submissions) if s["form_id"] == formGuid]
    if not subs:
        raise not_found(f"Form {formGuid} does not exist")
    limit = call.number("limit", default=SUBMISSIONS_DEFAULT, maximum=SUBMISSIONS_MAX)
    start = call.cursor()
    body: dict[str, Any] = {"results": [_render_submission(s) for s in subs[start : start + limit]]}
    if start + limit < len(subs):
        nxt = str(start + limit)
        path = f"/form-integrations/v1/submissions/forms/{formGuid}"
        body["paging"] = {"next": {"after": nxt, "link": call.link(path, after=nxt, limit=limit)}}
    return Reply(200, body)


def _render_submission(sub: Mapping[str, Any]) -> dict[str, Any]:
    values: Sequence[tuple[str, str]] = (("email", sub["email"]),)
    return {
        "submittedAt": _ms(sub["at"]),
        "values": [{"name": n, "value": v, "objectTypeId": "0-1"} for n, v in values],
        "pageUrl": sub.get("page_url") or "",
    }


def _ms(value: Any) -> int:
    moment = parse_moment(str(value or ""))
    return int(moment.timestamp() * 1000) if moment else 0


def _stamp(call: Call, name: str) -> int | None:
    value = call.query.get(name)
    if value in (None, ""):
        return None
    if not value.strip().lstrip("-").isdigit():
        raise validation(f"Invalid query parameter {name}={value!r}: epoch milliseconds expected")
    return int(value)


def _token(position: int) -> str:
    return base64.urlsafe_b64encode(f"o:{position}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int:
    """The position an offset token stands for (opaque to callers, as HubSpot's is)."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind == "o" and number.isdigit():
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise validation(f"Invalid offset {token!r}")
