"""Field mappings: per object, each mapping's direction and rule (editable, validated against
both schemas before saving), the value maps, and the picklist compatibility report."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from pages._common import (
    access_sidebar,
    actor,
    flash,
    literal,
    read_only_note,
    runtime,
    schema,
    show_flash,
)
from sync_engine import fixes, ui_state
from sync_engine.models import Direction, Rule

st.title("Field mappings")
show_flash()
locked = read_only_note(access_sidebar())
rt = runtime()
if rt.engine is None:
    st.error("No configuration loaded: see Sync health.")
    st.stop()
config = rt.engine.config
names = [o.name for o in config.objects]
obj_name = st.selectbox("Object", names, key=ui_state.MAPPING_OBJECT)
obj = config.object(obj_name)
st.caption(obj.note)
rows = [
    {"#": i, "hubspot": m.hubspot, "salesforce": m.salesforce,
     "salesforce objects": ", ".join(m.salesforce_objects) or "all", "direction": str(m.direction),
     "rule": str(m.rule), "value map": m.value_map or "", "transform": str(m.transform),
     "note": m.note}
    for i, m in enumerate(obj.fields)
]  # fmt: skip
st.dataframe(rows, hide_index=True)

st.subheader("Edit a mapping")
index = st.selectbox(
    "Mapping",
    range(len(obj.fields)),
    format_func=lambda i: f"{obj.fields[i].hubspot} ↔ {obj.fields[i].salesforce}",
    key="map_pick",
)
current = obj.fields[index]
cols = st.columns(3)
directions = [d.value for d in Direction]
rules = [r.value for r in Rule]
direction = cols[0].selectbox(
    "Direction", directions, index=directions.index(current.direction.value), key="map_dir"
)
rule = cols[1].selectbox("Rule", rules, index=rules.index(current.rule.value), key="map_rule")
sf_field = cols[2].text_input("Salesforce field", value=current.salesforce, key="map_sf")
edited = replace(
    current, direction=Direction(direction), rule=Rule(rule), salesforce=sf_field.strip()
)
if edited != current:
    with st.popover("Save mapping", disabled=locked):
        st.text(f"{current.hubspot}: {current.direction} / {current.rule} -> {direction} / {rule}")
        if st.button("Confirm: save to sync.toml", type="primary", key="map_save", disabled=locked):
            outcome = fixes.save_mapping(rt, obj_name, index, edited, actor=actor())
            if outcome.ok:
                flash(outcome.message)
                st.rerun()
            st.error(literal(outcome.message))

st.subheader("Value maps")
used = sorted({n for m in obj.fields for n in m.value_map_names})
if not used:
    st.info("No value map on this object's mappings.")
for name in used:
    value_map = config.value_map(name)
    with st.expander(f"{name} ({len(value_map.to_salesforce)} entries)"):
        st.text(value_map.note)
        st.dataframe(
            [{"HubSpot": h, "Salesforce": s} for h, s in value_map.to_salesforce], hide_index=True
        )
        cols = st.columns(3)
        hs_value = cols[0].text_input("HubSpot value", key=f"vm_{name}_hs")
        sf_value = cols[1].text_input("Salesforce value", key=f"vm_{name}_sf")
        if cols[2].button("Add entry", key=f"vm_{name}_add", disabled=locked):
            outcome = fixes.add_value_map_entry(rt, name, hs_value, sf_value, actor=actor())
            if outcome.ok:
                flash(outcome.message)
                st.rerun()
            st.error(literal(outcome.message))

st.subheader("Picklist compatibility")
info = schema()
if info is None:
    st.info("The systems' schema is needed for this report: see Sync health.")
    st.stop()
report = fixes.picklist_report(config, obj, info.sf_fields, info.hs_properties)
if report.empty:
    st.success("Every HubSpot option of this object's picklist fields has a Salesforce value.")
else:
    st.caption("HubSpot values Salesforce would reject (no map entry, not in the picklist):")
    st.dataframe(
        report.style.apply(
            lambda r: ["background-color: #fde2e1" if not r["accepted"] else "" for _ in r],
            axis=1,
        ),
        hide_index=True,
    )

st.subheader("Integration user")
st.caption(
    "LeadBridge recognises its own writes by the Salesforce user it runs as: use a dedicated "
    "API-only user, not a person's account."
)
if st.button("Check the integration user", key="check_integration_user"):
    with st.spinner("Asking Salesforce who LeadBridge runs as..."):
        report = rt.engine.integration_user_report()
    st.text(f"{report.name} <{report.email}>, profile {report.profile or 'unknown'}")
    for warning in report.warnings:
        st.warning(literal(warning))
    if report.dedicated:
        st.success("A dedicated integration user.")
    st.dataframe(
        [
            {
                "object": row.object,
                "records it can see": row.visible_records,
                "can create": row.createable,
                "mapped fields it may not edit": ", ".join(row.not_editable) or "none",
            }
            for row in report.access
        ],
        hide_index=True,
    )
