"""LeadBridge: a HubSpot <-> Salesforce sync engine with a DuckDB audit store.

The package never imports Streamlit: the dashboard (`app.py`, `pages/`) calls into it.
"""

__version__ = "0.1.0"
