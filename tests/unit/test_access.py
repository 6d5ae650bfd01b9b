"""Who may change the sync (sync_engine/access.py): configuration, password, OIDC identities,
refusals; and the dashboard's bind address."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sync_engine import access
from sync_engine.access import (
    ANONYMOUS,
    LOCAL,
    PASSWORD_ADMIN,
    AccessConfig,
    AccessDenied,
    Identity,
    check_password,
    identify,
    load_access,
    read_only_reason,
    require_admin,
)

ROOT = Path(__file__).resolve().parents[2]

PASSWORD = "correct horse battery staple"
COOKIE = "cookie-secret-0123456789abcdef"
CLIENT = "client-secret-fedcba9876543210"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": COOKIE,
    "client_id": "leadbridge",
    "client_secret": CLIENT,
    "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
}
ADMINS = ["Ops.Lead@Brightwave.io", "cto@brightwave.io"]


def oidc(**extra: Any) -> AccessConfig:
    return load_access({"auth": AUTH, access.EMAILS_KEY: ADMINS, **extra})


def user(email: str, **claims: Any) -> dict[str, Any]:
    """st.user as Streamlit fills it after an OIDC login."""
    return {"is_logged_in": True, "email": email, "name": "Dana Ops", "sub": "42", **claims}


# ------------------------------------------------------------------------------ loading


def test_nothing_configured_is_open_and_everyone_is_the_local_admin() -> None:
    config = load_access({}, {})
    assert config.open and config.mode == "open" and not config.problems
    who = identify(config, user={}, password_ok=False)
    assert who == LOCAL and who.admin and who.name == "local"
    assert read_only_reason(config, who) is None


def test_the_environment_wins_over_secrets_toml() -> None:
    config = load_access({access.PASSWORD_KEY: "x" * 20}, {access.PASSWORD_KEY: PASSWORD})
    assert check_password(config, PASSWORD)
    assert not check_password(config, "x" * 20)


@pytest.mark.parametrize(
    ("secrets", "said"),
    [
        ({access.PASSWORD_KEY: "short"}, "shorter than 12 characters"),
        ({access.PASSWORD_KEY: 123456789012345}, "must be a string"),
        ({access.EMAILS_KEY: "ops@brightwave.io"}, "no [auth] section"),
        ({"auth": AUTH}, f"{access.EMAILS_KEY} is empty"),
        ({"auth": AUTH, access.EMAILS_KEY: ["not an email"]}, "is not an email"),
        ({"auth": AUTH, access.EMAILS_KEY: 7}, "must be a list of emails"),
        ({"auth": {"cookie_secret": COOKIE}, access.EMAILS_KEY: ADMINS}, "names no provider"),
    ],
)
def test_a_configuration_that_cannot_be_trusted_locks_everyone_out(
    secrets: dict[str, Any], said: str
) -> None:
    config = load_access(secrets, {})
    assert any(said in p for p in config.problems), config.problems
    assert not config.open
    for claims, password_ok in ((user("ops.lead@brightwave.io"), True), ({}, True), ({}, False)):
        who = identify(config, user=claims, password_ok=password_ok)
        assert not who.admin
        assert "misconfigured" in (read_only_reason(config, who) or "")
    assert not check_password(config, str(secrets.get(access.PASSWORD_KEY, "")))


@pytest.mark.parametrize(
    "emails", [ADMINS, " Ops.Lead@Brightwave.io , cto@brightwave.io ", tuple(ADMINS)]
)
def test_admin_emails_as_a_list_or_a_comma_separated_string(emails: Any) -> None:
    config = load_access({"auth": AUTH, access.EMAILS_KEY: emails})
    assert config.admin_emails == {"ops.lead@brightwave.io", "cto@brightwave.io"}
    assert config.oidc and config.mode == "oidc" and not config.problems


@pytest.mark.parametrize(
    ("auth", "providers"),
    [
        (AUTH, (None,)),
        ({**AUTH, "client_kwargs": {"prompt": "login"}}, (None,)),
        (
            {
                "redirect_uri": AUTH["redirect_uri"],
                "cookie_secret": COOKIE,
                "okta": {"client_id": "a", "client_secret": CLIENT},
                "google": {"client_id": "b", "client_secret": "g-secret"},
            },
            ("google", "okta"),
        ),
    ],
)
def test_the_providers_st_login_can_use(auth: dict[str, Any], providers: tuple) -> None:
    config = load_access({"auth": auth, access.EMAILS_KEY: ADMINS})
    assert config.oidc_providers == providers
    assert COOKIE in config.secrets and CLIENT in config.secrets


def test_secrets_never_appear_in_repr() -> None:
    config = oidc(**{access.PASSWORD_KEY: PASSWORD})
    shown = repr(config) + str(config)
    assert config.mode == "password+oidc"
    for secret in (PASSWORD, COOKIE, CLIENT):
        assert secret not in shown
        assert secret in config.secrets
    assert "<set:***>" in shown


# ------------------------------------------------------------------------------ password


@pytest.mark.parametrize(
    ("attempt", "ok"),
    [
        (PASSWORD, True),
        (PASSWORD + " ", False),
        (PASSWORD[:-1], False),
        (PASSWORD.upper(), False),
        ("", False),
        ("wrong password entirely", False),
        ("ünïcödé ✓ password", False),
    ],
)
def test_the_password_must_match_exactly(attempt: str, ok: bool) -> None:
    assert check_password(load_access({access.PASSWORD_KEY: PASSWORD}), attempt) is ok


def test_the_password_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = access.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    assert check_password(load_access({access.PASSWORD_KEY: PASSWORD}), PASSWORD)
    assert seen == [(PASSWORD.encode(), PASSWORD.encode())]


def test_no_password_configured_accepts_none() -> None:
    assert not check_password(load_access({}), "")
    assert not check_password(oidc(), "")


def test_with_a_password_anonymous_reads_and_the_password_makes_an_admin() -> None:
    config = load_access({access.PASSWORD_KEY: PASSWORD})
    anonymous = identify(config, user={}, password_ok=False)
    assert anonymous == ANONYMOUS and not anonymous.admin
    assert "log in as an admin" in (read_only_reason(config, anonymous) or "")
    admin = identify(config, user={}, password_ok=True)
    assert admin == PASSWORD_ADMIN and admin.admin and admin.name == "admin"


def test_user_claims_are_ignored_without_an_auth_section() -> None:
    """Without [auth], st.user is not Streamlit's signed login: it must not make anyone admin."""
    config = load_access({access.PASSWORD_KEY: PASSWORD})
    who = identify(config, user=user("ops.lead@brightwave.io"), password_ok=False)
    assert who == ANONYMOUS


