"""What every page shares: the process's runtime (engine, store), who is acting (the sidebar's
admin login, sync_engine/access.py), cached reads.

Not a page (st.navigation lists pages explicitly). Cached readers take the database path and
every filter as arguments, so two stores or two filters never share a cache entry; their ttl is
short because the engine writes continuously.
"""

from __future__ import annotations

import importlib.util
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from sync_engine import access, queries, ui_state
from sync_engine.access import AccessConfig, Identity
from sync_engine.embedded import Runtime, start_runtime
from sync_engine.store import AuditStore

FRESH_S = 5  # seconds a cached read may be old on the health page
SLOW_S = 30  # for reads that change little (schema, config-derived tables)


@st.cache_resource(show_spinner="Starting LeadBridge…", on_release=lambda rt: rt.stop())
def runtime() -> Runtime:
    """One per process: survives reruns, sessions and closed tabs (the engine keeps running)."""
    return start_runtime()


def store() -> AuditStore:
    return runtime().store


def db() -> str:
    """The audit store's path, the first argument of every cached read."""
    return str(runtime().store.path)


# ------------------------------------------------------------------------------ access


def access_config() -> AccessConfig:
    """The admin login as configured: st.secrets (the secrets.toml Streamlit's own st.login
    reads) overlaid by the environment. Read per run: cheap, and never stale."""
    try:
        secrets = st.secrets.to_dict()
    except FileNotFoundError:  # no secrets.toml
        secrets = {}
    return access.load_access(secrets, os.environ)


def actor(config: AccessConfig | None = None) -> Identity:
    """Who is acting in this session; the mutating functions refuse unless it is an admin."""
    try:
        user = st.user.to_dict()
    except (AttributeError, KeyError):
        user = {}
    return access.identify(
        config or access_config(),
        user=user,
        password_ok=bool(st.session_state.get(ui_state.ADMIN_UNLOCKED)),
    )


def read_only_note(who: Identity) -> bool:
    """Say why this page's changes are disabled; True when they are (for `disabled=`)."""
    reason = access.read_only_reason(access_config(), who)
    if reason:
        st.info(reason, icon=":material/lock:")
    return reason is not None


def access_sidebar() -> Identity:
    """The sidebar's login and logout, and a visible note when no login is configured; who is
    acting. Every page calls it (not app.py: Streamlit runs a page of the pages/ folder on its own
    when a session's first request names it, and AppTest always does)."""
    config = access_config()
    who = actor(config)
    with st.sidebar:
        for problem in config.problems:
            st.error(f"Admin login misconfigured, so nobody can change the sync: {problem}")
        if config.open:
            st.warning(access.OPEN_NOTE, icon=":material/lock_open:")
            return who
        st.text(f"{'Admin' if who.admin else 'Read-only'}: {who.label}")  # text: never markup
        if config.oidc:
            _oidc_buttons(config, who)
        if config.admin_password and not config.problems:
            _password_login(config, who)
    return who


def _oidc_buttons(config: AccessConfig, who: Identity) -> None:
    if who.via == "oidc":
        if st.button("Log out", key="lb_logout"):
            st.session_state.pop(ui_state.ADMIN_UNLOCKED, None)
            st.logout()
        return
    if importlib.util.find_spec("authlib") is None:
        st.error("OIDC login needs Authlib: `pip install -r requirements.txt`.")
        return
    for provider in config.oidc_providers:
        label = f"Log in with {provider}" if provider else "Log in"
        if st.button(label, key=f"lb_login_{provider or 'default'}"):
            st.login(provider or None)


def _password_login(config: AccessConfig, who: Identity) -> None:
    """The admin password form; only a flag is kept once it matched (never the password)."""
    if st.session_state.get(ui_state.ADMIN_UNLOCKED):
        if st.button("Leave admin mode", key="lb_admin_lock"):
            st.session_state.pop(ui_state.ADMIN_UNLOCKED, None)
            st.rerun()
        return
    if who.admin:
        return
    with st.form(ui_state.ADMIN_LOGIN_FORM, clear_on_submit=True):
        attempt = st.text_input(
            "Admin password", type="password", key=ui_state.ADMIN_PASSWORD_INPUT
        )
        submitted = st.form_submit_button("Log in as admin")
    if not submitted:
        return
    failures, now = _failed_logins(), datetime.now(UTC)
    wait = access.lockout_left(failures, now=now)
    if wait is not None:
        st.error(
            f"Too many wrong admin passwords: password login is paused for "
            f"{int(wait.total_seconds()) + 1} s."
        )
        return
    if access.check_password(config, attempt):
        st.session_state[ui_state.ADMIN_UNLOCKED] = True
        st.rerun()
    failures.append(now)
    st.error("Wrong admin password: the dashboard stays read-only.")


@st.cache_resource
def _failed_logins() -> list[datetime]:
    """This process's wrong password attempts (shared by every session: see access.LOCKOUT_*)."""
    return []


# Every character Markdown (CommonMark, Streamlit's colour and emoji directives, LaTeX) gives a
# meaning: with a backslash before it, it is shown as typed.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=])")


