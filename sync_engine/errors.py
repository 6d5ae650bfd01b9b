"""What went wrong, sorted by what the caller should do about it.

- `RetriableError`: try again later (429, 5xx, a locked row, a dropped connection); carries the
  wait the server asked for.
- `RecordError`: one record was refused; log it in `sync_errors` and go on with the rest.
- `FatalError`: stop the cycle (bad configuration, bad credentials); retrying will not help.

HTTP statuses and vendor error codes are mapped to these classes in one place: `classify`.
"""

from __future__ import annotations

from dataclasses import dataclass


class LeadBridgeError(Exception):
    """Base class of every error LeadBridge raises on purpose."""


class FatalError(LeadBridgeError):
    """Stop: the configuration or the credentials are wrong; the message says what to change."""


class ConfigurationError(FatalError):
    """sync.toml or the environment is invalid."""


class AuthenticationError(FatalError):
    """A system refused our credentials (expired session, revoked token)."""


class SessionExpiredError(AuthenticationError):
    """The session is no longer valid: fatal, unless the connector can log in again."""


class RetriableError(LeadBridgeError):
    """Transient: the same call may succeed later. retry_after is the server's hint in seconds;
    system, the system that answered ("salesforce" or "hubspot") when a connector knows it."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, code: str = "", system: str = ""
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.code = code
        self.system = system


# The wait a connector reports for a daily API limit: it lifts when the system's day resets,
# never within a cycle, and this is longer than any retry waits (RetryPolicy.max_retry_after),
# so the refused call is not tried again; the budget guard pauses the next cycles.
DAILY_LIMIT_WAIT = 3600.0


class ApiLimitError(RetriableError):
    """A daily or burst API limit was hit; retry after the window (the next day for daily)."""

    @property
    def daily(self) -> bool:
        """The day's allowance is used up (not a burst or concurrency limit)."""
        return (self.retry_after or 0) >= DAILY_LIMIT_WAIT


class RecordError(LeadBridgeError):
    """One record was refused by a system; the others in its batch are unaffected."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        record_id: str | None = None,
        field: str | None = None,
        category: str = "property_value",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.record_id = record_id
        self.field = field
        self.category = category


@dataclass(frozen=True)
class Classification:
    """How to treat a failed call: which class of error, and which Sync Health category."""

    kind: type[LeadBridgeError]
    category: str


# Vendor error codes, both systems, to what they mean for the engine. Data, not branches.
ERROR_CODES: dict[str, Classification] = {
    # Salesforce
    "INVALID_SESSION_ID": Classification(SessionExpiredError, "permissions"),
    "Bad_OAuth_Token": Classification(SessionExpiredError, "permissions"),  # userinfo's 403
    "REQUEST_LIMIT_EXCEEDED": Classification(ApiLimitError, "api_limit"),
    "UNABLE_TO_LOCK_ROW": Classification(RetriableError, "transient"),
    "SERVER_UNAVAILABLE": Classification(RetriableError, "transient"),
    "REQUIRED_FIELD_MISSING": Classification(RecordError, "property_value"),
    "STRING_TOO_LONG": Classification(RecordError, "property_value"),
    "INVALID_EMAIL_ADDRESS": Classification(RecordError, "property_value"),
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": Classification(RecordError, "property_value"),
    "DUPLICATES_DETECTED": Classification(RecordError, "duplicates"),
    "DUPLICATE_VALUE": Classification(RecordError, "duplicates"),
    "INVALID_FIELD_FOR_INSERT_UPDATE": Classification(RecordError, "permissions"),
    "INSUFFICIENT_ACCESS_OR_READONLY": Classification(RecordError, "permissions"),
    "ENTITY_IS_DELETED": Classification(RecordError, "associations"),
    "INACTIVE_OWNER_OR_USER": Classification(RecordError, "permissions"),
    "CANNOT_UPDATE_CONVERTED_LEAD": Classification(RecordError, "property_value"),
    "INVALID_CROSS_REFERENCE_KEY": Classification(RecordError, "associations"),
    "ALL_OR_NONE_OPERATION_ROLLED_BACK": Classification(RetriableError, "transient"),
    # HubSpot (category field of the error body)
    "INVALID_AUTHENTICATION": Classification(AuthenticationError, "permissions"),
    "MISSING_SCOPES": Classification(AuthenticationError, "permissions"),
    "RATE_LIMITS": Classification(ApiLimitError, "api_limit"),
    "VALIDATION_ERROR": Classification(RecordError, "property_value"),
    "CONFLICT": Classification(RecordError, "duplicates"),
    "OBJECT_NOT_FOUND": Classification(RecordError, "associations"),
}

RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# Codes of transient failures that have no HTTP answer, so the audit tells them apart.
TIMEOUT = "TIMEOUT"
CONNECTION_FAILED = "CONNECTION_FAILED"
MALFORMED_RESPONSE = "MALFORMED_RESPONSE"


def classify(status: int, code: str | None = None) -> Classification:
    """Map an HTTP status and the vendor's error code to the class and category to raise/log.

    The code wins when known (Salesforce reports its daily limit as 403 REQUEST_LIMIT_EXCEEDED,
    not 429); otherwise the status decides.
    """
    if code and code in ERROR_CODES:
        return ERROR_CODES[code]
    if status == 401:
        return Classification(AuthenticationError, "permissions")
    if status == 429:
        return Classification(ApiLimitError, "api_limit")
    if status in RETRIABLE_STATUSES or status >= 500:
        return Classification(RetriableError, "transient")
    if status == 403:
        return Classification(RecordError, "permissions")
    if status == 409:
        return Classification(RecordError, "duplicates")
    return Classification(RecordError, "property_value")
