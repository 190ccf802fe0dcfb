"""The replay page's timeline, shortcuts and moment links, on a real recorded demo visit."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from sessionlens.storage.engine import make_engine
from tests.browser import chromium
from tests.server import Server, running_server
from tests.test_e2e_browser import ADMIN, api_token, wait_for_session

pytestmark = pytest.mark.browser

TYPED = "Ada Lovelace"
CURRENT_TIME = "() => window.sessionlensPlayer.getReplayer().getCurrentTime()"
TOTAL_TIME = "() => window.sessionlensPlayer.getReplayer().getMetaData().totalTime"
PLAYING = "() => window.sessionlensPlayer.getReplayer().service.state.matches('playing')"


def short_visit(server: Server) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(f"{server.base_url}/demo/")
        page.mouse.move(300, 300, steps=5)
        page.wait_for_timeout(300)
        page.locator(".product-card a").first.click()
        page.wait_for_load_state("load")
        page.wait_for_timeout(1000)
        page.mouse.move(320, 320, steps=3)
        page.wait_for_timeout(6000)  # an inactive span (> 5 s without interaction)
        page.mouse.move(300, 250, steps=3)
        page.locator("#add-to-cart").click()
        page.wait_for_timeout(300)
        page.goto(f"{server.base_url}/demo/checkout")
        page.locator("#name, [name=name]").first.click()
        page.locator("#name, [name=name]").first.press_sequentially(TYPED, delay=20)
        page.locator("[name=email]").first.click()
        page.wait_for_timeout(2500)  # one more flush of the 2 s batcher
        page.close()


def offset_ms(text: str) -> int:
    minutes, seconds = text.split(":")
    return (int(minutes) * 60 + int(seconds)) * 1000


def log_in(page: Page, server: Server, session_id: str) -> None:
    page.goto(f"{server.base_url}/sessions/{session_id}")
    page.fill("#email", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url(f"**/sessions/{session_id}")


def test_timeline_lists_the_visit_and_jumps(tmp_path: Path, database_url: str) -> None:
    with running_server(tmp_path / "server-data", database_url) as server:
        engine = make_engine(database_url)
        try:
            token = api_token(engine)
        finally:
            engine.dispose()
        short_visit(server)
        session_id = wait_for_session(server, token, pages=3)["id"]

        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            log_in(page, server, session_id)
            page.wait_for_selector("#player[data-state=complete]", state="attached", timeout=20_000)
            timeline = page.locator("#timeline li")
            texts = timeline.all_inner_texts()
            pages = [t for t in texts if "Page" in t]
            assert len(pages) >= 3, texts
            assert any("/demo/checkout" in t for t in pages), texts
            assert any("Click" in t and "Add to cart" in t for t in texts), texts
            inputs = [t for t in texts if "typed into" in t]
            assert inputs, texts
            assert any("#name" in t for t in inputs), inputs
            assert len([t for t in inputs if "#name" in t]) == 1, "inputs are not coalesced"
            assert all(TYPED not in t and "Ada" not in t for t in texts), texts
            # Recorded text is only ever text: no markup inside the entries.
            assert page.locator("#timeline li button *:not(span)").count() == 0

            # An entry jumps the player to its moment.
            click = timeline.filter(has_text="Add to cart").first
            wanted = offset_ms(click.locator(".offset").inner_text())
            click.locator("button").click()
            page.wait_for_function(
                f"() => Math.abs(({CURRENT_TIME})() - {wanted}) < 1500", timeout=5_000
            )
            page.wait_for_selector("#timeline li.current", state="attached", timeout=5_000)

            # Space toggles playing, outside of form fields (from the start, so that the
            # replay does not reach its end in between).
            page.evaluate("() => window.sessionlensPlayer.goto(0, false)")
            page.locator("h1").click()
            assert not page.evaluate(PLAYING)
            page.keyboard.press("Space")
            page.wait_for_function(f"() => ({PLAYING})() === true")
            page.keyboard.press("Space")
            page.wait_for_function(f"() => ({PLAYING})() === false")
            # Arrows move 5 s.
            total = page.evaluate(TOTAL_TIME)
            assert total > 6000, total
            # The inactive span is marked on the progress bar.
            page.wait_for_selector("#player .rr-progress .sl-inactive", state="attached")
            step = min(5000, total)
            page.evaluate("() => window.sessionlensPlayer.goto(0, false)")
            page.keyboard.press("ArrowRight")
            page.wait_for_function(f"() => Math.abs(({CURRENT_TIME})() - {step}) < 1000")

            # Link to this moment.
            page.locator("#moment-link").click()
            link = page.locator("#moment-url").input_value()
            seconds = int(page.evaluate(CURRENT_TIME)) // 1000
            assert link == f"{server.base_url}/sessions/{session_id}?t={seconds}"
            assert not errors, errors

            # A link with ?t=3 starts the replay near 3 s.
            page.goto(f"{server.base_url}/sessions/{session_id}?t=3")
            page.wait_for_selector("#player[data-state=complete]", state="attached", timeout=20_000)
            now = page.evaluate(CURRENT_TIME)
            assert abs(now - 3000) < 1000, now
            # An invalid t is ignored.
            page.goto(f"{server.base_url}/sessions/{session_id}?t=-4")
            page.wait_for_selector("#player[data-state=complete]", state="attached", timeout=20_000)
            assert page.evaluate(CURRENT_TIME) < 1000
            assert not errors, errors