def literal(text: object) -> str:
    """Text from the data or from a person, for an element that renders Markdown (st.error,
    st.warning, st.caption...): shown as typed, never as bold, a link, an image or HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def flash(message: str) -> None:
    """Show message once, after the rerun a write triggers."""
    st.session_state[ui_state.FLASH] = message


def show_flash() -> None:
    message = st.session_state.pop(ui_state.FLASH, None)
    if message:
        st.success(literal(message))


def first_sync_note(db_path: str) -> bool:
    """Say so while the first sync is still running; True when no run has finished yet."""
    runs = cached_runs(db_path, None)
    finished = runs[runs["status"] != "running"] if not runs.empty else runs
    if finished.empty:
        if runs.empty:
            st.info("Waiting for the first sync to start: the engine is getting ready.")
        else:
            st.info(
                "First sync in progress: it reads both systems in full (about half a minute on "
                "the sandbox). Figures appear as each batch commits; this page refreshes itself."
            )
        return True
    return False


def store_at(db_path: str) -> AuditStore:
    return AuditStore(Path(db_path))


# ------------------------------------------------------------------------------ cached reads


@st.cache_data(ttl=FRESH_S, show_spinner=False)
def cached_status(db_path: str) -> dict[str, Any]:
    return queries.status_summary(store_at(db_path))


@st.cache_data(ttl=FRESH_S, show_spinner=False)
def cached_runs(db_path: str, since: datetime | None, limit: int = 500) -> pd.DataFrame:
    return queries.runs_frame(store_at(db_path), since=since, limit=limit)


@st.cache_data(ttl=FRESH_S, show_spinner=False)
def cached_throughput(db_path: str, since: datetime) -> dict[str, Any]:
    return queries.sync_throughput(store_at(db_path), since=since)


@st.cache_data(ttl=FRESH_S, show_spinner=False)
def cached_changes_over_time(db_path: str, since: datetime | None, bucket: str) -> pd.DataFrame:
    return queries.changes_over_time(store_at(db_path), since=since, bucket=bucket)


@st.cache_data(ttl=FRESH_S, show_spinner=False)
def cached_errors_over_time(db_path: str, since: datetime | None, bucket: str) -> pd.DataFrame:
    return queries.errors_over_time(store_at(db_path), since=since, bucket=bucket)


@st.cache_data(ttl=FRESH_S, show_spinner=False)
def cached_api_usage(db_path: str, since: datetime | None, bucket: str) -> pd.DataFrame:
    return queries.api_usage_frame(store_at(db_path), since=since, bucket=bucket)


@st.cache_data(ttl=FRESH_S, show_spinner=False)
def cached_errors(
    db_path: str,
    category: tuple[str, ...] | None,
    status: tuple[str, ...] | None,
    object: tuple[str, ...] | None,
    limit: int,
) -> pd.DataFrame:
    return queries.errors_frame(
        store_at(db_path), category=category, status=status, object=object, limit=limit
    )


@st.cache_data(ttl=FRESH_S, show_spinner=False)
def cached_error_counts(db_path: str) -> pd.DataFrame:
    return queries.error_counts(store_at(db_path))


@st.cache_data(ttl=FRESH_S, show_spinner=False)
def cached_duplicates(db_path: str, status: str | None, limit: int) -> pd.DataFrame:
    return queries.duplicates_frame(store_at(db_path), status=status, limit=limit)


@st.cache_data(ttl=FRESH_S, show_spinner=False)
def cached_conflicts(
    db_path: str, object: str | None, field: str | None, limit: int
) -> pd.DataFrame:
    return queries.conflicts_frame(store_at(db_path), object=object, field=field, limit=limit)


@st.cache_data(ttl=FRESH_S, show_spinner=False)
def cached_timeline(db_path: str, email: str) -> pd.DataFrame:
    return queries.person_timeline(store_at(db_path), email)


@st.cache_data(ttl=FRESH_S, show_spinner=False)
def cached_audit(db_path: str, limit: int) -> pd.DataFrame:
    return queries.audit_frame(store_at(db_path), limit=limit)


@st.cache_resource(ttl=600, max_entries=2, show_spinner="Loading contacts from the engine's copy…")
def cached_contacts(db_path: str, version: tuple[Any, ...]) -> pd.DataFrame:
    """The mirror's HubSpot contacts, rebuilt only when the mirror changes (version).

    A shared resource, not cache_data: cache_data unpickles a copy on every rerun, about a second
    for 100,000 contacts. Pages treat it as read-only (filters make new frames)."""
    from sync_engine import preview

    store = store_at(db_path)
    return preview.contacts_frame(store, columns=preview.mirror_properties(store))


@st.cache_resource(ttl=600, max_entries=2, show_spinner=False)
def mask_cache(db_path: str, version: tuple[Any, ...]) -> Any:
    """Each criterion's mask over that version's contacts frame (preview.MaskCache), kept between
    reruns and shared by the inclusion and segment pages: editing one criterion re-evaluates
    that one only."""
    from sync_engine import preview

    return preview.MaskCache(cached_contacts(db_path, version))


def clear_reads() -> None:
    """After a write from this page: the next render reads fresh data (the contacts frame
    follows the mirror's version by itself)."""
    for reader in (cached_status, cached_runs, cached_errors, cached_error_counts):
        reader.clear()
    for reader in (cached_duplicates, cached_conflicts, cached_timeline, cached_throughput):
        reader.clear()
    cached_audit.clear()


# ------------------------------------------------------------------------------ schema, config


def schema() -> Any:
    """The engine's SchemaInfo (describe + properties, loaded once per engine), or None when no
    system can be reached; pages then work with what the audit store alone can tell."""
    engine = runtime().engine
    if engine is None:
        return None
    try:
        return engine.schema()
    except Exception as exc:  # the systems are unreachable or the config is wrong: say so
        st.warning(f"Could not read the systems' schema: {literal(exc)}")
        return None


def contact_properties() -> dict[str, Any]:
    info = schema()
    return dict(info.hs_properties.get("contacts", {})) if info is not None else {}


def active_config() -> Any:
    """The config the engine runs with (reloaded from the file when the engine is elsewhere)."""
    from sync_engine.config import load_config

    rt = runtime()
    if rt.engine is not None:
        return rt.engine.config
    return load_config(rt.settings.config_path)
