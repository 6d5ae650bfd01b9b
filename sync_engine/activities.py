"""Activity sync: HubSpot engagements and marketing activity as Salesforce Tasks, and rep-logged
Salesforce calls and meetings as HubSpot engagements; selective, bounded, idempotent, audited.

Why it is built this way:
- Activity is where integrations drown Salesforce ("task storms"): every type has its own toggle,
  high-value filters (`config.ActivitySync`) and a cap of new Tasks per UTC day. What the cap
  holds back is not lost: it waits in `activity_queue` and goes first the next day, and the
  dashboard reads why from `sync_errors` (code ACTIVITY_DAILY_CAP) and `activity_status`.
- An engagement is one Task forever: the Task's external id `HubSpot_Engagement_Id__c` is the
  activity's key (`call-<id>`, `mkt-<campaign>-<contact>`, `form-<hash>`), Tasks are written by
  upsert on it, and the key is linked in `id_links` (object `activity`). A marketing email is one
  Task per contact and email however many events it has: its counts are merged into the same
  queue row, so three opens update one Task.
- Reading, deciding and writing are apart: sources read into `activity_queue` (with the cursors,
  in one transaction); `decide` is pure over the queue, the links and today's counts; writes go in
  sObject Collections of 200 (HubSpot batches of 100 the other way), each batch committing its
  links, field changes, errors and API calls.
- Deletions follow `[deletion] policy` like the other objects: an engagement archived in HubSpot
  deletes its Task (archive) or marks it and opens a DELETED_IN_HUBSPOT error (flag); a rep's
  Task deleted in Salesforce does the same to the engagement LeadBridge made of it. HubSpot's
  search never returns archived records, so they are read from the paged archived list, which
  is read whole: that costs calls, so it runs every `[deletion] activities_check_minutes`, and
  only for types that have Tasks. A deleted activity is never written again.
- Each Task links back to the HubSpot contact's record page, built from the portal id and UI
  domain of the account details API (read once per engine).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sync_engine.activity_sources import MarketingReader
from sync_engine.config import ActivitySync as ActivitySetting
from sync_engine.config import SyncConfig
from sync_engine.connectors.hubspot import HubSpotConnector
from sync_engine.connectors.salesforce import COLLECTION_SIZE, SalesforceConnector, soql_quote
from sync_engine.connectors.usage import ApiCall
from sync_engine.errors import RecordError, classify
from sync_engine.models import DeletionPolicy
from sync_engine.queries import get_cursor
from sync_engine.store import ApiUsage, AuditStore, FieldChange, Link, StoreWriter, SyncError

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
EXTERNAL_ID = "HubSpot_Engagement_Id__c"
LINK_OBJECT = "activity"
CAP_CODE = "ACTIVITY_DAILY_CAP"
DELETED_IN_HUBSPOT, DELETED_IN_SALESFORCE = "DELETED_IN_HUBSPOT", "DELETED_IN_SALESFORCE"
ARCHIVED_CURSOR = "{type}.archived"  # sync_cursors object: when the type's archived list was read
BOOKED_SOURCES = {"MEETINGS_PUBLIC", "MEETINGS_EMBEDDED"}  # hs_meeting_source: a scheduling page
HS_BATCH = 100
DESCRIPTION_MAX = 32000  # Task.Description is a 32,000-character text area

# Queue statuses: what happened to each activity, and why (the reason column says it in words).
PENDING, WRITTEN, WAITING_CAP, WAITING_CONTACT = "pending", "written", "waiting_cap", "no_contact"
FILTERED, DISABLED, FAILED, FROM_SALESFORCE = "filtered", "disabled", "failed", "from_salesforce"
DELETED = "deleted"  # deleted on one side; the policy was applied; never written again
OPEN_STATUSES = (PENDING, WAITING_CAP, WAITING_CONTACT, FILTERED, DISABLED, FAILED)


@dataclass(frozen=True)
class CrmSource:
    """A HubSpot engagement object and how its properties become a Task."""

    object: str
    prefix: str  # the key prefix, HubSpot's singular name
    title: str
    body: str
    task_type: str
    label: str
    extra: tuple[str, ...] = ()


CRM_SOURCES: dict[str, CrmSource] = {
    s.object: s
    for s in (
        CrmSource(
            "calls",
            "call",
            "hs_call_title",
            "hs_call_body",
            "Call",
            "Call",
            ("hs_call_direction", "hs_call_duration", "hs_call_status", "hs_call_recording_url"),
        ),
        CrmSource(
            "emails",
            "email",
            "hs_email_subject",
            "hs_email_text",
            "Email",
            "Email",
            (
                "hs_email_direction",
                "hs_email_status",
                "hs_email_open_count",
                "hs_email_click_count",
                "hs_email_reply_count",
            ),
        ),
        CrmSource(
            "meetings",
            "meeting",
            "hs_meeting_title",
            "hs_meeting_body",
            "Meeting",
            "Meeting",
            (
                "hs_meeting_outcome",
                "hs_meeting_start_time",
                "hs_meeting_end_time",
                "hs_meeting_source",
            ),
        ),
        CrmSource("notes", "note", "hs_note_body", "hs_note_body", "Other", "Note"),
        CrmSource(
            "tasks",
            "task",
            "hs_task_subject",
            "hs_task_body",
            "Other",
            "Task",
            ("hs_task_status", "hs_task_type", "hs_task_priority"),
        ),
    )
}
TASK_STATUS = {  # HubSpot status/outcome -> Salesforce Task Status (restricted picklist)
    "NOT_STARTED": "Not Started",
    "IN_PROGRESS": "In Progress",
    "WAITING": "Waiting on someone else",
    "DEFERRED": "Deferred",
    "SCHEDULED": "Not Started",
    "RESCHEDULED": "Not Started",
}
EVENT_WORDS = {"SENT": "sends", "OPEN": "opens", "CLICK": "clicks"}
TYPE_LABELS = {
    "calls": "calls",
    "emails": "sales emails",
    "meetings": "meetings",
    "notes": "notes",
    "tasks": "HubSpot tasks",
    "marketing_emails": "marketing email",
    "form_submissions": "form submissions",
}
# Salesforce -> HubSpot: which rep-logged Tasks become which engagement, and its contact type id.
TO_HUBSPOT = {"calls": ("calls", 194), "meetings": ("meetings", 200)}
SF_TASK_FIELDS = (
    "Id", "Subject", "Description", "WhoId", "WhatId", "ActivityDate", "Status", "Type",
    "TaskSubtype", "CallType", "CallDurationInSeconds", "CreatedById", "CreatedDate",
    "SystemModstamp", EXTERNAL_ID, "IsDeleted",
)  # fmt: skip


# ================================================================ the data


@dataclass(frozen=True)
class Activity:
    """One HubSpot activity that may become one Task (its key is the Task's external id)."""

    key: str
    type: str
    source_id: str
    occurred_at: datetime
    subject: str
    contact_ids: tuple[str, ...] = ()
    company_ids: tuple[str, ...] = ()
    deal_ids: tuple[str, ...] = ()
    description: str = ""
    task_type: str = "Other"
    status: str = "Completed"
    properties: Mapping[str, str] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)  # marketing email events by type
    event_ids: tuple[str, ...] = ()
    page_url: str = ""
    form: str = ""  # form id
    form_name: str = ""
    modified_at: datetime | None = None

    def to_payload(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "source_id": self.source_id,
            "occurred_at": self.occurred_at.isoformat(),
            "subject": self.subject,
            "contact_ids": list(self.contact_ids),
            "company_ids": list(self.company_ids),
            "deal_ids": list(self.deal_ids),
            "description": self.description,
            "task_type": self.task_type,
            "status": self.status,
            "properties": dict(self.properties),
            "counts": dict(self.counts),
            "event_ids": list(self.event_ids),
            "page_url": self.page_url,
            "form": self.form,
            "form_name": self.form_name,
        }

    @classmethod
    def from_payload(cls, key: str, data: Mapping[str, Any]) -> Activity:
        return cls(
            key=key,
            type=data["type"],
            source_id=data["source_id"],
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            subject=data["subject"],
            contact_ids=tuple(data.get("contact_ids") or ()),
            company_ids=tuple(data.get("company_ids") or ()),
            deal_ids=tuple(data.get("deal_ids") or ()),
            description=data.get("description") or "",
            task_type=data.get("task_type") or "Other",
            status=data.get("status") or "Completed",
            properties=dict(data.get("properties") or {}),
            counts=dict(data.get("counts") or {}),
            event_ids=tuple(data.get("event_ids") or ()),
            page_url=data.get("page_url") or "",
            form=data.get("form") or "",
            form_name=data.get("form_name") or "",
        )


