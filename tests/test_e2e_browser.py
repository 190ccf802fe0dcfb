"""A real visit to the demo shop in headless chromium, recorded, stored and replayed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest
from sqlalchemy import Engine, select, text

from sessionlens.accounts import tokens, users
from sessionlens.ingest import log
from sessionlens.processing.blocks import read_block_raw
from sessionlens.storage.blobs import open_blob_store
from sessionlens.storage.crypto import EncryptedBlobStore, Keyring
from sessionlens.storage.engine import make_engine
from sessionlens.storage.tables import ingest_log, metadata
from tests.browser import chromium
from tests.server import Server, running_server

pytestmark = pytest.mark.browser

CARD = "4242424242424242"  # passes the Luhn check
CARD_SPACED = "4242 4242 4242 4242"
ADMIN = ("admin@example.com", "admin password 123")


def api_token(engine: Engine) -> str:
    with engine.begin() as conn:
        admin = users.find_user(conn, ADMIN[0])
        assert admin is not None
        return tokens.create_api_token(conn, admin.id, "e2e")


def wait_for_session(server: Server, token: str, pages: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    project = httpx.get(f"{server.base_url}/api/v1/projects", headers=headers).json()
    project_id = project["projects"][0]["id"]
    found: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listing = httpx.get(
            f"{server.base_url}/api/v1/projects/{project_id}/sessions", headers=headers
        ).json()
        if listing["sessions"] and listing["sessions"][0]["pages"] >= pages:
            found = listing["sessions"][0]
            if found["keypresses"] > 0:
                break
        time.sleep(0.3)
    assert found, "the session did not arrive"
    return found


def visit_the_shop(server: Server) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(f"{server.base_url}/demo/")
        page.mouse.move(200, 200)
        page.mouse.move(400, 300, steps=10)
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(300)
        page.locator(".product-card a").first.click()
        page.wait_for_load_state("load")
        page.mouse.move(300, 250, steps=5)
        page.locator("#add-to-cart").click()
        page.mouse.wheel(0, 400)
        page.wait_for_timeout(300)
        page.goto(f"{server.base_url}/demo/checkout")
        page.locator("#name, [name=name]").first.fill("Ada Lovelace")
        page.locator("#cardnumber").click()
        page.locator("#cardnumber").press_sequentially(CARD_SPACED, delay=20)
        page.locator("[name=cvc]").press_sequentially("123", delay=20)
        page.locator("[name=email]").first.click()
        page.wait_for_timeout(2500)  # one more flush of the 2 s batcher
        page.close()  # pagehide: the last batch goes out as a beacon


def everything_stored(engine: Engine, data_dir: Path) -> bytes:
    """Every row of every table, the ingest log inflated, and every block decrypted and
    decompressed."""
    parts: list[bytes] = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                parts.append(repr(tuple(row)).encode())
        for row in conn.execute(select(ingest_log.c.payload)):
            _envelope, body = log.decode(row.payload)
            parts.append(orjson.dumps(body))
    keyring = Keyring((data_dir / "secret_key").read_text().strip())
    store = EncryptedBlobStore(open_blob_store((data_dir / "blobs").as_uri()), keyring)
    for key in store.list():
        parts.append(read_block_raw(store.get(key)))
    return b"\n".join(parts)


def test_demo_visit_is_recorded_private_and_replayable(tmp_path: Path, database_url: str) -> None:
    data_dir = tmp_path / "server-data"
    with running_server(data_dir, database_url) as server:
        engine = make_engine(database_url)
        try:
            token = api_token(engine)
            visit_the_shop(server)
            found = wait_for_session(server, token, pages=3)
            assert found["pages"] == 3
            assert found["clicks"] >= 2
            assert found["browser"] in {"HeadlessChrome", "Chrome", "Chromium"}
            headers = {"Authorization": f"Bearer {token}"}
            events = httpx.get(
                f"{server.base_url}/api/v1/sessions/{found['id']}/events",
                headers=headers,
                timeout=30,
            ).json()
            kinds = {e["type"] for e in events}
            sources = {e["data"].get("source") for e in events if e["type"] == 3}
            assert 2 in kinds, "no full snapshot"
            assert {1, 2, 3, 5} <= sources, f"missing interactions: {sources}"
            stamps = [e["timestamp"] for e in events]
            assert stamps == sorted(stamps)

            stored = everything_stored(engine, data_dir)
            assert b"Ada Lovelace" not in stored  # every input is masked
            for secret in (CARD, CARD_SPACED, "4242 4242", "42424242"):
                assert secret.encode() not in stored, f"{secret!r} was stored"
            with engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM ingest_log")).scalar_one() > 0

            replay_in_console(server, found["id"])
        finally:
            engine.dispose()


def replay_in_console(server: Server, session_id: str) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server.base_url}/sessions/{session_id}")
        page.fill("#email", ADMIN[0])
        page.fill("#password", ADMIN[1])
        page.click("button[type=submit]")
        page.wait_for_url(f"**/sessions/{session_id}")
        frame = page.frame_locator("#player iframe").first
        # The demo shop's own heading, rebuilt from the recording inside the player.
        frame.locator("header").first.wait_for(state="attached", timeout=20_000)
        assert "Lumen" in frame.locator("body").inner_text(timeout=10_000)
        sandbox = page.locator("#player iframe").first.get_attribute("sandbox") or ""
        assert "allow-scripts" not in sandbox
        # A page link jumps to that page: the checkout, rebuilt from its own snapshot.
        page.locator(".session-pages a").last.click()
        page.wait_for_function(
            "() => window.sessionlensPlayer.getReplayer().iframe.contentDocument.title"
            ".startsWith('Checkout')",
            timeout=10_000,
        )
        assert not errors, errors
        # "What is recorded": the same session with the masked form fields outlined.
        project_id = page.evaluate(
            "() => document.querySelector('.crumbs a').getAttribute('href').split('/')[2]"
        )
        page.goto(f"{server.base_url}/projects/{project_id}/recorded?session={session_id}")
        page.wait_for_selector("#player[data-state=complete]", state="attached", timeout=20_000)
        page.evaluate(
            "() => window.sessionlensPlayer.goto("
            "window.sessionlensPlayer.getReplayer().getMetaData().totalTime)"
        )
        outline = page.wait_for_function(
            "() => { const d = window.sessionlensPlayer.getReplayer().iframe.contentDocument;"
            " const field = d && d.querySelector('input');"
            " return field && getComputedStyle(field).outlineStyle; }",
            timeout=10_000,
        )
        assert outline.json_value() == "solid"
        assert not errors, errors
