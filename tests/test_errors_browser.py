"""JavaScript errors and page timing recorded in chromium, stored, and shown in the replay's
console panel (the test pages and servers of test_privacy_browser)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Browser
from sqlalchemy import select

from sessionlens.storage.tables import pageview, session_error
from sessionlens.storage.tables import session as session_table
from tests.test_privacy_browser import (  # noqa: F401 - the fixtures are used by name
    Stack,
    browser,
    everything_stored,
    make_project,
    mark_and_wait,
    stack,
    visit,
    wait_status,
)
from tests.test_timeline_browser import offset_ms

pytestmark = pytest.mark.browser

CARD = "4111 1111 1111 1111"
CURRENT_TIME = "() => window.sessionlensPlayer.getReplayer().getCurrentTime()"
BREAK_THINGS = (
    """() => {
  const link = 'https://api.example/x?token=SECRET-TOKEN';
  setTimeout(() => { throw new TypeError('BOOM-UNCAUGHT see ' + link); }, 0);
  Promise.reject(new Error('BOOM-REJECTED'));
  console.error('BOOM-CONSOLE', {card: 'CARD', typed: 'TYPED-VALUE'}, 42, 'card CARD');
  for (let i = 0; i < 12; i++) console.error('BOOM-REPEATED');
}"""
).replace("CARD", CARD)


def errors_sent(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e["data"]["payload"]
        for e in events
        if e["type"] == 5 and e["data"]["tag"] == "sessionlens.error"
    ]


def test_errors_and_timing_are_recorded_scrubbed_and_shown(
    stack: Stack,  # noqa: F811 - the fixture
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    project = make_project(stack)
    url = f"{stack.site}/{project.ingest_key}/shop/plain.html"
    with visit(browser, stack, project.ingest_key) as (context, traffic):
        page = context.new_page()
        logged: list[str] = []
        page.on("console", lambda m: m.type == "error" and logged.append(m.text))
        page.goto(url)
        wait_status(page, "recording")
        page.evaluate(BREAK_THINGS)
        page.wait_for_timeout(2000)
        page.evaluate("() => console.error('BOOM-LATE')")
        page.locator("#name").click()  # the first input: the timing is final and is sent
        mark_and_wait(page, traffic, "after-errors")
        events = traffic.events()
        # The page's own console still gets its errors.
        assert any("BOOM-CONSOLE" in line for line in logged), logged

    sent = errors_sent(events)
    kinds = {p["message"].split(" ")[0].split(":")[0]: p["kind"] for p in sent}
    assert kinds["TypeError"] == "error"
    assert kinds["Error"] == "rejection"
    assert kinds["BOOM-CONSOLE"] == "console"
    uncaught = next(p for p in sent if p["kind"] == "error")
    assert "BOOM-UNCAUGHT" in uncaught["message"]
    assert uncaught["stack"]
    console = next(p for p in sent if p["message"].startswith("BOOM-CONSOLE"))
    assert console["message"].startswith("BOOM-CONSOLE [Object] 42 card ")
    assert len([p for p in sent if p["message"] == "BOOM-REPEATED"]) == 5  # capped per page
    body = json.dumps(events)
    for secret in ("SECRET-TOKEN", "TYPED-VALUE", CARD, CARD.replace(" ", "")):
        assert secret not in body, f"{secret} was sent"
    timings = [
        e["data"]["payload"]
        for e in events
        if e["type"] == 5 and e["data"]["tag"] == "sessionlens.timing"
    ]
    assert len(timings) == 1, timings
    assert timings[0]["href"] == url
    assert timings[0]["ttfb"] is not None
    assert timings[0]["dcl"] >= timings[0]["ttfb"]

    stored = everything_stored(stack, project)
    for secret in ("SECRET-TOKEN", "TYPED-VALUE", CARD.replace(" ", "")):
        assert secret.encode() not in stored
    with stack.engine.connect() as conn:
        row = conn.execute(
            select(session_table.c.id, session_table.c.errors).where(
                session_table.c.project_id == project.id
            )
        ).one()
        stored_errors = conn.execute(
            select(session_error.c.kind).where(session_error.c.session_id == row.id)
        ).all()
        ttfb = conn.execute(
            select(pageview.c.ttfb_ms).where(pageview.c.session_id == row.id)
        ).scalar_one()
    assert row.errors == len(sent) == len(stored_errors) == 9
    assert ttfb is not None
    assert ttfb >= 0

    # The replay's console panel lists them; an entry moves the player to its moment.
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto(f"{stack.server.base_url}/sessions/{row.id}")
        page.fill("#email", "owner@example.com")
        page.fill("#password", "owner pass 123")
        page.click("button[type=submit]")
        page.wait_for_url(f"**/sessions/{row.id}")
        page.wait_for_selector("#player[data-state=complete]", state="attached", timeout=20_000)
        panel = page.locator("#console")
        assert panel.is_visible()
        assert panel.locator(".count").inner_text() == "9"
        panel.locator("summary").click()
        lines = panel.locator("li").all_inner_texts()
        assert any("BOOM-REJECTED" in line for line in lines), lines
        assert page.locator("#timeline li.tl-error").count() == 9
        page.evaluate("() => window.sessionlensPlayer.goto(0, false)")
        late = panel.locator("li", has_text="BOOM-LATE")
        wanted = offset_ms(late.locator(".offset").inner_text())
        assert wanted >= 1000
        late.locator("button").click()
        page.wait_for_function(
            f"() => Math.abs(({CURRENT_TIME})() - {wanted}) < 1500", timeout=5_000
        )
        assert not problems, problems
    finally:
        context.close()
