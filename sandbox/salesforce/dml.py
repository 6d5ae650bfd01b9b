"""Record writes as one user at one moment: checks, defaults, derived fields, stamping.

Every write path (single-record REST, collections, composite, upsert, lead conversion) goes
through `Dml`, so validation order, the duplicate rule and the audit stamps are the same
everywhere. Order of checks follows Salesforce: field permissions, then field values and
required fields, then lookups, then uniqueness and the duplicate rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.salesforce import duplicates, errors
from sandbox.salesforce.errors import RecordError, SfError
from sandbox.salesforce.ids import is_valid_id, to_18
from sandbox.salesforce.schema import (
    COMPOUND_NAME_PARTS,
    STAGE_BY_NAME,
    TASK_CLOSED_STATUSES,
    FieldSpec,
)
from sandbox.salesforce.store import Actor, Org, Record
from sandbox.salesforce.validation import missing_required, not_writable, value_errors
from sandbox.salesforce.values import sf_datetime

FORECAST_CATEGORY_OF: dict[str, str] = {
    "Omitted": "Omitted",
    "Pipeline": "Pipeline",
    "Best Case": "BestCase",
    "Commit": "Forecast",
    "Closed": "Closed",
}
# Deleting a parent sends these children to the recycle bin with it (standard cascade deletes).
CASCADE_DELETE: dict[str, tuple[tuple[str, str], ...]] = {
    "Account": (("Contact", "AccountId"), ("Opportunity", "AccountId")),
}


class MultipleMatches(Exception):
    """An upsert key matched several records: 300 for the single call, an error in a batch."""

    def __init__(self, sobject: str, key_field: str, ids: list[str]) -> None:
        super().__init__(f"{key_field}: more than one record found for external id field")
        self.sobject = sobject
        self.key_field = key_field
        self.ids = ids

    def as_error(self) -> SfError:
        return SfError(
            "DUPLICATE_EXTERNAL_ID",
            f"{self.key_field}: more than one record found for external id field: "
            f"[{', '.join(self.ids)}]",
            (),
        )


@dataclass
class Dml:
    """Writes made by `actor` at `now`; flags mirror request headers and system operations."""

    org: Org
    actor: Actor
    now: datetime
    api_version: str
    allow_duplicate_save: bool = False
    bypass_duplicates: bool = False
    auto_assign: bool = True  # the Sforce-Auto-Assign header (see AssignmentRule)

    @property
    def _stamp(self) -> str:
        return sf_datetime(self.now)

    # Public operations -------------------------------------------------------------------------

    def create(
        self, sobject: str, values: Mapping[str, Any], *, check_permissions: bool = True
    ) -> str:
        """Insert a record; check_permissions=False for platform operations (lead conversion)."""
        spec = self.org.schema.spec(sobject)
        if not spec.createable:
            raise RecordError([errors.insufficient_access()])
        if values.get("Id") is not None:
            raise RecordError([errors.id_in_insert()])
        fields = {k: v for k, v in values.items() if k != "Id"}
        if check_permissions:
            self._check_permissions(sobject, fields, creating=True)
        record = self._defaults(sobject)
        record.update(fields)
        problems = value_errors(self.org.schema, sobject, fields)
        missing = missing_required(self.org.schema, sobject, record, touched=None)
        if missing:
            problems.append(errors.required_missing(missing))
        problems += self._reference_errors(sobject, record, fields)
        if problems:
            raise RecordError(problems)
        self._derive(sobject, record, fields, creating=True)
        self._assign(sobject, record)
        self._check_unique(sobject, record, fields, record_id=None)
        self._check_duplicates(sobject, record, fields, previous=None)
        record["Id"] = self._new_id(sobject)
        self._stamp_create(record)
        self.org.store.put(sobject, record)
        return record["Id"]

    def update(self, sobject: str, record_id: str, values: Mapping[str, Any]) -> None:
        current = self.writable(sobject, record_id)
        if sobject == "Lead" and current.get("IsConverted"):
            raise RecordError([errors.converted_lead()])
        fields = {k: v for k, v in values.items() if k != "Id"}
        self._check_permissions(sobject, fields, creating=False)
        record = {**current, **fields}
        problems = value_errors(self.org.schema, sobject, fields)
        missing = missing_required(self.org.schema, sobject, record, touched=fields)
        if missing:
            problems.append(errors.required_missing(missing))
        problems += self._reference_errors(sobject, record, fields)
        if problems:
            raise RecordError(problems)
        self._derive(sobject, record, fields, creating=False)
        self._assign(sobject, record)
        self._check_unique(sobject, record, fields, record_id=record["Id"])
        self._check_duplicates(sobject, record, fields, previous=current)
        self._stamp_update(record)
        self.org.store.put(sobject, record)

    def delete(self, sobject: str, record_id: str) -> None:
        if not self.org.schema.spec(sobject).deletable:
            raise RecordError([errors.insufficient_access()])
        current = self.writable(sobject, record_id)
        self._send_to_bin(sobject, current)
        for child, reference in CASCADE_DELETE.get(sobject, ()):
            for row in list(self.org.store.rows(child)):
                if row.get(reference) == current["Id"] and not row.get("IsDeleted"):
                    self._send_to_bin(child, row)

    def upsert(
        self, sobject: str, key_field: str, key_value: str, values: Mapping[str, Any]
    ) -> tuple[str, bool]:
        """Update the one record whose key matches, or create it; (id, created)."""
        matches = self.key_matches(sobject, key_field, key_value)
        if len(matches) > 1:
            raise MultipleMatches(sobject, key_field, matches)
        if matches:
            self.update(sobject, matches[0], values)
            return matches[0], False
        if key_field == "Id":
            raise RecordError([errors.invalid_cross_reference("", "", key_value)])
        return self.create(sobject, {**values, key_field: key_value}), True

    def _new_id(self, sobject: str) -> str:
        """A fresh id; seeded ids are skipped so a new record never overwrites one."""
        table = self.org.store.tables[sobject]
        record_id = self.org.ids.next(sobject)
        while record_id in table:
            record_id = self.org.ids.next(sobject)
        return record_id

    def system_update(self, sobject: str, record_id: str, changes: Mapping[str, Any]) -> None:
        """A platform-side change (lead conversion): stamped, not validated."""
        current = self.org.store.get(sobject, record_id)
        if current is None:
            raise RecordError([errors.invalid_cross_reference("", "", record_id)])
        record = {**current, **changes}
        self._stamp_update(record)
        self.org.store.put(sobject, record)

    # Lookups -----------------------------------------------------------------------------------

    def key_matches(self, sobject: str, key_field: str, key_value: str) -> list[str]:
        """Live records whose upsert key equals key_value (Id, or an external-id field)."""
        store = self.org.store
        if key_field == "Id":
            if not is_valid_id(key_value):
                return []
            record = store.get(sobject, to_18(key_value))
            live = record is not None and not record.get("IsDeleted")
            return [record["Id"]] if live and record else []
        ids = store.lookup(sobject, key_field, key_value)
        return [i for i in ids if not (store.get(sobject, i) or {}).get("IsDeleted")]

    def writable(self, sobject: str, record_id: str) -> Record:
        """The live record the actor may change, or the error Salesforce gives for it."""
        if not is_valid_id(record_id) or self.org.schema.object_for_id(record_id) != sobject:
            label = f"{sobject} ID"
            raise RecordError([errors.malformed_id(label, "Id", record_id)])
        record = self.org.store.get(sobject, to_18(record_id))
        if record is None:
            raise RecordError([errors.invalid_cross_reference("", "", record_id)])
        if record.get("IsDeleted"):
            raise RecordError([errors.entity_is_deleted()])
        if not self.actor.can_see(record):
            raise RecordError([errors.insufficient_access()])
        return record

    # Steps -------------------------------------------------------------------------------------

    def _check_permissions(
        self, sobject: str, fields: Mapping[str, Any], *, creating: bool
    ) -> None:
        blocked = not_writable(
            self.org.schema, sobject, fields, self.actor.profile, creating=creating
        )
        if blocked:
            raise RecordError([errors.field_not_writable(blocked)])

    def _assign(self, sobject: str, record: Record) -> None:
        """The active assignment rule routes the Lead, over any OwnerId the request sent."""
        owner = self.org.assignment_rule.owner_for(sobject, auto_assign=self.auto_assign)
        if owner is not None:
            record["OwnerId"] = owner

    def _defaults(self, sobject: str) -> Record:
        """Every field present (reads return nulls), with booleans false and picklist defaults."""
        record: Record = {}
        for spec in self.org.schema.fields(sobject):
            record[spec.name] = _default(spec)
        if self.org.schema.spec(sobject).has_owner:
            record["OwnerId"] = self.actor.user_id
        return record

    def _reference_errors(
        self, sobject: str, record: Record, fields: Mapping[str, Any]
    ) -> list[SfError]:
        found: list[SfError] = []
        for name, value in fields.items():
            spec = self.org.schema.field(sobject, name)
            if spec is None or spec.type != "reference" or value is None:
                continue
            error = self._reference_error(sobject, spec, value)
            if error is None:
                record[name] = to_18(value)
            else:
                found.append(error)
        return found

    def _reference_error(self, sobject: str, spec: FieldSpec, value: str) -> SfError | None:
        if not is_valid_id(value):
            return errors.malformed_id(spec.label, spec.name, value)
        target = self.org.schema.object_for_id(value)
        if target not in spec.reference_to:
            return SfError(
                "FIELD_INTEGRITY_EXCEPTION",
                f"{spec.label}: id value of incorrect type: {value}",
                (spec.name,),
            )
        parent = self.org.store.get(target, to_18(value))
        if parent is None or parent.get("IsDeleted"):
            return SfError(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", (spec.name,)
            )
        if spec.name == "OwnerId" and not parent.get("IsActive", True):
            return errors.inactive_owner(parent["Id"], sobject)
        return None

    def _derive(
        self, sobject: str, record: Record, fields: Mapping[str, Any], *, creating: bool
    ) -> None:
        """Fields the platform computes: compound names, stage defaults, closed flags."""
        parts = COMPOUND_NAME_PARTS.get(sobject)
        if parts:
            record["Name"] = " ".join(
                str(record[p]) for p in parts if p != "Salutation" and record.get(p)
            )
        if sobject == "Opportunity":
            _derive_stage(record, fields, creating=creating)
        if sobject == "Task":
            record["IsClosed"] = record.get("Status") in TASK_CLOSED_STATUSES

    def _check_unique(
        self, sobject: str, record: Record, fields: Mapping[str, Any], *, record_id: str | None
    ) -> None:
        for name in self.org.schema.external_id_fields(sobject):
            value = fields.get(name)
            if not isinstance(value, str):
                continue
            for other in self.key_matches(sobject, name, value):
                if other != record_id:
                    raise RecordError([errors.duplicate_value(name, other)])

    def _check_duplicates(
        self,
        sobject: str,
        record: Record,
        fields: Mapping[str, Any],
        *,
        previous: Record | None,
    ) -> None:
        rule = self.org.duplicate_rule
        email = record.get("Email")
        if self.bypass_duplicates or not rule.active or not email:
            return
        if sobject not in duplicates.MATCHED_OBJECTS:
            return
        if previous is not None:
            unchanged = str(previous.get("Email") or "").lower() == str(email).lower()
            if not rule.on_update or "Email" not in fields or unchanged:
                return
        matches = duplicates.find(
            self.org.store, str(email), exclude_id=record.get("Id") if previous else None
        )
        if not matches:
            return
        allow = rule.action == "alert"
        if allow and self.allow_duplicate_save:
            return
        raise RecordError(
            [duplicates.error(sobject, matches, api_version=self.api_version, allow_save=allow)]
        )

    def _stamp_create(self, record: Record) -> None:
        record["CreatedDate"] = self._stamp
        record["CreatedById"] = self.actor.user_id
        if "IsDeleted" in record:
            record["IsDeleted"] = False
        self._stamp_update(record)

    def _stamp_update(self, record: Record) -> None:
        record["LastModifiedDate"] = self._stamp
        record["LastModifiedById"] = self.actor.user_id
        record["SystemModstamp"] = self._stamp

    def _send_to_bin(self, sobject: str, current: Record) -> None:
        record = {**current, "IsDeleted": True, "_deleted_date": self._stamp}
        self._stamp_update(record)
        self.org.store.put(sobject, record)


def _default(spec: FieldSpec) -> Any:
    if spec.type == "boolean":
        return False
    return spec.default_picklist_value


def _derive_stage(record: Record, fields: Mapping[str, Any], *, creating: bool) -> None:
    """A new stage brings its probability and forecast category unless the body sets them."""
    stage = STAGE_BY_NAME.get(str(record.get("StageName")))
    if stage is None:
        return
    if creating or "StageName" in fields:
        if "Probability" not in fields or fields["Probability"] is None:
            record["Probability"] = float(stage.probability)
        if "ForecastCategoryName" not in fields:
            record["ForecastCategoryName"] = stage.forecast_category_name
    record["IsClosed"] = stage.closed
    record["IsWon"] = stage.won
    record["ForecastCategory"] = FORECAST_CATEGORY_OF.get(
        str(record.get("ForecastCategoryName")), stage.forecast_category
    )
