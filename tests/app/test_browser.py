"""The dashboard in a real browser: `streamlit run app.py` on the embedded default, driven by
Debian's Chromium through playwright.

One walk through what a newcomer does: wait for the first sync on Sync health, run a 50-contact
test segment (dry run, then apply, then the report), correct one refused value on the Errors page
and see the error resolved. A screenshot of every page goes to test-artifacts/browser/ (kept by
CI as artefacts; git-ignored). The app gets no credentials, so it starts its own seeded sandbox
and engine; its database, sandbox files and sync.toml are in tmp_path, nothing in the checkout is
touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sync_engine.config import load_config
from sync_engine.inclusion import matches
from sync_engine.runtime import read_env_file
from sync_engine.store import AuditStore
from tests.app.conftest import REPO

pytestmark = [pytest.mark.app, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-quic"]  # fmt: skip
ARTIFACTS = REPO / "test-artifacts" / "browser"
FIRST_SYNC_S = 120
STEP_S = 60
# The engine's and the sandbox's settings must come from tmp_path, never from this process.
INHERITED_OUT = re.compile(r"^(SALESFORCE_|HUBSPOT_|SYNC_|LEADBRIDGE_)")
SYNCING_NOTES = ("Waiting for the first sync", "First sync in progress", "Starting LeadBridge")
LEAD_SOURCES = ("Web", "Webinar", "Trade Show", "Phone Inquiry")  # values mapped to themselves


def _require_chromium() -> None:
    """Skip without Chromium or playwright, except in CI (which installs both): fail there."""
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is not installed (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed"
    if missing and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the browser test: {missing}")
    if missing:
        pytest.skip(missing)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def app(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`streamlit run app.py` in its own process group, killed whatever happens."""
    _require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "sync.toml"
    shutil.copy(REPO / "sync.toml", config)
    env = {k: v for k, v in os.environ.items() if not INHERITED_OUT.match(k)}
    env.update(
        SYNC_DB=str(tmp_path / "sync.duckdb"),
        SYNC_CONFIG=str(config),
        LEADBRIDGE_SANDBOX_DIR=str(tmp_path / "sandbox"),
        LEADBRIDGE_SIMULATE="0.1",
    )
    port = _free_port()
    log = (tmp_path / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, tmp_path / "streamlit.log")
        yield {"url": url, "tmp": tmp_path, "db": Path(env["SYNC_DB"])}
    finally:
        _kill(proc)
        log.close()
        shutil.copy(tmp_path / "streamlit.log", ARTIFACTS / "streamlit.log")


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/_stcore/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    pytest.fail(f"streamlit did not answer within 60 s:\n{log.read_text()[-3000:]}")


def _kill(proc: subprocess.Popen) -> None:
    """The whole process group: streamlit, and any child it started."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


# ------------------------------------------------------------------------------ helpers


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def go(page: Any, title: str) -> None:
    """Open a page from the sidebar and wait for its title, then for its script run to end (a
    widget used while the first run is still going loses its input when the run redraws it)."""
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=STEP_S * 1000)
    settle(page)


def wait_text(page: Any, text: str | re.Pattern[str], *, seconds: float = STEP_S) -> None:
    page.get_by_text(text).first.wait_for(timeout=seconds * 1000)
    settle(page)


def settle(page: Any) -> None:
    """Until the script run ends: while it runs, the last run's elements stay on the page."""
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidgetRunningIcon").wait_for(state="hidden", timeout=STEP_S * 1000)


def wait_first_sync(page: Any) -> None:
    """Until the health page no longer says the first sync is running (it refreshes itself)."""
    deadline = time.monotonic() + FIRST_SYNC_S
    while time.monotonic() < deadline:
        body = page.inner_text("body")
        if "Records synced, last hour" in body and not any(n in body for n in SYNCING_NOTES):
            return
        page.wait_for_timeout(2000)
    shot(page, "00-first-sync-timeout")
    pytest.fail(f"no finished sync on the health page after {FIRST_SYNC_S} s")


def pick(page: Any, label: str, option: str) -> None:
    """Choose an option of a selectbox or multiselect by typing it and pressing Enter (the
    closest match comes first; a long option list re-renders too often to click in)."""
    settle(page)
    box = page.get_by_test_id(re.compile("stSelectbox|stMultiSelect")).filter(has_text=label)
    field = box.locator("input").first
    field.click()
    field.fill(option)
    page.get_by_role("option", name=option).first.wait_for()
    field.press("Enter")


def button(page: Any, name: str | re.Pattern[str]) -> Any:
    return page.get_by_role("button", name=name).first


def refused_lead_source(db: Path, config: Path) -> dict[str, Any]:
    """An open LeadSource refusal of a linked contact the inclusion list pushes (only those
    have their HubSpot values written to Salesforce). The test reads the app's store the way
    any second process does: briefly, retrying on its lock."""
    inclusion = load_config(config).inclusion
    with AuditStore(db).read() as conn:
        rows = conn.execute(
            "SELECT e.error_id, e.object, e.payload->>'sf_id', e.payload->>'hs_id', r.key, "
            "r.payload FROM sync_errors e JOIN records r ON r.system = 'hubspot' "
            "AND r.id = e.payload->>'hs_id' WHERE e.field = 'LeadSource' AND e.status = 'open' "
            "AND e.payload->>'sf_id' IS NOT NULL ORDER BY e.error_id"
        ).fetchall()
    pushed = [r for r in rows if matches(inclusion, json.loads(r[5]))]
    assert pushed, "the default seed plants lead sources Salesforce refuses"
    keys = ("error_id", "sf_object", "sf_id", "hs_id", "email")
    return dict(zip(keys, pushed[0][:5], strict=True))