@dataclass(frozen=True)
class PersonLink:
    sf_object: str  # Lead or Contact
    sf_id: str


@dataclass(frozen=True)
class Links:
    """What the contact/company/deal sync has linked, and the Tasks written so far."""

    contacts: Mapping[str, PersonLink]  # HubSpot contact id -> Lead/Contact
    accounts: Mapping[str, str]  # HubSpot company id -> Account id
    opportunities: Mapping[str, str]  # HubSpot deal id -> Opportunity id
    tasks: Mapping[str, str]  # activity key -> Task id


@dataclass(frozen=True)
class Portal:
    """The HubSpot account (account details API): record links are built on its id and UI
    domain (app.hubspot.com, app-eu1.hubspot.com, ...)."""

    id: int
    ui_domain: str = "app.hubspot.com"

    def contact_url(self, contact_id: str) -> str:
        return f"https://{self.ui_domain}/contacts/{self.id}/record/0-1/{contact_id}"

    @classmethod
    def from_details(cls, details: Mapping[str, Any]) -> Portal:
        return cls(int(details["portalId"]), str(details.get("uiDomain") or "app.hubspot.com"))


@dataclass(frozen=True)
class Decision:
    """What to do with one activity: write its Task (op create/update), or why not."""

    activity: Activity
    status: str
    reason: str
    task: Mapping[str, Any] | None = None
    creates: bool = False


# ================================================================ pure decisions


def filter_reason(activity: Activity, setting: ActivitySetting) -> str | None:
    """Why an activity is not high-value enough for its type's filters, or None when it is."""
    for prop, allowed in setting.where:
        if activity.properties.get(prop) not in allowed:
            return f"{prop} is {activity.properties.get(prop)!r}, not one of {list(allowed)}"
    clicks = _count(activity.properties.get("hs_email_click_count"))
    if activity.type == "emails" and setting.only_clicked and not clicks:
        return "no click in this sales email (only_clicked)"
    if activity.type == "marketing_emails":
        if setting.only_clicked and not activity.counts.get("CLICK"):
            return "no click on this email (only_clicked)"
        if not any(activity.counts.get(e) for e in setting.events):
            return f"none of the events {list(setting.events)}"
    if activity.type == "form_submissions":
        if setting.forms and not {activity.form, activity.form_name} & set(setting.forms):
            return f"form {activity.form_name!r} is not one of {list(setting.forms)}"
        wanted = setting.page_url_contains
        if wanted and not any(w.lower() in activity.page_url.lower() for w in wanted):
            return f"page {activity.page_url!r} contains none of {list(wanted)}"
    return None


def _count(value: Any) -> int:
    text = str(value or "").strip()
    return int(float(text)) if text.replace(".", "", 1).isdigit() else 0


def task_values(
    activity: Activity, links: Links, *, portal: Portal | None = None
) -> dict[str, Any] | None:
    """The Task for an activity, on the person's Lead or Contact (WhoId) and, for a Contact, the
    Opportunity or Account it concerns (WhatId; Salesforce refuses a WhatId beside a Lead), its
    Description ending with the link to the contact's HubSpot record when the portal is known.
    None when none of its contacts is in Salesforce."""
    contact = next((c for c in activity.contact_ids if c in links.contacts), None)
    if contact is None:
        return None
    person = links.contacts[contact]
    description = activity.description[:DESCRIPTION_MAX]
    if portal is not None:
        link = f"View in HubSpot: {portal.contact_url(contact)}"
        kept = activity.description[: DESCRIPTION_MAX - len(link) - 2]
        description = f"{kept}\n\n{link}" if kept else link
    what = None
    if person.sf_object == "Contact":
        what = next((links.opportunities[d] for d in activity.deal_ids if d in links.opportunities),
                    None) or next(
            (links.accounts[c] for c in activity.company_ids if c in links.accounts), None
        )  # fmt: skip
    return {
        EXTERNAL_ID: activity.key,
        "WhoId": person.sf_id,
        "WhatId": what,
        "Subject": activity.subject[:255],
        "ActivityDate": activity.occurred_at.astimezone(UTC).date().isoformat(),
        "Status": activity.status,
        "Type": activity.task_type,
        "Priority": "Normal",
        "Description": description,
        **_call_fields(activity),
    }


def _call_fields(activity: Activity) -> dict[str, Any]:
    if activity.type != "calls":
        return {}
    props = activity.properties
    out: dict[str, Any] = {}
    duration = str(props.get("hs_call_duration") or "")
    if duration.isdigit():
        out["CallDurationInSeconds"] = int(duration) // 1000
    direction = props.get("hs_call_direction")
    if direction in ("INBOUND", "OUTBOUND"):
        out["CallType"] = direction.title()
    return out


def decide(
    activities: Sequence[Activity],
    *,
    settings: Mapping[str, ActivitySetting],
    links: Links,
    created_today: Mapping[str, int],
    portal: Portal | None = None,
) -> list[Decision]:
    """Each activity's fate, oldest first per type: a Task update (always allowed: it creates
    nothing), a new Task while the type's daily cap has room, or a wait with its reason."""
    used = Counter(created_today)
    out: list[Decision] = []
    for activity in sorted(activities, key=lambda a: (a.type, a.occurred_at, a.key)):
        setting = settings.get(activity.type)
        if setting is None or not setting.enabled:
            out.append(Decision(activity, DISABLED, f"{activity.type} sync is off"))
            continue
        why = filter_reason(activity, setting)
        if why:
            out.append(Decision(activity, FILTERED, f"not high-value: {why}"))
            continue
        task = task_values(activity, links, portal=portal)
        if task is None:
            out.append(Decision(activity, WAITING_CONTACT, _no_contact(activity)))
            continue
        creates = activity.key not in links.tasks
        if creates and used[activity.type] >= setting.daily_cap:
            reason = (
                f"daily cap of {setting.daily_cap} new {activity.type} Tasks reached; "
                "waits for the next UTC day"
            )
            out.append(Decision(activity, WAITING_CAP, reason))
            continue
        used[activity.type] += creates
        out.append(Decision(activity, WRITTEN, "created" if creates else "updated", task, creates))
    return out


def _no_contact(activity: Activity) -> str:
    if not activity.contact_ids:
        return "associated with no HubSpot contact"
    listed = ", ".join(activity.contact_ids[:3])
    return f"contact {listed} is not synced to Salesforce yet (not on the inclusion list?)"


# ---------------------------------------------------------------- deletions (pure)

DELETE, FLAG, STOP = "delete", "flag", "stop"
TYPE_OF_PREFIX = {s.prefix: s.object for s in CRM_SOURCES.values()}


@dataclass(frozen=True)
class Deletion:
    """An activity deleted on one side, and what the policy does to its partner on the other:
    delete it, flag it (kept, marked, an error for a person), or only stop syncing (a Task
    LeadBridge made of a HubSpot engagement, deleted in Salesforce: HubSpot's record stays)."""

    key: str
    type: str
    deleted_in: str  # "hubspot" or "salesforce"
    task_id: str  # the Salesforce Task (the engagement's id is in the key)
    action: str
    at: datetime | None = None


def type_of_key(key: str) -> str | None:
    """calls / emails / ... for a CRM engagement key (`call-12`), else None."""
    return TYPE_OF_PREFIX.get(key.split("-", 1)[0])


def hubspot_deletions(
    archived: Mapping[str, datetime | None],
    *,
    tasks: Mapping[str, str],
    settled: Collection[str],
    policy: DeletionPolicy,
) -> list[Deletion]:
    """Engagements archived in HubSpot (key -> archivedAt) that have a Task not yet settled."""
    action = DELETE if policy is DeletionPolicy.ARCHIVE else FLAG
    return [
        Deletion(key, type_of_key(key) or "", "hubspot", tasks[key], action, at)
        for key, at in sorted(archived.items())
        if key in tasks and key not in settled
    ]


def salesforce_deletions(
    deleted: Sequence[Mapping[str, Any]],
    *,
    keys: Mapping[str, str],
    statuses: Mapping[str, str],
    policy: DeletionPolicy,
) -> list[Deletion]:
    """Tasks deleted in Salesforce (queryAll rows) that are linked to an activity (keys: Task id
    -> activity key): the policy for an engagement LeadBridge made of a rep's Task; no more sync
    for a Task LeadBridge made of an engagement (HubSpot keeps its record)."""
    out = []
    for row in deleted:
        key = keys.get(row["Id"])
        if key is None or statuses.get(key) == DELETED or type_of_key(key) is None:
            continue
        at = _parse_time(row.get("SystemModstamp"))
        if statuses.get(key) == FROM_SALESFORCE:
            action = DELETE if policy is DeletionPolicy.ARCHIVE else FLAG
            out.append(Deletion(key, type_of_key(key) or "", "salesforce", row["Id"], action, at))
        else:
            out.append(Deletion(key, type_of_key(key) or "", "salesforce", row["Id"], STOP, at))
    return out


