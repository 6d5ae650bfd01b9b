"""Inclusion list: build the criteria, preview who qualifies over the engine's mirror, then save
and activate (confirmed, with the number of contacts it will push)."""

from __future__ import annotations

import itertools
from typing import Any

import plotly.express as px
import streamlit as st

from pages._common import (
    access_sidebar,
    active_config,
    actor,
    cached_contacts,
    contact_properties,
    db,
    first_sync_note,
    flash,
    literal,
    mask_cache,
    read_only_note,
    runtime,
    show_flash,
    store_at,
)
from sync_engine import fixes, preview, queries, ui_state
from sync_engine.inclusion import Operator, validate_criteria

OPERATORS = [o.value for o in Operator if o is not Operator.IN_LIST]
_ids = itertools.count()


@st.cache_data(ttl=30, show_spinner=False)
def linked(db_path: str, version: tuple[Any, ...]) -> frozenset[str]:
    return preview.linked_contacts(store_at(db_path))


def _draft() -> dict[str, Any]:
    if ui_state.INCLUSION_DRAFT not in st.session_state:
        draft = preview.draft_from_group(active_config().inclusion)
        for group in draft["groups"]:
            for row in group["criteria"]:
                row["id"] = next(_ids)
        st.session_state[ui_state.INCLUSION_DRAFT] = draft
    return st.session_state[ui_state.INCLUSION_DRAFT]


def criterion_row(row: dict[str, Any], properties: list[str]) -> bool:
    """One criterion's widgets; returns True when the row asks to be removed."""
    key = f"inc_{row['id']}"
    cols = st.columns([3, 2, 4, 1])
    options = sorted({*properties, row["property"]} - {""})
    row["property"] = (
        cols[0].selectbox(
            "Property",
            options,
            index=options.index(row["property"]) if row["property"] in options else None,
            key=f"{key}_prop",
            accept_new_options=True,
            placeholder="HubSpot property",
        )
        or ""
    )
    row["operator"] = cols[1].selectbox(
        "Operator", OPERATORS, index=OPERATORS.index(row["operator"]), key=f"{key}_op"
    )
    row["value"] = cols[2].text_input(
        "Value", value=row["value"], key=f"{key}_value", help='Lists: a, b or ["a", "b"]'
    )
    return cols[3].button("Remove", key=f"{key}_remove")


def builder(draft: dict[str, Any], properties: list[str]) -> None:
    draft["join"] = st.radio(
        "Top-level criteria and groups are joined by",
        ["and", "or"],
        index=["and", "or"].index(draft["join"]),
        horizontal=True,
        key=ui_state.INCLUSION_TOP_JOIN,
    )
    for g, group in enumerate(draft["groups"]):
        with st.container(border=True):
            if g == 0:
                st.markdown("**Top-level criteria**")
            else:
                group["join"] = st.radio(
                    f"Group {g}: criteria joined by",
                    ["and", "or"],
                    index=["and", "or"].index(group["join"]),
                    horizontal=True,
                    key=f"inc_group_{g}_join",
                )
            group["criteria"] = [
                row for row in group["criteria"] if not criterion_row(row, properties)
            ]
            if st.button("Add criterion", key=f"inc_add_{g}"):
                group["criteria"].append(
                    {"id": next(_ids), "property": "", "operator": "eq", "value": ""}
                )
                st.rerun()
    if st.button("Add group"):
        draft["groups"].append({"join": "or", "criteria": []})
        st.rerun()


def show_preview(result: preview.Preview, frame: Any) -> None:
    cols = st.columns(4)
    cols[0].metric("Qualifying contacts", f"{result.qualifying:,}", help=f"of {result.total:,}")
    cols[1].metric("Added vs active", f"{len(result.added):,}")
    cols[2].metric("Removed vs active", f"{len(result.removed):,}")
    cols[3].metric("Would be pushed on save", f"{len(result.to_push):,}")
    charts = st.columns(len(preview.BREAKDOWNS))
    for col, (label, prop) in zip(charts, preview.BREAKDOWNS.items(), strict=True):
        table = preview.breakdown(frame, result.mask, prop).head(12)
        if table.empty:
            col.info(f"No {label.lower()} among qualifying contacts.")
            continue
        col.plotly_chart(
            px.bar(
                table,
                x="contacts",
                y="value",
                orientation="h",
                title=f"Qualifying by {label.lower()}",
                labels={"contacts": "Contacts", "value": label},
            )
        )
    st.markdown("**Sample of qualifying contacts**")
    st.dataframe(preview.sample(frame, result.mask), hide_index=True)


def save_panel(group: Any, result: preview.Preview) -> None:
    if result.unchanged and group == active_config().inclusion:
        st.caption("These are the active criteria.")
        return
    if read_only_note(actor()):  # anyone may preview criteria; only an admin saves them
        return
    if not st.session_state.get(ui_state.INCLUSION_CONFIRM):
        if st.button("Save and activate…", type="primary"):
            st.session_state[ui_state.INCLUSION_CONFIRM] = True
            st.rerun()
        return
    st.warning(
        f"Saving activates these criteria: {len(result.to_push):,} contacts will be pushed to "
        f"Salesforce at the next cycle, and {len(result.removed):,} will stop qualifying "
        "(records already synced stay linked)."
    )
    confirm, cancel = st.columns(2)
    if cancel.button("Cancel"):
        st.session_state[ui_state.INCLUSION_CONFIRM] = False
        st.rerun()
    if confirm.button(f"Confirm: push {len(result.to_push):,} contacts", type="primary"):
        rt = runtime()
        outcome = fixes.save_inclusion(
            rt, group, to_push=result.to_push, properties=contact_properties(), actor=actor()
        )
        st.session_state[ui_state.INCLUSION_CONFIRM] = False
        if outcome.ok:
            st.session_state.pop(ui_state.INCLUSION_DRAFT, None)
            flash(outcome.message)
            st.rerun()
        st.error(literal(outcome.message))


st.title("Inclusion list")
access_sidebar()
st.caption(
    "Which HubSpot contacts may be pushed to Salesforce. The preview evaluates the engine's own "
    "copy of HubSpot with the engine's own rules: no HubSpot call."
)
show_flash()
path = db()
if first_sync_note(path):
    st.stop()
props = contact_properties()
version = queries.mirror_version(store_at(path), system="hubspot", object="contacts")
frame = cached_contacts(path, version)
if frame.empty:
    st.info("No HubSpot contact in the engine's copy yet: the first sync cycle reads them.")
    st.stop()
draft = _draft()
builder(draft, sorted(set(props) | set(frame.columns) - {preview.ID_COLUMN}))
group = preview.group_from_draft(draft)
problems = validate_criteria(group, props) if props else []
if problems:
    st.error("These criteria cannot be evaluated; nothing is saved.")
    for problem in problems:
        st.error(literal(problem))
    st.stop()
missing = preview.criteria_properties(group) - set(frame.columns)
if missing:
    st.warning(
        "The engine's copy has no value yet for "
        + ", ".join(sorted(missing))
        + ": the preview counts them blank until the engine reads them."
    )
result = preview.preview(
    frame,
    group,
    active_config().inclusion,
    properties=props,
    linked=linked(path, version),
    cache=mask_cache(path, version),
)
show_preview(result, frame)
save_panel(group, result)