def salesforce_value(sandbox_dir: Path, sf_object: str, sf_id: str, field: str) -> Any:
    env = read_env_file(sandbox_dir / "sandbox.env")
    session = requests.Session()
    session.trust_env = False
    session.verify = env["SALESFORCE_CA_BUNDLE"]
    response = session.get(
        f"{env['SALESFORCE_INSTANCE_URL']}/services/data/v59.0/sobjects/{sf_object}/{sf_id}",
        headers={"Authorization": f"Bearer {env['SALESFORCE_SESSION_ID']}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()[field]


def error_status(db: Path, error_id: int) -> str:
    with AuditStore(db).read() as conn:
        return conn.execute(
            "SELECT status FROM sync_errors WHERE error_id = ?", [error_id]
        ).fetchone()[0]


# ------------------------------------------------------------------------------ the walk


def test_a_newcomer_syncs_a_segment_and_fixes_an_error(app: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(STEP_S * 1000)
            page.goto(app["url"], timeout=STEP_S * 1000)
            page.get_by_role("heading", name="Sync health").wait_for()
            wait_first_sync(page)
            shot(page, "01-sync-health")
            segment(page)
            fix_an_error(page, app)
            for n, title in enumerate(("Inclusion list", "Field mappings"), start=5):
                go(page, title)
                page.wait_for_timeout(1500)  # charts and tables draw after the title
                shot(page, f"0{n}-{title.lower().replace(' ', '-')}")
            go(page, "Duplicates and conflicts")
            wait_text(page, "Duplicate clusters")
            shot(page, "07-duplicates-and-conflicts")
        except Exception:
            shot(page, "99-failure")
            raise
        finally:
            browser.close()


def segment(page: Any) -> None:
    go(page, "Test segment")
    caption = page.get_by_text(re.compile(r"[\d,]+ qualifying contacts to choose from"))
    if int(caption.first.inner_text().split()[0].replace(",", "")) < 50:
        page.get_by_text("Only contacts not in Salesforce yet").click()
        wait_text(page, re.compile(r"[\d,]+ qualifying contacts to choose from"))
    button(page, "Pick contacts at random").click()
    wait_text(page, "50 contacts chosen")
    button(page, "Dry run 50 contacts").click()
    wait_text(page, re.compile(r"Dry run \(run \d+\): what applying would write"))
    shot(page, "02-segment-dry-run")
    button(page, "Confirm: apply to 50 contacts").click()
    wait_text(page, re.compile(r"Segment report \(run \d+\)"), seconds=120)
    report = page.get_by_test_id("stMetric").filter(has_text="Contacts in the segment")
    assert "50" in report.inner_text()
    page.get_by_text(re.compile(r"Segment report \(run \d+\)")).first.scroll_into_view_if_needed()
    shot(page, "03-segment-report")


def fix_an_error(page: Any, app: dict[str, Any]) -> None:
    error = refused_lead_source(app["db"], app["tmp"] / "sync.toml")
    sandbox_dir = app["tmp"] / "sandbox"
    current = salesforce_value(sandbox_dir, error["sf_object"], error["sf_id"], "LeadSource")
    corrected = next(v for v in LEAD_SOURCES if v != current)  # the next cycle must write it
    go(page, "Errors")
    pick(page, "Error to fix", str(error["error_id"]))
    wait_text(page, f"Error {error['error_id']} (open)")
    page.get_by_text("Edit the value and retry").click()
    page.get_by_label("Corrected value").fill(corrected)
    page.get_by_label("Corrected value").press("Enter")
    button(page, "Confirm: write it to the source record").click()
    wait_text(page, "error retried at the next cycle")
    deadline = time.monotonic() + 120  # the fix wakes the engine: the next cycle starts now
    found = None
    while error_status(app["db"], error["error_id"]) != "resolved" or found != corrected:
        assert time.monotonic() < deadline, (
            f"in 120 s the error did not end resolved with {corrected!r} in Salesforce "
            f"(status {error_status(app['db'], error['error_id'])}, Salesforce holds {found!r})"
        )
        page.wait_for_timeout(2000)
        found = salesforce_value(sandbox_dir, error["sf_object"], error["sf_id"], "LeadSource")
    page.reload()
    page.get_by_role("heading", name="Errors").wait_for()
    pick(page, "Status", "resolved")
    pick(page, "Error to fix", str(error["error_id"]))
    wait_text(page, f"Error {error['error_id']} (resolved)")
    shot(page, "04-errors-resolved")
    go(page, "Record history")
    page.get_by_label("Email").fill(error["email"])
    page.get_by_label("Email").press("Enter")
    wait_text(page, "Timeline")
    shot(page, "08-record-history")