def _source_id(key: str) -> str:
    return key.split("-", 1)[1]


def archived_check_due(last: datetime | None, now: datetime, *, minutes: int) -> bool:
    """Whether a type's archived list is due again: never read, the clock went back, or the
    cadence has passed."""
    return last is None or now < last or now - last >= timedelta(minutes=minutes)


def flagged_description(description: str | None, deletion: Deletion) -> str:
    """The Task's Description with a line saying the engagement is gone from HubSpot."""
    day = (deletion.at or EPOCH).astimezone(UTC).date().isoformat()
    mark = f"[Deleted in HubSpot on {day}: this Task is kept and no longer synced]"
    text = (description or "").strip()
    if mark in text:
        return text
    return f"{mark}\n\n{text}"[:DESCRIPTION_MAX] if text else mark


@dataclass(frozen=True)
class Projection:
    """How many Tasks a day a type would create if it were enabled as configured."""

    type: str
    label: str
    per_day: float
    days: int
    observed: int
    cap: int

    @property
    def tasks_per_day(self) -> int:
        return round(self.per_day)

    def message(self) -> str:
        text = f"enabling {self.label} would create about {self.tasks_per_day} Tasks a day"
        if self.per_day > self.cap:
            text += f" (the daily cap of {self.cap} would hold the rest for later days)"
        return text


def type_label(setting: ActivitySetting) -> str:
    """How a type reads in a sentence: "marketing email opens", "form submissions"."""
    if setting.type == "marketing_emails":
        events = [EVENT_WORDS[e] for e in setting.events]
        words = " and ".join(events) if len(events) < 3 else "sends, opens and clicks"
        suffix = " (clicked emails only)" if setting.only_clicked else ""
        return f"marketing email {words}{suffix}"
    return TYPE_LABELS.get(setting.type, setting.type)


def project_daily_volume(
    activities: Sequence[Activity],
    setting: ActivitySetting,
    *,
    days: int,
    linked_contacts: Collection[str],
) -> Projection:
    """Tasks a day the type would create: activities of the last `days` days that pass its
    filters and concern a contact in Salesforce, one per key, averaged per day."""
    enabled = replace(setting, enabled=True)
    keys = {
        a.key
        for a in activities
        if a.type == setting.type
        and filter_reason(a, enabled) is None
        and any(c in linked_contacts for c in a.contact_ids)
    }
    return Projection(
        type=setting.type,
        label=type_label(setting),
        per_day=len(keys) / max(days, 1),
        days=days,
        observed=len(keys),
        cap=setting.daily_cap,
    )


# ---------------------------------------------------------------- building activities (pure)


def crm_activity(
    source: CrmSource, record: Mapping[str, Any], assoc: Mapping[str, Any]
) -> Activity:
    """A HubSpot engagement (v3 record) and its associations as an Activity."""
    props = {k: str(v) for k, v in (record.get("properties") or {}).items() if v is not None}
    record_id = str(record["id"])
    occurred = _parse_time(props.get("hs_timestamp") or props.get("hs_createdate")) or EPOCH
    title = (props.get(source.title) or "").strip() or f"{source.label} ({record_id})"
    body = (props.get(source.body) or "").strip() if source.body != source.title else ""
    lines = [body] if body else []
    if props.get("hs_call_recording_url"):
        lines.append(f"Recording: {props['hs_call_recording_url']}")
    if source.object == "emails":
        lines.append(_email_tracking(props))
    if props.get("hs_meeting_source") in BOOKED_SOURCES:
        lines.append("Booked by the contact through a HubSpot scheduling page")
    lines.append(f"Logged in HubSpot: {source.label.lower()} {record_id}")
    status_code = props.get("hs_task_status") or props.get("hs_meeting_outcome") or ""
    return Activity(
        key=f"{source.prefix}-{record_id}",
        type=source.object,
        source_id=record_id,
        occurred_at=occurred,
        subject=f"{source.label}: {title}" if source.object != "notes" else f"Note: {title[:80]}",
        contact_ids=tuple(assoc.get("contacts") or ()),
        company_ids=tuple(assoc.get("companies") or ()),
        deal_ids=tuple(assoc.get("deals") or ()),
        description="\n\n".join(lines),
        task_type=source.task_type,
        status=TASK_STATUS.get(status_code, "Completed"),
        properties=props,
        modified_at=_parse_time(props.get("hs_lastmodifieddate")),
    )


def _email_tracking(props: Mapping[str, str]) -> str:
    """How a sales email did: its send status and the recipient's opens, clicks and replies."""
    counts = ", ".join(
        f"{word}: {_count(props.get(f'hs_email_{kind}_count'))}"
        for kind, word in (("open", "opens"), ("click", "clicks"), ("reply", "replies"))
    )
    status = props.get("hs_email_status")
    return f"{status.title()}; {counts}" if status else counts.capitalize()


def marketing_activities(
    events: Sequence[Mapping[str, Any]],
    *,
    contact_of: Mapping[str, str],
    previous: Mapping[str, Activity],
) -> list[Activity]:
    """Events grouped into one Activity per contact and email, merged with what earlier runs
    counted (an event already counted is never counted again)."""
    grouped: dict[str, Activity] = {}
    for event in events:
        contact = contact_of.get(str(event.get("recipient") or "").strip().lower())
        if contact is None:
            continue
        campaign = str(event.get("emailCampaignId") or "0")
        key = f"mkt-{campaign}-{contact}"
        current = grouped.get(key) or previous.get(key) or _new_marketing(key, campaign, contact)
        grouped[key] = _with_event(current, event)
    return list(grouped.values())


def _new_marketing(key: str, campaign: str, contact: str) -> Activity:
    return Activity(
        key=key,
        type="marketing_emails",
        source_id=campaign,
        occurred_at=EPOCH,
        subject="",
        contact_ids=(contact,),
        task_type="Email",
    )


def _with_event(activity: Activity, event: Mapping[str, Any]) -> Activity:
    event_id = str(event.get("id"))
    if event_id in activity.event_ids:
        return activity
    counts = Counter(activity.counts)
    counts[str(event.get("type"))] += 1
    at = datetime.fromtimestamp(int(event.get("created") or 0) / 1000, tz=UTC)
    name = str(event.get("subject") or "") or f"email {activity.source_id}"
    summary = ", ".join(f"{EVENT_WORDS.get(k, k.lower())}: {n}" for k, n in sorted(counts.items()))
    first = at if activity.occurred_at == EPOCH else min(activity.occurred_at, at)
    return replace(
        activity,
        occurred_at=first,
        subject=f"Marketing email: {name}",
        counts=dict(counts),
        event_ids=(*activity.event_ids, event_id),
        description=(
            f"Marketing email {name!r} (campaign {activity.source_id}); {summary}. "
            f"Last event {at.isoformat()}. From HubSpot's email events."
        ),
    )


def form_activity(form: Mapping[str, Any], submission: Mapping[str, Any], contact: str) -> Activity:
    submitted = int(submission.get("submittedAt") or 0)
    form_id, name = str(form["id"]), str(form.get("name") or form["id"])
    digest = hashlib.sha1(f"{form_id}|{submitted}|{contact}".encode()).hexdigest()[:20]
    page = str(submission.get("pageUrl") or "")
    return Activity(
        key=f"form-{digest}",
        type="form_submissions",
        source_id=form_id,
        occurred_at=datetime.fromtimestamp(submitted / 1000, tz=UTC),
        subject=f"Form submitted: {name}",
        contact_ids=(contact,),
        description=f"Submitted {name!r} on {page or 'an unknown page'} (HubSpot form {form_id}).",
        page_url=page,
        form=form_id,
        form_name=name,
    )


def submission_email(submission: Mapping[str, Any]) -> str | None:
    for value in submission.get("values") or ():
        if value.get("name") == "email" and value.get("value"):
            return str(value["value"]).strip().lower()
    return None


