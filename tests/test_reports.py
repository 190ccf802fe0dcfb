"""Usage reports, as JSON and as a page, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from sessionlens.analytics.period import Period, PeriodError, labels, parse_period
from sessionlens.analytics.sources import classify
from sessionlens.processing.processor import Processor
from tests.conftest import Account, batch, click, login, page_events, send

NOW = int(time.time() * 1000) - 2 * 3_600_000
TODAY = datetime.now(UTC).date()


def visit(
    client: TestClient,
    account: Account,
    sid: str,
    vid: str,
    url: str,
    start: int,
    referrer: str = "",
    more: tuple[str, ...] = (),
) -> None:
    send(
        client,
        account,
        batch(0, session_id=sid, visitor_id=vid, url=url, start=start, referrer=referrer),
    )
    events = [click(start + 500)]
    for n, page in enumerate(more, start=1):
        events += page_events(page, start + n * 10_000)
    send(
        client,
        account,
        batch(1, session_id=sid, visitor_id=vid, url=url, start=start, events=events),
    )


@pytest.fixture
def traffic(client: TestClient, alice: Account, processor: Processor) -> None:
    """Ada arrives from Google, then returns from a campaign; Ben from Twitter, bounces."""
    visit(
        client,
        alice,
        "sessionADA000001",
        "visitorADA0001",
        "https://shop.example/search?q=lamp&sort=price&token=SECRET9",
        NOW,
        "https://www.google.com/",
        ("https://shop.example/products/lamp", "https://shop.example/cart"),
    )
    visit(
        client,
        alice,
        "sessionBEN000001",
        "visitorBEN0001",
        "https://shop.example/",
        NOW,
        "https://t.co/abc",
    )
    processor.drain()
    visit(
        client,
        alice,
        "sessionADA000002",
        "visitorADA0001",
        "https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=autumn",
        NOW + 3_600_000,
        "",
        ("https://shop.example/search?q=mug",),
    )
    processor.drain()


def auth(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def get(client: TestClient, account: Account, kind: str, **params: str) -> dict[str, object]:
    response = client.get(
        f"/api/v1/projects/{account.project.id}/reports/{kind}",
        params=params,
        headers=auth(account),
    )
    assert response.status_code == 200, response.text
    data: dict[str, object] = response.json()
    return data


def test_overview_counts_visitors_sessions_pages_and_bounces(
    client: TestClient, alice: Account, traffic: None
) -> None:
    data = get(client, alice, "overview")
    now = data["current"]
    assert isinstance(now, dict)
    assert now["visitors"] == 2
    assert now["sessions"] == 3
    assert now["pageviews"] == 6
    assert now["returning_sessions"] == 1
    assert now["new_sessions"] == 2
    assert now["bounce_rate"] == pytest.approx(1 / 3, abs=0.001)
    assert data["previous"]["sessions"] == 0  # type: ignore[index]
    assert data["change"]["sessions"] is None  # type: ignore[index]


def test_sources_group_referrers_and_campaigns(
    client: TestClient, alice: Account, traffic: None
) -> None:
    data = get(client, alice, "sources")
    groups = {g["name"]: g["count"] for g in data["groups"]}  # type: ignore[union-attr]
    assert groups == {"direct": 0, "search": 1, "social": 1, "campaign": 1, "other": 0}
    domains = {r["domain"] for r in data["referrers"]}  # type: ignore[union-attr]
    assert domains == {"google.com", "t.co"}
    utm = get(client, alice, "utm")
    assert utm["source"] == [{"name": "newsletter", "count": 1}]
    assert utm["campaign"] == [{"name": "autumn", "count": 1}]


def test_url_parameters_per_page_leave_out_utm_and_denylisted(
    client: TestClient, alice: Account, traffic: None
) -> None:
    data = get(client, alice, "params")
    found = {
        (p["path"], p["param"]): {v["name"]: v["count"] for v in p["values"]}
        for p in data["params"]
    }  # type: ignore[union-attr]
    assert found[("/search", "q")] == {"lamp": 1, "mug": 1}
    assert found[("/search", "sort")] == {"price": 1}
    assert not any(name.startswith("utm_") or name == "token" for _, name in found)
    assert "SECRET9" not in str(data)


def test_pages_devices_and_timeseries(client: TestClient, alice: Account, traffic: None) -> None:
    pages = get(client, alice, "pages")
    top = {p["path"]: p["pageviews"] for p in pages["top"]}  # type: ignore[union-attr]
    assert top["/search"] == 2
    assert top["/"] == 2
    entry = {p["name"]: p["count"] for p in pages["entry"]}  # type: ignore[union-attr]
    assert entry == {"/search": 1, "/": 2}
    devices = get(client, alice, "devices")
    assert devices["screen"] == [{"name": "1920x1080", "count": 3}]
    series = get(client, alice, "timeseries", unit="day")
    points = series["points"]
    assert isinstance(points, list)
    assert len(points) == 30
    assert sum(p["sessions"] for p in points) == 3
    assert sum(p["pageviews"] for p in points) == 6
    hourly = get(
        client,
        alice,
        "timeseries",
        unit="hour",
        **{"from": TODAY.isoformat(), "to": TODAY.isoformat()},
    )
    assert len(hourly["points"]) == 24  # type: ignore[arg-type]


def test_reports_need_access_and_good_dates(
    client: TestClient, alice: Account, bob: Account, traffic: None
) -> None:
    url = f"/api/v1/projects/{alice.project.id}/reports/overview"
    assert client.get(url, headers=auth(bob)).status_code == 404
    assert client.get(url).status_code == 401
    bad = client.get(url, params={"from": "2026-13-01"}, headers=auth(alice))
    assert bad.status_code == 400
    assert (
        client.get(
            f"/api/v1/projects/{alice.project.id}/reports/nonsense", headers=auth(alice)
        ).status_code
        == 400
    )


def test_reports_page_shows_the_figures(client: TestClient, alice: Account, traffic: None) -> None:
    login(client, alice.email)
    page = client.get(f"/projects/{alice.project.id}/reports")
    assert page.status_code == 200
    assert "<svg" in page.text
    assert "google.com" in page.text
    assert "newsletter" in page.text
    assert "<script>" not in page.text  # charts are SVG drawn on the server


@pytest.mark.parametrize(
    ("referrer", "entry", "group"),
    [
        ("https://www.google.co.uk/", "https://s.example/", "search"),
        ("https://duckduckgo.com/", "https://s.example/", "search"),
        ("https://l.facebook.com/", "https://s.example/", "social"),
        ("https://news.ycombinator.com/", "https://s.example/", "social"),
        ("", "https://s.example/?gclid=1", "campaign"),
        ("https://s.example/other", "https://s.example/", "direct"),
        ("", "https://s.example/", "direct"),
        ("https://blog.example/post", "https://s.example/", "other"),
        ("https://notgoogle.example/", "https://s.example/", "other"),
    ],
)
def test_source_groups(referrer: str, entry: str, group: str) -> None:
    assert classify(referrer, entry)[0] == group


def test_periods() -> None:
    period = parse_period("2026-11-01", "2026-11-30")
    assert period.days == 30
    assert period.previous == Period(period.start - timedelta(days=30), period.start)
    assert labels(parse_period("2026-11-23", "2026-11-30"), "week") == ["2026-11-23", "2026-11-30"]
    with pytest.raises(PeriodError):
        parse_period("2026-11-30", "2026-11-01")
