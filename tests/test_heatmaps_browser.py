"""Heatmaps in chromium: clicks recorded on the demo shop, then the heatmap page rebuilds the
product page in a sandboxed iframe, draws the heat on its canvas, and clicking the hot
button lists the session that clicked it, linked to the moment."""

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

PATTERN = "/demo/products/*"


def clicks_on_the_shop(server: Server) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{server.base_url}/demo/")
        page.locator(".product-card a").first.click()
        page.wait_for_load_state("load")
        page.wait_for_function("() => window.sessionlens && sessionlens.status() === 'recording'")
        page.mouse.move(200, 200, steps=8)
        for _ in range(3):
            page.locator("#zoom").click()
            page.wait_for_timeout(700)
        page.mouse.wheel(0, 900)
        page.wait_for_timeout(600)
        page.mouse.move(400, 300, steps=8)
        page.wait_for_timeout(2500)  # the 2 s batcher sends what is left
        page.close()


def wait_for_clicks(server: Server, token: str) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    projects = httpx.get(f"{server.base_url}/api/v1/projects", headers=headers).json()
    project_id = projects["projects"][0]["id"]
    deadline = time.monotonic() + 40
    data: dict[str, Any] = {}
    while time.monotonic() < deadline:
        data = httpx.get(
            f"{server.base_url}/api/v1/projects/{project_id}/heatmaps/clicks",
            params={"url": PATTERN},
            headers=headers,
        ).json()
        if data.get("total", 0) >= 3:
            break
        time.sleep(0.5)
    assert data.get("total", 0) >= 3, data
    return project_id, data


def test_click_heatmap_is_drawn_over_the_rebuilt_page(tmp_path: Path, database_url: str) -> None:
    with running_server(tmp_path / "server-data", database_url) as server:
        engine = make_engine(database_url)
        try:
            token = api_token(engine)
        finally:
            engine.dispose()
        clicks_on_the_shop(server)
        project_id, data = wait_for_clicks(server, token)
        zoom = next(e for e in data["elements"] if e["selector"].endswith("#zoom"))
        assert zoom["clicks"] == 3
        headers = {"Authorization": f"Bearer {token}"}
        listing = httpx.get(
            f"{server.base_url}/api/v1/projects/{project_id}/sessions", headers=headers
        ).json()
        session_id = listing["sessions"][0]["id"]
        scroll = httpx.get(
            f"{server.base_url}/api/v1/projects/{project_id}/heatmaps/scroll",
            params={"url": PATTERN},
            headers=headers,
        ).json()
        assert scroll["views"] == 1
        assert scroll["bands"][-1]["views"] <= scroll["bands"][0]["views"]

        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            log_in(page, server, session_id)
            page.goto(f"{server.base_url}/projects/{project_id}/heatmaps?url={PATTERN}")
            page.wait_for_selector("#heatmap[data-state=drawn]", state="attached", timeout=20_000)
            frame = page.locator("#heatmap iframe")
            # recorded content cannot run script: only allow-same-origin, as in the replay
            assert frame.get_attribute("sandbox") == "allow-same-origin"
            canvas = page.locator("#heatmap canvas")
            assert int(canvas.get_attribute("data-drawn") or 0) > 0
            assert int(canvas.get_attribute("data-elements-found") or 0) > 0
            painted = page.evaluate(
                """() => {
                  const c = document.querySelector('#heatmap canvas');
                  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let n = 0;
                  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
                  return n;
                }"""
            )
            assert painted > 100, painted
            # Click the hot button where the rebuilt page shows it (the canvas is on top).
            point = page.evaluate(
                """() => {
                  const iframe = document.querySelector('#heatmap iframe');
                  const box = iframe.contentDocument.querySelector('#zoom').getBoundingClientRect();
                  const at = () => {
                    const outer = iframe.getBoundingClientRect();
                    const scale = outer.width / iframe.offsetWidth;
                    return [outer.left + (box.left + box.width / 2) * scale,
                            outer.top + (box.top + box.height / 2) * scale];
                  };
                  window.scrollBy(0, at()[1] - window.innerHeight / 2);
                  return at();
                }"""
            )
            page.mouse.click(point[0], point[1])
            page.wait_for_selector("#element-sessions[data-loaded]", timeout=10_000)
            link = page.locator("#element-sessions .session-links a").first
            href = link.get_attribute("href") or ""
            assert href.startswith(f"/sessions/{session_id}?t=")
            assert "3 clicks" in link.inner_text()

            for kind in ("moves", "scroll", "attention"):
                page.goto(
                    f"{server.base_url}/projects/{project_id}/heatmaps?kind={kind}&url={PATTERN}"
                )
                page.wait_for_selector(
                    "#heatmap[data-state=drawn]", state="attached", timeout=20_000
                )
                assert int(canvas.get_attribute("data-drawn") or 0) > 0, kind
            assert not errors, errors