def engagement_from_task(task: Mapping[str, Any], contact: str) -> tuple[str, dict[str, Any]]:
    """A rep's Salesforce call or meeting Task as a HubSpot engagement create input."""
    kind = "meetings" if (task.get("Type") == "Meeting") else "calls"
    hs_object, type_id = TO_HUBSPOT[kind]
    when = str(task.get("ActivityDate") or "")[:10] or str(task.get("CreatedDate") or "")[:10]
    stamp = f"{when}T12:00:00.000Z" if when else None
    subject = str(task.get("Subject") or "")
    body = f"{task.get('Description') or ''}\n\nLogged in Salesforce: Task {task['Id']}".strip()
    if kind == "calls":
        props: dict[str, Any] = {
            "hs_timestamp": stamp,
            "hs_call_title": subject,
            "hs_call_body": body,
            "hs_call_status": "COMPLETED",
            "hs_call_direction": "INBOUND" if task.get("CallType") == "Inbound" else "OUTBOUND",
        }
        if task.get("CallDurationInSeconds") is not None:
            props["hs_call_duration"] = str(int(task["CallDurationInSeconds"]) * 1000)
    else:
        props = {
            "hs_timestamp": stamp,
            "hs_meeting_title": subject,
            "hs_meeting_body": body,
            "hs_meeting_start_time": stamp,
            "hs_meeting_end_time": stamp,
            "hs_meeting_outcome": "COMPLETED",
        }
    association = {
        "to": {"id": contact},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }
    return hs_object, {
        "properties": {k: v for k, v in props.items() if v},
        "associations": [association],
    }


