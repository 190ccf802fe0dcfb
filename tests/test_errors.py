"""JavaScript errors and page timing: stored, reported, searchable; SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sessionlens.analytics.quality import percentile
from sessionlens.context import Context
from sessionlens.processing.events import error_fingerprint
from sessionlens.processing.processor import Processor
from sessionlens.storage.tables import pageview, session, session_error
from tests.conftest import Account, batch, login, page_events, send

NOW = int(time.time() * 1000) - 3_600_000
TODAY = datetime.now(UTC).date().isoformat()
SHOP = "https://shop.example"


def custom(ts: int, tag: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": 5, "timestamp": ts, "data": {"tag": tag, "payload": payload}}


def error(ts: int, message: str, kind: str = "error", **more: str) -> dict[str, Any]:
    return custom(ts, "sessionlens.error", {"kind": kind, "message": message, **more})


def timing(ts: int, href: str, ttfb: int, dcl: int, load: int | None, lcp: int) -> dict[str, Any]:
    figures = {"href": href, "ttfb": ttfb, "dcl": dcl, "load": load, "lcp": lcp}
    return custom(ts, "sessionlens.timing", figures)


def visit(
    client: TestClient, account: Account, sid: str, start: int, events: list[dict[str, Any]]
) -> None:
    """One session: the home page, then the given events in a second batch."""
    for seq, evs in enumerate([page_events(f"{SHOP}/", start), events]):
        body = batch(seq, session_id=sid, visitor_id="v" + sid, start=start, events=evs)
        assert send(client, account, body).status_code == 202


@pytest.fixture
def recorded(client: TestClient, alice: Account, processor: Processor) -> None:
    """Three sessions: A has the same TypeError twice (different numbers) and a console
    error on /cart; B the TypeError once; C no error. Timings on / for all three."""
    type_error = "TypeError: Cannot read properties of undefined (reading 'price') at 1"
    visit(
        client,
        alice,
        "sessAAAAAAAAAAAA",
        NOW,
        [
            timing(NOW + 3000, f"{SHOP}/", 100, 400, 900, 1200),
            error(NOW + 4000, type_error, source=f"{SHOP}/app.js:10:5"),
            error(NOW + 5000, type_error.replace(" 1", " 22")),
            *page_events(f"{SHOP}/cart?token=secret1", NOW + 6000),
            error(
                NOW + 7000,
                "Checkout failed [Object]",
                kind="console",
                stack=f"Error\n at pay ({SHOP}/app.js?token=secret2:3:1)",
            ),
        ],
    )
    visit(
        client,
        alice,
        "sessBBBBBBBBBBBB",
        NOW + 10_000,
        [
            timing(NOW + 13_000, f"{SHOP}/", 300, 500, None, 2000),
            error(NOW + 14_000, type_error.replace(" 1", " 7")),
        ],
    )
    visit(
        client,
        alice,
        "sessCCCCCCCCCCCC",
        NOW + 20_000,
        [timing(NOW + 23_000, f"{SHOP}/", 200, 600, 1000, 1500)],
    )
    processor.drain()


def test_errors_are_stored_per_session_with_their_page(
    recorded: None, ctx: Context, processor: Processor
) -> None:
    with ctx.engine.connect() as conn:
        counts = dict(conn.execute(select(session.c.client_id, session.c.errors)).all())
        rows = conn.execute(
            select(session_error).order_by(session_error.c.ts, session_error.c.id)
        ).all()
    assert counts == {"sessAAAAAAAAAAAA": 3, "sessBBBBBBBBBBBB": 1, "sessCCCCCCCCCCCC": 0}
    assert [r.kind for r in rows] == ["error", "error", "console", "error"]
    assert rows[0].fingerprint == rows[1].fingerprint == rows[3].fingerprint
    assert rows[2].fingerprint != rows[0].fingerprint
    assert rows[0].source == f"{SHOP}/app.js:10:5"
    assert rows[0].page_url == f"{SHOP}/"
    # The page the console error happened on, and its stack: denylisted parameters gone.
    assert rows[2].page_url == f"{SHOP}/cart"
    assert "secret2" not in rows[2].stack
    assert f"{SHOP}/app.js" in rows[2].stack


def test_processing_again_changes_nothing(
    recorded: None, ctx: Context, processor: Processor
) -> None:
    with ctx.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ingest_log SET processed_at = NULL")
    processor.drain()
    with ctx.engine.connect() as conn:
        assert conn.execute(select(session_error.c.id)).all().__len__() == 4
        assert sorted(conn.execute(select(session.c.errors)).scalars()) == [0, 1, 3]


def test_timing_lands_on_the_pageview_it_measured(recorded: None, ctx: Context) -> None:
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(pageview.c.path, pageview.c.ttfb_ms, pageview.c.load_ms, pageview.c.lcp_ms)
            .join(session, session.c.id == pageview.c.session_id)
            .order_by(pageview.c.ts)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("/", 100, 900, 1200),
        ("/cart", None, None, None),
        ("/", 300, None, 2000),
        ("/", 200, 1000, 1500),
    ]


def test_bad_timing_and_error_payloads_are_dropped_not_fatal(
    client: TestClient, alice: Account, processor: Processor, ctx: Context
) -> None:
    visit(
        client,
        alice,
        "sessDDDDDDDDDDDD",
        NOW,
        [
            timing(NOW + 1, f"{SHOP}/", -5, 10**12, None, 1),
            custom(NOW + 2, "sessionlens.timing", {"href": 5}),
            custom(NOW + 3, "sessionlens.error", {"kind": "weird", "message": 42}),
            custom(NOW + 4, "sessionlens.error", "not an object"),  # type: ignore[arg-type]
            custom(NOW + 5, "sessionlens.error", {"message": "x" * 5000}),
        ],
    )
    processor.drain()
    with ctx.engine.connect() as conn:
        pv = conn.execute(select(pageview.c.ttfb_ms, pageview.c.dcl_ms, pageview.c.lcp_ms)).one()
        errs = conn.execute(select(session_error.c.kind, session_error.c.message)).all()
    assert tuple(pv) == (None, None, 1)  # out-of-range figures dropped, the rest kept
    assert [(k, len(m)) for k, m in errs] == [("error", 5), ("error", 1000)]


def test_fingerprint_ignores_numbers_ids_and_urls() -> None:
    same = [
        "Failed to load order 12345 from https://api.example/orders/12345?x=1",
        "Failed to load order 99 from https://api.example/orders/99",
        "Failed to load order 3f2a9c1e-0b5d-4c1e-9a7b-1234567890ab from http://b.example/",
    ]
    assert len({error_fingerprint("error", m) for m in same}) == 1
    assert error_fingerprint("error", same[0]) != error_fingerprint("console", same[0])
    assert error_fingerprint("error", "Failed to save") != error_fingerprint("error", same[0])


def test_percentile_is_nearest_rank() -> None:
    values = Counter({100: 1, 200: 1, 300: 1, 400: 1})
    assert [percentile(values, p) for p in (25, 50, 75, 95, 100)] == [100, 200, 300, 400, 400]
    assert percentile(Counter(), 50) is None
    assert percentile(Counter({5: 99, 1000: 1}), 95) == 5


def test_error_and_timing_reports_over_the_api(
    recorded: None, client: TestClient, alice: Account
) -> None:
    auth = {"Authorization": f"Bearer {alice.token}"}
    base = f"/api/v1/projects/{alice.project.id}/reports"
    errors = client.get(f"{base}/errors?from={TODAY}&to={TODAY}", headers=auth).json()
    assert errors["sessions"] == 3
    assert errors["sessions_with_errors"] == 2
    top = errors["errors"]
    assert [(e["kind"], e["occurrences"], e["sessions"]) for e in top] == [
        ("error", 3, 2),
        ("console", 1, 1),
    ]
    assert top[0]["message"].startswith("TypeError: Cannot read properties of undefined")
    assert top[0]["pages"] == [{"path": "/", "count": 3}]
    assert top[1]["pages"] == [{"path": "/cart", "count": 1}]
    timing = client.get(f"{base}/timing?from={TODAY}&to={TODAY}", headers=auth).json()
    assert timing["measured"] == 3
    assert timing["site"]["ttfb"] == {"p50": 200, "p75": 300, "p95": 300}
    assert timing["site"]["load"] == {"p50": 900, "p75": 1000, "p95": 1000}
    assert timing["site"]["lcp"]["p50"] == 1500
    assert [p["path"] for p in timing["pages"]] == ["/"]
    assert timing["pages"][0]["measured"] == 3


def test_reports_page_shows_errors_and_timing(
    recorded: None, client: TestClient, alice: Account
) -> None:
    login(client, alice.email)
    page = client.get(f"/projects/{alice.project.id}/reports?from={TODAY}&to={TODAY}")
    assert page.status_code == 200
    html = page.text
    assert "2 of 3 sessions had errors" in html
    assert "TypeError: Cannot read properties of undefined" in html
    fingerprint = error_fingerprint(
        "error", "TypeError: Cannot read properties of undefined (reading 'price') at 1"
    )
    link = f"/projects/{alice.project.id}?error={fingerprint}&amp;from={TODAY}&amp;to={TODAY}"
    assert link in html
    assert "200 / 300 / 300" in html  # TTFB p50 / p75 / p95 over all pages


def test_search_by_errors(recorded: None, client: TestClient, alice: Account) -> None:
    auth = {"Authorization": f"Bearer {alice.token}"}
    url = f"/api/v1/projects/{alice.project.id}/sessions"

    def found(**params: str) -> list[int]:
        response = client.get(url, params=params, headers=auth)
        assert response.status_code == 200, response.text
        return sorted(s["errors"] for s in response.json()["sessions"])

    assert found() == [0, 1, 3]
    assert found(errors="yes") == [1, 3]
    assert found(errors="no") == [0]
    console = error_fingerprint("console", "Checkout failed [Object]")
    assert found(error=console) == [3]
    assert found(error=console, errors="no") == []
    bad = client.get(url, params={"errors": "maybe"}, headers=auth)
    assert bad.status_code == 400
    assert "errors must be yes or no" in bad.json()["error"]
    login(client, alice.email)
    page = client.get(f"/projects/{alice.project.id}?errors=yes")
    assert page.status_code == 200
    assert page.text.count('class="has-errors"') == 2


def test_session_detail_export_and_erasure_carry_errors_and_timing(
    recorded: None, client: TestClient, alice: Account, ctx: Context
) -> None:
    auth = {"Authorization": f"Bearer {alice.token}"}
    with ctx.engine.connect() as conn:
        sid = conn.execute(
            select(session.c.id).where(session.c.client_id == "sessAAAAAAAAAAAA")
        ).scalar_one()
    detail = client.get(f"/api/v1/sessions/{sid}", headers=auth).json()
    assert detail["errors"] == 3
    assert [(p["path"], p["ttfb_ms"], p["lcp_ms"]) for p in detail["pageviews"]] == [
        ("/", 100, 1200),
        ("/cart", None, None),
    ]
    base = f"/api/v1/projects/{alice.project.id}/visitors"
    exported = client.get(
        f"{base}/export", params={"visitor_id": "vsessAAAAAAAAAAAA"}, headers=auth
    )
    assert exported.status_code == 200
    errors = exported.json()["sessions"][0]["errors"]
    assert [e["kind"] for e in errors] == ["error", "error", "console"]
    assert errors[2]["page_url"] == f"{SHOP}/cart"
    erased = client.post(f"{base}/erase", json={"visitor_id": "vsessAAAAAAAAAAAA"}, headers=auth)
    assert erased.status_code == 200
    with ctx.engine.connect() as conn:
        left = conn.execute(select(session_error.c.session_id)).scalars().all()
    assert left
    assert sid not in left
