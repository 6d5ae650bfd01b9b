"""HubSpot's error bodies: one exception for a refused request, and the per-input batch error.

HubSpot answers every refusal with `{status: "error", message, correlationId, category}` plus
`errors`, `context` or rate-limit fields where it has them; batch endpoints report each failed
input as a `StandardError` inside a 207 answer. Handlers raise `ApiError`; the app renders it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


class ApiError(Exception):
    """A refused request: HTTP status, HubSpot category, message, and optional detail."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.errors = errors
        self.context = context
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self, correlation_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id,
            **self.extra,
            "category": self.category,
        }
        if self.errors:
            out["errors"] = self.errors
        if self.context:
            out["context"] = self.context
        return out

    def standard(self, context: dict[str, list[str]]) -> dict[str, Any]:
        """This error as one entry of a batch answer's `errors` (StandardError)."""
        return {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": {**(self.context or {}), **context},
            "errors": self.errors or [],
            "links": {},
        }


def validation(message: str, **kw: Any) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, **kw)


def not_found(message: str = "resource not found") -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", message)


def unknown_object_type(name: str) -> ApiError:
    return validation(f"Unable to infer object type from: {name}")


@dataclass(frozen=True)
class PropertyError:
    """Why one property value was refused, as HubSpot's property validation reports it."""

    name: str
    error: str
    message: str
    allowed: tuple[str, ...] = field(default=())
    value: str = ""


def property_errors(problems: list[PropertyError], *, portal_id: int) -> ApiError:
    """HubSpot's 400 for bad property values: the JSON list inside the message, and `errors`."""
    listed = [
        {
            "isValid": False,
            "message": p.message,
            "error": p.error,
            "name": p.name,
            "localizedErrorMessage": p.message,
            "propertyValue": p.value,
            "portalId": portal_id,
        }
        for p in problems
    ]
    text = json.dumps(listed, separators=(",", ":"))
    details = [
        {"message": p.message, "code": p.error, "context": {"propertyName": [p.name]}}
        for p in problems
    ]
    return validation(f"Property values were not valid: {text}", errors=details)


def conflict(existing_id: int) -> ApiError:
    return ApiError(409, "CONFLICT", f"Contact already exists. Existing ID: {existing_id}")
