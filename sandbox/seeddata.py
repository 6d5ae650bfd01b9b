"""The shape of seeded data: what the seed generator produces and each emulator loads.

Plain dictionaries keyed by the real API names, so a seed reads like an export of each system.
Emulator-only facts ride on keys that start with an underscore and never leave the emulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SandboxPerson:
    """Somebody who acts in one of the systems (the integration user included).

    role: "integration", "rep", "marketer" or "admin"; token: the bearer token they call with.
    """

    system: str
    id: str
    name: str
    email: str
    token: str
    active: bool = True
    role: str = "rep"

    def public(self) -> dict[str, Any]:
        """The `GET /__sandbox/users` entry (SPEC section 3)."""
        return {
            "system": self.system,
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "token": self.token,
            "active": self.active,
            "role": self.role,
        }


@dataclass
class SalesforceSeed:
    """A Salesforce org's starting state.

    users: User records (API field names: Id, Username, FirstName, LastName, Name, Email, IsActive,
      Alias, UserType, Title, Department, ProfileName is carried as `_profile`), plus `_role` and
      `_token` (emulator-only).
    records: object name ("Lead", "Contact", "Account", "Opportunity", "Task") to records with Id,
      OwnerId, CreatedDate etc. already set. `_private: True` hides a record from users that neither
      own it nor have "View All Data" (the integration user does not).
    daily_api_max: the org's DailyApiRequests Max.
    """

    users: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    daily_api_max: int = 100_000


@dataclass
class HubSpotSeed:
    """A HubSpot portal's starting state.

    users: portal users `{id, email, firstName, lastName, _role, _token}` (id is the userId that
      history's `sourceId: userId:<id>` names); the integration app is `{appId, _token}` in `app`.
    owners: `{id, email, firstName, lastName, userId, archived, teams}` as the owners API returns.
    records: object type ("contacts", "companies", "deals", "calls", "emails", "meetings", "notes",
      "tasks") to `{id, properties, createdAt, updatedAt, archived}`; the initial value of each
      property is recorded in history with `sourceType` from `_source` (default "IMPORT").
    associations: `(from_type, from_id, to_type, to_id, association_type_id)` tuples.
    lists: `{listId, name, processingType, objectTypeId, memberships: [record ids]}`.
    """

    portal_id: int = 24_681_357
    app: dict[str, Any] = field(default_factory=dict)
    users: list[dict[str, Any]] = field(default_factory=list)
    owners: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    associations: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    lists: list[dict[str, Any]] = field(default_factory=list)
    daily_limit: int = 500_000
    burst_limit: int = 190


@dataclass
class SeedBundle:
    """Both halves of one seeded pair of orgs, with the seed number that made them."""

    seed: int | None
    salesforce: SalesforceSeed
    hubspot: HubSpotSeed