def task_kind(task: Mapping[str, Any]) -> str | None:
    """calls / meetings for a rep-logged Task that is one, else None."""
    if task.get("Type") == "Meeting":
        return "meetings"
    if task.get("TaskSubtype") == "Call" or task.get("Type") == "Call":
        return "calls"
    return None


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def changed_fields(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(field, old value) of each Task field an update changes (all of them for a new Task)."""
    old = old or {}
    return [(k, old.get(k)) for k, v in new.items() if k != EXTERNAL_ID and old.get(k) != v]


def usage_rows(calls: Sequence[ApiCall]) -> list[ApiUsage]:
    """One api_usage row per system and endpoint, with the quota the last call reported."""
    counts: Counter[tuple[str, str]] = Counter((c.system, c.endpoint) for c in calls)
    latest = {(c.system, c.endpoint): c for c in calls if c.used_today is not None}
    return [
        ApiUsage(
            system=system,
            endpoint=endpoint,
            calls=n,
            used_today=latest[(system, endpoint)].used_today
            if (system, endpoint) in latest
            else None,
            daily_limit=latest[(system, endpoint)].daily_limit
            if (system, endpoint) in latest
            else None,
        )
        for (system, endpoint), n in counts.items()
    ]


# ================================================================ the component


@dataclass
class ActivityReport:
    """What one activity pass did, per type and in total."""

    run_id: int
    read: int = 0
    created: int = 0
    updated: int = 0
    errors: int = 0
    to_hubspot: int = 0
    deleted: int = 0  # partners deleted, flagged or let go after a deletion on the other side
    by_status: Counter[str] = field(default_factory=Counter)
    created_by_type: Counter[str] = field(default_factory=Counter)
    waiting_by_type: Counter[str] = field(default_factory=Counter)
    sf_api_calls: int = 0
    hs_api_calls: int = 0
    decisions: list[Decision] = field(default_factory=list)

    def summary(self) -> str:
        waiting = sum(self.waiting_by_type.values())
        return (
            f"activities: read {self.read}, {self.created} Tasks created, {self.updated} updated, "
            f"{waiting} held by the daily cap, {self.to_hubspot} engagements sent to HubSpot, "
            f"{self.deleted} deletions followed, {self.errors} errors"
        )


class ActivitySync:
    """Runs the activity pass; the engine calls `run` once a cycle, after the contact pass."""

    def __init__(
        self,
        config: SyncConfig,
        *,
        salesforce: SalesforceConnector,
        hubspot: HubSpotConnector,
        store: AuditStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.sf = salesforce
        self.hs = hubspot
        self.store = store
        self.clock = clock
        self.marketing = MarketingReader(hubspot)
        self._integration_user: str | None = None
        self._portal: Portal | None = None

    @property
    def settings(self) -> dict[str, ActivitySetting]:
        return {a.type: a for a in self.config.activities}

    # ------------------------------------------------------------------ the pass

    def run(self, run_id: int | None = None, *, dry_run: bool = False) -> ActivityReport:
        """Read what changed, decide, write Tasks (and engagements), audit. With run_id None a
        run of its own is opened and closed (for a standalone pass)."""
        own = run_id is None
        if own:
            with self.store.write() as tx:
                run_id = tx.start_run("dry_run" if dry_run else "scheduled")
        assert run_id is not None
        report = ActivityReport(run_id=run_id)
        sf0, hs0 = self.sf.calls.total("salesforce"), self.hs.calls.total("hubspot")
        try:
            report.read += self._read(run_id, dry_run=dry_run)
            self._decide_and_write(run_id, report, dry_run=dry_run)
            if not dry_run:
                self._to_hubspot(run_id, report)
                self._follow_hubspot_deletions(run_id, report)
        finally:
            report.sf_api_calls = self.sf.calls.total("salesforce") - sf0
            report.hs_api_calls = self.hs.calls.total("hubspot") - hs0
            with self.store.write(run_id=run_id) as tx:
                self._flush(tx)
                if own:
                    tx.finish_run(
                        run_id,
                        status="partial" if report.errors else "succeeded",
                        message=report.summary(),
                        records_read=report.read,
                        records_written=report.created
                        + report.updated
                        + report.to_hubspot
                        + report.deleted,
                        sf_api_calls=report.sf_api_calls,
                        hs_api_calls=report.hs_api_calls,
                    )
        return report

    def _flush(self, tx: StoreWriter) -> None:
        tx.record_api_usage(usage_rows([*self.sf.calls.drain(), *self.hs.calls.drain()]))

    def portal(self) -> Portal:
        """The HubSpot account the Tasks link back to (one account details call per engine)."""
        if self._portal is None:
            self._portal = Portal.from_details(self.hs.account_details())
        return self._portal

    # ------------------------------------------------------------------ reading

    def _read(self, run_id: int, *, dry_run: bool) -> int:
        """Read each enabled HubSpot type since its cursor into the queue; the cursors move in
        the same transaction."""
        enabled = [s for s in self.config.activities if s.enabled]
        with self.store.read() as conn:
            cursors = {s.type: _cursor(conn, "hubspot", s.type) for s in enabled}
        found: list[Activity] = []
        moves: dict[str, tuple[datetime, str | None]] = {}
        for setting in enabled:
            since, last_id = cursors[setting.type] or (EPOCH, None)
            items, cursor = self._read_type(setting, since, last_id)
            found.extend(items)
            if cursor is not None:
                moves[setting.type] = cursor
        if dry_run:
            self._dry = found
            return len(found)
        with self.store.write(run_id=run_id) as tx:
            queue_put(tx, found, status=PENDING, reason="read", keep=(FROM_SALESFORCE, DELETED))
            for type_, (stamp, last) in moves.items():
                tx.set_cursor("hubspot", type_, modstamp=stamp, last_id=last)
            self._flush(tx)
            tx.add_run_counts(run_id, records_read=len(found))
        return len(found)

    def _read_type(
        self, setting: ActivitySetting, since: datetime, last_id: str | None
    ) -> tuple[list[Activity], tuple[datetime, str | None] | None]:
        if setting.type in CRM_SOURCES:
            where = tuple(prop for prop, _allowed in setting.where)
            return self._read_crm(CRM_SOURCES[setting.type], since, last_id, where=where)
        if setting.type == "marketing_emails":
            return self._read_marketing(setting, since)
        return self._read_forms(setting, since)

    def _read_crm(
        self,
        source: CrmSource,
        since: datetime,
        last_id: str | None,
        *,
        where: Sequence[str] = (),
    ) -> tuple[list[Activity], tuple[datetime, str | None] | None]:
        """Engagements modified since the cursor, with the properties their Task and the type's
        high-value filters (`where`, any property) need."""
        props = sorted({"hs_timestamp", "hs_lastmodifieddate", "hs_createdate", source.title,
                        source.body, *source.extra, *where})  # fmt: skip
        rows = list(
            self.hs.search_modified_since(
                source.object,
                properties=props,
                since_ms=int(since.timestamp() * 1000),
                after_id=last_id,
            )
        )
        if not rows:
            return [], None
        ids = [str(r["id"]) for r in rows]
        assoc: dict[str, dict[str, list[str]]] = {i: {} for i in ids}
        for target in ("contacts", "companies", "deals"):
            for from_id, to_ids in self.hs.associated(source.object, target, ids).items():
                assoc.setdefault(from_id, {})[target] = to_ids
        items = [crm_activity(source, r, assoc.get(str(r["id"]), {})) for r in rows]
        newest = max(items, key=lambda a: (a.modified_at or EPOCH, int(a.source_id)))
        return items, (newest.modified_at or since, newest.source_id)

    def _read_marketing(
        self, setting: ActivitySetting, since: datetime
    ) -> tuple[list[Activity], tuple[datetime, str | None] | None]:
        kinds = sorted({*setting.events, *(("CLICK",) if setting.only_clicked else ())})
        events = self.marketing.email_events(
            since_ms=int(since.timestamp() * 1000), event_types=kinds
        )
        if not events:
            return [], None
        contact_of = self._contacts_by_email({str(e.get("recipient") or "") for e in events})
        keys = {
            f"mkt-{e.get('emailCampaignId') or 0}-{contact_of[r]}"
            for e in events
            if (r := str(e.get("recipient") or "").strip().lower()) in contact_of
        }
        with self.store.read() as conn:
            previous = queue_get(conn, keys=keys)
        items = marketing_activities(events, contact_of=contact_of, previous=previous)
        newest = max(int(e.get("created") or 0) for e in events)
        return items, (datetime.fromtimestamp(newest / 1000, tz=UTC), None)

    def _read_forms(
        self, setting: ActivitySetting, since: datetime
    ) -> tuple[list[Activity], tuple[datetime, str | None] | None]:
        forms = [
            f
            for f in self.marketing.forms()
            if not setting.forms or {str(f["id"]), str(f.get("name"))} & set(setting.forms)
        ]
        pairs = [
            (form, sub)
            for form in forms
            for sub in self.marketing.form_submissions(
                str(form["id"]), since_ms=int(since.timestamp() * 1000)
            )
        ]
        if not pairs:
            return [], None
        contact_of = self._contacts_by_email({submission_email(s) or "" for _f, s in pairs})
        items = [
            form_activity(form, sub, contact_of[email])
            for form, sub in pairs
            if (email := submission_email(sub)) and email in contact_of
        ]
        newest = max(int(s.get("submittedAt") or 0) for _f, s in pairs)
        return items, (datetime.fromtimestamp(newest / 1000, tz=UTC), None)

    def _contacts_by_email(self, emails: Iterable[str]) -> dict[str, str]:
        """Normalised email -> HubSpot contact id (batch read by the unique email property)."""
        wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})
        if not wanted:
            return {}
        rows = self.hs.batch_read("contacts", wanted, properties=["email"], id_property="email")
        return {
            str((r.get("properties") or {}).get("email") or "").strip().lower(): str(r["id"])
            for r in rows
        }

    # ------------------------------------------------------------------ deciding and writing

    def _decide_and_write(self, run_id: int, report: ActivityReport, *, dry_run: bool) -> None:
        day = self.clock().astimezone(UTC).date()
        with self.store.read() as conn:
            queued = list(queue_open(conn).values())
            links = load_links(conn)
            created_today = created_on(conn, day)
            previous_tasks = queue_tasks(conn, [a.key for a in queued])
        if dry_run:
            queued = _merge_by_key(queued, getattr(self, "_dry", []))
        decisions = decide(
            queued,
            settings=self.settings,
            links=links,
            created_today=created_today,
            portal=self.portal() if queued else None,
        )
        report.decisions = decisions
        report.by_status.update(d.status for d in decisions)
        report.waiting_by_type.update(d.activity.type for d in decisions if d.status == WAITING_CAP)
        if dry_run:
            return
        held = [d for d in decisions if d.status != WRITTEN]
        with self.store.write(run_id=run_id) as tx:
            for status in {d.status for d in held}:
                chosen = [d for d in held if d.status == status]
                queue_mark(tx, chosen, status=status)
            self._record_caps(tx, decisions, day)
        writes = [d for d in decisions if d.status == WRITTEN]
        for start in range(0, len(writes), COLLECTION_SIZE):
            chunk = writes[start : start + COLLECTION_SIZE]
            self._write_chunk(run_id, chunk, previous_tasks, day, report)

    def _record_caps(self, tx: StoreWriter, decisions: Sequence[Decision], day: date) -> None:
        """One error row per type held by its cap (what the dashboard shows), resolved once the
        type's queue is through."""
        held = Counter(d.activity.type for d in decisions if d.status == WAITING_CAP)
        settings = self.settings
        rows = []
        for type_, count in held.items():
            cap = settings[type_].daily_cap
            rows.append(
                SyncError(
                    system="salesforce",
                    object="Task",
                    category="api_limit",
                    code=CAP_CODE,
                    record_id=f"activities.{type_}",
                    status="retrying",
                    message=(
                        f"{count} {TYPE_LABELS.get(type_, type_)} wait for the next day: the "
                        f"daily cap of {cap} new Tasks for {type_} was reached on "
                        f"{day.isoformat()} (UTC); they are written first from "
                        f"{(day + timedelta(days=1)).isoformat()} 00:00 UTC"
                    ),
                    suggested_fix=(
                        f"raise daily_cap under [activities.{type_}] in sync.toml, or tighten "
                        "its high-value filters"
                    ),
                    value=str(count),
                )
            )
        tx.record_errors(rows)
        for type_ in {d.activity.type for d in decisions} - set(held):
            tx.resolve_errors(
                system="salesforce", object="Task", record_id=f"activities.{type_}", code=CAP_CODE
            )

    def _write_chunk(
        self,
        run_id: int,
        chunk: Sequence[Decision],
        previous: Mapping[str, Mapping[str, Any]],
        day: date,
        report: ActivityReport,
    ) -> None:
        records = [dict(d.task or {}) for d in chunk]
        try:
            outcomes = self.sf.save("Task", records, op="upsert", external_id_field=EXTERNAL_ID)
            results = [(o.success, o.id, o.errors[0] if o.errors else None) for o in outcomes]
        except RecordError as exc:
            results = [(False, None, exc) for _ in chunk]
        done, failures = [], []
        for decision, (ok, sf_id, error) in zip(chunk, results, strict=True):
            if ok and sf_id:
                done.append((decision, sf_id))
            else:
                failures.append((decision, error))
        with self.store.write(run_id=run_id) as tx:
            tx.link_many(Link(LINK_OBJECT, d.activity.key, "Task", sf_id) for d, sf_id in done)
            tx.record_changes(
                FieldChange(
                    object=LINK_OBJECT,
                    direction="hubspot_to_salesforce",
                    field=name,
                    old_value=old,
                    new_value=(d.task or {}).get(name),
                    hs_id=d.activity.key,
                    sf_id=sf_id,
                    reason=f"activity {d.reason}: {d.activity.type}",
                    sf_object="Task",
                )
                for d, sf_id in done
                for name, old in changed_fields(previous.get(d.activity.key), d.task or {})
            )
            ids = {d.activity.key: sf_id for d, sf_id in done}
            queue_mark(tx, [d for d, _ in done], status=WRITTEN, sf_ids=ids, day=day)
            queue_mark(tx, [d for d, _ in failures], status=FAILED)
            tx.record_errors(_task_error(d, e) for d, e in failures)
            tx.resolve_records(system="salesforce", record_ids=[d.activity.key for d, _ in done])
            self._flush(tx)
            tx.add_run_counts(run_id, records_written=len(done))
        for d, _ in done:
            report.created += d.creates
            report.updated += not d.creates
            report.created_by_type[d.activity.type] += d.creates
        report.errors += len(failures)

    # ------------------------------------------------------------------ Salesforce -> HubSpot

    def _to_hubspot(self, run_id: int, report: ActivityReport) -> None:
        """Calls and meetings reps log in Salesforce, as engagements on the HubSpot contact,
        once each (linked by Task id; Tasks the integration wrote are never sent back), each
        kind only while its to_hubspot toggle is on. The read includes deleted Tasks (queryAll,
        same one call), so a linked Task's deletion follows the deletion policy."""
        kinds = [s.type for s in self.config.activities if s.to_hubspot and s.type in TO_HUBSPOT]
        if not kinds:
            return
        with self.store.read() as conn:
            since, _last_id = _cursor(conn, "salesforce", "Task") or (EPOCH, None)
            task_keys = {
                sf: hs for hs, sf in conn.execute(
                    "SELECT hs_id, sf_id FROM id_links WHERE object = ?", [LINK_OBJECT]
                ).fetchall()
            }  # fmt: skip
            statuses = queue_statuses(conn, keys=list(task_keys.values()))
            people = {
                sf: hs
                for hs, sf in conn.execute(
                    "SELECT hs_id, sf_id FROM id_links WHERE object = 'contact'"
                ).fetchall()
            }
            waiting = queue_waiting_tasks(conn)
        rows = self.sf.query_all(
            f"SELECT {', '.join(SF_TASK_FIELDS)} FROM Task WHERE {_soql_after(since)} "
            "ORDER BY SystemModstamp, Id",
            include_deleted=True,
        )
        me = self._integration_user_id()
        deleted = [r for r in rows if r.get("IsDeleted")]
        fresh = {
            r["Id"]: r
            for r in rows
            if task_kind(r) in TO_HUBSPOT
            and not r.get("IsDeleted")
            and not r.get(EXTERNAL_ID)
            and r.get("CreatedById") != me
            and r["Id"] not in task_keys
        }
        gone = {r["Id"] for r in deleted}
        pending = {i: t for i, t in {**waiting, **fresh}.items() if i not in gone}
        candidates = {i: t for i, t in pending.items() if task_kind(t) in kinds}
        parked = [t for i, t in fresh.items() if i in pending and i not in candidates]
        self._apply_deletions(
            run_id,
            salesforce_deletions(
                deleted, keys=task_keys, statuses=statuses, policy=self.config.deletion
            ),
            report,
        )
        ready = [(t, people[t["WhoId"]]) for t in candidates.values() if t.get("WhoId") in people]
        unlinked = [t for t in candidates.values() if t.get("WhoId") not in people]
        self._send_engagements(run_id, ready, report)
        with self.store.write(run_id=run_id) as tx:
            queue_put_tasks(tx, unlinked)
            queue_put_tasks(tx, parked, status=DISABLED)
            queue_drop_tasks(tx, sorted(gone & set(waiting)))
            if rows:
                newest = rows[-1]
                tx.set_cursor(
                    "salesforce",
                    "Task",
                    modstamp=_parse_time(newest["SystemModstamp"]) or since,
                    last_id=newest["Id"],
                )
            self._flush(tx)
        report.read += len(rows)

    def _send_engagements(
        self, run_id: int, ready: Sequence[tuple[Mapping[str, Any], str]], report: ActivityReport
    ) -> None:
        by_object: dict[str, list[tuple[Mapping[str, Any], str, dict[str, Any]]]] = {}
        for task, contact in ready:
            hs_object, payload = engagement_from_task(task, contact)
            by_object.setdefault(hs_object, []).append((task, contact, payload))
        for hs_object, items in by_object.items():
            for start in range(0, len(items), HS_BATCH):
                chunk = items[start : start + HS_BATCH]
                try:
                    outcomes = self.hs.batch_create(hs_object, [p for _t, _c, p in chunk])
                    results = [(o.success, o.id, o.error) for o in outcomes]
                except RecordError as exc:
                    results = [(False, None, exc) for _ in chunk]
                self._commit_engagements(run_id, hs_object, chunk, results, report)

    def _commit_engagements(
        self,
        run_id: int,
        hs_object: str,
        chunk: Sequence[tuple[Mapping[str, Any], str, dict[str, Any]]],
        results: Sequence[tuple[bool, str | None, Any]],
        report: ActivityReport,
    ) -> None:
        prefix = CRM_SOURCES[hs_object].prefix
        done = [
            (task, contact, f"{prefix}-{hs_id}")
            for (task, contact, _p), (ok, hs_id, _e) in zip(chunk, results, strict=True)
            if ok and hs_id
        ]
        failed = [
            (task, error)
            for (task, _c, _p), (ok, hs_id, error) in zip(chunk, results, strict=True)
            if not (ok and hs_id)
        ]
        with self.store.write(run_id=run_id) as tx:
            tx.link_many(Link(LINK_OBJECT, key, "Task", task["Id"]) for task, _c, key in done)
            queue_put(
                tx,
                [_echo_guard(key, hs_object, task, contact) for task, contact, key in done],
                status=FROM_SALESFORCE,
                reason=f"created in HubSpot from Salesforce Task (a rep's {hs_object[:-1]})",
            )
            queue_drop_tasks(tx, [task["Id"] for task, _c, _k in done])
            tx.record_changes(
                FieldChange(
                    object=LINK_OBJECT,
                    direction="salesforce_to_hubspot",
                    field=f"{hs_object}.created",
                    old_value=None,
                    new_value=str(task.get("Subject") or ""),
                    hs_id=key,
                    sf_id=task["Id"],
                    reason=f"activity created: rep-logged {hs_object[:-1]}",
                    sf_object="Task",
                    source_field="Subject",
                )
                for task, _c, key in done
            )
            tx.record_errors(
                SyncError(
                    system="hubspot",
                    object=hs_object,
                    category=classify(400, _code(e)).category,
                    code=_code(e),
                    message=f"HubSpot refused the {hs_object[:-1]} for Task {t['Id']}: {e}",
                    record_id=t["Id"],
                    sf_object="Task",
                    hs_object=hs_object,
                )
                for t, e in failed
            )
            self._flush(tx)
            tx.add_run_counts(run_id, records_written=len(done))
        report.to_hubspot += len(done)
        report.errors += len(failed)

    # ------------------------------------------------------------------ deletions

    def _follow_hubspot_deletions(self, run_id: int, report: ActivityReport) -> None:
        """Engagements archived in HubSpot: the deletion policy for their Tasks. Read per type
        from the archived list, only for types with Tasks, at most every
        `activities_check_minutes` (the time of each read is the type's cursor); a cycle
        between checks costs no call and one small store read."""
        now = self.clock().astimezone(UTC)
        types = [
            s.type for s in self.config.activities
            if s.type in CRM_SOURCES and (s.enabled or s.to_hubspot)
        ]  # fmt: skip
        with self.store.read() as conn:
            last = {t: _cursor(conn, "hubspot", ARCHIVED_CURSOR.format(type=t)) for t in types}
        minutes = self.config.deletion_check_minutes
        due = [
            t for t in types if archived_check_due((last[t] or (None,))[0], now, minutes=minutes)
        ]
        if not due:
            return
        with self.store.read() as conn:
            tasks = dict(
                conn.execute(
                    "SELECT hs_id, sf_id FROM id_links WHERE object = ?", [LINK_OBJECT]
                ).fetchall()
            )
        with_tasks = {type_of_key(k) for k in tasks}
        archived: dict[str, datetime | None] = {}
        for type_ in (t for t in due if t in with_tasks):  # no Task, nothing to follow: no call
            prefix = CRM_SOURCES[type_].prefix
            for row in self.hs.list_archived(type_, properties=["hs_object_id"]):
                archived[f"{prefix}-{row['id']}"] = _parse_time(row.get("archivedAt"))
        with self.store.read() as conn:
            statuses = queue_statuses(conn, keys=[k for k in archived if k in tasks])
        settled = {k for k, status in statuses.items() if status == DELETED}
        found = hubspot_deletions(
            archived, tasks=tasks, settled=settled, policy=self.config.deletion
        )
        self._apply_deletions(run_id, found, report, checked=due, now=now)

    def _apply_deletions(
        self,
        run_id: int,
        deletions: Sequence[Deletion],
        report: ActivityReport,
        *,
        checked: Sequence[str] = (),
        now: datetime | None = None,
    ) -> None:
        """Delete, flag or let go of each partner; one transaction records the queue statuses,
        links, field changes and errors (and the archived-list cursors of the types read)."""
        if not deletions and not checked:
            return
        done, failed, changes, errors = self._delete_partners(deletions)
        with self.store.write(run_id=run_id) as tx:
            for d in done:
                _settle(tx, d)
                if d.action == DELETE:
                    tx.unlink(LINK_OBJECT, hs_id=d.key)
            tx.record_changes(changes)
            tx.record_errors([*errors, *(_deletion_error(d, e) for d, e in failed)])
            for type_ in checked:
                tx.set_cursor(
                    "hubspot", ARCHIVED_CURSOR.format(type=type_), modstamp=now or EPOCH,
                    last_id=None,
                )  # fmt: skip
            self._flush(tx)
            tx.add_run_counts(run_id, records_written=len(done))
        report.deleted += len(done)
        report.errors += len(failed)

    def _delete_partners(
        self, deletions: Sequence[Deletion]
    ) -> tuple[list[Deletion], list[tuple[Deletion, Any]], list[FieldChange], list[SyncError]]:
        done: list[Deletion] = [d for d in deletions if d.action == STOP]
        failed: list[tuple[Deletion, Any]] = []
        changes: list[FieldChange] = []
        errors: list[SyncError] = []
        tasks_gone = [d for d in deletions if d.deleted_in == "hubspot" and d.action == DELETE]
        for d, error in zip(tasks_gone, self._delete_tasks(tasks_gone), strict=True):
            if error is None:
                done.append(d)
                changes.append(_deletion_change(d, None, True))
            else:
                failed.append((d, error))
        flags = [d for d in deletions if d.deleted_in == "hubspot" and d.action == FLAG]
        for d, (old, new, error) in zip(flags, self._flag_tasks(flags), strict=True):
            if error is None:
                done.append(d)
                if new:  # else the Task was gone already: nothing marked, nothing to decide
                    changes.append(_deletion_change(d, old, new))
                    errors.append(_flag_error(d))
            else:
                failed.append((d, error))
        by_object: dict[str, list[Deletion]] = {}
        for d in deletions:
            if d.deleted_in == "salesforce" and d.action in (DELETE, FLAG):
                by_object.setdefault(d.type, []).append(d)
        for hs_object, items in by_object.items():
            archive = [d for d in items if d.action == DELETE]
            if archive:
                self.hs.batch_archive(hs_object, [_source_id(d.key) for d in archive])
                changes.extend(_deletion_change(d, None, True) for d in archive)
            errors.extend(_flag_error(d) for d in items if d.action == FLAG)
            done.extend(items)
        return done, failed, changes, errors

    def _delete_tasks(self, deletions: Sequence[Deletion]) -> list[Any]:
        """Delete the Tasks (collections of 200): None per Task gone (or gone already), else
        Salesforce's error."""
        if not deletions:
            return []
        outcomes = self.sf.delete([d.task_id for d in deletions])
        return [
            None if o.success or (o.errors and o.errors[0].code == "ENTITY_IS_DELETED")
            else (o.errors[0] if o.errors else "not deleted")
            for o in outcomes
        ]  # fmt: skip

    def _flag_tasks(self, deletions: Sequence[Deletion]) -> list[tuple[str, str, Any]]:
        """Mark each Task's Description (read first, so a rep's edits stay): (old, new, error).
        A Task already gone from Salesforce has nothing left to mark."""
        if not deletions:
            return []
        current: dict[str, str] = {}
        ids = [d.task_id for d in deletions]
        for start in range(0, len(ids), COLLECTION_SIZE):
            listed = ", ".join(soql_quote(i) for i in ids[start : start + COLLECTION_SIZE])
            soql = f"SELECT Id, Description FROM Task WHERE Id IN ({listed})"
            current.update(
                {r["Id"]: str(r.get("Description") or "") for r in self.sf.query_all(soql)}
            )
        marks = {
            d.task_id: flagged_description(current[d.task_id], d)
            for d in deletions
            if d.task_id in current
        }
        outcomes = dict(
            zip(
                marks,
                self.sf.save(
                    "Task", [{"Id": i, "Description": v} for i, v in marks.items()], op="update"
                ),
                strict=True,
            )
        )
        out: list[tuple[str, str, Any]] = []
        for d in deletions:
            found = outcomes.get(d.task_id)
            error = (
                None if found is None or found.success else (found.errors or ("not updated",))[0]
            )
            out.append((current.get(d.task_id, ""), marks.get(d.task_id, ""), error))
        return out

    def _integration_user_id(self) -> str | None:
        if self._integration_user is None:
            self._integration_user = str(self.sf.user_info().get("user_id") or "")
        return self._integration_user or None

    # ------------------------------------------------------------------ projection

    def projection(self, type_: str, *, days: int = 7, **overrides: Any) -> Projection:
        """ "Enabling <type> would create about N Tasks a day": the last `days` days of the
        type's activity, through its filters (with overrides, e.g. events=("OPEN",)), counted
        for the contacts in Salesforce. Reads only; writes nothing."""
        setting = replace(self.settings[type_], **overrides)
        since = self.clock().astimezone(UTC) - timedelta(days=days)
        items, _cursor_move = self._read_type(setting, since, None)
        with self.store.read() as conn:
            linked = {h for (h,) in conn.execute(
                "SELECT hs_id FROM id_links WHERE object = 'contact'").fetchall()}  # fmt: skip
        recent = [a for a in items if a.occurred_at >= since]
        return project_daily_volume(recent, setting, days=days, linked_contacts=linked)


def _merge_by_key(queued: Sequence[Activity], fresh: Sequence[Activity]) -> list[Activity]:
    merged = {a.key: a for a in queued}
    merged.update({a.key: a for a in fresh})
    return list(merged.values())


def _echo_guard(key: str, hs_object: str, task: Mapping[str, Any], contact: str) -> Activity:
    """The queue row that keeps an engagement we created from coming back as a Task."""
    return Activity(
        key=key,
        type=hs_object,
        source_id=key.split("-", 1)[1],
        occurred_at=_parse_time(task.get("CreatedDate")) or EPOCH,
        subject=str(task.get("Subject") or ""),
        contact_ids=(contact,),
    )


def _code(error: Any) -> str:
    return str(getattr(error, "code", None) or getattr(error, "category", None) or "UNKNOWN")


def _task_error(decision: Decision, error: Any) -> SyncError:
    code = _code(error)
    message = getattr(error, "message", None) or str(error)
    return SyncError(
        system="salesforce",
        object="Task",
        category=classify(400, code).category,
        code=code,
        message=f"Salesforce refused the Task for {decision.activity.key}: {message}",
        record_id=decision.activity.key,
        field=", ".join(getattr(error, "fields", ()) or ()) or None,
        suggested_fix="check the linked Lead/Contact is active and shared with the integration "
        "user",
        sf_object="Task",
        payload={"task": dict(decision.task or {})},
    )


def _noun(d: Deletion) -> str:
    return f"HubSpot {d.type[:-1]} {_source_id(d.key)}"


DELETION_REASONS = {  # (deleted in, action) -> what was done, in words
    ("hubspot", DELETE): "{noun} was deleted in HubSpot; its Task {task} was deleted "
    '([deletion] policy "archive")',
    ("hubspot", FLAG): "{noun} was deleted in HubSpot; its Task {task} is kept, marked, and no "
    'longer synced ([deletion] policy "flag")',
    ("salesforce", DELETE): "the rep's Task {task} was deleted in Salesforce; the {noun} "
    'LeadBridge made of it was archived ([deletion] policy "archive")',
    ("salesforce", FLAG): "the rep's Task {task} was deleted in Salesforce; the {noun} "
    'LeadBridge made of it is kept and no longer synced ([deletion] policy "flag")',
    ("salesforce", STOP): "its Task {task} was deleted in Salesforce; the {noun} stays in HubSpot "
    "and the Task is not made again",
}


def deletion_reason(d: Deletion) -> str:
    return DELETION_REASONS[(d.deleted_in, d.action)].format(noun=_noun(d), task=d.task_id)


def _deletion_change(d: Deletion, old: Any, new: Any) -> FieldChange:
    """The audit row of a partner deleted (IsDeleted / archived) or marked (Description)."""
    to_salesforce = d.deleted_in == "hubspot"
    if to_salesforce:
        field_name = "Description" if d.action == FLAG else "IsDeleted"
        source = "archived"
    else:
        field_name, source = "archived", "IsDeleted"
    return FieldChange(
        object=LINK_OBJECT,
        direction="hubspot_to_salesforce" if to_salesforce else "salesforce_to_hubspot",
        field=field_name,
        old_value=old,
        new_value=new,
        hs_id=d.key,
        sf_id=d.task_id,
        reason=f"activity deleted: {deletion_reason(d)}",
        sf_object="Task",
        source_field=source,
    )


def _flag_error(d: Deletion) -> SyncError:
    """What a person decides under the flag policy: the kept partner of a deleted activity."""
    in_hubspot = d.deleted_in == "hubspot"
    return SyncError(
        system="salesforce" if in_hubspot else "hubspot",
        object="Task" if in_hubspot else d.type,
        category="associations",
        code=DELETED_IN_HUBSPOT if in_hubspot else DELETED_IN_SALESFORCE,
        message=deletion_reason(d),
        record_id=d.key,
        suggested_fix=(
            "delete the Salesforce Task, or restore the HubSpot engagement"
            if in_hubspot
            else "archive the HubSpot engagement, or restore the Task from the recycle bin"
        )
        + '; [deletion] policy = "archive" does it automatically',
        sf_object="Task",
        hs_object=d.type,
        payload={"key": d.key, "task_id": d.task_id},
    )


def _deletion_error(d: Deletion, error: Any) -> SyncError:
    code = _code(error)
    return SyncError(
        system="salesforce",
        object="Task",
        category=classify(400, code).category,
        code=code,
        message=f"Salesforce refused to {d.action} Task {d.task_id} after {_noun(d)} was "
        f"deleted in HubSpot: {getattr(error, 'message', None) or error}",
        record_id=d.key,
        suggested_fix="check the integration user may edit and delete Tasks; the next check "
        "tries again",
        sf_object="Task",
        hs_object=d.type,
    )


def _settle(tx: StoreWriter, d: Deletion) -> None:
    """The activity is settled as deleted: never decided, read back or written again."""
    found = tx.conn.execute(
        "UPDATE activity_queue SET status = ?, reason = ?, updated_at = ?, run_id = ?, "
        "task = CASE WHEN ? THEN NULL ELSE task END WHERE key = ? RETURNING 1",
        [DELETED, deletion_reason(d), tx.now, tx.run_id, d.action == DELETE, d.key],
    ).fetchall()
    if not found:
        tx.conn.execute(
            "INSERT INTO activity_queue (key, type, direction, source_id, occurred_at, payload, "
            "status, reason, first_seen, updated_at, run_id, sf_id) "
            "VALUES (?, ?, 'hubspot_to_salesforce', ?, ?, '{}', ?, ?, ?, ?, ?, ?)",
            [d.key, d.type, _source_id(d.key), d.at or tx.now, DELETED, deletion_reason(d),
             tx.now, tx.now, tx.run_id, d.task_id],
        )  # fmt: skip


def _by_key(conn: Any, column: str, keys: Collection[str]) -> list[tuple[str, Any]]:
    """(key, column) of the queue rows with these keys."""
    if not keys:
        return []
    return conn.execute(
        f"SELECT key, {column} FROM activity_queue WHERE key IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(keys)],
    ).fetchall()


def queue_statuses(conn: Any, *, keys: Collection[str]) -> dict[str, str]:
    return dict(_by_key(conn, "status", keys))


def _cursor(conn: Any, system: str, obj: str) -> tuple[datetime, str | None] | None:
    found = get_cursor(conn, system, obj)
    return (found.modstamp, found.last_id) if found else None


def _soql_after(since: datetime) -> str:
    """`>=` the cursor's stamp, never an id tie-break: Salesforce stamps whole seconds, so the
    cursor's own Task saved again (deleted, say) within that second keeps both its stamp and its
    id. The Tasks read again at that second are known ones (linked, queued or deleted)."""
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"SystemModstamp >= {stamp}"


# ================================================================ the queue table (DuckDB)


def queue_put(
    tx: StoreWriter,
    activities: Sequence[Activity],
    *,
    status: str,
    reason: str,
    keep: Collection[str] = (),
) -> None:
    """Insert or refresh activities by key; rows whose status is in `keep` stay as they are.
    A refreshed Task keeps its sf_id and created_day (an edit updates it, never re-creates it)."""
    if not activities:
        return
    rows = {a.key: a for a in activities}
    for key, a in rows.items():
        found = tx.conn.execute("SELECT status FROM activity_queue WHERE key = ?", [key]).fetchone()
        if found and found[0] in keep:
            continue
        payload = json.dumps(a.to_payload())
        if found:
            tx.conn.execute(
                "UPDATE activity_queue SET payload = ?, status = ?, reason = ?, updated_at = ?, "
                "occurred_at = ?, run_id = ? WHERE key = ?",
                [payload, status, reason, tx.now, a.occurred_at, tx.run_id, key],
            )
        else:
            tx.conn.execute(
                "INSERT INTO activity_queue (key, type, direction, source_id, contact_id, "
                "occurred_at, payload, status, reason, first_seen, updated_at, run_id) "
                "VALUES (?, ?, 'hubspot_to_salesforce', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [key, a.type, a.source_id, ",".join(a.contact_ids), a.occurred_at, payload,
                 status, reason, tx.now, tx.now, tx.run_id],
            )  # fmt: skip


