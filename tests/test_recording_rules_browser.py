"""Recording rules in real chromium: sampling, the monthly quota stopping a session, and a
page with a 20 MB inline image recorded without losing the session.

Uses the servers of tests/test_privacy_browser.py (sessionlens, a recording proxy that
keeps every request the page makes, and the test pages on a third origin)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from playwright.sync_api import Browser, Page

from sessionlens import config, projects, recording_rules
from sessionlens.accounts import users
from sessionlens.context import Context
from sessionlens.ingest import trim
from sessionlens.recordings import queries
from sessionlens.storage.engine import make_engine
from sessionlens.storage.tables import session as session_table
from tests.browser import chromium
from tests.server import running_server
from tests.test_privacy_browser import (
    Stack,
    Traffic,
    _database,
    ingested,
    mark_and_wait,
    recording_proxy,
    serve_pages,
    visit,
    wait_status,
)

pytestmark = pytest.mark.browser

_names = iter(range(1_000_000))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("rules-browser")
    database_url = _database(request, tmp)
    with running_server(tmp / "server-data", database_url) as server:
        engine = make_engine(database_url)
        try:
            with engine.begin() as conn:
                _, org_id = users.create_user(conn, "owner@example.com", "Owner", "owner pass 123")
            with recording_proxy(server, set()) as (proxy, sent), serve_pages(proxy) as site:
                yield Stack(server, engine, org_id, site, sent, set())
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def project_with(stack: Stack, **rules: Any) -> projects.Project:
    with stack.engine.begin() as conn:
        project = projects.create_project(
            conn, stack.org_id, f"rules site {next(_names)}", [stack.site]
        )
        return projects.save_recording(conn, project, recording_rules.parse(rules))


def batch_posts(traffic: Traffic) -> list[bytes]:
    return [body for method, path, body in traffic.requests() if method == "POST"]


def quiet(page: Page, seconds: float) -> None:
    """Give the recorder time to send (and retry) what it would."""
    page.mouse.move(20, 30)
    page.mouse.click(40, 50)
    page.wait_for_timeout(int(seconds * 1000))


def test_rate_zero_sends_nothing_and_rate_100_records(stack: Stack, browser: Browser) -> None:
    none = project_with(stack, sample_rate=0)
    with visit(browser, stack, none.ingest_key) as (context, traffic):
        page = context.new_page()
        page.goto(f"{stack.site}/{none.ingest_key}/home/plain.html")
        wait_status(page, "sampled-out")
        page.evaluate("() => window.sessionlens.event('not-sampled')")
        quiet(page, 3)
        page.close()
        assert batch_posts(traffic) == []
        assert not traffic.errors, traffic.errors
    every = project_with(stack, sample_rate=100)
    with visit(browser, stack, every.ingest_key) as (context, traffic):
        page = context.new_page()
        page.goto(f"{stack.site}/{every.ingest_key}/home/plain.html")
        wait_status(page, "recording")
        mark_and_wait(page, traffic, "sampled-in")
        page.close()
    assert b"VISIBLE-PAGE-HEADING" in traffic.bodies()


def test_over_quota_the_session_stops_without_retrying(stack: Stack, browser: Browser) -> None:
    project = project_with(stack, monthly_quota=0)
    with visit(browser, stack, project.ingest_key) as (context, traffic):
        page = context.new_page()
        page.goto(f"{stack.site}/{project.ingest_key}/home/plain.html")
        wait_status(page, "over-quota")
        # Backoff would have retried after 1 s, 2 s and 4 s; Retry-After after 5 s.
        page.evaluate("() => window.sessionlens.event('after-quota')")
        quiet(page, 7)
        assert len(batch_posts(traffic)) == 1
        # The next page of the tab is the same session: still nothing is recorded.
        page.reload()
        wait_status(page, "over-quota")
        quiet(page, 3)
        posts = batch_posts(traffic)
        page.close()
        assert not traffic.errors, traffic.errors
    assert len(posts) == 1
    assert json.loads(posts[0])["seq"] == 0
    assert ingested(stack, project) == (0, 0)


def test_a_20_mb_inline_image_is_trimmed_and_the_session_is_kept(
    stack: Stack, browser: Browser
) -> None:
    project = project_with(stack)
    with visit(browser, stack, project.ingest_key) as (context, traffic):
        page = context.new_page()
        page.goto(f"{stack.site}/{project.ingest_key}/home/bigimage.html")
        source = page.evaluate("() => document.getElementById('hero').src.length")
        assert source > 20_000_000
        wait_status(page, "recording")
        mark_and_wait(
            page,
            traffic,
            "after-big-image",
        )
        page.close()
        assert not traffic.errors, traffic.errors
    assert max(len(body) for body in batch_posts(traffic)) < 1_000_000
    events = traffic.events()
    snapshot = next(e for e in events if e["type"] == 2)
    trimmed = [e for e in events if e["type"] == 5 and e["data"]["tag"] == "sessionlens.trimmed"]
    assert trimmed[0]["data"]["payload"]["assets"] == 1
    assert trimmed[0]["data"]["payload"]["bytes"] > 20_000_000
    assert trim.PLACEHOLDER_IMAGE.encode() in orjson.dumps(snapshot)
    assert b"AFTER-THE-IMAGE" in orjson.dumps(snapshot)
    # Stored and replayable: the session's blocks parse, the snapshot first.
    deadline = time.monotonic() + 30
    while ingested(stack, project)[1] or not ingested(stack, project)[0]:
        assert time.monotonic() < deadline, "batches not processed"
        time.sleep(0.2)
    ctx = Context.open(config.load(stack.server.env))
    try:
        with ctx.engine.connect() as conn:
            session_id = conn.execute(
                session_table.select()
                .with_only_columns(session_table.c.id)
                .where(session_table.c.project_id == project.id)
            ).scalar_one()
            blocks = queries.blocks(conn, session_id)
        stored = orjson.loads(b"".join(queries.stream_events(ctx.blobs, blocks)))
    finally:
        ctx.close()
    assert [e["type"] for e in stored][:2] == [4, 2]
    assert trim.PLACEHOLDER_IMAGE.encode() in orjson.dumps(stored[1])
    assert any(e["type"] == 5 and e["data"]["tag"] == "sessionlens.trimmed" for e in stored)
