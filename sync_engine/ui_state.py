"""Every `st.session_state` key the dashboard uses, in one place.

Pages import these names instead of spelling strings, so two pages cannot collide on a key by
accident and a rename is one edit. No Streamlit import here: the engine package stays UI-free.
"""

from __future__ import annotations

# Admin login (sync_engine/access.py): the flag set once the admin password was given (the
# password itself is never kept: its field lives in a form cleared on submit), and that form.
ADMIN_UNLOCKED = "lb_admin_unlocked"
ADMIN_LOGIN_FORM = "lb_admin_login"
ADMIN_PASSWORD_INPUT = "lb_admin_password"

# Inclusion list: the criteria being edited (a list of group dicts) and the save confirmation.
INCLUSION_DRAFT = "lb_inclusion_draft"
INCLUSION_TOP_JOIN = "lb_inclusion_top_join"
INCLUSION_CONFIRM = "lb_inclusion_confirm"

# Field mappings: which object is shown.
MAPPING_OBJECT = "lb_mapping_object"

# Errors: the error picked for a fix, and a pending category retry awaiting confirmation.
ERROR_SELECTED = "lb_error_selected"
ERROR_CONFIRM_CATEGORY = "lb_error_confirm_category"

# Test segment: the chosen HubSpot contact ids, the dry-run plans, the last apply's report.
SEGMENT_IDS = "lb_segment_ids"
SEGMENT_DRY_RUN = "lb_segment_dry_run"
SEGMENT_REPORT = "lb_segment_report"

# Record history: the email looked up.
HISTORY_EMAIL = "lb_history_email"

# One-shot message shown after a rerun ("Saved ...", "Retried 3 errors").
FLASH = "lb_flash"