# ------------------------------------------------------------------------------ OIDC


@pytest.mark.parametrize("email", ["ops.lead@brightwave.io", "OPS.LEAD@BRIGHTWAVE.IO"])
def test_a_listed_oidc_user_is_an_admin_recorded_by_email(email: str) -> None:
    who = identify(oidc(), user=user(email, email_verified=True), password_ok=False)
    assert who.admin and who.via == "oidc"
    assert who.name == email and who.label == f"Dana Ops <{email}>"
    assert require_admin(who, "retry an error") == email


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        (user("rep@brightwave.io"), "not on the admin list"),
        (user("ops.lead@brightwave.io", email_verified=False), "not on the admin list"),
        ({"email": "ops.lead@brightwave.io"}, "log in as an admin"),  # AppTest's default st.user
        ({"is_logged_in": False}, "log in as an admin"),
        ({"is_logged_in": "true", "email": "ops.lead@brightwave.io"}, "log in as an admin"),
        ({}, "log in as an admin"),
    ],
)
def test_other_oidc_users_and_visitors_read_only(claims: dict[str, Any], why: str) -> None:
    config = oidc()
    who = identify(config, user=claims, password_ok=False)
    assert not who.admin
    assert why in (read_only_reason(config, who) or "")
    with pytest.raises(AccessDenied, match="is not an admin"):
        require_admin(who, "save a mapping")


def test_the_password_also_makes_a_logged_in_oidc_user_an_admin_under_their_name() -> None:
    config = oidc(**{access.PASSWORD_KEY: PASSWORD})
    who = identify(config, user=user("rep@brightwave.io"), password_ok=True)
    assert who.admin and who.name == "rep@brightwave.io"
    assert identify(config, user={}, password_ok=True) == PASSWORD_ADMIN


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize("identity", [ANONYMOUS, "local", None, {"admin": True}])
def test_require_admin_refuses_anything_but_an_admin_identity(identity: Any) -> None:
    with pytest.raises(AccessDenied, match="Refused to launch a test-segment sync"):
        require_admin(identity, "launch a test-segment sync")


def test_require_admin_names_the_actor_to_record() -> None:
    assert require_admin(LOCAL, "x") == "local"
    assert require_admin(PASSWORD_ADMIN, "x") == "admin"
    oidc_admin = Identity("a@b.io", admin=True, via="oidc", email="a@b.io")
    assert require_admin(oidc_admin, "x") == "a@b.io"


# ------------------------------------------------------------------------------ binding


def test_the_dashboard_listens_on_loopback_only() -> None:
    with (ROOT / ".streamlit" / "config.toml").open("rb") as fh:
        config = tomllib.load(fh)
    assert config["server"]["address"] == "127.0.0.1"


# ------------------------------------------------------------------------------ secrets


def test_the_store_refuses_the_admin_password_like_any_other_secret(tmp_path: Path) -> None:
    from sync_engine.embedded import _guarded_secrets
    from sync_engine.settings import load_settings
    from sync_engine.store import AuditStore, SecretLeakError

    env = {"LEADBRIDGE_ADMIN_PASSWORD": "correct-horse-battery-staple"}
    guarded = _guarded_secrets(load_settings(env, secrets_path=tmp_path / "none.toml"), env)
    assert "correct-horse-battery-staple" in guarded
    store = AuditStore(tmp_path / "sync.duckdb", secrets=guarded)
    with pytest.raises(SecretLeakError), store.write() as tx:
        tx.audit("admin", "note", details={"typed": "correct-horse-battery-staple"})


# ------------------------------------------------------------------------------ guessing


def _at(minutes: float) -> datetime:
    return datetime(2026, 11, 29, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("failures", "now", "left_s"),
    [
        ([], 0, None),
        ([0, 0.1, 0.2, 0.3], 0.4, None),  # four wrong attempts: still free to try
        ([0, 0.1, 0.2, 0.3, 0.4], 0.5, 54),  # the fifth: a minute after the last one
        ([0, 0.1, 0.2, 0.3, 0.4], 1.5, None),  # the minute has passed
        ([-9, -8, -7, -6, 0], 0.5, None),  # spread over more than the window
    ],
)
def test_password_logins_pause_after_repeated_wrong_attempts(
    failures: list[float], now: float, left_s: int | None
) -> None:
    left = access.lockout_left([_at(m) for m in failures], now=_at(now))
    assert (None if left is None else round(left.total_seconds())) == left_s
