"""The org's duplicate rule: a Lead or Contact whose email matches an existing Lead or Contact.

Matching is exact and case-insensitive on Email, across both objects (a new Lead matching an
existing Contact is the case the sync engine must survive). Deleted records and converted Leads
never match. The error carries `duplicateResult` the way the REST API reports a DuplicateError.
"""

from __future__ import annotations

from typing import Any

from sandbox.salesforce.errors import SfError
from sandbox.salesforce.store import RecordStore

MATCHED_OBJECTS: tuple[str, ...] = ("Lead", "Contact")
RULE_NAMES: dict[str, str] = {
    "Lead": "Lead_Email_Duplicate_Rule",
    "Contact": "Contact_Email_Duplicate_Rule",
}
MATCHING_RULES: dict[str, str] = {
    "Lead": "Lead_Email_Matching_Rule",
    "Contact": "Contact_Email_Matching_Rule",
}
ERROR_MESSAGE = "Use one of these records?"


def find(store: RecordStore, email: str, *, exclude_id: str | None) -> dict[str, list[str]]:
    """Live Leads (not converted) and Contacts with this email, by object."""
    matches: dict[str, list[str]] = {}
    for sobject in MATCHED_OBJECTS:
        ids = []
        for record_id in store.lookup(sobject, "Email", email):
            record = store.get(sobject, record_id)
            if record is None or record_id == exclude_id or record.get("IsDeleted"):
                continue
            if record.get("IsConverted"):
                continue
            ids.append(record_id)
        if ids:
            matches[sobject] = ids
    return matches


def error(
    sobject: str, matches: dict[str, list[str]], *, api_version: str, allow_save: bool
) -> SfError:
    """DUPLICATES_DETECTED with the duplicateResult (one matchResult per matched object)."""
    result: dict[str, Any] = {
        "allowSave": allow_save,
        "duplicateRule": RULE_NAMES[sobject],
        "duplicateRuleEntityType": sobject,
        "errorMessage": ERROR_MESSAGE,
        "matchResults": [
            _match_result(target, ids, api_version=api_version) for target, ids in matches.items()
        ],
    }
    return SfError("DUPLICATES_DETECTED", ERROR_MESSAGE, (), {"duplicateResult": result})


def _match_result(target: str, ids: list[str], *, api_version: str) -> dict[str, Any]:
    return {
        "entityType": target,
        "errors": [],
        "matchEngine": "ExactMatchEngine",
        "matchRecords": [
            {
                "additionalInformation": [],
                "fieldDiffs": [],
                "matchConfidence": 100.0,
                "record": {
                    "attributes": {
                        "type": target,
                        "url": f"/services/data/v{api_version}/sobjects/{target}/{record_id}",
                    },
                    "Id": record_id,
                },
            }
            for record_id in ids
        ],
        "rule": MATCHING_RULES[target],
        "size": len(ids),
        "success": True,
    }