def queue_mark(
    tx: StoreWriter,
    decisions: Sequence[Decision],
    *,
    status: str,
    sf_ids: Mapping[str, str] | None = None,
    day: date | None = None,
) -> None:
    """Record each decision's status and reason; a written Task keeps its values (the base of
    the next update's field_changes) and, when it was created, the day it counts against."""
    for d in decisions:
        tx.conn.execute(
            "UPDATE activity_queue SET status = ?, reason = ?, updated_at = ?, run_id = ?, "
            "sf_id = coalesce(?, sf_id), task = coalesce(?, task), "
            "created_day = CASE WHEN ? THEN ? ELSE created_day END WHERE key = ?",
            [
                status,
                d.reason,
                tx.now,
                tx.run_id,
                (sf_ids or {}).get(d.activity.key),
                json.dumps(dict(d.task)) if status == WRITTEN and d.task else None,
                bool(status == WRITTEN and d.creates),
                day,
                d.activity.key,
            ],
        )


def queue_put_tasks(
    tx: StoreWriter, tasks: Sequence[Mapping[str, Any]], *, status: str = WAITING_CONTACT
) -> None:
    """Rep-logged Tasks kept for a later pass: their person is not in HubSpot yet (retried every
    pass), or their kind's to_hubspot is off (sent once it is turned on)."""
    for task in tasks:
        reason = (
            f"person {task.get('WhoId')} is not linked to a HubSpot contact"
            if status == WAITING_CONTACT
            else f"to_hubspot is off for {task_kind(task)}"
        )
        key = f"sftask-{task['Id']}"
        tx.conn.execute("DELETE FROM activity_queue WHERE key = ?", [key])
        tx.conn.execute(
            "INSERT INTO activity_queue (key, type, direction, source_id, contact_id, "
            "occurred_at, payload, status, reason, first_seen, updated_at, run_id, sf_id) "
            "VALUES (?, ?, 'salesforce_to_hubspot', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [key, task_kind(task), task["Id"], task.get("WhoId"),
             _parse_time(task.get("CreatedDate")), json.dumps(dict(task), default=str),
             status, reason, tx.now, tx.now, tx.run_id, task["Id"]],
        )  # fmt: skip


