"""Rage and dead clicks produced in chromium on the demo shop, found by the processor, on
the API and on the replay's timeline; the quantity stepper and "Add to cart" are not."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from sessionlens.storage.engine import make_engine
from tests.browser import chromium
from tests.server import Server, running_server
from tests.test_e2e_browser import api_token
from tests.test_timeline_browser import log_in

pytestmark = pytest.mark.browser


def struggle_on_the_shop(server: Server) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{server.base_url}/demo/")
        page.locator(".product-card a").first.click()
        page.wait_for_load_state("load")
        page.wait_for_function("() => window.sessionlens && sessionlens.status() === 'recording'")
        page.wait_for_timeout(500)
        zoom = page.locator("#zoom")
        for _ in range(4):  # the button that does nothing, clicked fast: rage and dead
            zoom.click(delay=10)
            page.wait_for_timeout(120)
        page.wait_for_timeout(1500)
        plus = page.locator("[data-qty-step='1']")
        for _ in range(3):  # a stepper: each click changes the quantity
            plus.click(delay=10)
            page.wait_for_timeout(120)
        page.wait_for_timeout(1500)
        for _ in range(3):  # "Add to cart" answers each click
            page.locator("#add-to-cart").click(delay=10)
            page.wait_for_timeout(150)
        page.wait_for_timeout(1500)
        page.mouse.move(200, 300, steps=5)
        page.goto(f"{server.base_url}/demo/cart")
        page.mouse.move(300, 300, steps=5)
        page.wait_for_timeout(2500)  # the 2 s batcher sends what is left
        page.close()


def wait_for_signals(server: Server, token: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    projects = httpx.get(f"{server.base_url}/api/v1/projects", headers=headers).json()
    project_id = projects["projects"][0]["id"]
    deadline = time.monotonic() + 40
    detail: dict[str, Any] = {}
    while time.monotonic() < deadline:
        listing = httpx.get(
            f"{server.base_url}/api/v1/projects/{project_id}/sessions", headers=headers
        ).json()
        if listing["sessions"] and listing["sessions"][0]["rage_clicks"] > 0:
            sid = listing["sessions"][0]["id"]
            detail = httpx.get(f"{server.base_url}/api/v1/sessions/{sid}", headers=headers).json()
            if detail["pages"] >= 3:
                break
        time.sleep(0.5)
    assert detail, "no rage click was found"
    return detail


def test_rage_and_dead_clicks_on_the_demo_shop(tmp_path: Path, database_url: str) -> None:
    with running_server(tmp_path / "server-data", database_url) as server:
        engine = make_engine(database_url)
        try:
            token = api_token(engine)
        finally:
            engine.dispose()
        struggle_on_the_shop(server)
        detail = wait_for_signals(server, token)
        signals = [(s["kind"], s["selector"]) for s in detail["signals"]]
        assert ("rage_click", "button#zoom") in signals, signals
        assert ("dead_click", "button#zoom") in signals, signals
        assert detail["rage_clicks"] == 1, signals
        # The stepper and "Add to cart" answered every click: neither rage nor dead.
        selectors = " ".join(selector for _, selector in signals)
        assert "qty" not in selectors, signals
        assert "add-to-cart" not in selectors, signals
        assert detail["struggle_score"] >= 15 + 8

        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            log_in(page, server, detail["id"])
            page.wait_for_selector("#player[data-state=complete]", state="attached", timeout=20_000)
            rage = page.locator("#timeline li.tl-signal-rage_click")
            assert rage.count() == 1
            assert "button#zoom" in rage.inner_text()
            assert page.locator("#timeline li.tl-signal-dead_click").count() >= 1
            assert page.locator("#struggle tr[data-kind=rage_click]").count() == 1
            assert not problems, problems
