"""Who may change the sync from the dashboard, and who is recorded as having done it.

Three setups, from the same keys as the other settings (environment, or `.streamlit/secrets.toml`):

- open: neither an admin password nor an OIDC login is configured. The dashboard listens on
  127.0.0.1 only (`.streamlit/config.toml`), so whoever reaches it is on this machine: everyone is
  an admin, recorded as "local", and the sidebar says so.
- password: `LEADBRIDGE_ADMIN_PASSWORD`. Everyone sees every page; whoever enters the password
  (compared in constant time) may change the sync, recorded as "admin".
- OIDC: an `[auth]` section in secrets.toml (Streamlit's `st.login`). A logged-in user whose
  verified email is in `LEADBRIDGE_ADMIN_EMAILS` is an admin, recorded by email; other users and
  anonymous visitors read only.

Password and OIDC may both be set: either makes an admin. A configuration that cannot be trusted
(an admin list without a login to check it against, a too-short password) fails closed: nobody is
an admin until it is fixed, and the sidebar says why.

Pure: no Streamlit, no I/O. `pages/_common.py` feeds in `st.user` and the session's flag; the
mutating functions of `fixes` and `segment` call `require_admin` (defence in depth: a control the
UI forgot to disable still cannot change anything).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sync_engine.errors import LeadBridgeError

PASSWORD_KEY = "LEADBRIDGE_ADMIN_PASSWORD"
EMAILS_KEY = "LEADBRIDGE_ADMIN_EMAILS"
AUTH_SECTION = "auth"
MIN_PASSWORD_LENGTH = 12
# Keys of an [auth] section (or of one of its providers) that hold secrets.
AUTH_SECRET_KEYS = ("cookie_secret", "client_secret")
# Keys that make the [auth] section itself a provider (st.login() with no name).
PROVIDER_KEYS = ("client_id", "server_metadata_url")

OPEN_NOTE = (
    "No admin login configured: anyone who can reach this dashboard can change the sync. "
    f"Set {PASSWORD_KEY} or an OIDC login to make it read-only for others."
)


class AccessDenied(LeadBridgeError):
    """A change was asked for without an admin identity: nothing was changed."""


@dataclass(frozen=True)
class AccessConfig:
    """How the dashboard decides who is an admin. Secrets never appear in repr."""

    admin_password: str | None = field(default=None, repr=False)
    oidc_providers: tuple[str | None, ...] = ()  # empty: no [auth] section, no OIDC login
    admin_emails: frozenset[str] = frozenset()  # casefolded
    oidc_secrets: tuple[str, ...] = field(default=(), repr=False)
    problems: tuple[str, ...] = ()  # non-empty: nobody is an admin (fail closed)

    @property
    def oidc(self) -> bool:
        return bool(self.oidc_providers)

    @property
    def open(self) -> bool:
        """No login of any kind: everyone who reaches the dashboard is an admin."""
        return not self.admin_password and not self.oidc and not self.problems

    @property
    def mode(self) -> str:
        kinds = [k for k, on in (("password", self.admin_password), ("oidc", self.oidc)) if on]
        return "+".join(kinds) or ("locked" if self.problems else "open")

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value set, so guards and tests can search outputs for them."""
        return tuple(s for s in (self.admin_password, *self.oidc_secrets) if s)

    def __repr__(self) -> str:
        password = "<set:***>" if self.admin_password else "<unset>"
        return (
            f"AccessConfig(mode={self.mode!r}, admin_password={password}, "
            f"oidc_providers={self.oidc_providers!r}, admin_emails={len(self.admin_emails)}, "
            f"problems={len(self.problems)})"
        )


@dataclass(frozen=True)
class Identity:
    """Who is looking at the dashboard: `name` is what the audit records as the actor."""

    name: str
    admin: bool
    via: str  # "local", "password", "oidc" or "anonymous"
    email: str | None = None
    display: str | None = None  # the provider's full name, for the sidebar

    @property
    def label(self) -> str:
        if self.display and self.email and self.display != self.email:
            return f"{self.display} <{self.email}>"
        return self.email or self.display or self.name


LOCAL = Identity("local", admin=True, via="local")
ANONYMOUS = Identity("anonymous", admin=False, via="anonymous")
PASSWORD_ADMIN = Identity("admin", admin=True, via="password")


# ------------------------------------------------------------------------------ loading


