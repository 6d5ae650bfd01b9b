"""Test segment: pick 50-100 qualifying contacts, dry-run them (the diff, field by field), apply
with a progress bar, and read the report of what was written and what failed."""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages._common import (
    access_sidebar,
    active_config,
    actor,
    cached_contacts,
    contact_properties,
    db,
    first_sync_note,
    mask_cache,
    read_only_note,
    runtime,
    store_at,
)
from sync_engine import preview, queries, segment, ui_state


def choose(frame: Any, cache: preview.MaskCache) -> list[str]:
    rt = runtime()
    mask = preview.evaluate_frame_for(
        frame, active_config().inclusion, contact_properties(), cache=cache
    )
    pool = frame[mask]
    cols = st.columns(4)
    size = cols[0].number_input("Contacts", min_value=50, max_value=100, value=50, step=10)
    only_new = cols[1].checkbox("Only contacts not in Salesforce yet", value=True)
    prop = cols[2].selectbox("Filter by property", ["(none)", *preview.BREAKDOWNS.values()])
    value = cols[3].text_input("equal to", disabled=prop == "(none)")
    if only_new:
        pool = pool[~pool[preview.ID_COLUMN].isin(preview.linked_contacts(rt.store))]
    if prop != "(none)" and value:
        pool = pool[pool[prop].astype(str).str.casefold() == value.strip().casefold()]
    st.caption(f"{len(pool):,} qualifying contacts to choose from.")
    if st.button("Pick contacts at random"):
        picked = pool.sample(n=min(int(size), len(pool)), random_state=None)
        st.session_state[ui_state.SEGMENT_IDS] = list(picked[preview.ID_COLUMN])
        st.session_state.pop(ui_state.SEGMENT_DRY_RUN, None)
        st.session_state.pop(ui_state.SEGMENT_REPORT, None)
    return st.session_state.get(ui_state.SEGMENT_IDS, [])


def dry_run(ids: list[str]) -> None:
    rt = runtime()
    if st.button(f"Dry run {len(ids)} contacts", type="primary", disabled=LOCKED):
        with st.spinner("Planning (nothing is written)…"):
            report = segment.dry_run_segment(rt.engine, ids, actor=actor())
        st.session_state[ui_state.SEGMENT_DRY_RUN] = report
    report = st.session_state.get(ui_state.SEGMENT_DRY_RUN)
    if report is None:
        return
    st.subheader(f"Dry run (run {report.run_id}): what applying would write")
    summary = segment.plan_summary(report.plans)
    if summary.empty:
        st.info("Nothing to write: these contacts are already in step.")
    st.dataframe(summary, hide_index=True)
    st.dataframe(segment.plan_diff(report.plans), hide_index=True)
    apply(ids)


def apply(ids: list[str]) -> None:
    rt = runtime()
    st.warning(f"Applying writes the changes above to the live systems for {len(ids)} contacts.")
    if not st.button(f"Confirm: apply to {len(ids)} contacts", type="primary", disabled=LOCKED):
        return
    bar = st.progress(0.0, text="Applying…")
    report = segment.apply_segment(
        rt.engine, ids, actor=actor(), progress=lambda f, m: bar.progress(f, text=m)
    )
    st.session_state[ui_state.SEGMENT_REPORT] = report
    st.session_state.pop(ui_state.SEGMENT_DRY_RUN, None)
    st.rerun()


def show_report() -> None:
    report = st.session_state.get(ui_state.SEGMENT_REPORT)
    if report is None:
        return
    st.subheader(f"Segment report (run {report.run_id})")
    cols = st.columns(3)
    cols[0].metric("Contacts in the segment", report.contacts)
    cols[1].metric("Records written", report.records_written)
    cols[2].metric("Failed", report.errors)
    st.dataframe(segment.plan_diff(report.plans), hide_index=True)
    if report.failures.empty:
        st.success("Nothing failed.")
    else:
        st.dataframe(report.failures, hide_index=True)


st.title("Test segment")
st.caption("Sync a small, chosen set of contacts first: see the diff, apply it, read the report.")
# Choosing contacts is open to all; a dry run and an apply are an admin's.
LOCKED = read_only_note(access_sidebar())
path = db()
if first_sync_note(path):
    st.stop()
if runtime().engine is None:
    st.error("No connection to the systems: a segment cannot be planned. See Sync health.")
    st.stop()
version = queries.mirror_version(store_at(path), system="hubspot", object="contacts")
frame = cached_contacts(path, version)
show_report()
ids = choose(frame, mask_cache(path, version))
if not ids:
    st.info("Pick contacts to start: a random set of qualifying contacts, optionally filtered.")
    st.stop()
st.text(f"{len(ids)} contacts chosen: " + ", ".join(ids[:20]) + (" …" if len(ids) > 20 else ""))
dry_run(ids)
