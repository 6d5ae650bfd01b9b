"""Hostile records in both systems, planted through the real APIs as people would: every one is
synced or refused with an error naming the record, the field and the fix; nothing crashes; the
dashboard shows every value as typed (no Markdown or HTML from data is rendered)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from streamlit.testing.v1 import AppTest

from sync_engine.connectors.salesforce import soql_quote
from sync_engine.engine import SyncEngine
from tests.reliability.conftest import Pair, dashboard_env, open_page, start_pair

pytestmark = pytest.mark.reliability

SCRIPT = "<script>alert(1)</script>"
BOLD = "**bold**"
MARKUP = (SCRIPT, BOLD, "[click](javascript:alert(1))", "<img src=x onerror=alert(1)>")

# Names as people type or paste them: quotes, backslashes, scripts, emoji, right-to-left text
# (with a right-to-left override), a null byte, Markdown, HTML.
NAMES = (
    "O'Brien",
    'Zoë "Zee" Łukasiewicz',
    "🦄 Unicorn 🚀",
    "محمد\u202eevil",
    "שָׁלוֹם",
    SCRIPT,
    BOLD,
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "back\\slash\\",
    "nul\x00byte",
    "' OR Id != null --",
)
# Emails of odd valid and invalid forms, as typed into HubSpot (which accepts some that
# Salesforce refuses: those must come back as errors, never as a crash or a silent drop).
EMAILS = (
    "Jo.Plus+events@Example.COM",
    "  spaced.out@example.com  ",
    "double..dot@example.com",
    "trailing.@example.com",
    ".leading@example.com",
    "user@bücher.de",
    "Ünï@exämple.com",
    "o'brien@example.com",
)
REFUSED_BY_BOTH = ("no-at.example.com", "two@@example.com", "a b@example.com", "")


@dataclass
class Hostile:
    pair: Pair
    engine: SyncEngine
    hs_ids: dict[str, str] = field(default_factory=dict)  # what was planted -> HubSpot id
    sf_ids: dict[str, str] = field(default_factory=dict)  # what was planted -> Lead id
    api_refusals: dict[str, Any] = field(default_factory=dict)
    reports: list[Any] = field(default_factory=list)


def _hs_create(pair: Pair, token: str, properties: dict[str, str]) -> requests.Response:
    return requests.post(
        f"{pair.env.hubspot_url}/crm/v3/objects/contacts",
        json={"properties": properties},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


def _sf_create(pair: Pair, token: str, fields: dict[str, Any]) -> requests.Response:
    return pair.sf_session().post(
        f"{pair.env.salesforce_url}/services/data/v59.0/sobjects/Lead",
        json=fields,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


def _plant(pair: Pair, out: Hostile) -> None:
    marketer = pair.person("hubspot", "marketer")["token"]
    rep = pair.person("salesforce", "rep")["token"]
    mql = {"lifecyclestage": "marketingqualifiedlead"}
    for i, name in enumerate(NAMES):
        made = _hs_create(
            pair,
            marketer,
            {"email": f"hs{i}@example.com", "firstname": name, "lastname": name, **mql},
        )
        assert made.status_code == 201, made.text
        out.hs_ids[name] = made.json()["id"]
        lead = {"Email": f"sf{i}@example.com", "LastName": name, "Company": name}
        made = _sf_create(pair, rep, {**lead, "FirstName": name[:40], "Title": name})
        assert made.status_code == 201, made.text
        out.sf_ids[name] = made.json()["id"]
    for email in EMAILS:
        made = _hs_create(pair, marketer, {"email": email, "lastname": "Email", **mql})
        assert made.status_code == 201, made.text
        out.hs_ids[email] = made.json()["id"]
    # Longest values each system takes, into fields far shorter in the other one.
    made = _hs_create(
        pair,
        marketer,
        {"email": "long@example.com", "lastname": "Long", "city": "c" * 65_536, **mql},
    )
    out.hs_ids["long city"] = made.json()["id"]
    made = _sf_create(
        pair, rep, {"Email": "long@sf.example.com", "LastName": "L" * 80, "Company": "C"}
    )
    out.sf_ids["long name"] = made.json()["id"]
    # What the APIs themselves refuse never reaches the sync.
    for email in REFUSED_BY_BOTH[:-1]:
        out.api_refusals[f"hs {email}"] = _hs_create(pair, marketer, {"email": email})
        out.api_refusals[f"sf {email}"] = _sf_create(
            pair, rep, {"Email": email, "LastName": "X", "Company": "C"}
        )
    out.api_refusals["hs 100k"] = _hs_create(
        pair, marketer, {"email": "huge@example.com", "city": "n" * 100_000}
    )
    out.api_refusals["sf 100k"] = _sf_create(
        pair, rep, {"LastName": "Huge", "Company": "C", "Description": "n" * 100_000}
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    pair = start_pair(tmp_path_factory.mktemp("hostile"), seed="empty")
    try:
        out = Hostile(pair=pair, engine=pair.engine())
        _plant(pair, out)
        out.reports.append(out.engine.run_once())
        out.reports.append(out.engine.run_once())
        yield out
    finally:
        pair.sandbox.stop()


def _rows(engine: SyncEngine, sql: str, params: list[Any] | None = None) -> list[tuple]:
    with engine.store.read() as conn:
        return conn.execute(sql, params or []).fetchall()


def test_the_apis_refuse_what_the_real_ones_refuse(hostile: Hostile) -> None:
    codes = {}
    for what, response in hostile.api_refusals.items():
        assert response.status_code == 400, (what, response.text)
        body = response.json()
        codes[what] = body[0]["errorCode"] if what.startswith("sf") else body["category"]
    assert codes["sf 100k"] == "STRING_TOO_LONG"  # Description is a 32,000-character text area
    assert codes["hs 100k"] == "VALIDATION_ERROR"  # HubSpot values stop at 65,536 characters
    assert {codes[f"sf {e}"] for e in REFUSED_BY_BOTH[:-1]} == {"INVALID_EMAIL_ADDRESS"}


def test_every_hostile_record_is_synced_or_refused_with_record_field_and_fix(
    hostile: Hostile,
) -> None:
    assert [r.status for r in hostile.reports] and all(
        r.message is None or "Traceback" not in r.message for r in hostile.reports
    )
    linked_hs = {r[0] for r in _rows(hostile.engine, "SELECT hs_id FROM id_links")}
    linked_sf = {r[0] for r in _rows(hostile.engine, "SELECT sf_id FROM id_links")}
    errors = _rows(
        hostile.engine,
        "SELECT record_id, field, message, suggested_fix FROM sync_errors "
        "WHERE object IN ('contacts', 'Lead', 'Contact')",
    )
    refused = {rid: (fld, msg, fix) for rid, fld, msg, fix in errors}
    for planted, hs_id in hostile.hs_ids.items():
        assert hs_id in linked_hs or hs_id in refused, f"{planted!r} was neither synced nor refused"
    for planted, sf_id in hostile.sf_ids.items():
        assert sf_id in linked_sf, f"Lead {planted!r} did not reach HubSpot"
    for rid, (fld, msg, fix) in refused.items():
        assert fld and fix and rid in msg, (rid, fld, msg, fix)
    # The 65,536-character city cannot fit a Lead's 40: the Lead is made without it, and the
    # error says which field, why, and what to do.
    city = refused[hostile.hs_ids["long city"]]
    assert city[0] == "City" and "65536 characters exceed the field's 40" in city[1]
    assert hostile.hs_ids["long city"] in linked_hs


def test_values_arrive_exactly_as_typed_and_match_by_quoted_soql(hostile: Hostile) -> None:
    pair = hostile.pair
    for name in NAMES:
        leads = pair.soql(f"SELECT Id, FirstName, LastName FROM Lead WHERE LastName {_q(name)}")
        # One planted by the rep, one pushed from HubSpot (O'Brien in a SOQL filter included).
        assert {r["LastName"] for r in leads} == {name} and len(leads) == 2, name
        hs_id = next(row[0] for row in _links(hostile) if row[1] in {r["Id"] for r in leads})
        assert pair.hs_contact(hs_id, "lastname")["properties"]["lastname"] == name


def _q(value: str) -> str:
    """= soql_quote(value); a null byte, which a SOQL literal cannot carry, matched by LIKE's
    one-character wildcard instead."""
    if "\x00" in value:
        return "LIKE " + soql_quote(value.replace("\x00", "_"))
    return "= " + soql_quote(value)


def _links(hostile: Hostile) -> list[tuple]:
    return _rows(hostile.engine, "SELECT hs_id, sf_id FROM id_links")


def test_a_second_cycle_finds_nothing_to_write(hostile: Hostile) -> None:
    """Hostile values compare equal to themselves after a round trip: no loop, no rewrite."""
    assert hostile.reports[-1].records_written == 0


# ------------------------------------------------------------------ the dashboard


_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def _markdown_bodies(at: AppTest) -> list[str]:
    """The text of every element Streamlit renders as Markdown, widget labels included."""
    bodies: list[str] = []
    for kind in ("markdown", "caption", "title", "header", "subheader"):
        bodies += [e.value for e in getattr(at, kind)]
    for kind in ("error", "warning", "info", "success"):
        bodies += [e.value for e in getattr(at, kind)]
    for kind in ("button", "selectbox", "multiselect", "text_input", "expander", "metric"):
        bodies += [str(getattr(e, "label", "")) for e in getattr(at, kind)]
    return bodies


@pytest.fixture(scope="module")
def dashboard(hostile: Hostile) -> Iterator[None]:
    with hostile.engine.store.write() as tx:  # a person pauses with a hostile reason
        tx.set_paused(True, actor=BOLD, reason=f"{SCRIPT} {BOLD} [click](javascript:alert(1))")
    with dashboard_env(hostile.pair, hostile.engine.store.path):
        yield


@pytest.mark.parametrize(
    ("page", "search"),
    [
        ("pages/health.py", None),
        ("pages/errors.py", None),
        ("pages/history.py", "hs6@example.com"),
        ("pages/duplicates.py", None),
        ("pages/inclusion.py", None),
    ],
)
def test_the_dashboard_shows_hostile_values_as_typed(
    hostile: Hostile, dashboard: None, page: str, search: str | None
) -> None:
    at = open_page(page)
    if search is not None:
        at.text_input[0].input(search).run()
    assert not at.exception, [e.value for e in at.exception]
    for body in _markdown_bodies(at):
        for markup in MARKUP:
            assert markup not in body, f"{page} renders {markup!r} as Markdown in {body[:200]!r}"
    shown = " ".join(
        [_UNESCAPE.sub(r"\1", b) for b in _markdown_bodies(at)]
        + [e.value for e in at.text]
        + [df.value.to_csv() for df in at.dataframe]
    )
    if page == "pages/health.py":  # the pause reason, as typed
        assert SCRIPT in shown and BOLD in shown
    if page == "pages/history.py":  # the person's names, as typed, in the timeline
        assert BOLD in shown
