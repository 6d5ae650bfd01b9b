"""Salesforce's error shapes and the standard messages the emulator answers with.

The REST API reports a failed request as a JSON list of `{message, errorCode, fields}`, and a
failed record inside a collection as `{statusCode, message, fields}` in its SaveResult. Clients
(and our engine) branch on these codes, so the codes and message texts here follow the REST API
Developer Guide and what the platform actually returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SfError:
    """One error: code, message, the fields it concerns (None: the API omits `fields`)."""

    code: str
    message: str
    fields: tuple[str, ...] | None = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def top_level(self) -> dict[str, Any]:
        """The form used in an error response body (a list of these)."""
        body: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            body["fields"] = list(self.fields)
        body.update(self.extra)
        return body

    def per_record(self) -> dict[str, Any]:
        """The form used inside a SaveResult's `errors`."""
        body: dict[str, Any] = {
            "statusCode": self.code,
            "message": self.message,
            "fields": list(self.fields or ()),
        }
        body.update(self.extra)
        return body


class ApiError(Exception):
    """A request that fails as a whole: HTTP status plus the error list Salesforce returns."""

    def __init__(self, status: int, *errors: SfError) -> None:
        super().__init__(errors[0].message if errors else str(status))
        self.status = status
        self.errors = errors

    def body(self) -> list[dict[str, Any]]:
        return [e.top_level() for e in self.errors]


class RecordError(Exception):
    """One record's DML failure; a single-record call turns it into a 400, a collection into a
    SaveResult with `success: false`."""

    def __init__(self, errors: Iterable[SfError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(e.message for e in self.errors))

    def status(self) -> int:
        """HTTP status when this error answers a single-record call."""
        return 404 if self.errors and self.errors[0].code == "ENTITY_IS_DELETED" else 400


# Request-level errors ----------------------------------------------------------------------------

NOT_FOUND_MESSAGE = "The requested resource does not exist"
ROLLED_BACK_MESSAGE = (
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header"
)
COMPOSITE_ROLLED_BACK_MESSAGE = (
    "The transaction was rolled back since another operation in the same transaction failed."
)
FLS_MESSAGE = (
    "Unable to create/update fields: {fields}. Please check the security settings of this field "
    "and verify that it is read/write for your profile or permission set."
)


def not_found(message: str = NOT_FOUND_MESSAGE) -> ApiError:
    return ApiError(404, SfError("NOT_FOUND", message, None))


def invalid_session() -> ApiError:
    return ApiError(401, SfError("INVALID_SESSION_ID", "Session expired or invalid", None))


def request_limit_exceeded() -> ApiError:
    return ApiError(403, SfError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", None))


def concurrent_limit_exceeded() -> ApiError:
    """Too many long-running requests at once: the same code as the daily limit, another cause."""
    return ApiError(
        403,
        SfError(
            "REQUEST_LIMIT_EXCEEDED",
            "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
            None,
        ),
    )


def json_parser_error(message: str) -> ApiError:
    return ApiError(400, SfError("JSON_PARSER_ERROR", message, None))


def invalid_field_column(sobject: str, name: str) -> ApiError:
    """An unknown field in a request body: the body fails to deserialize, before any DML."""
    return ApiError(
        400, SfError("INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", None)
    )


def invalid_type(name: str) -> SfError:
    return SfError("INVALID_TYPE", f"sObject type '{name}' is not supported.", None)


def method_not_allowed(method: str, allowed: Iterable[str]) -> ApiError:
    allowed_text = ", ".join(sorted(allowed))
    return ApiError(
        405,
        SfError(
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{method}' not allowed. Allowed are {allowed_text}",
            None,
        ),
    )


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, SfError(code, message, None))


def unknown_exception(error_id: str) -> ApiError:
    return ApiError(
        500,
        SfError(
            "UNKNOWN_EXCEPTION",
            f"An unexpected error occurred. Please include this ErrorId if you contact support: "
            f"{error_id}",
            None,
        ),
    )


# Record-level errors -----------------------------------------------------------------------------


def required_missing(fields: Iterable[str]) -> SfError:
    names = tuple(fields)
    return SfError(
        "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(names)}]", names
    )


def string_too_long(label: str, name: str, value: str, max_length: int) -> SfError:
    return SfError(
        "STRING_TOO_LONG",
        f"{label}: data value too large: {value} (max length={max_length})",
        (name,),
    )


def invalid_email(label: str, name: str, value: str) -> SfError:
    return SfError("INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", (name,))


def bad_restricted_picklist(label: str, name: str, value: str) -> SfError:
    return SfError(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        f"{label}: bad value for restricted picklist field: {value}",
        (name,),
    )


def field_not_writable(fields: Iterable[str]) -> SfError:
    names = tuple(fields)
    return SfError(
        "INVALID_FIELD_FOR_INSERT_UPDATE", FLS_MESSAGE.format(fields=", ".join(names)), names
    )


def id_in_insert() -> SfError:
    return SfError(
        "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ("Id",)
    )


def missing_id_in_update() -> SfError:
    return SfError("MISSING_ARGUMENT", "Id not specified in an update call", ())


def insufficient_access() -> SfError:
    return SfError("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id", ())


def entity_is_deleted() -> SfError:
    return SfError("ENTITY_IS_DELETED", "entity is deleted", ())


def inactive_owner(user_id: str, sobject: str) -> SfError:
    return SfError(
        "INACTIVE_OWNER_OR_USER",
        f"operation performed with inactive user [{user_id}] as owner of {sobject.lower()}",
        (),
    )


def malformed_id(label: str, name: str, value: str) -> SfError:
    return SfError("MALFORMED_ID", f"{label}: id value of incorrect type: {value}", (name,))


def invalid_cross_reference(label: str, name: str, value: str) -> SfError:
    return SfError(
        "INVALID_CROSS_REFERENCE_KEY",
        f"{label}: invalid cross reference id: {value}" if label else "invalid cross reference id",
        (name,) if name else (),
    )


def converted_lead() -> SfError:
    return SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", ())


def duplicate_value(name: str, record_id: str) -> SfError:
    return SfError(
        "DUPLICATE_VALUE",
        f"duplicate value found: {name} duplicates value on record with id: {record_id}",
        (name,),
    )


def rolled_back() -> SfError:
    return SfError("ALL_OR_NONE_OPERATION_ROLLED_BACK", ROLLED_BACK_MESSAGE, ())


def unable_to_lock_row(record_id: str | None) -> SfError:
    target = f": {record_id}" if record_id else ""
    return SfError(
        "UNABLE_TO_LOCK_ROW",
        f"unable to obtain exclusive access to this record or 1 records{target}",
        (),
    )