def queue_drop_tasks(tx: StoreWriter, task_ids: Sequence[str]) -> None:
    for task_id in task_ids:
        tx.conn.execute("DELETE FROM activity_queue WHERE key = ?", [f"sftask-{task_id}"])


def queue_waiting_tasks(conn: Any) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        "SELECT payload FROM activity_queue WHERE direction = 'salesforce_to_hubspot' "
        "AND status IN (?, ?)",
        [WAITING_CONTACT, DISABLED],
    ).fetchall()
    return {(t := json.loads(p))["Id"]: t for (p,) in rows}


def queue_open(conn: Any) -> dict[str, Activity]:
    """Every HubSpot activity not yet settled (pending, held, filtered, failed), by key."""
    marks = ", ".join("?" for _ in OPEN_STATUSES)
    rows = conn.execute(
        f"SELECT key, payload FROM activity_queue WHERE direction = 'hubspot_to_salesforce' "
        f"AND status IN ({marks})",
        list(OPEN_STATUSES),
    ).fetchall()
    return {key: Activity.from_payload(key, json.loads(p)) for key, p in rows}


def queue_get(conn: Any, *, keys: Collection[str]) -> dict[str, Activity]:
    return {
        key: Activity.from_payload(key, json.loads(p)) for key, p in _by_key(conn, "payload", keys)
    }


