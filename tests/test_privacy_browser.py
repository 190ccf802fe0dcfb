"""The recorder's privacy rules, in real chromium, on a site of another origin.

Every test reads two things separately: the request bodies the page sent (gunzipped) —
proof that the browser alone keeps the secrets, since the server runs its own guard
too — and every byte the server stored (database rows, the ingest log, the decrypted
recording blocks).

The page loads sessionlens.js through a small recording proxy in front of the server,
so every request the recorder makes passes through it: playwright's request events
miss the beacons a page sends while it unloads, and those matter here. One sessionlens
server, proxy and test-page server (three loopback origins) per module and database;
each test makes its own project (its own ingest key and privacy rules) and uses a fresh
browser context, so the rules' 60-second cache never carries over.
"""

from __future__ import annotations

import gzip
import http.client
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import Engine, func, select, text

from sessionlens import config, privacy, projects
from sessionlens.accounts import users
from sessionlens.context import Context
from sessionlens.ingest import log
from sessionlens.processing.blocks import read_block_raw
from sessionlens.storage.engine import make_engine
from sessionlens.storage.tables import ingest_log, metadata
from sessionlens.storage.tables import session as session_table
from tests.browser import chromium
from tests.server import Server, free_port, running_server

pytestmark = pytest.mark.browser

PAGES = Path(__file__).parent / "pages"
DNT = "Object.defineProperty(navigator, 'doNotTrack', {get: () => '1'})"
GPC = "Object.defineProperty(navigator, 'globalPrivacyControl', {get: () => true})"
STATUS_IS = "s => !!window.sessionlens && !!window.sessionlens.status && sessionlens.status() === s"


# --- the two servers ---------------------------------------------------------------


