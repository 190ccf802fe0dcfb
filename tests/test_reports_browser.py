"""Reports on real visits in chromium: a search referrer, a returning visitor on a campaign
link, a social referrer with a search parameter; the console page and the JSON API agree on
the counts."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import BrowserContext, Page

from sessionlens.storage.engine import make_engine
from tests.browser import chromium
from tests.server import Server, running_server
from tests.test_e2e_browser import ADMIN, api_token

pytestmark = pytest.mark.browser

SEARCH_REFERRER = "https://www.google.com/search?q=desk+lamp"
SOCIAL_REFERRER = "https://www.facebook.com/"
CAMPAIGN = "utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale"
SEARCHED = "lamp"

# Every bars table of a console card, by the heading just before it: {heading: {label: n}}.
READ_CARD = """(title) => {
  const card = [...document.querySelectorAll('section.card')]
    .find((s) => s.querySelector('h2') && s.querySelector('h2').textContent.trim() === title);
  if (!card) return null;
  const out = {};
  for (const table of card.querySelectorAll('table.bars')) {
    const heading = table.previousElementSibling;
    const rows = {};
    for (const tr of table.querySelectorAll('tr')) {
      const label = tr.querySelector('.bar-label');
      const count = tr.querySelector('td.num');
      if (label && count) rows[label.textContent.trim()] = Number(count.textContent.trim());
    }
    out[heading ? heading.textContent.replace(/\\s+/g, ' ').trim() : ''] = rows;
  }
  return out;
}"""


class Api:
    def __init__(self, server: Server, token: str) -> None:
        self.base_url = f"{server.base_url}/api/v1"
        self.headers = {"Authorization": f"Bearer {token}"}
        projects = self.get("/projects")["projects"]
        assert len(projects) == 1, projects  # the demo project
        self.project_id = int(projects[0]["id"])

    def get(self, path: str, **params: str) -> Any:
        answer = httpx.get(
            f"{self.base_url}{path}", headers=self.headers, params=params, timeout=30
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def sessions(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(f"/projects/{self.project_id}/sessions")["sessions"]
        return found

    def report(self, kind: str) -> dict[str, Any]:
        # Yesterday and today (UTC), so that a run across midnight still sees every visit.
        today = datetime.now(UTC).date()
        first = (today - timedelta(days=1)).isoformat()
        found: dict[str, Any] = self.get(
            f"/projects/{self.project_id}/reports/{kind}",
            **{"from": first, "to": today.isoformat()},
        )
        return found


def wait_for_pages(api: Api, wanted: list[int]) -> list[dict[str, Any]]:
    """The sessions once their page counts (newest first) are `wanted`."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = api.sessions()
        if [s["pages"] for s in found] == wanted:
            return found
        time.sleep(0.3)
    raise AssertionError(f"sessions not processed as expected: {found}")


def leave(page: Page) -> None:
    page.mouse.move(300, 300, steps=5)
    page.wait_for_timeout(2500)  # one more flush of the 2 s batcher
    page.close()  # pagehide: the last batch goes out as a beacon


def from_search_then_a_product(context: BrowserContext, server: Server) -> str:
    """Visitor A's first session: the home page from a search result, then a product."""
    page = context.new_page()
    page.goto(f"{server.base_url}/demo/", referer=SEARCH_REFERRER)
    assert page.evaluate("document.referrer") == SEARCH_REFERRER
    page.mouse.move(200, 200, steps=5)
    link = page.locator(".product-card a").first
    slug = link.get_attribute("data-product")
    assert slug
    link.click()
    page.wait_for_url(f"**/demo/products/{slug}")
    leave(page)
    return f"/demo/products/{slug}"


def back_on_a_campaign_link(context: BrowserContext, server: Server) -> None:
    """Visitor A again, in a new tab: the visitor id (cookie) is the same, the tab's
    sessionStorage is new, so the recorder starts a second session."""
    page = context.new_page()
    page.goto(f"{server.base_url}/demo/?{CAMPAIGN}")
    assert page.evaluate("document.referrer") == ""
    leave(page)


def from_social_with_a_search(context: BrowserContext, server: Server) -> None:
    """Visitor B: a product search opened from a social site."""
    page = context.new_page()
    page.goto(f"{server.base_url}/demo/products?q={SEARCHED}", referer=SOCIAL_REFERRER)
    assert page.evaluate("document.referrer") == SOCIAL_REFERRER
    leave(page)


