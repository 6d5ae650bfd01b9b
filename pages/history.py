"""Record history: one person, both systems: every field change with direction and reason,
conflicts, errors and links, oldest first; and every change made from the dashboard, by whom."""

from __future__ import annotations

import streamlit as st

from pages._common import access_sidebar, cached_audit, cached_timeline, db
from sync_engine import ui_state

st.title("Record history")
access_sidebar()
with st.expander("Changes made in the dashboard: who and when"):
    changes = cached_audit(db(), 500)
    if changes.empty:
        st.info("Nobody has changed anything from the dashboard yet.")
    else:
        st.dataframe(
            changes[["at", "actor", "action", "object", "record_id", "error_id", "details"]],
            hide_index=True,
        )
email = st.text_input("Email", key=ui_state.HISTORY_EMAIL, placeholder="name@company.com").strip()
if not email:
    st.info("Look a person up by email to see what the sync did to their records.")
    st.stop()
timeline = cached_timeline(db(), email.lower())
if timeline.empty:
    st.warning(
        "Nothing recorded for this email: it was never synced, or it is spelled differently "
        "in both systems. Check the spelling, or the Errors page."
    )
    st.stop()
cols = st.columns(4)
for col, kind in zip(cols, ("change", "conflict", "error"), strict=False):
    col.metric(f"{kind.title()}s", int((timeline["kind"] == kind).sum()))
links = timeline[["object", "hs_id", "sf_id"]].dropna().drop_duplicates()
cols[3].metric("Linked records", len(links))
st.subheader("Links")
st.dataframe(links, hide_index=True)
st.subheader("Timeline")
st.dataframe(timeline, hide_index=True)
