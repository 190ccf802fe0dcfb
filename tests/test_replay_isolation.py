"""Replay isolation: nothing of a recorded page runs when the console replays it.

A hostile page (tests/isolation_pages/) full of `<script>`, inline event handlers,
`javascript:` URLs, `<meta http-equiv=refresh>`, forms, iframes, `<object>`/`<embed>`, a
`<base href>` and CSS `url(javascript:...)` is served by a second loopback server, recorded
by the real recorder in chromium (once in the page's HTML, so in the full snapshot, and once
inserted later, so as DOM mutations and attribute changes), then replayed in the console.
The ingest key is public, so a second session is forged straight to the ingest endpoint with
what the recorder never sends: `<script>` nodes, an upper-case `SCRIPT` that rrweb's
script -> noscript rename misses, `ONLOAD`/`ONMOUSEOVER` attributes that its handler rename
misses, a script whose text arrives in a later mutation, and HTML in the page title,
referrer, campaign and user id.

Every script or handler, if it ran, would mark its own window, retitle the console, write
`localStorage.pwned` and `window.__pwned` on the console origin, navigate the console and
call the marker server (an image beacon, which the console's CSP lets through, and a fetch);
navigation payloads point at the marker server too, which logs every request that arrives
while the console shows the recordings.

The console is checked twice: as shipped (rrweb's sandboxed iframe, no `allow-scripts`, plus
the console CSP that the about:blank iframe inherits), and with the page's CSP bypassed in
the browser, so that the sandbox is shown to keep scripts out on its own.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import Engine

from sessionlens import projects
from sessionlens.accounts import tokens, users
from sessionlens.storage.engine import make_engine
from tests.browser import chromium
from tests.server import Server, free_port, running_server

pytestmark = pytest.mark.browser

PAGES = Path(__file__).parent / "isolation_pages"
ADMIN = ("admin@example.com", "admin password 123")
FORGED_SESSION = "forgedIsolation01"
FINISHED = "visit finished"


# --- the marker server: serves the hostile page and logs every request --------------------


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    via: str
    by: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} via={self.via} by={self.by}"


# A request for one of these means a script ran (/pwned, /evil.js), or a navigation, form
# submission, frame, object or embed reached the recorded site. Anything else is an image or
# stylesheet of the recorded page, which the console loads from the recorded site by design
# (img-src and style-src allow http:), so it is only reported.
SCRIPT_PATHS = frozenset({"/pwned", "/evil.js"})
NAVIGATION_PATHS = frozenset(
    {"/nav", "/form", "/frame", "/object", "/embed", "/hostile.html", "/forged.html"}
)


def shipped_console_allows(hit: Hit) -> bool:
    return hit.path not in SCRIPT_PATHS | NAVIGATION_PATHS


def sandbox_alone_allows(hit: Hit) -> bool:
    """Without the CSP, a sandbox without allow-scripts still lets nested frames and
    plugins load (scriptless, in the recorded site's origin) and lets the replay frame
    follow a link the console user clicks: those are the CSP's job."""
    if hit.path in {"/frame", "/object", "/embed"}:
        return True
    if hit.path == "/nav" and hit.via.endswith("-plain-link"):
        return True
    return shipped_console_allows(hit)


@dataclass
class Marker:
    origin: str
    pages: dict[str, bytes] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, target: str) -> None:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        hit = Hit(method, parts.path, query.get("via", [""])[0], query.get("by", [""])[0])
        with self.lock:
            self.hits.append(hit)

    def take(self) -> list[Hit]:
        """The hits since the last call; the count starts again."""
        with self.lock:
            taken, self.hits = self.hits, []
        return taken


def _handler(marker: Marker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(min(length, 1_000_000))
            marker.record(self.command, self.path)
            if parts.path in marker.pages:
                self._send(200, "text/html; charset=utf-8", marker.pages[parts.path])
            elif parts.path == "/evil.js":
                via = parse_qs(parts.query).get("via", ["script-src"])[0]
                self._send(200, "text/javascript", payload(marker.origin, via).encode())
            else:
                # 204: a navigation or form submission during the recorded visit stays put.
                self._send(204, "", b"")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        do_GET = _answer
        do_POST = _answer

    return Handler


@contextmanager
def marker_server() -> Iterator[Marker]:
    port = free_port()
    marker = Marker(f"http://127.0.0.1:{port}")
    httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(marker))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield marker
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


