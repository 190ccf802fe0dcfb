"""Session search filters, on the API and in the console, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from sessionlens.analytics import search
from sessionlens.processing.processor import Processor
from tests.conftest import Account, batch, click, login, page_events, send

NOW = int(time.time() * 1000) - 3_600_000
TODAY = datetime.now(UTC).date().isoformat()


def custom(ts: int, tag: str, payload: dict[str, object]) -> dict[str, object]:
    return {"type": 5, "timestamp": ts, "data": {"tag": tag, "payload": payload}}


@pytest.fixture
def sessions(client: TestClient, alice: Account, processor: Processor) -> None:
    """A: long, from Google, visits /checkout, identified as a pro user, buys.
    B: short bounce from a newsletter campaign on mobile. C: returning visitor of A."""
    send(
        client,
        alice,
        batch(
            0,
            session_id="sessionAAAAAAAA",
            visitor_id="visitorONE00001",
            url="https://shop.example/",
            start=NOW,
            referrer="https://www.google.com/",
        ),
    )
    send(
        client,
        alice,
        batch(
            1,
            session_id="sessionAAAAAAAA",
            visitor_id="visitorONE00001",
            start=NOW,
            events=[
                click(NOW + 1000),
                click(NOW + 2000),
                *page_events("https://shop.example/checkout?step=2", NOW + 60_000),
                custom(
                    NOW + 61_000,
                    "sessionlens.identify",
                    {"user_id": "u-1", "traits": {"plan": "pro"}},
                ),
                custom(NOW + 62_000, "sessionlens.event", {"name": "purchase", "props": {}}),
            ],
        ),
    )
    mobile = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    send(
        client,
        alice,
        batch(
            0,
            session_id="sessionBBBBBBBB",
            visitor_id="visitorTWO00001",
            url="https://shop.example/?utm_source=news&utm_campaign=autumn",
            start=NOW,
        ),
        **{"User-Agent": mobile},
    )
    processor.drain()
    send(
        client,
        alice,
        batch(
            0,
            session_id="sessionCCCCCCCC",
            visitor_id="visitorONE00001",
            url="https://shop.example/products",
            start=NOW + 600_000,
        ),
    )
    processor.drain()


def found(client: TestClient, account: Account, **params: str) -> set[str]:
    response = client.get(
        f"/api/v1/projects/{account.project.id}/sessions",
        params=params,
        headers={"Authorization": f"Bearer {account.token}"},
    )
    assert response.status_code == 200, response.text
    return {s["entry_url"].split("shop.example", 1)[1] for s in response.json()["sessions"]}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"/", "/?utm_source=news&utm_campaign=autumn", "/products"}),
        ({"url": "/checkout"}, {"/"}),
        ({"url": "/checkout", "url_op": "equals"}, {"/"}),
        ({"url": "/check*", "url_op": "pattern"}, {"/"}),
        ({"url": "/check", "url_op": "equals"}, set()),
        ({"entry": "products"}, {"/products"}),
        ({"source": "search"}, {"/"}),
        (
            {"source": "campaign", "utm_campaign": "autumn"},
            {"/?utm_source=news&utm_campaign=autumn"},
        ),
        ({"referrer": "google"}, {"/"}),
        ({"device": "mobile"}, {"/?utm_source=news&utm_campaign=autumn"}),
        ({"visitor": "returning"}, {"/products"}),
        ({"visitor": "new", "min_pages": "2"}, {"/"}),
        ({"max_pages": "1"}, {"/?utm_source=news&utm_campaign=autumn", "/products"}),
        ({"min_duration": "60"}, {"/"}),
        ({"user": "u-1"}, {"/"}),
        ({"user": "*"}, {"/"}),
        ({"trait": "plan:pro"}, {"/"}),
        ({"trait": "plan:free"}, set()),
        ({"event": "purchase"}, {"/"}),
        ({"from": TODAY, "to": TODAY}, {"/", "/?utm_source=news&utm_campaign=autumn", "/products"}),
        ({"from": "2001-01-01", "to": "2001-01-31"}, set()),
    ],
)
def test_filters_combine(
    client: TestClient, alice: Account, sessions: None, params: dict[str, str], expected: set[str]
) -> None:
    assert found(client, alice, **params) == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_pages": "two"}, "min_pages"),
        ({"from": "yesterday"}, "from"),
        ({"url_op": "regex"}, "url_op"),
        ({"visitor": "maybe"}, "visitor"),
        ({"trait": "plan"}, "trait"),
        ({"source": "tv"}, "source"),
    ],
)
def test_bad_filters_are_400(
    client: TestClient, alice: Account, params: dict[str, str], message: str
) -> None:
    response = client.get(
        f"/api/v1/projects/{alice.project.id}/sessions",
        params=params,
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_like_wildcards_in_filters_are_literal(
    client: TestClient, alice: Account, sessions: None
) -> None:
    assert found(client, alice, url="%") == set()
    assert found(client, alice, entry="m%s") == set()  # a wildcard would match "utm_s"


def test_console_filters_live_in_the_url_and_save_as_segments(
    client: TestClient, alice: Account, bob: Account, sessions: None
) -> None:
    login(client, alice.email)
    page = client.get(f"/projects/{alice.project.id}", params={"source": "search"})
    assert page.status_code == 200
    assert page.text.count("/sessions/") == 1
    assert "source: search" in page.text
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    saved = client.post(
        f"/projects/{alice.project.id}/segments",
        data={"csrf_token": csrf, "name": "From search", "query": "source=search"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    listing = client.get(f"/projects/{alice.project.id}")
    assert "From search" in listing.text
    assert f'href="/projects/{alice.project.id}?source=search"' in listing.text
    assert client.get(f"/projects/{alice.project.id}", params={"min_pages": "x"}).status_code == 400
    client.cookies.clear()
    login(client, bob.email)
    assert client.post(
        f"/projects/{alice.project.id}/segments",
        data={"csrf_token": csrf, "name": "x", "query": "source=search"},
    ).status_code in (403, 404)


def test_filter_round_trip() -> None:
    wanted = search.parse({"source": "search", "min_pages": "2", "unknown": "x", "url": " "})
    assert wanted.values == {"source": "search", "min_pages": "2"}
    assert wanted.query_string() == "min_pages=2&source=search"
