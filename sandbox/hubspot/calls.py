"""One API request as the handlers see it, and the answer they give back.

Handlers are plain functions `(call, **path_args) -> Reply`; they read the query and body through
`Call`, whose helpers turn malformed input into HubSpot's 400 VALIDATION_ERROR (never a 500).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from sandbox.hubspot import schema
from sandbox.hubspot.errors import unknown_object_type, validation
from sandbox.hubspot.people import Caller, Directory
from sandbox.hubspot.store import Portal, Source

JSON_TYPE = "application/json;charset=utf-8"


@dataclass
class Reply:
    """status, a JSON-able body (or raw bytes with their content type), extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE


@dataclass
class Call:
    portal: Portal
    directory: Directory
    caller: Caller
    now: datetime
    query: MultiDict[str, str]
    raw_body: bytes
    base_url: str
    path: str

    @property
    def source(self) -> Source:
        return self.caller.source

    @property
    def portal_id(self) -> int:
        return self.directory.portal_id

    def json(self) -> Any:
        """The JSON body; a body that is not JSON is HubSpot's 400 naming line and column."""
        if not self.raw_body.strip():
            raise validation("Invalid input JSON: the request body is empty")
        try:
            return json.loads(self.raw_body)
        except json.JSONDecodeError as exc:
            raise validation(
                f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        except UnicodeDecodeError:
            raise validation("Invalid input JSON: the body is not UTF-8") from None

    def json_object(self) -> Mapping[str, Any]:
        body = self.json()
        if not isinstance(body, Mapping):
            raise validation("Invalid input JSON: the request body must be a JSON object")
        return body

    def inputs(self, *, limit: int = 100) -> list[Mapping[str, Any]]:
        """A batch body's `inputs`: an array of objects, at most `limit` of them."""
        inputs = self.json_object().get("inputs")
        if not isinstance(inputs, list) or not all(isinstance(i, Mapping) for i in inputs):
            raise validation("Invalid input JSON: inputs must be an array of objects")
        if len(inputs) > limit:
            raise validation(
                f"Too many inputs: {len(inputs)}; batch requests accept at most {limit} inputs",
                context={"inputCount": [str(len(inputs))], "maxInputs": [str(limit)]},
            )
        return inputs

    def strings(self, name: str) -> list[str]:
        """A list query parameter, sent repeated (`a=1&a=2`) or comma-separated (`a=1,2`)."""
        out: list[str] = []
        for value in self.query.getlist(name):
            out.extend(part.strip() for part in value.split(",") if part.strip())
        return out

    def flag(self, name: str, *, default: bool = False) -> bool:
        value = self.query.get(name)
        if value is None or value == "":
            return default
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise validation(f"Invalid query parameter {name}={value!r}: use true or false")
        return lowered == "true"

    def number(self, name: str, *, default: int, maximum: int) -> int:
        value = self.query.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise validation(f"Invalid query parameter {name}={value!r}: not an integer") from None
        if not 0 < number <= maximum:
            raise validation(f"Invalid query parameter {name}={number}: must be 1 to {maximum}")
        return number

    def cursor(self, name: str = "after") -> int:
        value = self.query.get(name)
        if value is None or value == "":
            return 0
        if not value.strip().isdigit():
            raise validation(f"Invalid paging cursor {name}={value!r}")
        return int(value)

    def link(self, path: str, **params: Any) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.base_url}{path}?{query}"


def resolve_type(name: str) -> schema.ObjectType:
    """The object type a path names, or HubSpot's 400 "Unable to infer object type from"."""
    found = schema.object_type(name)
    if found is None:
        raise unknown_object_type(name)
    return found
