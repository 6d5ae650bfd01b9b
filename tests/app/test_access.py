"""Access (issue 9 item 6): with an admin password or an OIDC login configured, only admins change
criteria, mappings and errors or launch syncs; everyone else sees every page read-only; every
change records who made it and when. With nothing configured the local default stays usable,
and says so.

The OIDC round trip itself needs a browser and an identity provider: here `AppTest.user` stands in
for what Streamlit puts in `st.user` after a login (its documented test hook)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from sync_engine import access, fixes, segment, ui_state
from sync_engine.access import ANONYMOUS, AccessDenied
from sync_engine.embedded import Runtime
from sync_engine.settings import load_settings
from tests.app.conftest import APP, sql
from tests.app.test_pages import PAGES

pytestmark = pytest.mark.app

PASSWORD = "correct horse battery staple"
WITH_PASSWORD = {access.PASSWORD_KEY: PASSWORD}
ADMIN_EMAIL = "ops.lead@brightwave.io"
WITH_OIDC = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a-cookie-secret-for-tests-only",
        "client_id": "leadbridge",
        "client_secret": "a-client-secret-for-tests-only",
        "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
    },
    access.EMAILS_KEY: [ADMIN_EMAIL],
}
# Buttons that change nothing: a read-only user may use them.
HARMLESS = {
    "Pick contacts at random",
    "Check the integration user",
    "Add criterion",
    "Add group",
    "Remove",
    "Log in as admin",
    "Log in",
}


def open_page(
    path: str, *, secrets: dict[str, Any] | None = None, user: dict[str, Any] | None = None
) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.secrets = dict(secrets or {})
    if user is not None:
        at.user = user
    at.switch_page(path)
    return at.run()


def button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def mutating(at: AppTest) -> list[Any]:
    return [b for b in at.button if b.label not in HARMLESS and not b.label.startswith("Log ")]


def open_error(world: dict) -> int:
    """An open error no other test retried or ignored yet."""
    return sql(
        world,
        "SELECT error_id FROM sync_errors WHERE status = 'open' AND payload->>'hs_id' IS NOT NULL "
        "ORDER BY error_id LIMIT 1",
    )[0][0]


def audit_rows(world: dict, error_id: int) -> list[tuple]:
    return sql(world, 'SELECT actor, action, "at" FROM audit_log WHERE error_id = ?', [error_id])


def sidebar_text(at: AppTest) -> str:
    parts = [*at.sidebar.error, *at.sidebar.warning, *at.sidebar.text, *at.sidebar.info]
    return " ".join(str(p.value) for p in parts)


# ------------------------------------------------------------------------------ read-only


@pytest.mark.parametrize("path", PAGES)
def test_with_a_password_anonymous_sees_every_page_read_only(world: dict, path: str) -> None:
    at = open_page(path, secrets=WITH_PASSWORD)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{path} shows no title"
    enabled = [b.label for b in mutating(at) if not b.disabled]
    assert not enabled, f"{path} lets an anonymous visitor press {enabled}"
    assert access.OPEN_NOTE not in sidebar_text(at)
    assert button(at, "Log in as admin"), "the sidebar offers the admin login"


@pytest.mark.parametrize(
    ("path", "controls"),
    [
        ("pages/errors.py", {"Retry this error", "Ignore this error"}),
        ("pages/health.py", {"Confirm: pause the sync", "Confirm: resume the sync"}),
        ("pages/mappings.py", {"Add entry"}),
    ],
)
def test_read_only_controls_are_shown_disabled_with_the_reason(
    world: dict, path: str, controls: set[str]
) -> None:
    at = open_page(path, secrets=WITH_PASSWORD)
    shown = {b.label: b.disabled for b in at.button if b.label in controls}
    assert shown and all(shown.values()), shown
    assert any("Read-only: log in as an admin" in i.value for i in at.info)


def test_read_only_users_may_preview_criteria_but_not_save_them(world: dict) -> None:
    at = open_page("pages/inclusion.py", secrets=WITH_PASSWORD)
    draft = at.session_state[ui_state.INCLUSION_DRAFT]  # as "Add criterion" and typing leave it
    draft["groups"][0]["criteria"].append(
        {"id": 10**6, "property": "hubspotscore", "operator": "gte", "value": "10"}
    )
    at.session_state[ui_state.INCLUSION_DRAFT] = draft
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.label == "Qualifying contacts" for m in at.metric), "the preview still works"
    assert not [b for b in at.button if b.label.startswith(("Save", "Confirm"))]
    assert any("Read-only" in i.value for i in at.info)


def test_read_only_users_may_pick_a_segment_but_not_run_it(world: dict) -> None:
    at = open_page("pages/segment.py", secrets=WITH_PASSWORD)
    at.checkbox[0].uncheck().run()
    button(at, "Pick contacts at random").click().run()
    dry_run = next(b for b in at.button if b.label.startswith("Dry run"))
    assert dry_run.disabled
    with pytest.raises(Exception, match="disabled"):
        dry_run.click()


# ------------------------------------------------------------------------------ password


def test_a_wrong_password_is_refused_with_a_message(world: dict) -> None:
    at = open_page("pages/errors.py", secrets=WITH_PASSWORD)
    at.text_input(key=ui_state.ADMIN_PASSWORD_INPUT).input(PASSWORD.upper())
    button(at, "Log in as admin").click().run()
    assert "Wrong admin password" in " ".join(e.value for e in at.sidebar.error)
    assert not at.session_state.get(ui_state.ADMIN_UNLOCKED)
    assert button(at, "Retry this error").disabled


def test_the_right_password_enables_changes_recorded_with_who_and_when(world: dict) -> None:
    error_id = open_error(world)
    start = datetime.now(UTC)
    at = open_page("pages/errors.py", secrets=WITH_PASSWORD)
    at.text_input(key=ui_state.ADMIN_PASSWORD_INPUT).input(PASSWORD)
    button(at, "Log in as admin").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[ui_state.ADMIN_UNLOCKED] is True
    assert PASSWORD not in repr(at.session_state.to_dict()), "only a flag is kept"
    assert "Admin: admin" in sidebar_text(at)

    at.selectbox(key=ui_state.ERROR_SELECTED).set_value(error_id).run()
    assert not button(at, "Retry this error").disabled
    button(at, "Retry this error").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert sql(world, "SELECT status FROM sync_errors WHERE error_id = ?", [error_id]) == [
        ("retrying",)
    ]
    ((actor, action, at_),) = audit_rows(world, error_id)
    assert (actor, action) == ("admin", "error_retrying")
    assert start <= at_ <= datetime.now(UTC)

    at.switch_page("pages/history.py").run()  # the change is on the history page
    shown = at.dataframe[0].value
    mine = shown[shown["error_id"] == error_id]
    assert list(mine["actor"]) == ["admin"] and list(mine["action"]) == ["error_retrying"]

    button(at, "Leave admin mode").click().run()
    at.switch_page("pages/errors.py").run()
    assert button(at, "Ignore this error").disabled


# ------------------------------------------------------------------------------ OIDC


def test_a_listed_oidc_user_changes_and_is_recorded_by_email(world: dict) -> None:
    error_id = open_error(world)
    start = datetime.now(UTC)
    user = {"is_logged_in": True, "email": ADMIN_EMAIL, "name": "Dana Ops", "email_verified": True}
    at = open_page("pages/errors.py", secrets=WITH_OIDC, user=user)
    assert f"Admin: Dana Ops <{ADMIN_EMAIL}>" in sidebar_text(at)
    assert button(at, "Log out")
    at.selectbox(key=ui_state.ERROR_SELECTED).set_value(error_id).run()
    button(at, "Ignore this error").click().run()
    assert not at.exception, [e.value for e in at.exception]
    ((actor, action, at_),) = audit_rows(world, error_id)
    assert (actor, action) == (ADMIN_EMAIL, "error_ignored")
    assert start <= at_ <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("user", "said"),
    [
        ({"is_logged_in": True, "email": "rep@brightwave.io", "name": "Rey"}, "not on the admin"),
        ({"is_logged_in": True, "email": ADMIN_EMAIL, "email_verified": False}, "not on the admin"),
        ({"is_logged_in": False}, "log in as an admin"),
        ({"email": ADMIN_EMAIL}, "log in as an admin"),  # claims without Streamlit's login
    ],
)
def test_other_oidc_users_and_visitors_read_only(
    world: dict, user: dict[str, Any], said: str
) -> None:
    at = open_page("pages/errors.py", secrets=WITH_OIDC, user=user)
    assert not at.exception, [e.value for e in at.exception]
    assert all(b.disabled for b in mutating(at)) and mutating(at)
    assert any(said in i.value for i in at.info)


def test_a_hostile_display_name_is_shown_as_text_never_markup(world: dict) -> None:
    name = "**Root** [admin](javascript:alert(1)) <img src=x onerror=alert(1)>"
    user = {"is_logged_in": True, "email": "rep@brightwave.io", "name": name}
    at = open_page("pages/errors.py", secrets=WITH_OIDC, user=user)
    assert f"Read-only: {name} <rep@brightwave.io>" in [t.value for t in at.sidebar.text]
    markup = [*at.markdown, *at.caption, *at.info, *at.sidebar.markdown, *at.sidebar.caption]
    assert not [m.value for m in markup if "Root" in str(m.value)]


def test_a_visitor_is_offered_the_oidc_login(world: dict) -> None:
    at = open_page("pages/health.py", secrets=WITH_OIDC, user={"is_logged_in": False})
    if importlib.util.find_spec("authlib") is None:  # st.login would fail: say what to install
        assert "OIDC login needs Authlib" in sidebar_text(at)
    else:
        assert button(at, "Log in")
    assert not [b for b in at.button if b.label == "Log in as admin"], "no password configured"


def test_a_misconfigured_login_locks_every_change_and_says_why(world: dict) -> None:
    at = open_page("pages/errors.py", secrets={access.EMAILS_KEY: ADMIN_EMAIL})
    assert "no [auth] section" in sidebar_text(at)
    assert all(b.disabled for b in mutating(at)) and mutating(at)


def test_with_nothing_configured_the_local_default_is_usable_and_says_so(world: dict) -> None:
    at = open_page("pages/errors.py")
    assert access.OPEN_NOTE in sidebar_text(at)
    assert not any(b.disabled for b in mutating(at))


# ------------------------------------------------------------------------------ defence in depth


def _runtime(world: dict) -> Runtime:
    engine = world["engine"]
    return Runtime(settings=load_settings(world["env"]), store=engine.store, engine=engine)


def _conflict(world: dict) -> dict[str, Any]:
    with world["engine"].store.read() as conn:
        cur = conn.execute("SELECT * FROM conflicts LIMIT 1")
        names = [d[0] for d in cur.description]
        row = cur.fetchone()
    return dict(zip(names, row, strict=True)) if row else {}


def _state(world: dict) -> tuple[Any, ...]:
    """Everything a change would touch: sync.toml, the audit, errors, pause flag, runs."""
    return (
        world["config"].read_text(),
        sql(world, "SELECT count(*) FROM audit_log"),
        sql(world, "SELECT status, count(*) FROM sync_errors GROUP BY 1 ORDER BY 1"),
        sql(world, "SELECT paused FROM engine_state"),
        sql(world, "SELECT count(*) FROM sync_runs"),
        sql(world, "SELECT status, count(*) FROM duplicates GROUP BY 1 ORDER BY 1"),
    )


CALLS: dict[str, Callable[[Runtime, Any, dict], Any]] = {
    "retry_error": lambda rt, who, w: fixes.retry_error(rt, open_error(w), actor=who),
    "retry_category": lambda rt, who, w: fixes.retry_category(rt, "property_value", actor=who),
    "ignore_error": lambda rt, who, w: fixes.ignore_error(rt, open_error(w), actor=who),
    "set_value": lambda rt, who, w: fixes.set_value_and_retry(rt, open_error(w), "x", actor=who),
    "value_map": lambda rt, who, w: fixes.add_value_map_entry(
        rt, "lead_source", "Paid Social", "Web", actor=who
    ),
    "mapping": lambda rt, who, w: fixes.save_mapping(
        rt, "contact", 0, rt.engine.config.object("contact").fields[0], actor=who
    ),
    "inclusion": lambda rt, who, w: fixes.save_inclusion(
        rt, rt.engine.config.inclusion, to_push=[], properties={}, actor=who
    ),
    "pause": lambda rt, who, w: fixes.set_paused(rt, True, actor=who, reason="x"),
    "not_duplicate": lambda rt, who, w: fixes.mark_not_duplicate(rt, "c1", actor=who),
    "override": lambda rt, who, w: fixes.override_conflict(rt, _conflict(w), actor=who),
    "dry_run": lambda rt, who, w: segment.dry_run_segment(rt.engine, ["1"], actor=who),
    "apply": lambda rt, who, w: segment.apply_segment(rt.engine, ["1"], actor=who),
}


@pytest.mark.parametrize("who", [ANONYMOUS, "admin", None], ids=["anonymous", "a-string", "none"])
@pytest.mark.parametrize("call", list(CALLS))
def test_the_engine_refuses_every_change_without_an_admin_identity(
    world: dict, call: str, who: Any
) -> None:
    rt = _runtime(world)
    before = _state(world)
    with pytest.raises(AccessDenied, match="Refused to"):
        CALLS[call](rt, who, world)
    assert _state(world) == before, "a refused change changed something"


def test_repeated_wrong_passwords_pause_password_login_even_for_the_right_one(world: dict) -> None:
    at = open_page("pages/errors.py", secrets=WITH_PASSWORD)
    for _ in range(5):
        at.text_input(key=ui_state.ADMIN_PASSWORD_INPUT).input("not-the-password-at-all")
        button(at, "Log in as admin").click().run()
    fresh = open_page("pages/errors.py", secrets=WITH_PASSWORD)  # a new session: still paused
    fresh.text_input(key=ui_state.ADMIN_PASSWORD_INPUT).input(PASSWORD)
    button(fresh, "Log in as admin").click().run()
    assert "password login is paused" in " ".join(e.value for e in fresh.sidebar.error)
    assert not fresh.session_state.get(ui_state.ADMIN_UNLOCKED)
    assert button(fresh, "Retry this error").disabled