@contextmanager
def serve_pages(base_url: str) -> Iterator[str]:
    """tests/pages on a loopback port of its own: /<project key>/<any path>/<file>.html
    serves tests/pages/<file>.html with the sessionlens server and the key filled in."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].split("#", 1)[0]
            parts = [p for p in path.split("/") if p]
            page = PAGES / (parts[-1] if parts else "")
            if len(parts) < 2 or page.suffix != ".html" or not page.is_file():
                self.send_error(404)
                return
            html = page.read_text().replace("{{SL_BASE}}", base_url)
            body = html.replace("{{SL_KEY}}", parts[0]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with _serving(Handler) as site:
        yield site


Sent = tuple[str, str, bytes]  # method, path, body (gunzipped)


@contextmanager
def recording_proxy(upstream: Server, failing: set[str]) -> Iterator[tuple[str, list[Sent]]]:
    """A reverse proxy to the sessionlens server that keeps every request it passes on,
    and answers 503 instead for the rules of the project keys in `failing`."""
    sent: list[Sent] = []

    class Handler(BaseHTTPRequestHandler):
        def forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            plain = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
            sent.append((self.command, self.path, plain))
            if any(self.path.startswith(f"/i/v1/{key}/config") for key in failing):
                self.send_error(503)
                return
            skip = {"host", "connection"}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
            conn = http.client.HTTPConnection("127.0.0.1", upstream.port, timeout=30)
            try:
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                payload = answer.read()
            finally:
                conn.close()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in {"connection", "transfer-encoding", "content-length"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_OPTIONS = forward

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with _serving(Handler) as base:
        yield base, sent


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@dataclass
class Stack:
    server: Server
    engine: Engine
    org_id: int
    site: str  # the test pages' origin
    sent: list[Sent]  # everything the browser sent to sessionlens, through the proxy
    failing: set[str]  # project keys whose rules the proxy answers with 503


def _database(request: pytest.FixtureRequest, tmp: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp / 'test.db'}"
    url: str = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:  # rows other test modules left in this database
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("privacy-browser")
    database_url = _database(request, tmp)
    with running_server(tmp / "server-data", database_url) as server:
        engine = make_engine(database_url)
        try:
            with engine.begin() as conn:
                _, org_id = users.create_user(conn, "owner@example.com", "Owner", "owner pass 123")
            failing: set[str] = set()
            with recording_proxy(server, failing) as (proxy, sent), serve_pages(proxy) as site:
                yield Stack(server, engine, org_id, site, sent, failing)
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


_names = iter(range(1_000_000))


def make_project(stack: Stack, **rules: Any) -> projects.Project:
    with stack.engine.begin() as conn:
        project = projects.create_project(conn, stack.org_id, f"site {next(_names)}", [stack.site])
        if rules:
            project = projects.save_privacy(conn, project, privacy.parse(rules))
    return project


# --- what the page sent ------------------------------------------------------------


@dataclass
class Traffic:
    """What one test's pages sent to sessionlens (its project's requests only)."""

    stack: Stack
    key: str
    since: int = 0  # requests before this visit are not ours
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def requests(self) -> list[Sent]:
        return [r for r in self.stack.sent[self.since :] if f"/i/v1/{self.key}/" in r[1]]

    def posts(self) -> list[bytes]:
        return [body for method, path, body in self.requests() if method == "POST"]

    def batches(self) -> list[dict[str, Any]]:
        """Each batch once: one still in flight when its page unloads goes out again as a
        beacon, with the same seq and events (the server stores it once)."""
        unique: dict[tuple[str, int], dict[str, Any]] = {}
        for batch in map(json.loads, self.posts()):
            first = unique.setdefault((batch["session_id"], batch["seq"]), batch)
            assert first["events"] == batch["events"], "a seq was reused for other events"
        return list(unique.values())

    def bodies(self) -> bytes:
        return b"\n".join(self.posts())

    def events(self) -> list[dict[str, Any]]:
        return [event for batch in self.batches() for event in batch["events"]]

    def wait_for(self, page: Page, marker: bytes, timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while marker not in self.bodies():
            assert time.monotonic() < deadline, f"{marker!r} was never sent"
            page.wait_for_timeout(100)


@contextmanager
def visit(
    browser: Browser, stack: Stack, key: str, init_script: str = ""
) -> Iterator[tuple[BrowserContext, Traffic]]:
    """A fresh browser context (no cookies, storage or cached rules) and what it sends."""
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    traffic = Traffic(stack, key, since=len(stack.sent))
    context.on("console", lambda m: m.type == "warning" and traffic.warnings.append(m.text))
    context.on("weberror", lambda e: traffic.errors.append(str(e.error)))
    if init_script:
        context.add_init_script(init_script)
    try:
        yield context, traffic
    finally:
        context.close()


def wait_status(page: Page, expected: str) -> None:
    page.wait_for_function(STATUS_IS, arg=expected, timeout=10_000)


def mark_and_wait(page: Page, traffic: Traffic, name: str) -> None:
    """A custom event after everything else: once it is sent, so is all before it."""
    page.evaluate("name => window.sessionlens.event(name)", name)
    traffic.wait_for(page, f'"name":"{name}"'.encode())


def our_keys(page: Page) -> list[str]:
    """Our cookies and web storage keys as this page sees them."""
    found: list[str] = page.evaluate(
        """() => [...Object.keys(localStorage), ...Object.keys(sessionStorage),
                  ...document.cookie.split(';').map(c => c.trim().split('=')[0])]
                 .filter(k => k.startsWith('_sl'))"""
    )
    return found


# --- what the server stored --------------------------------------------------------


def ingested(stack: Stack, project: projects.Project) -> tuple[int, int]:
    """(batches in the ingest log, of which not processed yet) for a project."""
    with stack.engine.connect() as conn:
        total = conn.execute(
            select(func.count()).where(ingest_log.c.project_id == project.id)
        ).scalar_one()
        waiting = conn.execute(
            select(func.count()).where(
                ingest_log.c.project_id == project.id, ingest_log.c.processed_at.is_(None)
            )
        ).scalar_one()
    return int(total), int(waiting)


def everything_stored(stack: Stack, project: projects.Project) -> bytes:
    """Once the project's batches are processed: every row of every table that is not
    another test's project's, the ingest log inflated, and the project's recording blocks
    decrypted and decompressed (tests share the server, each has its own project)."""
    deadline = time.monotonic() + 30
    while True:
        total, waiting = ingested(stack, project)
        if total and not waiting:
            break
        assert time.monotonic() < deadline, f"{waiting} of {total} batches not processed"
        time.sleep(0.2)
    ctx = Context.open(config.load(stack.server.env))
    parts: list[bytes] = []
    try:
        with ctx.engine.connect() as conn:
            ours = select(session_table.c.id).where(session_table.c.project_id == project.id)
            for table in metadata.sorted_tables:
                query = select(table)
                if table.name == "project":
                    query = query.where(table.c.id == project.id)
                elif "project_id" in table.c:
                    query = query.where(table.c.project_id == project.id)
                elif "session_id" in table.c:
                    query = query.where(table.c.session_id.in_(ours))
                parts.extend(repr(tuple(row)).encode() for row in conn.execute(query))
            mine = select(ingest_log.c.payload).where(ingest_log.c.project_id == project.id)
            for row in conn.execute(mine):
                parts.append(orjson.dumps(log.decode(row.payload)[1]))
        blobs = ctx.blobs.list(f"p{project.id}/")
        parts.extend(read_block_raw(ctx.blobs.get(key)) for key in blobs)
    finally:
        ctx.close()
    assert blobs, "no recording block was written"
    return b"\n".join(parts)


# --- reading the recording -----------------------------------------------------------


def node_ids(events: list[dict[str, Any]]) -> dict[str, int]:
    """Element id attribute -> rrweb node id, from full snapshots and added nodes."""
    found: dict[str, int] = {}

    def walk(node: dict[str, Any]) -> None:
        element_id = (node.get("attributes") or {}).get("id")
        if isinstance(element_id, str):
            found[element_id] = node["id"]
        for child in node.get("childNodes") or []:
            walk(child)

    for event in events:
        if event["type"] == 2:
            walk(event["data"]["node"])
        elif event["type"] == 3 and event["data"].get("source") == 0:
            for add in event["data"].get("adds", []):
                walk(add["node"])
    return found


def recorded_values(events: list[dict[str, Any]], node: int) -> list[str]:
    """Every value recorded for a node: snapshot attribute, attribute changes, input events."""
    values: list[str] = []

    def walk(item: dict[str, Any]) -> None:
        if item.get("id") == node and "value" in (item.get("attributes") or {}):
            values.append(item["attributes"]["value"])
        for child in item.get("childNodes") or []:
            walk(child)

    for event in events:
        data = event["data"]
        if event["type"] == 2:
            walk(data["node"])
        elif event["type"] == 3 and data.get("source") == 5 and data["id"] == node:
            values.append(data.get("text", ""))
        elif event["type"] == 3 and data.get("source") == 0:
            for change in data.get("attributes", []):
                if change["id"] == node and "value" in change["attributes"]:
                    values.append(change["attributes"]["value"])
    return values


def input_events(events: list[dict[str, Any]], node: int) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e["type"] == 3 and e["data"].get("source") == 5 and e["data"]["id"] == node
    ]


# --- the tests -----------------------------------------------------------------------

CARD_BY_LABEL = "4111 1111 1111 1111"  # typed into <input id=pan>, <label for=pan>Card number
CARD_AUTOCOMPLETE = "5555555555554444"  # autocomplete=cc-number
CARD_UNMASKED = "378282246310005"  # typed into a data-sl-unmask field
CARD_ORDINARY = "6011111111111117"  # typed into a field with no hint at all
# Strings that must appear nowhere: typed values, hidden values, masked and blocked
# text, and the values of denylisted URL parameters.
NEVER = (
    "41111111",
    "4111 1111",
    "55555555",
    "37828224",
    "60111111",
    "Hunter2-PASSWORD-X",
    "HIDDEN-CSRF-VALUE-77",
    "HIDDEN-ADDED-VALUE",
    "OTPQ7Z",
    "GB82WEST12345698765432",
    "60-16-13",
    "31926819",
    "021000021",
    "078-05-1120",
    "TEXTAREA-DIARY-ENTRY",
    "Zebulon Quuxley",
    "EDITABLE-NOTE-TEXT",
    "BLOCKED-PROMO-TEXT",
    "BLOCKED-ADDED-TEXT",
    "MASKED-ACCOUNT-HOLDER",
    "TITLE-OF-MASKED",
    "TITLE-CHANGED-MASKED",
    "SECRET123",
    "REFSECRET1",
    "LINKTOKEN1",
    "LINKSIG1",
    "IMGKEY1",
    "SRCTOKEN2",
    "FRAMEAUTH1",
    "FORMSESSION1",
    "MUTKEY1",
    "SPATOKEN1",
    "FRAGTOKEN1",
)
NEVER_RECORDED_FIELDS = (
    "pan", "cardauto", "cvv", "expmonth", "pw", "csrf", "otp", "iban", "sortcode", "account",
    "routing", "ssn",
)  # fmt: skip


def fill_checkout(page: Page) -> None:
    page.locator("#name").fill("Zebulon Quuxley")
    page.locator("#comment").press_sequentially(CARD_ORDINARY)
    page.locator("#pan").press_sequentially(CARD_BY_LABEL)
    page.locator("#cardauto").press_sequentially(CARD_AUTOCOMPLETE)
    page.locator("#cvv").press_sequentially("7391")
    page.locator("#expmonth").select_option("07")
    page.locator("#pw").fill("Hunter2-PASSWORD-X")
    page.locator("#otp").press_sequentially("OTPQ7Z")
    page.locator("#iban").fill("GB82WEST12345698765432")
    page.locator("#sortcode").fill("60-16-13")
    page.locator("#account").fill("31926819")
    page.locator("#routing").fill("021000021")
    page.locator("#ssn").fill("078-05-1120")
    page.locator("#notes").fill("TEXTAREA-DIARY-ENTRY")
    page.locator("#reference").press_sequentially(f"OPENNOTE {CARD_UNMASKED}")
    page.locator("#savecard").check()
    page.locator("#editor").click()
    page.keyboard.type("EDITABLE-NOTE-TEXT")
    page.locator("#add").click()
    page.evaluate(
        """() => {
            history.pushState({}, '', location.pathname + '?token=SPATOKEN1&page=2');
            history.pushState({}, '', location.pathname + '?page=3#access_token=FRAGTOKEN1');
        }"""
    )


def test_checkout_secrets_never_leave_the_browser_nor_reach_storage(
    stack: Stack, browser: Browser
) -> None:
    project = make_project(stack)
    with visit(browser, stack, project.ingest_key) as (context, traffic):
        page = context.new_page()
        page.goto(f"{stack.site}/{project.ingest_key}/start.html?auth=REFSECRET1&from=home")
        wait_status(page, "recording")
        page.locator("#to-checkout").click()
        page.wait_for_url("**/checkout.html*")
        wait_status(page, "recording")
        fill_checkout(page)
        mark_and_wait(page, traffic, "checkout-done")
        page.close()
        assert not traffic.errors, traffic.errors

    bodies = traffic.bodies()
    events = traffic.events()
    for secret in NEVER:
        assert secret.encode() not in bodies, f"{secret!r} was sent"
    # What must still be there: allowed parameters, the page change, unmasked text,
    # the masked value's length, the blocked element as an empty box of its size.
    for kept in (b"q=lamp", b"from=home", b"page=2", b"page=3", b"sessionlens.page", b"OPENNOTE"):
        assert kept in bodies, f"{kept!r} is missing"
    assert b'"rr_width"' in bodies
    ids = node_ids(events)
    assert "*" * len("Zebulon Quuxley") in recorded_values(events, ids["name"])
    for name in NEVER_RECORDED_FIELDS:
        values = recorded_values(events, ids[name])
        assert all(v == "" for v in values), f"#{name} recorded {values}"
        assert not input_events(events, ids[name]), f"#{name} has input events"
    assert input_events(events, ids["savecard"]), "a checkbox labelled 'card' is still recorded"
    metas = [b["meta"] for b in traffic.batches()]
    assert all("token" not in m["url"] and "auth=" not in m["referrer"] for m in metas)
    assert any(m["referrer"].endswith("start.html?from=home") for m in metas)

    stored = everything_stored(stack, project)
    for secret in NEVER:
        assert secret.encode() not in stored, f"{secret!r} was stored"
    assert b"OPENNOTE" in stored


def test_rules_changed_in_the_console_apply_on_the_next_page_load(
    stack: Stack, browser: Browser
) -> None:
    project = make_project(stack)
    url = f"{stack.site}/{project.ingest_key}/plain.html?ref=REFVAL1&x=1"
    with visit(browser, stack, project.ingest_key) as (context, traffic):
        page = context.new_page()
        page.goto(url)
        wait_status(page, "recording")
        page.locator("#search").press_sequentially("CFG-OPEN-SEARCH")
        mark_and_wait(page, traffic, "default-rules")
    before = traffic.bodies()
    for shown in (b"CONFIG-MASKED-TEXT", b"CONFIG-BLOCKED-TEXT", b"REFVAL1"):
        assert shown in before
    assert b"CFG-OPEN-SEARCH" not in before  # inputs are masked by default

    rules = {
        # Invalid CSS, and a rule that would swallow the next one if joined as it is.
        "mask_text_selectors": ["div[[", ".nothing /*", ".cfg-mask"],
        "block_selectors": ["::nope(", ".cfg-block"],
        "unmask_selectors": [".cfg-open", "input:::x"],
        "url_param_denylist": ["ref"],
    }
    with stack.engine.begin() as conn:
        projects.save_privacy(conn, project, privacy.parse(rules))
    with visit(browser, stack, project.ingest_key) as (context, traffic):
        page = context.new_page()
        page.goto(url)
        wait_status(page, "recording")
        page.locator("#search").press_sequentially("CFG-OPEN-SEARCH")
        mark_and_wait(page, traffic, "new-rules")
        assert not traffic.errors, traffic.errors
        ours = [w for w in traffic.warnings if w.startswith("sessionlens")]
        assert len(ours) == 1, ours  # one warning, naming every rule skipped
        assert "div[[" in ours[0]
        assert ".nothing /*" in ours[0]
    after = traffic.bodies()
    for hidden in (b"CONFIG-MASKED-TEXT", b"CONFIG-BLOCKED-TEXT", b"REFVAL1"):
        assert hidden not in after, f"{hidden!r} was sent"
    assert b"CFG-OPEN-SEARCH" in after  # unmasked by the new rule
    assert b"x=1" in after


def test_mask_all_text_hides_page_text(stack: Stack, browser: Browser) -> None:
    project = make_project(stack, mask_all_text=True)
    with visit(browser, stack, project.ingest_key) as (context, traffic):
        page = context.new_page()
        page.goto(f"{stack.site}/{project.ingest_key}/plain.html")
        wait_status(page, "recording")
        page.locator("#name").fill("TYPED-NAME")
        mark_and_wait(page, traffic, "masked-all")
    bodies = traffic.bodies()
    hidden = (b"VISIBLE-PAGE-HEADING", b"PLAIN-PAGE-TITLE", b"HOME-CONTENT", b"TYPED-NAME")
    for text_ in hidden:
        assert text_ not in bodies, f"{text_!r} was sent"
    assert b'"tagName":"h1"' in bodies  # the page's structure is still recorded
    assert b"UNMASKED-REGION-TEXT" in bodies  # data-sl-unmask opens a region
    stored = everything_stored(stack, project)
    for text_ in hidden:
        assert text_ not in stored, f"{text_!r} was stored"


def test_excluded_pages_send_nothing_and_an_spa_pauses_on_them(
    stack: Stack, browser: Browser
) -> None:
    project = make_project(stack, exclude_pages=["/*/private/*"])
    key = project.ingest_key
    with visit(browser, stack, key) as (context, traffic):
        page = context.new_page()
        page.goto(f"{stack.site}/{key}/private/plain.html?token=T")
        wait_status(page, "excluded")
        page.wait_for_timeout(700)
        assert traffic.posts() == []
        assert our_keys(page) == []
        # Out of the excluded page: recording starts.
        page.evaluate("key => history.pushState({}, '', '/' + key + '/shop')", key)
        wait_status(page, "recording")
        mark_and_wait(page, traffic, "on-shop")
        # Into an excluded page: nothing of it is sent, even after a full flush period.
        page.evaluate(
            """key => {
                history.pushState({}, '', '/' + key + '/private/account');
                document.getElementById('spa-content').textContent = 'PRIVATE-CONTENT-1';
            }""",
            key,
        )
        wait_status(page, "excluded")
        page.locator("#name").fill("PRIVATE-TYPING")
        page.wait_for_timeout(2300)
        assert b"PRIVATE-CONTENT-1" not in traffic.bodies()
        # Out again: a new full snapshot of the page as it is now.
        page.evaluate(
            """key => {
                document.getElementById('spa-content').textContent = 'HOME-CONTENT-2';
                history.pushState({}, '', '/' + key + '/shop2');
            }""",
            key,
        )
        wait_status(page, "recording")
        mark_and_wait(page, traffic, "back-on-shop")
    bodies = traffic.bodies()
    events = traffic.events()
    assert b"PRIVATE-CONTENT-1" not in bodies
    assert b"/private/" not in bodies
    assert b"HOME-CONTENT-2" in bodies
    assert [e["type"] for e in events].count(2) == 2  # on arrival, and after the excluded page
    assert not input_events(events, node_ids(events)["name"])
    assert len({b["session_id"] for b in traffic.batches()}) == 1
    stored = everything_stored(stack, project)
    assert b"PRIVATE-CONTENT-1" not in stored
    assert b"/private/account" not in stored


@pytest.mark.parametrize(
    ("signal", "honour_dnt", "expected"),
    [
        (DNT, True, "do-not-track"),
        (GPC, True, "global-privacy-control"),
        (DNT, False, "recording"),
    ],
    ids=["dnt", "gpc", "dnt-not-honoured"],
)
def test_do_not_track_and_global_privacy_control_mean_nothing_is_sent(
    stack: Stack, browser: Browser, signal: str, honour_dnt: bool, expected: str
) -> None:
    project = make_project(stack, honour_dnt=honour_dnt)
    with visit(browser, stack, project.ingest_key, signal) as (context, traffic):
        page = context.new_page()
        page.goto(f"{stack.site}/{project.ingest_key}/plain.html")
        wait_status(page, expected)
        if expected == "recording":  # the site chose to ignore the signal
            mark_and_wait(page, traffic, "recorded-anyway")
            assert "_sl_vid" in our_keys(page)
            return
        page.locator("#name").fill("typed")
        page.wait_for_timeout(700)
        assert our_keys(page) == []
        page.close()  # pagehide: still nothing
        time.sleep(0.3)
        assert [(m, path.rsplit("/", 1)[1]) for m, path, _ in traffic.requests()] == [
            ("GET", "config")
        ]
        assert not [c for c in context.cookies() if c["name"].startswith("_sl")]
    assert ingested(stack, project) == (0, 0)


def test_consent_mode_records_nothing_before_consent_and_withdrawal_removes_ids(
    stack: Stack, browser: Browser
) -> None:
    project = make_project(stack, consent_required=True)
    with visit(browser, stack, project.ingest_key) as (context, traffic):
        page = context.new_page()
        page.goto(f"{stack.site}/{project.ingest_key}/plain.html")
        page.evaluate("() => sessionlens.event('before-consent')")
        wait_status(page, "awaiting-consent")
        page.locator("#name").fill("typed before consent")
        page.wait_for_timeout(700)
        assert traffic.posts() == []
        assert our_keys(page) == []

        page.evaluate("() => sessionlens.consent(true)")
        wait_status(page, "recording")
        traffic.wait_for(page, b'"name":"before-consent"')  # the early call was kept
        assert "_sl_vid" in our_keys(page)

        page.evaluate("() => sessionlens.consent(false)")
        wait_status(page, "consent-declined")
        assert our_keys(page) == []
        sent = len(traffic.posts())
        page.evaluate("() => sessionlens.event('after-withdrawal')")
        page.locator("#name").fill("typed after withdrawal")
        page.wait_for_timeout(2300)
        page.close()
        time.sleep(0.3)
        assert len(traffic.posts()) == sent
    assert b"after-withdrawal" not in everything_stored(stack, project)


def test_opt_out_is_remembered_for_the_next_page_load_until_opt_in(
    stack: Stack, browser: Browser
) -> None:
    project = make_project(stack)
    with visit(browser, stack, project.ingest_key) as (context, traffic):
        page = context.new_page()
        page.goto(f"{stack.site}/{project.ingest_key}/plain.html")
        wait_status(page, "recording")
        mark_and_wait(page, traffic, "before-opt-out")
        page.evaluate("() => sessionlens.optOut()")
        wait_status(page, "opted-out")
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["_sl_optout"]["value"] == "1"
        assert cookies["_sl_optout"]["expires"] > time.time() + 360 * 86400
        assert "_sl_vid" not in cookies
        assert page.evaluate("() => localStorage.getItem('_sl_optout')") == "1"
        assert sorted(our_keys(page)) == ["_sl_optout", "_sl_optout"]  # storage + cookie

        seen = len(traffic.requests())
        page.reload()
        wait_status(page, "opted-out")
        page.locator("#name").fill("typed while opted out")
        page.wait_for_timeout(1000)
        assert traffic.requests()[seen:] == []  # not even the rules are fetched

        page.evaluate("() => sessionlens.optIn()")
        wait_status(page, "recording")
        mark_and_wait(page, traffic, "after-opt-in")
        assert "_sl_optout" not in {c["name"] for c in context.cookies()}


def test_cookieless_mode_stores_nothing_and_each_page_load_is_a_new_session(
    stack: Stack, browser: Browser
) -> None:
    project = make_project(stack, cookieless=True)
    with visit(browser, stack, project.ingest_key) as (context, traffic):
        page = context.new_page()
        page.goto(f"{stack.site}/{project.ingest_key}/plain.html")
        wait_status(page, "recording")
        page.locator("#name").fill("first")
        mark_and_wait(page, traffic, "first-load")
        assert our_keys(page) == []
        page.reload()
        wait_status(page, "recording")
        mark_and_wait(page, traffic, "second-load")
        assert our_keys(page) == []
        assert not [c for c in context.cookies() if c["name"].startswith("_sl")]
        page.close()
    loads: dict[str, list[dict[str, Any]]] = {}
    for batch in traffic.batches():
        loads.setdefault(batch["window_id"], []).append(batch)
    assert len(loads) == 2
    for batches in loads.values():
        assert len({b["session_id"] for b in batches}) == 1
        assert sorted(b["seq"] for b in batches) == list(range(len(batches)))
    first, second = loads.values()
    assert first[0]["session_id"] != second[0]["session_id"]
    assert first[0]["visitor_id"] != second[0]["visitor_id"]
    everything_stored(stack, project)  # waits for processing
    with stack.engine.connect() as conn:
        count = select(func.count()).where(session_table.c.project_id == project.id)
        assert conn.execute(count).scalar_one() == 2


def test_init_options_can_only_make_recording_stricter(stack: Stack, browser: Browser) -> None:
    project = make_project(stack)  # the project asks for neither consent nor cookieless
    options = "window.SL_OPTIONS = {consentRequired: true, cookieless: true}"
    with visit(browser, stack, project.ingest_key, options) as (context, traffic):
        page = context.new_page()
        page.goto(f"{stack.site}/{project.ingest_key}/manual.html")
        wait_status(page, "awaiting-consent")
        page.wait_for_timeout(500)
        assert traffic.posts() == []
        page.evaluate("() => sessionlens.consent(true)")
        wait_status(page, "recording")
        traffic.wait_for(page, b'"name":"queued-before-load"')
        assert our_keys(page) == []


@pytest.mark.parametrize("answer", ["unknown-key", "server-failing"])
def test_without_rules_nothing_is_recorded(stack: Stack, browser: Browser, answer: str) -> None:
    key = "no-such-project-key"
    if answer == "server-failing":
        key = make_project(stack).ingest_key
        stack.failing.add(key)
    with visit(browser, stack, key) as (context, traffic):
        page = context.new_page()
        page.goto(f"{stack.site}/{key}/plain.html")
        wait_status(page, "no-config")  # after two retries, 1 s and 3 s apart, on 503
        page.locator("#name").fill("typed")
        page.wait_for_timeout(500)
        tries = 3 if answer == "server-failing" else 1  # a 404 is final
        assert [m for m, _, _ in traffic.requests()] == ["GET"] * tries
        assert our_keys(page) == []
