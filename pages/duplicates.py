"""Duplicates and conflicts: clusters sharing a match key, conflicts with both values and the
outcome; mark a cluster not-a-duplicate, override a conflict's winner (confirmed)."""

from __future__ import annotations

import streamlit as st

from pages._common import (
    access_sidebar,
    actor,
    cached_conflicts,
    cached_duplicates,
    clear_reads,
    db,
    first_sync_note,
    flash,
    literal,
    read_only_note,
    runtime,
    show_flash,
)
from sync_engine import fixes


def done(outcome: fixes.FixResult) -> None:
    if outcome.ok:
        flash(outcome.message)
        clear_reads()
        st.rerun()
    st.error(literal(outcome.message))


def duplicates(path: str) -> None:
    st.subheader("Duplicate clusters")
    status = st.selectbox("Status", ["open", "ignored", "resolved"], key="dup_status")
    frame = cached_duplicates(path, status, 1000)
    if frame.empty:
        st.success(f"No {status} duplicate cluster.")
        return
    frame = frame.assign(record_ids=frame["record_ids"].map(lambda ids: ", ".join(ids)))
    st.dataframe(
        frame[["cluster_id", "system", "object", "match_key", "size", "record_ids", "kept_id",
               "reason", "status", "last_seen"]],
        hide_index=True,
    )  # fmt: skip
    if status != "open":
        return
    cluster = st.selectbox("Cluster", list(frame["cluster_id"]), key="dup_cluster")
    with st.popover("Mark not a duplicate", disabled=LOCKED):
        st.text(f"Cluster {cluster} will no longer be reported.")
        if st.button("Confirm: not a duplicate", type="primary", disabled=LOCKED):
            done(fixes.mark_not_duplicate(runtime(), cluster, actor=actor()))


def conflicts(path: str) -> None:
    st.subheader("Conflicts")
    frame = cached_conflicts(path, None, None, 2000)
    if frame.empty:
        st.success("No conflict yet: both systems never changed the same field at once.")
        return
    columns = ["at", "object", "hs_id", "sf_id", "field", "base_value", "hs_value", "sf_value",
               "rule", "winner"]  # fmt: skip
    st.dataframe(frame[columns], hide_index=True)
    labels = {
        i: f"{r.object} {r.hs_id}/{r.sf_id} {r.field}: {r.winner} won"
        for i, r in frame.head(500).iterrows()
    }
    picked = st.selectbox("Conflict", list(labels), format_func=labels.get, key="conf_pick")
    row = frame.loc[picked].to_dict()
    loser = "hubspot" if row["winner"] == "salesforce" else "salesforce"
    value = row["hs_value"] if loser == "hubspot" else row["sf_value"]
    with st.popover(f"Override: make {loser}'s value win", disabled=LOCKED):
        st.text(f"{row['field']} becomes {value!r} in {row['winner']} too.")
        if st.button("Confirm override", type="primary", disabled=LOCKED):
            done(fixes.override_conflict(runtime(), row, actor=actor()))


st.title("Duplicates and conflicts")
show_flash()
LOCKED = read_only_note(access_sidebar())
path = db()
first_sync_note(path)
duplicates(path)
conflicts(path)