# --- the hostile page --------------------------------------------------------------------


def payload(marker: str, via: str) -> str:
    """What every script, handler and javascript: URL runs. Single quotes only, no # or <."""
    return (
        "(function(v){var u='" + marker + "/pwned?via='+v;"
        "try{window.__pwned=v}catch(e){}"
        "try{if(top!==window){top.__pwned=v}}catch(e){}"
        "try{if(parent!==window){parent.document.title='PWNED '+v}}catch(e){}"
        "try{if(top!==window){top.document.title='PWNED '+v}}catch(e){}"
        "try{top.localStorage.setItem('pwned',v)}catch(e){}"
        "try{new Image().src=u+'&by=img'}catch(e){}"
        "try{fetch(u+'&by=fetch',{mode:'no-cors'})}catch(e){}"
        # The top window is navigated only where it is not the recorded page itself: a
        # navigation started while the recorded page still loads would stop its parser.
        "try{if(top.location.origin!=='" + marker + "'){top.location.href=u+'&by=top'}}"
        "catch(e){}"
        "})('" + via + "')"
    )


PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)(?::([a-z0-9-]+))?\}\}")


def render(template: str, section: str, values: dict[str, str]) -> str:
    """{{NAME}} from values, {{S}} the section; {{J:x}} the payload for `section-x` as
    script text, {{P:x}} as an attribute value, {{SRCDOC:x}} inside an iframe's srcdoc."""

    def one(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        if name is None:
            return section if kind == "S" else values[kind]
        code = payload(values["M"], f"{section}-{name}")
        if kind == "J":
            return code
        if kind == "P":
            return html.escape(code, quote=True)
        if kind == "SRCDOC":
            return html.escape(f"<p>srcdoc text</p><script>{code}</script>", quote=True)
        raise AssertionError(f"unknown placeholder {match.group(0)}")

    return PLACEHOLDER.sub(one, template)


def script_string(value: str) -> str:
    """A JS string literal that is safe inside an inline <script>."""
    return json.dumps(value).replace("</", "<\\/").replace("<!--", "<\\!--")


def hostile_page(marker: str, server: str, key: str) -> bytes:
    fragment = (PAGES / "fragment.html").read_text()
    values = {"M": marker, "SERVER": server, "KEY": key}
    values["FRAGMENT"] = render(fragment, "static", values)
    values["LATER"] = script_string(render(fragment, "dynamic", values))
    values["PAYLOAD_TEMPLATE"] = script_string(payload(marker, "VIA"))
    return render((PAGES / "hostile.html").read_text(), "page", values).encode()


# --- setup: project, token, the recorded visit -----------------------------------------


def make_project(engine: Engine, origin: str) -> tuple[projects.Project, str]:
    with engine.begin() as conn:
        admin = users.find_user(conn, ADMIN[0])
        assert admin is not None
        org_id = users.organisation_ids(conn, admin.id)[0]
        project = projects.create_project(conn, org_id, "Hostile site", [origin])
        token = tokens.create_api_token(conn, admin.id, "isolation")
    return project, token


def record_visit(browser: Browser, marker: Marker) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        with page.expect_response(
            lambda r: "/i/v1/" in r.url and r.request.method == "POST", timeout=15_000
        ):
            # Not "load": the page's own refreshes and forms start navigations (all 204).
            page.goto(f"{marker.origin}/hostile.html", wait_until="commit")
            page.wait_for_function("document.readyState === 'complete'", timeout=15_000)
        # The full snapshot has gone out; from here on everything is a mutation.
        page.evaluate("addHostile()")
        page.wait_for_timeout(300)
        for target in ("#static-hover", "#dynamic-hover"):
            page.hover(target)
        for target in ("#static-js-link", "#dynamic-js-link", "#static-focus", "#static-submit"):
            page.click(target, no_wait_after=True)
            page.wait_for_timeout(100)
        page.keyboard.type("abc")
        page.evaluate(f"document.getElementById('page-visible').textContent = '{FINISHED}'")
        page.mouse.move(600, 400, steps=5)
        page.wait_for_timeout(2500)  # the 2 s batcher flushes once more
        page.close()  # pagehide: the rest goes out as a beacon
    finally:
        context.close()


def api(server: Server, token: str, path: str) -> Any:
    response = httpx.get(
        f"{server.base_url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    response.raise_for_status()
    return response.json()


def wait_for_events(
    server: Server, token: str, project_id: int, wanted: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """{label: (session id, its events as JSON)} once each label's session holds its text."""
    found: dict[str, tuple[str, str]] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(found) < len(wanted):
        for session in api(server, token, f"/projects/{project_id}/sessions")["sessions"]:
            events = json.dumps(api(server, token, f"/sessions/{session['id']}/events"))
            for label, text in wanted.items():
                if text in events:
                    found[label] = (session["id"], events)
        time.sleep(0.3)
    assert set(found) == set(wanted), f"sessions did not arrive: {sorted(found)}"
    return found


# --- a forged session: what the recorder would never send ------------------------------


class Tree:
    """rrweb serialized nodes with fresh ids."""

    def __init__(self) -> None:
        self.last_id = 0

    def new_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def el(
        self, tag: str, attrs: dict[str, Any], *kids: dict[str, Any], svg: bool = False
    ) -> dict[str, Any]:
        node = {"type": 2, "tagName": tag, "attributes": attrs, "childNodes": list(kids)}
        if svg:
            node["isSVG"] = True
        node["id"] = self.new_id()
        return node

    def text(self, value: str) -> dict[str, Any]:
        return {"type": 3, "textContent": value, "id": self.new_id()}


def forged_nodes(t: Tree, m: str, section: str) -> list[dict[str, Any]]:
    def p(name: str) -> str:
        return payload(m, f"{section}-{name}")

    def js(name: str) -> str:
        return "javascript:" + p(name)

    def nav(path: str, name: str) -> str:
        return f"{m}/{path}?via={section}-{name}"

    animate = {"attributeName": "x", "values": "0;1", "dur": "1s", "onbegin": p("svg-onbegin")}
    return [
        t.el("h2", {}, t.text(f"Forged hostile content: {section}")),
        t.el("script", {}, t.text(p("script"))),
        t.el("SCRIPT", {}, t.text(p("upper-script"))),
        t.el("Script", {"src": f"{m}/evil.js?via={section}-mixed-script-src"}),
        t.el("sCrIpT", {"type": "module"}, t.text(p("module-script"))),
        t.el("img", {"src": "x", "onerror": p("img-onerror")}),
        t.el("img", {"src": "x", "ONERROR": p("img-upper-onerror")}),
        t.el("img", {"src": "x", "rr_dataURL": js("img-rr-dataurl")}),
        t.el(
            "svg",
            {"width": "60", "height": "20", "ONLOAD": p("svg-upper-onload")},
            t.el("script", {}, t.text(p("svg-script")), svg=True),
            t.el("SCRIPT", {}, t.text(p("svg-upper-script")), svg=True),
            t.el("a", {"href": js("svg-a-href")}, t.text("svg link"), svg=True),
            t.el("rect", {"width": "5"}, t.el("animate", animate, svg=True), svg=True),
            svg=True,
        ),
        t.el("input", {"id": f"{section}-focus", "autofocus": "", "onfocus": p("onfocus")}),
        t.el("div", {"ONMOUSEOVER": p("upper-mouseover"), "ONCLICK": p("upper-click")}),
        t.el("details", {"open": "", "ontoggle": p("ontoggle")}, t.el("summary", {})),
        t.el("a", {"id": f"{section}-js-link", "href": js("a-href")}, t.text("js link")),
        t.el("a", {"id": f"{section}-top-link", "href": nav("nav", "top-link"), "target": "_top"}),
        t.el("a", {"id": f"{section}-blank-link", "href": nav("nav", "blank"), "target": "_blank"}),
        t.el("iframe", {"srcdoc": f"<p>forged srcdoc</p><script>{p('iframe-srcdoc')}</script>"}),
        t.el("iframe", {"src": js("iframe-src")}),
        t.el("iframe", {"src": nav("frame", "iframe-src")}),
        t.el("meta", {"http-equiv": "refresh", "content": "0;url=" + nav("nav", "meta-refresh")}),
        t.el(
            "form",
            {"id": f"{section}-form", "action": nav("form", "form"), "method": "post"},
            t.el("input", {"name": "q", "value": "x"}),
            t.el("button", {"id": f"{section}-submit", "type": "submit"}, t.text("send")),
            t.el("button", {"formaction": js("formaction")}, t.text("js formaction")),
        ),
        t.el("object", {"data": nav("object", "object"), "type": "text/html"}),
        t.el("embed", {"src": nav("embed", "embed"), "type": "text/html"}),
        t.el("link", {"rel": "import", "href": nav("nav", "link-import")}),
        t.el("style", {"_cssText": f'div {{ background: url("{js("css-url")}"); }}'}),
    ]


def forged_batch(m: str) -> dict[str, Any]:
    t = Tree()
    start = int(time.time() * 1000) - 10_000
    refresh = f"0;url={m}/nav?via=forged-head-meta-refresh"
    head = t.el(
        "head",
        {},
        t.el("meta", {"http-equiv": "refresh", "content": refresh}),
        t.el("base", {"href": f"{m}/res/base/"}),
        t.el("title", {}, t.text("Forged page")),
        t.el("SCRIPT", {}, t.text(payload(m, "forged-head-upper-script"))),
    )
    empty_script = t.el("SCRIPT", {})
    plain_img = t.el("img", {"src": f"{m}/res/plain.png?via=forged-plain-img"})
    plain_meta = t.el("meta", {"name": "later"})
    body = t.el(
        "body",
        {"ONLOAD": payload(m, "forged-body-onload"), "onpageshow": payload(m, "forged-pageshow")},
        t.el("h1", {}, t.text("Forged hostile page")),
        *forged_nodes(t, m, "forged-static"),
        empty_script,
        plain_img,
        plain_meta,
    )
    doctype = {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": t.new_id()}
    html_node = t.el("html", {}, head, body)
    doc = {"type": 0, "childNodes": [doctype, html_node], "id": t.new_id()}

    # The same hostile nodes again as a mutation, one add per node as rrweb sends them.
    adds: list[dict[str, Any]] = []

    def flatten(node: dict[str, Any], parent: int) -> None:
        adds.append({"parentId": parent, "nextId": None, "node": {**node, "childNodes": []}})
        for kid in node.get("childNodes", []):
            flatten(kid, node["id"])

    for node in forged_nodes(t, m, "forged-dynamic"):
        flatten(node, body["id"])
    # Text for the empty SCRIPT, later: an HTML script element runs when it gets its text.
    late_text = t.text(payload(m, "forged-late-script-text"))
    changed = [
        {"id": plain_img["id"], "attributes": {"onerror": payload(m, "forged-attr-img-onerror")}},
        {"id": plain_img["id"], "attributes": {"src": "x2"}},
        {
            "id": plain_meta["id"],
            "attributes": {"http-equiv": "refresh", "content": f"0;url={m}/nav?via=forged-attr"},
        },
        {"id": body["id"], "attributes": {"ONFOCUS": payload(m, "forged-attr-body-onfocus")}},
    ]

    def incremental(offset: int, data: dict[str, Any]) -> dict[str, Any]:
        return {"type": 3, "timestamp": start + offset, "data": data}

    def mutation(**parts: Any) -> dict[str, Any]:
        return {"source": 0, "texts": [], "attributes": [], "removes": [], "adds": [], **parts}

    def move(x: int) -> dict[str, Any]:
        return {"source": 1, "positions": [{"x": x, "y": x, "id": body["id"], "timeOffset": 0}]}

    identify = {"tag": "sessionlens.identify", "payload": {"user_id": '<b id="pwned-user">u</b>'}}
    url = f"{m}/forged.html?utm_source=%3Cb%20id%3Dpwned-utm%3Eu%3C/b%3E"
    events = [
        {"type": 4, "timestamp": start, "data": {"href": url, "width": 1280, "height": 900}},
        {
            "type": 2,
            "timestamp": start + 1,
            "data": {"node": doc, "initialOffset": {"top": 0, "left": 0}},
        },
        incremental(500, move(10)),
        incremental(1000, mutation(adds=adds)),
        incremental(1500, mutation(attributes=changed)),
        incremental(
            2000,
            mutation(adds=[{"parentId": empty_script["id"], "nextId": None, "node": late_text}]),
        ),
        incremental(2500, {"source": 2, "type": 2, "id": body["id"], "x": 20, "y": 20}),
        {"type": 5, "timestamp": start + 2600, "data": identify},
        incremental(3000, move(30)),
    ]
    return {
        "session_id": FORGED_SESSION,
        "visitor_id": "forgedVisitor01",
        "window_id": "forgedWindow01",
        "seq": 0,
        "sent_at": start + 3000,
        "meta": {
            "url": url,
            "referrer": 'javascript:alert(1)//"><b id="pwned-referrer">r</b>',
            "title": '</title><b id="pwned-meta-title">t</b><script>alert(1)</script>',
            "viewport": {"width": 1280, "height": 900},
            "screen": {"width": 1920, "height": 1080},
        },
        "events": events,
    }


def send_forged(server: Server, project: projects.Project, marker: Marker) -> None:
    response = httpx.post(
        f"{server.base_url}/i/v1/{project.ingest_key}/batch",
        content=json.dumps(forged_batch(marker.origin)),
        headers={"Origin": marker.origin, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 202, response.text


# --- the console ---------------------------------------------------------------------------


@dataclass
class Watch:
    """What the console's browser context saw."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    popups: list[str] = field(default_factory=list)
    tolerated: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Replayed:
    session_id: str
    texts: tuple[str, ...]  # must be visible at the end of the replay
    hostile: tuple[str, ...]  # selectors that must be in the replayed DOM (and not run)


# What a console user could click inside the replay, if the player let them.
INTERACTIONS = (
    "a[id$='-js-link']",
    "a[id$='-plain-link']",
    "a[id$='-top-link']",
    "a[id$='-blank-link']",
    "button[id$='-submit']",
    "button[formaction]",
    "input[id$='-focus']",
)

PROBE_PAGE = """() => ({
    title: document.title,
    href: location.href,
    pwned: localStorage.getItem('pwned'),
    global: window.__pwned === undefined ? null : String(window.__pwned),
    injected: Array.from(document.querySelectorAll('[id^="pwned"]')).map((e) => e.outerHTML),
    sandboxes: Array.from(document.querySelectorAll('#player iframe')).map(
        (f) => f.getAttribute('sandbox')),
})"""

# frame.evaluate waits forever in a frame without a script context, so the replay frame and
# the frames inside it (about:blank, about:srcdoc: the console's origin) are read from the
# console page itself.
PROBE_FRAMES = """() => {
    const found = [];
    const walk = (win, path, depth) => {
        let children = [];
        try {
            if (win.__pwned !== undefined) found.push(path + ': window.__pwned = ' + win.__pwned);
            children = Array.from(win.document.querySelectorAll('iframe, frame, object, embed'));
        } catch (err) {
            return; // another origin: an error page or a navigated frame (see the marker hits)
        }
        if (depth > 6) return;
        children.forEach((el, i) => {
            const child = el.contentWindow;
            const name = path + ' > ' + el.tagName.toLowerCase() + '[' + i + ']';
            if (child) walk(child, name, depth + 1);
        });
    };
    document.querySelectorAll('#player iframe').forEach((f, i) => {
        if (f.contentWindow) walk(f.contentWindow, 'replay[' + i + ']', 0);
    });
    return found;
}"""

COUNT_IN_REPLAY = """(selectors) => {
    const doc = window.sessionlensPlayer.getReplayer().iframe.contentDocument;
    return selectors.map((s) => doc.querySelectorAll(s).length);
}"""


def replay(
    page: Page,
    marker: Marker,
    url: str,
    session: Replayed,
    allows: Callable[[Hit], bool],
    watch: Watch,
) -> list[str]:
    """Open a console replay page, seek, play it through at 8x, click inside it; then
    return every sign that something of the recording ran."""
    marker.take()
    page.goto(url)
    page.wait_for_selector("#player[data-state=complete]", timeout=20_000)
    before = page.evaluate(PROBE_PAGE)
    problems: list[str] = []
    total = page.evaluate("() => window.sessionlensPlayer.getMetaData().totalTime")
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        page.evaluate("(ms) => window.sessionlensPlayer.goto(ms)", int(total * fraction))
        page.wait_for_timeout(100)
    # Played through at 8x from the start: at the end every event has been applied.
    finished = page.evaluate(
        """(total) => new Promise((resolve) => {
            const player = window.sessionlensPlayer;
            player.addEventListener('finish', () => resolve(true));
            player.setSpeed(8);
            player.goto(0, true);
            setTimeout(() => resolve(false), total / 8 + 5000);
        })""",
        total,
    )
    if not finished:
        problems.append("the replay did not play to its end")
    # The hostile content really is in the replay (so nothing passes for want of it).
    shown = page.frame_locator("#player iframe").first.locator("body").inner_text(timeout=10_000)
    for text in session.texts:
        if text not in shown:
            problems.append(f"the replay does not show {text!r}: {shown[-300:]!r}")
    counts = page.evaluate(COUNT_IN_REPLAY, list(session.hostile))
    for selector, count in zip(session.hostile, counts, strict=True):
        if not count:
            problems.append(f"the replay has no {selector}: the test would prove nothing")
    ran_inside = page.evaluate(PROBE_FRAMES)
    # A console user clicking inside the replay (the player normally lets nothing through).
    # A link may leave the replay frame on an error page, so the frames were read above too.
    page.evaluate("() => window.sessionlensPlayer.getReplayer().enableInteract()")
    frame = page.frame_locator("#player iframe").first
    for selector in INTERACTIONS:
        for index in range(frame.locator(selector).count()):
            with suppress(PlaywrightError):
                frame.locator(selector).nth(index).click(
                    force=True, no_wait_after=True, timeout=1000
                )
    page.wait_for_timeout(800)  # timers, refreshes and beacons have had their chance

    after = page.evaluate(PROBE_PAGE)
    if after["title"] != before["title"] or "PWNED" in before["title"]:
        problems.append(f"the console title changed: {before['title']!r} -> {after['title']!r}")
    if after["href"] != url or page.url != url:
        problems.append(f"the console navigated: {url} -> {after['href']} / {page.url}")
    if after["pwned"] is not None:
        problems.append(f"localStorage.pwned set on the console origin: {after['pwned']!r}")
    if after["global"] is not None:
        problems.append(f"window.__pwned set on the console page: {after['global']!r}")
    if after["injected"]:
        problems.append(f"recorded HTML injected into the console page: {after['injected']}")
    if not after["sandboxes"]:
        problems.append("no replay iframe")
    for sandbox in after["sandboxes"]:
        if sandbox is None or "allow-scripts" in sandbox.split():
            problems.append(f"the replay iframe may run scripts: sandbox={sandbox!r}")
    ran_inside += page.evaluate(PROBE_FRAMES)
    problems += [f"a script ran inside the replay: {ran}" for ran in sorted(set(ran_inside))]
    hits = marker.take()
    if bad := [str(h) for h in hits if not allows(h)]:
        problems.append(f"requests to the recorded site during the replay: {bad}")
    watch.tolerated += sorted({str(h) for h in hits if allows(h)})
    if watch.popups:
        problems.append(f"windows opened: {watch.popups}")
    return [f"{url}: {p}" for p in problems]


def login(page: Page, server: Server) -> None:
    page.goto(f"{server.base_url}/login")
    page.fill("#email", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u)


def console_pass(
    browser: Browser,
    server: Server,
    marker: Marker,
    project_id: int,
    sessions: list[Replayed],
    bypass_csp: bool,
) -> tuple[list[str], Watch]:
    allows = sandbox_alone_allows if bypass_csp else shipped_console_allows
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, bypass_csp=bypass_csp)
    watch = Watch()
    problems: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: watch.console.append(f"{m.type}: {m.text[:300]}"))
        page.on("pageerror", lambda e: watch.errors.append(str(e)))
        context.on("page", lambda p: watch.popups.append(p.url))
        login(page, server)
        base = server.base_url
        for session in sessions:
            urls = [f"{base}/sessions/{session.session_id}"]
            if not bypass_csp:  # the same player on the "What is recorded" page
                urls.append(f"{base}/projects/{project_id}/recorded?session={session.session_id}")
            for url in urls:
                problems += replay(page, marker, url, session, allows, watch)
        # The session list shows recorded titles, URLs, campaigns and user ids as text.
        for url in (f"{base}/projects/{project_id}", f"{base}/projects"):
            page.goto(url)
            if page.evaluate("() => document.querySelectorAll('[id^=\"pwned\"]').length"):
                problems.append(f"{url}: recorded HTML injected into the console page")
        if bad := [str(h) for h in marker.take() if not allows(h)]:
            problems.append(f"requests to the recorded site from the session lists: {bad}")
    finally:
        context.close()
    return problems, watch


def report(name: str, problems: list[str], watch: Watch) -> str:
    return "\n".join(
        [
            f"{name}:",
            *problems,
            "-- console messages (last 40):",
            *watch.console[-40:],
            "-- page errors:",
            *watch.errors,
            "-- requests to the recorded site that were tolerated:",
            *sorted(set(watch.tolerated)),
        ]
    )


def test_a_hostile_recording_replays_without_running(tmp_path: Path, database_url: str) -> None:
    data_dir = tmp_path / "server-data"
    with (
        marker_server() as marker,
        running_server(data_dir, database_url, SESSIONLENS_DEMO="false") as server,
    ):
        engine = make_engine(database_url)
        try:
            project, token = make_project(engine, marker.origin)
        finally:
            engine.dispose()
        page_html = hostile_page(marker.origin, server.base_url, project.ingest_key)
        marker.pages["/hostile.html"] = page_html

        # The second wall: console pages allow no inline script, no eval.
        csp = httpx.get(f"{server.base_url}/login").headers["content-security-policy"]
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert script_src.split() == ["script-src", "'self'"], csp

        with chromium() as browser:
            record_visit(browser, marker)
            during_visit = marker.take()
            send_forged(server, project, marker)
            found = wait_for_events(
                server, token, project.id, {"recorded": FINISHED, "forged": "Forged hostile page"}
            )
            # The visit ran its own scripts (that is its right) ...
            ran = {h.via for h in during_visit if h.path == "/pwned"}
            assert {"static-a-href", "dynamic-a-href", "static-img-onerror"} <= ran, ran
            # ... and the hostile parts reached the recording, so the replay faces them.
            recorded_events = found["recorded"][1]
            for needle in ("dynamic-img-onerror", "mutation-img-onerror", "javascript:", "srcdoc"):
                assert needle in recorded_events, f"{needle} is not in the recording"

            sessions = [
                Replayed(
                    found["recorded"][0],
                    (
                        "Replay isolation page",
                        "The static section is visible",
                        "The dynamic section is visible",
                        FINISHED,
                    ),
                    ("[onerror]", "[onfocus]", "[ontoggle]", "a[href^='javascript:']", "iframe"),
                ),
                Replayed(
                    found["forged"][0],
                    ("Forged hostile page", "Forged hostile content: forged-dynamic"),
                    ("script", "[onerror]", "[onload]", "a[href^='javascript:']", "object"),
                ),
            ]
            problems, watch = console_pass(
                browser, server, marker, project.id, sessions, bypass_csp=False
            )
            assert not problems, report("the console as shipped", problems, watch)
            problems, watch = console_pass(
                browser, server, marker, project.id, sessions, bypass_csp=True
            )
            assert not problems, report("the sandbox alone (CSP bypassed)", problems, watch)
