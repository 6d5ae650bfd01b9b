"""Sync health (home): is the engine running, how much and how fast it syncs, what it refused,
how much API budget it used; with pause and resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from pages._common import (
    access_sidebar,
    actor,
    cached_api_usage,
    cached_changes_over_time,
    cached_errors_over_time,
    cached_runs,
    cached_status,
    cached_throughput,
    clear_reads,
    db,
    first_sync_note,
    literal,
    read_only_note,
    runtime,
    show_flash,
)
from sync_engine import fixes

MODES = {"sandbox": "sandbox", "live": "live orgs", "none": "none set"}

st.title("Sync health")
access_sidebar()
show_flash()
rt = runtime()
if rt.problem:
    st.error(f"The engine cannot run: {literal(rt.problem)}")


def _ago(moment: datetime | None) -> str:
    if moment is None or pd.isna(moment):
        return "never"
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    return f"{seconds} s ago" if abs(seconds) < 120 else f"{seconds // 60} min ago"


def _latency(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds:,.1f} s"


def engine_panel() -> None:
    state = rt.status()
    paused = bool(state.get("paused"))
    where = "in this dashboard" if state["role"] == "engine" else "in another process"
    label = state["label"]
    cols = st.columns(4)
    cols[0].metric("Engine", label, help=f"Cycles run {where}; {state['mode']} systems.")
    nxt = state.get("next_cycle_at")
    cols[1].metric("Next cycle", "—" if paused or nxt is None else nxt.strftime("%H:%M:%S UTC"))
    cols[2].metric("Last heartbeat", _ago(state.get("heartbeat_at")))
    cols[3].metric("Systems", MODES[state["mode"]])
    if paused:
        st.warning(
            f"Paused by {literal(state.get('changed_by') or 'someone')}"
            + (f": {literal(state['paused_reason'])}" if state.get("paused_reason") else "")
        )
    if state.get("last_error"):
        st.warning(f"The last cycle failed and will be retried: {literal(state['last_error'])}")
    if state.get("stopped_reason"):
        st.error(f"The engine stopped: {literal(state['stopped_reason'])}")
    locked = read_only_note(actor())
    with st.popover("Resume sync" if paused else "Pause sync", disabled=locked):
        reason = st.text_input("Reason (shown to others)", key="pause_reason")
        verb = "resume" if paused else "pause"
        if st.button(
            f"Confirm: {verb} the sync", type="primary", key="pause_confirm", disabled=locked
        ):
            fixes.set_paused(rt, not paused, actor=actor(), reason=reason)
            clear_reads()
            st.rerun()


@st.fragment(run_every=timedelta(seconds=10))
def live_figures() -> None:
    path = db()
    engine_panel()
    first_sync_note(path)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    hour = cached_throughput(path, now - timedelta(hours=1))
    day = cached_throughput(path, now - timedelta(days=1))
    st.subheader("Records synced and latency")
    cols = st.columns(4)
    cols[0].metric("Records synced, last hour", f"{hour['records']:,}")
    cols[1].metric("Records synced, last 24 h", f"{day['records']:,}")
    cols[2].metric(
        "Latency last hour (median / p95)",
        f"{_latency(hour['latency_median_s'])} / {_latency(hour['latency_p95_s'])}",
        help="From the edit in one system to the write in the other, over "
        f"{hour['latency_samples']:,} writes of records edited while the sync ran.",
    )
    cols[3].metric(
        "Latency last 24 h (median / p95)",
        f"{_latency(day['latency_median_s'])} / {_latency(day['latency_p95_s'])}",
        help=f"Over {day['latency_samples']:,} writes.",
    )
    summary = cached_status(path)
    left, right = st.columns(2)
    with left:
        st.subheader("Open errors by category")
        errors = summary["open_errors"]
        if errors:
            frame = pd.DataFrame({"category": list(errors), "open errors": list(errors.values())})
            st.dataframe(frame, hide_index=True)
            st.page_link("pages/errors.py", label="Fix them on the Errors page")
        else:
            st.success("No open errors.")
    with right:
        st.subheader("API usage today")
        usage = summary["api_usage_today"]
        if not usage:
            st.info("No API call recorded yet: the first cycle records them.")
        for system, figures in usage.items():
            limit, used = figures.get("daily_limit"), figures.get("used_today")
            if limit:
                st.progress(
                    min(1.0, (used or 0) / limit),
                    text=f"{system}: {used or 0:,} of {limit:,} calls today "
                    f"({figures['calls']:,} by LeadBridge)",
                )
            else:
                st.text(f"{system}: {figures['calls']:,} calls by LeadBridge (cap not reported)")


@st.fragment(run_every=timedelta(seconds=30))
def charts() -> None:
    path = db()
    since = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    st.subheader("Activity over the last 24 hours")
    runs = cached_runs(path, since)
    changes = cached_changes_over_time(path, since, "minute")
    errors = cached_errors_over_time(path, since, "minute")
    calls = cached_api_usage(path, since, "minute")
    if runs.empty:
        st.info("No run in the last 24 hours yet: charts appear after the first cycle.")
        return
    left, right = st.columns(2)
    left.plotly_chart(
        px.bar(
            runs,
            x="started_at",
            y="records_written",
            color="status",
            title="Runs: records written per run",
            labels={"started_at": "Run start (UTC)", "records_written": "Records written"},
        )
    )
    right.plotly_chart(
        px.bar(
            changes,
            x="bucket",
            y="changes",
            color="direction",
            title="Field changes written per minute",
            labels={"bucket": "Minute (UTC)", "changes": "Field changes per minute"},
        )
    )
    left, right = st.columns(2)
    left.plotly_chart(
        px.bar(
            errors,
            x="bucket",
            y="errors",
            color="category",
            title="New errors per minute",
            labels={"bucket": "Minute (UTC)", "errors": "Errors first seen per minute"},
        )
    )
    right.plotly_chart(
        px.bar(
            calls,
            x="bucket",
            y="calls",
            color="system",
            title="API calls per minute",
            labels={"bucket": "Minute (UTC)", "calls": "API calls per minute"},
        )
    )


live_figures()
charts()
