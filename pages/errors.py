"""Errors: what the sync refused, why, and the fix; act on one error or a whole category."""

from __future__ import annotations

import math

import streamlit as st

from pages._common import (
    access_sidebar,
    actor,
    cached_error_counts,
    cached_errors,
    clear_reads,
    db,
    first_sync_note,
    flash,
    literal,
    read_only_note,
    runtime,
    show_flash,
)
from sync_engine import fixes, ui_state
from sync_engine.store import ERROR_CATEGORIES, ERROR_STATUSES

COLUMNS = [
    "error_id", "category", "status", "system", "object", "record_id", "field", "value",
    "message", "suggested_fix", "attempts", "last_seen",
]  # fmt: skip


def done(outcome: fixes.FixResult) -> None:
    if outcome.ok:
        flash(outcome.message)
        clear_reads()
        st.rerun()
    st.error(literal(outcome.message))


def filters(path: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    counts = cached_error_counts(path)
    cols = st.columns(3)
    category = cols[0].multiselect("Category", ERROR_CATEGORIES, placeholder="all categories")
    status = cols[1].multiselect("Status", ERROR_STATUSES, default=["open", "retrying"])
    objects = ["contacts", "companies", "deals", "Lead", "Contact", "Account", "Opportunity"]
    obj = cols[2].multiselect("Object", objects, placeholder="all objects")
    if not counts.empty:
        st.caption(
            "Open now: "
            + ", ".join(
                f"{r.category} {r.errors:,}"
                for r in counts[counts["status"] == "open"].itertuples()
            )
        )
    return tuple(category), tuple(status), tuple(obj)


def _text(value: object) -> str:
    """A cell as text: blank for None and for pandas' NaN (not "nan")."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def fix_panel(error: dict) -> None:
    rt = runtime()
    error_id = int(error["error_id"])
    key = f"fix_{error_id}"  # widgets per error: another error's draft never carries over
    value = _text(error.get("value"))
    st.subheader(f"Error {error_id} ({error['status']})")
    st.text(error["message"])
    st.text(f"Suggested fix: {_text(error.get('suggested_fix')) or '—'}")
    one, two, three = st.columns(3)
    with one.popover("Edit the value and retry", disabled=LOCKED):
        corrected = st.text_input("Corrected value", value=value, key=f"{key}_value")
        if st.button(
            "Confirm: write it to the source record",
            type="primary",
            key=f"{key}_set",
            disabled=LOCKED,
        ):
            done(fixes.set_value_and_retry(rt, error_id, corrected, actor=actor()))
    with two.popover("Add a value-map entry", disabled=LOCKED):
        maps = [v.name for v in rt.engine.config.value_maps] if rt.engine else []
        name = st.selectbox("Value map", maps, key=f"{key}_map")
        hs_value = st.text_input("HubSpot value", value=value, key=f"{key}_hs")
        sf_value = st.text_input("Salesforce value", key=f"{key}_sf")
        if st.button(
            "Confirm: save to sync.toml and retry",
            type="primary",
            key=f"{key}_add",
            disabled=LOCKED,
        ):
            done(fixes.add_value_map_entry(rt, name, hs_value, sf_value, actor=actor()))
    with three:
        if st.button("Retry this error", key=f"{key}_retry", disabled=LOCKED):
            done(fixes.retry_error(rt, error_id, actor=actor()))
        if st.button("Ignore this error", key=f"{key}_ignore", disabled=LOCKED):
            done(fixes.ignore_error(rt, error_id, actor=actor()))


def category_retry(category: str) -> None:
    if st.session_state.get(ui_state.ERROR_CONFIRM_CATEGORY) != category:
        if st.button(f"Retry every open {category} error…", disabled=LOCKED):
            st.session_state[ui_state.ERROR_CONFIRM_CATEGORY] = category
            st.rerun()
        return
    st.warning(f"Every open {category} error will be retried at the next cycle.")
    if st.button(f"Confirm: retry all {category} errors", type="primary", disabled=LOCKED):
        st.session_state.pop(ui_state.ERROR_CONFIRM_CATEGORY, None)
        done(fixes.retry_category(runtime(), category, actor=actor()))


st.title("Errors")
show_flash()
LOCKED = read_only_note(access_sidebar())  # read-only users see the fixes, disabled
path = db()
first_sync_note(path)
category, status, obj = filters(path)
frame = cached_errors(path, category or None, status or None, obj or None, 5000)
if frame.empty:
    st.success("No error matches these filters. Widen them, or enjoy the quiet.")
    st.stop()
st.download_button(
    "Export to CSV", frame[COLUMNS].to_csv(index=False), "leadbridge-errors.csv", "text/csv"
)
picked = st.dataframe(
    frame[COLUMNS], hide_index=True, on_select="rerun", selection_mode="single-row", key="errtbl"
)
rows = picked.selection.rows if picked else []
ids = [int(i) for i in frame["error_id"]]
default = frame.iloc[rows[0]]["error_id"] if rows else ids[0]
chosen = st.selectbox(
    "Error to fix", ids, index=ids.index(int(default)), key=ui_state.ERROR_SELECTED
)
fix_panel(frame[frame["error_id"] == chosen].iloc[0].to_dict())
for cat in sorted(set(frame["category"])):
    category_retry(cat)
