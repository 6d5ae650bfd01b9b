"""Who can call the portal: the integration's private app, the users, and the owners.

A token identifies the caller, and the caller decides how history records a change: the private
app's writes are `INTEGRATION` with the app id, a person's are `CRM_UI` with `userId:<id>` (the
sandbox's simulated people act "in the UI" through the API with tokens of their own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.core import new_token
from sandbox.hubspot.store import Source
from sandbox.hubspot.values import iso
from sandbox.seeddata import HubSpotSeed, SandboxPerson

TOKEN_PREFIX = "pat-na1-"
DEFAULT_APP_ID = 2_718_281
_OWNERS_CREATED = datetime(2023, 3, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Caller:
    """The person or app behind a token; `key` names it in rate limits and stats."""

    key: str
    name: str
    source: Source
    group: str


@dataclass
class Directory:
    """The integration app, the portal's users and owners, and who each token belongs to."""

    portal_id: int
    app: dict[str, Any]
    users: list[dict[str, Any]] = field(default_factory=list)
    owners: list[dict[str, Any]] = field(default_factory=list)

    @property
    def app_token(self) -> str:
        return str(self.app["_token"])

    def caller(self, token: str) -> Caller | None:
        if token and token == self.app_token:
            app_id = str(self.app["appId"])
            group = f"publicapi:private_app-api-calls-ten-secondly:{app_id}:{self.portal_id}"
            return Caller(app_id, self.app_name, Source("INTEGRATION", app_id), group)
        for user in self.users:
            if token and user.get("_token") == token and user.get("active", True):
                uid = str(user["id"])
                group = f"publicapi:user-api-calls-ten-secondly:{uid}:{self.portal_id}"
                source = Source("CRM_UI", f"userId:{uid}", int(uid) if uid.isdigit() else None)
                return Caller(uid, _full_name(user), source, group)
        return None

    @property
    def app_name(self) -> str:
        return str(self.app.get("name") or "LeadBridge sync")

    def owner_ids(self) -> frozenset[str]:
        return frozenset(str(o["id"]) for o in self.owners if not o.get("archived"))

    def people(self) -> list[SandboxPerson]:
        app = SandboxPerson(
            system="hubspot",
            id=str(self.app["appId"]),
            name=self.app_name,
            email=str(self.app.get("email") or ""),
            token=self.app_token,
            role="integration",
        )
        users = [
            SandboxPerson(
                system="hubspot",
                id=str(u["id"]),
                name=_full_name(u),
                email=str(u.get("email") or ""),
                token=str(u["_token"]),
                active=bool(u.get("active", True)),
                role=str(u.get("_role") or "rep"),
            )
            for u in self.users
        ]
        return [app, *users]

    def public_owner(self, owner: dict[str, Any]) -> dict[str, Any]:
        """An owner as `GET /crm/v3/owners` returns it."""
        created = owner.get("createdAt") or iso(_OWNERS_CREATED)
        out: dict[str, Any] = {
            "id": str(owner["id"]),
            "email": owner.get("email") or "",
            "type": owner.get("type") or "PERSON",
            "firstName": owner.get("firstName") or "",
            "lastName": owner.get("lastName") or "",
            "createdAt": created,
            "updatedAt": owner.get("updatedAt") or created,
            "archived": bool(owner.get("archived", False)),
            "teams": list(owner.get("teams") or []),
        }
        if owner.get("userId") is not None:
            out["userId"] = int(owner["userId"])
            out["userIdIncludingInactive"] = int(owner["userId"])
        return out


def directory_from_seed(seed: HubSpotSeed, *, previous: Directory | None) -> Directory:
    """The seed's people, keeping the tokens the same people had before (a reseed must not
    invalidate a running engine's token), and making tokens for anyone who has none."""
    known: dict[str, str] = {}
    if previous is not None:
        known[f"app:{previous.app['appId']}"] = previous.app_token
        known.update({f"user:{u['id']}": str(u["_token"]) for u in previous.users})
    app = dict(seed.app) if seed.app else default_app()
    app.setdefault("appId", DEFAULT_APP_ID)
    app["_token"] = app.get("_token") or known.get(f"app:{app['appId']}") or new_token(TOKEN_PREFIX)
    users = []
    for raw in seed.users:
        user = dict(raw)
        key = f"user:{user['id']}"
        user["_token"] = user.get("_token") or known.get(key) or new_token(TOKEN_PREFIX)
        users.append(user)
    owners = [dict(o) for o in seed.owners]
    return Directory(seed.portal_id, app, users, owners)


def default_app() -> dict[str, Any]:
    return {"appId": DEFAULT_APP_ID, "name": "LeadBridge sync", "_token": new_token(TOKEN_PREFIX)}


# A few people so that `--seed empty` still has a rep, a marketer and an admin with owners.
DEFAULT_PEOPLE: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("41000101", "81000101", "Rita", "Ramos", "rita.ramos@leadbridge-demo.example", "rep"),
    ("41000102", "81000102", "Sam", "Okafor", "sam.okafor@leadbridge-demo.example", "rep"),
    (
        "41000103",
        "81000103",
        "Mia",
        "Lindqvist",
        "mia.lindqvist@leadbridge-demo.example",
        "marketer",
    ),
    ("41000104", "81000104", "Alex", "Brandt", "alex.brandt@leadbridge-demo.example", "admin"),
)


def default_seed_people() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(users, owners) for a portal created without a seed."""
    users, owners = [], []
    for user_id, owner_id, first, last, email, role in DEFAULT_PEOPLE:
        users.append(
            {"id": user_id, "email": email, "firstName": first, "lastName": last, "_role": role}
        )
        owners.append(
            {
                "id": owner_id,
                "email": email,
                "firstName": first,
                "lastName": last,
                "userId": int(user_id),
                "archived": False,
                "teams": [],
            }
        )
    return users, owners


def _full_name(person: dict[str, Any]) -> str:
    name = f"{person.get('firstName') or ''} {person.get('lastName') or ''}".strip()
    return name or str(person.get("email") or person.get("id"))
