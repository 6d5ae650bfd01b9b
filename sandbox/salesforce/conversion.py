"""Lead conversion: a rep turns a qualified Lead into an Account, a Contact and (optionally) an
Opportunity, as SOAP `convertLead()` / Apex `Database.convertLead` do.

Salesforce's REST API has no convertLead resource (nor a standard invocable action for it), so
the sandbox offers it as `POST /__sandbox/convert-lead`, run as a named user. The standard field
mapping copies Lead fields onto the new records; when an existing Account or Contact is given,
only its empty fields are filled. The Lead becomes read-only (CANNOT_UPDATE_CONVERTED_LEAD).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sandbox.salesforce import errors
from sandbox.salesforce.dml import Dml
from sandbox.salesforce.errors import RecordError, SfError
from sandbox.salesforce.ids import is_valid_id, to_18
from sandbox.salesforce.schema import LEAD_CONVERTED_STATUS, STAGES
from sandbox.salesforce.store import Record

# Standard lead field mapping (plus the custom external id and score the org maps).
LEAD_TO_ACCOUNT: dict[str, str] = {
    "Company": "Name",
    "Industry": "Industry",
    "NumberOfEmployees": "NumberOfEmployees",
    "AnnualRevenue": "AnnualRevenue",
    "Website": "Website",
    "Phone": "Phone",
    "Rating": "Rating",
    "Street": "BillingStreet",
    "City": "BillingCity",
    "State": "BillingState",
    "PostalCode": "BillingPostalCode",
    "Country": "BillingCountry",
}
LEAD_TO_CONTACT: dict[str, str] = {
    "Salutation": "Salutation",
    "FirstName": "FirstName",
    "LastName": "LastName",
    "Email": "Email",
    "Phone": "Phone",
    "MobilePhone": "MobilePhone",
    "Title": "Title",
    "LeadSource": "LeadSource",
    "Description": "Description",
    "HasOptedOutOfEmail": "HasOptedOutOfEmail",
    "Street": "MailingStreet",
    "City": "MailingCity",
    "State": "MailingState",
    "PostalCode": "MailingPostalCode",
    "Country": "MailingCountry",
    "HubSpot_Contact_Id__c": "HubSpot_Contact_Id__c",
    "Internal_Score__c": "Internal_Score__c",
}
LEAD_TO_OPPORTUNITY: dict[str, str] = {"LeadSource": "LeadSource"}
CONVERTED_STATUSES: frozenset[str] = frozenset({LEAD_CONVERTED_STATUS})


@dataclass(frozen=True)
class ConvertRequest:
    """The LeadConvert options the sandbox supports."""

    lead_id: str
    account_id: str | None = None
    contact_id: str | None = None
    create_opportunity: bool = True
    opportunity_name: str | None = None
    converted_status: str = LEAD_CONVERTED_STATUS
    owner_id: str | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ConvertRequest:
        if not body.get("lead_id"):
            raise ValueError("lead_id is required")
        return cls(
            lead_id=str(body["lead_id"]),
            account_id=body.get("account_id"),
            contact_id=body.get("contact_id"),
            create_opportunity=bool(body.get("create_opportunity", True)),
            opportunity_name=body.get("opportunity_name"),
            converted_status=str(body.get("converted_status") or LEAD_CONVERTED_STATUS),
            owner_id=body.get("owner_id"),
        )


def convert_lead(dml: Dml, request: ConvertRequest) -> dict[str, Any]:
    """Convert one Lead; returns a LeadConvertResult or raises RecordError (nothing written)."""
    lead = dml.writable("Lead", request.lead_id)
    if lead.get("IsConverted"):
        raise RecordError([errors.converted_lead()])
    if request.converted_status not in CONVERTED_STATUSES:
        message = f"invalid convertedStatus: {request.converted_status}"
        raise RecordError([SfError("INVALID_STATUS", message, ())])
    owner = to_18(request.owner_id) if request.owner_id else lead["OwnerId"]
    account_id = _account(dml, lead, request.account_id, owner)
    contact_id = _contact(dml, lead, request.contact_id, account_id, owner)
    opportunity_id = None
    if request.create_opportunity:
        opportunity_id = _opportunity(dml, lead, request.opportunity_name, account_id, owner)
    dml.system_update(
        "Lead",
        lead["Id"],
        {
            "IsConverted": True,
            "ConvertedDate": dml.now.date().isoformat(),
            "ConvertedAccountId": account_id,
            "ConvertedContactId": contact_id,
            "ConvertedOpportunityId": opportunity_id,
            "Status": request.converted_status,
        },
    )
    return {
        "accountId": account_id,
        "contactId": contact_id,
        "leadId": lead["Id"],
        "opportunityId": opportunity_id,
        "success": True,
        "errors": [],
    }


def _mapped(lead: Record, mapping: dict[str, str]) -> dict[str, Any]:
    return {target: lead.get(source) for source, target in mapping.items() if lead.get(source)}


def _existing(dml: Dml, sobject: str, record_id: str) -> Record:
    if not is_valid_id(record_id):
        raise RecordError([errors.malformed_id(f"{sobject} ID", "Id", record_id)])
    return dml.writable(sobject, to_18(record_id))


def _fill_empty(dml: Dml, sobject: str, record: Record, values: dict[str, Any]) -> None:
    """Merge into an existing record: only its empty fields take the Lead's values."""
    changes = {k: v for k, v in values.items() if record.get(k) in (None, "")}
    if changes:
        dml.system_update(sobject, record["Id"], changes)


def _account(dml: Dml, lead: Record, account_id: str | None, owner: str) -> str:
    values = _mapped(lead, LEAD_TO_ACCOUNT)
    if account_id:
        account = _existing(dml, "Account", account_id)
        _fill_empty(dml, "Account", account, values)
        return account["Id"]
    return dml.create("Account", {**values, "OwnerId": owner}, check_permissions=False)


def _contact(dml: Dml, lead: Record, contact_id: str | None, account_id: str, owner: str) -> str:
    values = {**_mapped(lead, LEAD_TO_CONTACT), "AccountId": account_id}
    if contact_id:
        contact = _existing(dml, "Contact", contact_id)
        _fill_empty(dml, "Contact", contact, values)
        return contact["Id"]
    return dml.create("Contact", {**values, "OwnerId": owner}, check_permissions=False)


def _opportunity(dml: Dml, lead: Record, name: str | None, account_id: str, owner: str) -> str:
    values = {
        **_mapped(lead, LEAD_TO_OPPORTUNITY),
        "Name": name or f"{lead.get('Company') or lead.get('Name')}-",
        "AccountId": account_id,
        "StageName": STAGES[0].name,
        "CloseDate": _quarter_end(dml.now.date()).isoformat(),
        "OwnerId": owner,
    }
    return dml.create("Opportunity", values, check_permissions=False)


def _quarter_end(day: date) -> date:
    """Converted opportunities close, by default, at the end of the current quarter."""
    first_of_next = date(day.year + (day.month > 9), (((day.month - 1) // 3 + 1) * 3) % 12 + 1, 1)
    return first_of_next - timedelta(days=1)