def queue_tasks(conn: Any, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The Task values last written per key (the old values of an update)."""
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT key, task FROM activity_queue WHERE task IS NOT NULL "
        "AND key IN (SELECT unnest(?::VARCHAR[]))",
        [list(keys)],
    ).fetchall()
    return {key: json.loads(task) for key, task in rows}


def created_on(conn: Any, day: date) -> dict[str, int]:
    """New Tasks created per type on a UTC day: what the daily caps count."""
    rows = conn.execute(
        "SELECT type, count(*) FROM activity_queue WHERE created_day = ? GROUP BY type", [day]
    ).fetchall()
    return {t: int(n) for t, n in rows}


def load_links(conn: Any) -> Links:
    rows = conn.execute(
        "SELECT object, hs_id, sf_object, sf_id FROM id_links "
        "WHERE object IN ('contact', 'company', 'deal', ?)",
        [LINK_OBJECT],
    ).fetchall()
    contacts, accounts, opportunities, tasks = {}, {}, {}, {}
    for obj, hs_id, sf_object, sf_id in rows:
        if obj == "contact":
            contacts[hs_id] = PersonLink(sf_object, sf_id)
        elif obj == "company":
            accounts[hs_id] = sf_id
        elif obj == "deal":
            opportunities[hs_id] = sf_id
        else:
            tasks[hs_id] = sf_id
    return Links(contacts, accounts, opportunities, tasks)


def activity_status(store: AuditStore, *, day: date | None = None) -> list[dict[str, Any]]:
    """Per type and status: how many activities, and the latest reason (for the dashboard)."""
    day = day or datetime.now(UTC).date()
    with store.read() as conn:
        rows = conn.execute(
            "SELECT type, status, count(*), max(reason), "
            "count(*) FILTER (WHERE created_day = ?) FROM activity_queue "
            "GROUP BY type, status ORDER BY type, status",
            [day],
        ).fetchall()
    return [
        {"type": t, "status": s, "count": int(n), "reason": r, "created_today": int(c)}
        for t, s, n, r, c in rows
    ]
