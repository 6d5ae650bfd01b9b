"""One REST call as the handlers see it: who calls, what they asked, and what they get back.

Top-level HTTP requests and composite subrequests both become a `Call`, so every resource
handler serves both the same way; `dispatch` lets the composite handler run subrequests
through the same routing as real requests (without counting them as API calls).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.salesforce import errors
from sandbox.salesforce.dml import Dml
from sandbox.salesforce.store import Actor, Org, Record


@dataclass
class Reply:
    """An HTTP answer: status, JSON-able body (None: no body) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


@dataclass
class Call:
    """A request to one REST resource, already authenticated."""

    org: Org
    user: Record
    actor: Actor
    version: str
    method: str
    path: str  # below /services/data/vXX.X, without a trailing slash ("" for the root)
    args: Mapping[str, str]
    headers: Mapping[str, str]
    raw_body: bytes | None
    now: datetime
    dispatch: Callable[[Call], Reply]
    json_body: Any = None
    has_json: bool = False
    force_all_or_none: bool = False

    @property
    def base(self) -> str:
        return f"/services/data/v{self.version}"

    def body(self) -> Any:
        """The parsed JSON body; a broken one fails the call with JSON_PARSER_ERROR."""
        if self.has_json:
            return self.json_body
        self.json_body = parse_json(self.raw_body)
        self.has_json = True
        return self.json_body

    def dml(self) -> Dml:
        header = self.headers.get("Sforce-Duplicate-Rule-Header", "")
        allow_save = "allowsave=true" in header.replace(" ", "").lower()
        return Dml(
            org=self.org,
            actor=self.actor,
            now=self.now,
            api_version=self.version,
            allow_duplicate_save=allow_save,
            auto_assign=self.headers.get("Sforce-Auto-Assign", "TRUE").strip().upper() != "FALSE",
        )

    def sub(self, *, method: str, path: str, args: Mapping[str, str], body: Any) -> Call:
        """A composite subrequest run in this call's context (same user, same moment)."""
        return Call(
            org=self.org,
            user=self.user,
            actor=self.actor,
            version=self.version,
            method=method,
            path=path,
            args=args,
            headers=self.headers,
            raw_body=None,
            now=self.now,
            dispatch=self.dispatch,
            json_body=body,
            has_json=True,
            force_all_or_none=self.force_all_or_none,
        )


def parse_json(raw: bytes | None) -> Any:
    if not raw or not raw.strip():
        raise errors.json_parser_error("No content to map due to end-of-input")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.json_parser_error("Invalid UTF-8 start byte in request body") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.json_parser_error(_describe_json_error(text, exc)) from None


def _describe_json_error(text: str, exc: json.JSONDecodeError) -> str:
    """Jackson-style parser message naming the character and its position."""
    where = f"at [line:{exc.lineno}, column:{exc.colno}]"
    if exc.pos >= len(text):
        return f"Unexpected end-of-input: {exc.msg} {where}"
    char = text[exc.pos]
    return f"Unexpected character ('{char}' (code {ord(char)})): {exc.msg} {where}"