def check_api(api: Api, product: str) -> None:
    overview = api.report("overview")
    assert overview["current"] == {
        "visitors": 2,
        "sessions": 3,
        "pageviews": 4,
        "new_sessions": 2,
        "returning_sessions": 1,
        "avg_duration_ms": overview["current"]["avg_duration_ms"],
        "avg_active_ms": overview["current"]["avg_active_ms"],
        "bounce_rate": 0.6667,  # two of the three sessions saw one page
    }
    assert overview["current"]["avg_duration_ms"] > 0
    assert all(value == 0 for value in overview["previous"].values()), overview["previous"]

    points = api.report("timeseries")["points"]
    assert sum(p["sessions"] for p in points) == 3
    assert sum(p["pageviews"] for p in points) == 4

    sources = api.report("sources")
    assert sources["groups"] == [
        {"name": "direct", "count": 0},
        {"name": "search", "count": 1},
        {"name": "social", "count": 1},
        {"name": "campaign", "count": 1},
        {"name": "other", "count": 0},
    ]
    assert sorted(sources["referrers"], key=lambda r: r["domain"]) == [
        {"domain": "facebook.com", "group": "social", "count": 1},
        {"domain": "google.com", "group": "search", "count": 1},
    ]

    utm = api.report("utm")
    assert {key: utm[key] for key in ("source", "medium", "campaign", "term", "content")} == {
        "source": [{"name": "newsletter", "count": 1}],
        "medium": [{"name": "email", "count": 1}],
        "campaign": [{"name": "spring-sale", "count": 1}],
        "term": [],
        "content": [],
    }

    # UTM parameters are the campaign report's; only the search term is left here.
    assert api.report("params")["params"] == [
        {
            "path": "/demo/products",
            "param": "q",
            "total": 1,
            "values": [{"name": SEARCHED, "count": 1}],
        }
    ]

    pages = api.report("pages")
    assert {p["path"]: (p["pageviews"], p["sessions"]) for p in pages["top"]} == {
        "/demo/": (2, 2),
        "/demo/products": (1, 1),
        product: (1, 1),
    }
    assert {e["name"]: e["count"] for e in pages["entry"]} == {"/demo/": 2, "/demo/products": 1}
    assert {e["name"]: e["count"] for e in pages["exit"]} == {
        "/demo/": 1,
        "/demo/products": 1,
        product: 1,
    }


def check_console(server: Server, project_id: int, product: str) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server.base_url}/projects/{project_id}/reports")
        page.fill("#email", ADMIN[0])
        page.fill("#password", ADMIN[1])
        page.click("button[type=submit]")
        page.wait_for_url(f"**/projects/{project_id}/reports")
        assert page.locator("section.figures").count() == 1, page.inner_text("body")[:2000]

        figures = {
            key: page.locator(f"[data-figure={key}] .figure-value").inner_text().strip()
            for key in (
                "visitors",
                "sessions",
                "pageviews",
                "new_sessions",
                "returning_sessions",
                "bounce_rate",
            )
        }
        assert figures == {
            "visitors": "2",
            "sessions": "3",
            "pageviews": "4",
            "new_sessions": "2",
            "returning_sessions": "1",
            "bounce_rate": "66.7%",
        }
        assert page.evaluate(READ_CARD, "Top pages") == {
            "Top pages": {"/demo/": 2, "/demo/products": 1, product: 1}
        }
        assert page.evaluate(READ_CARD, "Entry pages") == {
            "Entry pages": {"/demo/": 2, "/demo/products": 1}
        }
        assert page.evaluate(READ_CARD, "Sources") == {
            "Sources": {"direct": 0, "search": 1, "social": 1, "campaign": 1, "other": 0},
            "Referring sites": {"google.com": 1, "facebook.com": 1},
        }
        assert page.evaluate(READ_CARD, "Campaigns (UTM)") == {
            "source": {"newsletter": 1},
            "medium": {"email": 1},
            "campaign": {"spring-sale": 1},
        }
        assert page.evaluate(READ_CARD, "URL parameters") == {"/demo/products ?q=": {SEARCHED: 1}}
        assert not errors, errors


def test_reports_count_sources_campaigns_searches_and_a_returning_visitor(
    tmp_path: Path, database_url: str
) -> None:
    with running_server(tmp_path / "server-data", database_url) as server:
        engine = make_engine(database_url)
        try:
            api = Api(server, api_token(engine))
        finally:
            engine.dispose()

        with chromium() as browser:
            visitor_a = browser.new_context(viewport={"width": 1280, "height": 720})
            visitor_a.set_default_timeout(15_000)
            product = from_search_then_a_product(visitor_a, server)
            # The first session is stored before the visitor comes back, so that the
            # second one is the returning one.
            wait_for_pages(api, [2])
            back_on_a_campaign_link(visitor_a, server)
            wait_for_pages(api, [1, 2])
            visitor_a.close()

            visitor_b = browser.new_context(viewport={"width": 1280, "height": 720})
            visitor_b.set_default_timeout(15_000)
            from_social_with_a_search(visitor_b, server)
            visitor_b.close()
        sessions = wait_for_pages(api, [1, 1, 2])

        by_source = {s["source"]: s for s in sessions}
        assert set(by_source) == {"search", "campaign", "social"}
        assert by_source["campaign"]["visitor_id"] == by_source["search"]["visitor_id"]
        assert by_source["social"]["visitor_id"] != by_source["search"]["visitor_id"]
        assert [by_source[s]["is_returning"] for s in ("search", "campaign", "social")] == [
            False,
            True,
            False,
        ]
        assert by_source["search"]["referrer"] == SEARCH_REFERRER
        assert by_source["social"]["entry_url"].endswith(f"/demo/products?q={SEARCHED}")

        check_api(api, product)
        check_console(server, api.project_id, product)