def load_access(
    secrets: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> AccessConfig:
    """The access configuration from secrets.toml's values overlaid by the environment (the
    environment wins, as for the other settings). Never raises: problems lock the dashboard."""
    secrets = dict(secrets or {})
    env = dict(env or {})
    password = env.get(PASSWORD_KEY) or secrets.get(PASSWORD_KEY)
    emails_raw = env.get(EMAILS_KEY) or secrets.get(EMAILS_KEY)
    auth = secrets.get(AUTH_SECTION)
    auth = auth if isinstance(auth, Mapping) else {}
    problems: list[str] = []
    if password is not None and not isinstance(password, str):
        problems.append(f"{PASSWORD_KEY} must be a string.")
        password = None
    if password is not None and len(password.strip()) < MIN_PASSWORD_LENGTH:
        problems.append(
            f"{PASSWORD_KEY} is shorter than {MIN_PASSWORD_LENGTH} characters: choose a longer one."
        )
    emails, email_problems = parse_emails(emails_raw)
    problems.extend(email_problems)
    providers = oidc_providers(auth)
    if auth and not providers:
        problems.append(
            "[auth] in secrets.toml names no provider: add client_id, client_secret and "
            "server_metadata_url (or an [auth.NAME] section)."
        )
    if emails and not auth:
        problems.append(
            f"{EMAILS_KEY} is set but secrets.toml has no [auth] section: without an OIDC login "
            "nobody can prove to be one of those admins."
        )
    if auth and not emails and not password:
        problems.append(
            f"OIDC login is configured but {EMAILS_KEY} is empty: list the admins' emails."
        )
    return AccessConfig(
        admin_password=password or None,
        oidc_providers=providers,
        admin_emails=emails,
        oidc_secrets=tuple(_auth_secrets(auth)),
        problems=tuple(problems),
    )


def parse_emails(raw: Any) -> tuple[frozenset[str], list[str]]:
    """Admin emails from a comma-separated string or a TOML list; casefolded, with problems."""
    if raw is None or raw == "":
        return frozenset(), []
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        return frozenset(), [f"{EMAILS_KEY} must be a list of emails or a comma-separated string."]
    emails = [i.strip() for i in items if i.strip()]
    bad = [e for e in emails if "@" not in e or " " in e]
    problems = [f"{EMAILS_KEY}: {e!r} is not an email." for e in bad]
    return frozenset(e.casefold() for e in emails if e not in bad), problems


def oidc_providers(auth: Mapping[str, Any]) -> tuple[str | None, ...]:
    """The providers st.login can use: None for the [auth] section's own, then each [auth.NAME]
    (a table with provider keys: `client_kwargs = {...}` is a setting, not a provider)."""
    own: tuple[str | None, ...] = (None,) if _is_provider(auth) else ()
    named = tuple(sorted(k for k, v in auth.items() if isinstance(v, Mapping) and _is_provider(v)))
    return own + named


def _is_provider(section: Mapping[str, Any]) -> bool:
    return any(k in section for k in PROVIDER_KEYS)


def _auth_secrets(auth: Mapping[str, Any]) -> Iterable[str]:
    for section in (auth, *(v for v in auth.values() if isinstance(v, Mapping))):
        for key in AUTH_SECRET_KEYS:
            value = section.get(key)
            if isinstance(value, str) and value:
                yield value


# ------------------------------------------------------------------------------ decisions


def check_password(config: AccessConfig, attempt: str) -> bool:
    """True when attempt is the admin password; constant-time, False when none is set."""
    if not config.admin_password or config.problems:
        return False
    return hmac.compare_digest(attempt.encode(), config.admin_password.encode())


# Password guessing: after LOCKOUT_AFTER wrong passwords within LOCKOUT_WINDOW, every password
# login of the process waits LOCKOUT_FOR after the last one (a new browser session resets nothing).
LOCKOUT_AFTER = 5
LOCKOUT_WINDOW = timedelta(minutes=5)
LOCKOUT_FOR = timedelta(minutes=1)


def lockout_left(failures: Iterable[datetime], *, now: datetime) -> timedelta | None:
    """How long password logins must still wait, given the times of wrong attempts; None: go."""
    recent = [f for f in failures if now - f <= LOCKOUT_WINDOW]
    if len(recent) < LOCKOUT_AFTER:
        return None
    left = max(recent) + LOCKOUT_FOR - now
    return left if left > timedelta(0) else None


def identify(config: AccessConfig, *, user: Mapping[str, Any], password_ok: bool) -> Identity:
    """Who this session is, from Streamlit's user info and whether the session gave the admin
    password. User info is trusted only when an [auth] section is configured (then Streamlit
    fills it from its signed cookie)."""
    if config.open:
        return LOCAL
    who = _oidc_user(config, user) or ANONYMOUS
    if config.problems:
        return who
    if who.via == "oidc" and _listed(config, user):
        return replace(who, admin=True)
    if password_ok and config.admin_password:
        return replace(who, admin=True) if who.via == "oidc" else PASSWORD_ADMIN
    return who


def _oidc_user(config: AccessConfig, user: Mapping[str, Any]) -> Identity | None:
    if not config.oidc or user.get("is_logged_in") is not True:
        return None
    email = str(user.get("email") or "").strip() or None
    name = email or str(user.get("sub") or "unknown user")
    display = str(user.get("name") or "").strip() or None
    return Identity(name, admin=False, via="oidc", email=email, display=display)


def _listed(config: AccessConfig, user: Mapping[str, Any]) -> bool:
    """A verified email on the admin list (a provider that says email_verified=false does not
    count: anyone could have typed that address)."""
    email = str(user.get("email") or "").strip().casefold()
    return bool(email) and email in config.admin_emails and user.get("email_verified") is not False


def require_admin(identity: Any, action: str) -> str:
    """The actor name to record, or AccessDenied when identity is not an admin."""
    if not isinstance(identity, Identity):
        raise AccessDenied(f"Refused to {action}: no identity given; only an admin may.")
    if not identity.admin:
        raise AccessDenied(
            f"Refused to {action}: {identity.label} is not an admin. Log in as an admin "
            "(sidebar) to change the sync."
        )
    return identity.name


def read_only_reason(config: AccessConfig, identity: Identity) -> str | None:
    """Why this identity may not change anything (None for an admin), for the pages' notes.
    Names nobody: pages render it as markdown, and a provider's display name is not ours."""
    if identity.admin:
        return None
    if config.problems:
        return "Read-only: the admin login is misconfigured (see the sidebar)."
    if identity.via == "oidc":
        return (
            f"Read-only: you are logged in, but not on the admin list ({EMAILS_KEY}). "
            "Ask an admin to add you."
        )
    return "Read-only: log in as an admin (sidebar) to change the sync."
