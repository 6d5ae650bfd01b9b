"""LeadBridge dashboard: `streamlit run app.py`. Starts (once per process) the embedded engine and
routes to the pages; every page is in pages/, every query in sync_engine."""

from __future__ import annotations

import streamlit as st

from pages._common import runtime

# (file, title, icon): the navigation, as data.
PAGES = (
    ("pages/health.py", "Sync health", ":material/monitor_heart:"),
    ("pages/inclusion.py", "Inclusion list", ":material/filter_alt:"),
    ("pages/mappings.py", "Field mappings", ":material/swap_horiz:"),
    ("pages/errors.py", "Errors", ":material/error:"),
    ("pages/duplicates.py", "Duplicates and conflicts", ":material/call_split:"),
    ("pages/segment.py", "Test segment", ":material/science:"),
    ("pages/history.py", "Record history", ":material/history:"),
)

st.set_page_config(page_title="LeadBridge", page_icon=":material/sync:", layout="wide")
runtime()
st.navigation(
    [
        st.Page(path, title=title, icon=icon, default=i == 0)
        for i, (path, title, icon) in enumerate(PAGES)
    ]
).run()
