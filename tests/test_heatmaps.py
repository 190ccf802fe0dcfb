"""Heatmaps: recorded visits sent through the ingest and processed, then the click, move,
scroll and attention figures checked against counts made by hand, on SQLite and PostgreSQL.

The visits (viewport 1000x800 unless said; documents from sessionlens.layout events):

- Ada (new, desktop) on /products/lamp, a 1000x4000 document, over three batches processed
  one by one: clicks button#buy at (250, 500) (offset 500/250 per mille) 998 ms after the
  layout; two mouse positions at client (100, 100) and (100, 110); scrolls to 2000 px; one
  position at client (100, 100), i.e. page y 2100; 16 s later clicks a.more at (900, 2500)
  (offset 100/900).
- Ben (new, mobile, viewport 400x700) on /products/mug, a 400x2000 document: clicks
  button#buy at (200, 300) (offset 250/750), then scrolls to 1300 px (to the bottom).
- Ada again (returning, desktop) on /products/lamp: one click on button#buy at (260, 510).

Bands are 5% of the document's height: 200 px on Ada's page, 100 px on Ben's.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sessionlens.analytics import search, segments
from sessionlens.context import Context
from sessionlens.processing import heatmaps
from sessionlens.processing.processor import Processor
from sessionlens.recordings.subjects import erase
from sessionlens.storage.tables import (
    heatmap_band,
    heatmap_cell,
    heatmap_cell_total,
    heatmap_element,
    heatmap_element_total,
    heatmap_view,
    page_click,
    session,
)
from tests.conftest import Account, batch, login, send

NOW = int(time.time() * 1000) - 2 * 3_600_000
TODAY = datetime.now(UTC).date()
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
DESKTOP = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)


def opening(url: str, ts: int, width: int, height: int, doc: tuple[int, int]) -> list[Any]:
    """A page load: Meta, full snapshot (root node 1) and the recorder's layout event."""
    return [
        {"type": 4, "timestamp": ts, "data": {"href": url, "width": width, "height": height}},
        {
            "type": 2,
            "timestamp": ts + 1,
            "data": {
                "node": {"type": 0, "id": 1, "childNodes": []},
                "initialOffset": {"top": 0, "left": 0},
            },
        },
        custom(ts + 2, "sessionlens.layout", w=doc[0], h=doc[1], vw=width, vh=height),
    ]


def custom(ts: int, name: str, **payload: Any) -> dict[str, Any]:
    return {"type": 5, "timestamp": ts, "data": {"tag": name, "payload": payload}}


def clicked(
    ts: int, sel: str, x: int, y: int, ox: int, oy: int, doc: tuple[int, int], vw: int = 1000
) -> dict[str, Any]:
    return custom(
        ts,
        "sessionlens.click",
        sel=sel,
        tag=sel.split("#")[0].split(".")[0],
        x=x,
        y=y,
        ox=ox,
        oy=oy,
        w=doc[0],
        h=doc[1],
        vw=vw,
        vh=800,
        int=1,
        dl=0,
    )


def moved(ts: int, *points: tuple[int, int]) -> dict[str, Any]:
    positions = [{"x": x, "y": y, "id": 2, "timeOffset": 0} for x, y in points]
    return {"type": 3, "timestamp": ts, "data": {"source": 1, "positions": positions}}


def scrolled(ts: int, y: int, node: int = 1) -> dict[str, Any]:
    return {"type": 3, "timestamp": ts, "data": {"source": 3, "id": node, "x": 0, "y": y}}


def visit(
    client: TestClient,
    account: Account,
    processor: Processor,
    sid: str,
    vid: str,
    parts: list[list[dict[str, Any]]],
    url: str,
    agent: str = DESKTOP,
    viewport: tuple[int, int] = (1000, 800),
) -> None:
    """Each part a batch, processed before the next is sent (so state crosses batches)."""
    for seq, events in enumerate(parts):
        body = batch(seq, session_id=sid, visitor_id=vid, url=url, start=NOW, events=events)
        body["meta"]["viewport"] = {"width": viewport[0], "height": viewport[1]}
        body["meta"]["screen"] = {"width": viewport[0], "height": viewport[1]}
        assert send(client, account, body, **{"User-Agent": agent}).status_code == 202
        processor.drain()


ADA_DOC = (1000, 4000)
BEN_DOC = (400, 2000)


@pytest.fixture
def visits(client: TestClient, alice: Account, processor: Processor) -> None:
    lamp = "https://shop.example/products/lamp?color=red"
    t = NOW
    visit(
        client,
        alice,
        processor,
        "sessionADA000001",
        "visitorADA0001",
        [
            opening(lamp, t, 1000, 800, ADA_DOC),
            [
                clicked(t + 1000, "button#buy", 250, 500, 500, 250, ADA_DOC),
                moved(t + 2000, (100, 100), (100, 110)),
            ],
            [
                scrolled(t + 3000, 2000),
                moved(t + 4000, (100, 100)),
                clicked(t + 20_000, "a.more", 900, 2500, 100, 900, ADA_DOC),
            ],
        ],
        lamp,
    )
    mug = "https://shop.example/products/mug"
    t = NOW + 60_000
    visit(
        client,
        alice,
        processor,
        "sessionBEN000001",
        "visitorBEN0001",
        [
            [
                *opening(mug, t, 400, 700, BEN_DOC),
                clicked(t + 1000, "button#buy", 200, 300, 250, 750, BEN_DOC, vw=400),
                scrolled(t + 2000, 1300),
            ]
        ],
        mug,
        agent=IPHONE,
        viewport=(400, 700),
    )
    t = NOW + 3_600_000
    visit(
        client,
        alice,
        processor,
        "sessionADA000002",
        "visitorADA0001",
        [
            [
                *opening(lamp, t, 1000, 800, ADA_DOC),
                clicked(t + 500, "button#buy", 260, 510, 0, 0, ADA_DOC),
            ]
        ],
        lamp,
    )


def auth(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


def get(client: TestClient, account: Account, kind: str, **params: str) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/projects/{account.project.id}/heatmaps/{kind}",
        params=params,
        headers=auth(account),
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def cells(data: dict[str, Any]) -> dict[tuple[int, int], int]:
    return {(x, y): n for x, y, n in data["cells"]}


def test_clicks_per_cell_and_element_over_a_pattern(
    client: TestClient, alice: Account, visits: None
) -> None:
    data = get(client, alice, "clicks", url="/products/*")
    assert data["total"] == 4
    assert (data["columns"], data["row_px"]) == (100, 20)
    # x is a share of the document's width: Ben's 200 of 400 px is column 50
    assert cells(data) == {(25, 25): 1, (26, 25): 1, (90, 125): 1, (50, 15): 1}
    elements = {e["selector"]: e for e in data["elements"]}
    assert elements["button#buy"]["clicks"] == 3
    assert (elements["button#buy"]["offset_x"], elements["button#buy"]["offset_y"]) == (250, 333)
    assert elements["a.more"] == {
        "selector": "a.more",
        "tag": "a",
        "clicks": 1,
        "offset_x": 100,
        "offset_y": 900,
    }
    assert data["elements"][0]["selector"] == "button#buy"
    assert data["source"] == "aggregates"
    assert (data["from"], data["to"]) == ((TODAY - timedelta(days=29)).isoformat(), str(TODAY))


def test_mouse_moves_are_placed_with_the_scroll_position(
    client: TestClient, alice: Account, visits: None
) -> None:
    data = get(client, alice, "moves", url="/products/lamp")
    # (100, 100) and (100, 110) at scroll 0: row 5; (100, 100) after scrolling 2000 px: row 105
    assert cells(data) == {(10, 5): 2, (10, 105): 1}
    assert data["total"] == 3


def test_scroll_reach_counts_pageviews_per_band(
    client: TestClient, alice: Account, visits: None
) -> None:
    data = get(client, alice, "scroll", url="/products/*")
    views = [b["views"] for b in data["bands"]]
    # Ada's first visit: bands 0-3 at the top, 10-13 after scrolling, so 0-13 reached;
    # her second visit only the top (0-3); Ben reached the bottom (0-19).
    assert views == [3] * 4 + [2] * 10 + [1] * 6
    assert data["views"] == 3
    assert data["bands"][19] == {
        "band": 19,
        "from_pct": 95,
        "to_pct": 100,
        "views": 1,
        "share": round(1 / 3, 4),
    }


def test_attention_is_time_in_view_per_band_across_batches(
    client: TestClient, alice: Account, visits: None
) -> None:
    data = get(client, alice, "attention", url="/products/lamp")
    ms = [b["ms"] for b in data["bands"]]
    # Ada's first visit, top bands 0-3: 998 ms to the click, 1000 to the moves, 1000 to the
    # scroll; then bands 10-13: 1000 to the moves, 5000 (a 16 s gap counts 5 s) to the click.
    # Her second visit: 498 ms on bands 0-3 before its click.
    assert ms == [2998 + 498] * 4 + [0] * 6 + [6000] * 4 + [0] * 6
    assert data["total_ms"] == sum(ms)
    assert data["bands"][10]["share"] == 1.0
    assert data["bands"][0]["mean_ms"] == round(3496 / 2)
    mug = get(client, alice, "attention", url="/products/mug")
    # Ben: 998 + 1000 ms with bands 0-6 in view (700 of 2000 px), then he left
    assert [b["ms"] for b in mug["bands"]] == [1998] * 7 + [0] * 13


@pytest.mark.parametrize(
    ("params", "total"),
    [
        ({"device": "mobile"}, 1),
        ({"device": "desktop"}, 3),
        ({"min_width": "900"}, 3),
        ({"max_width": "500"}, 1),
        ({"min_width": "500", "max_width": "950"}, 0),
        ({"min_width": "450", "max_width": "950"}, 1),  # 450 is in the 400 px step
        ({"visitor": "returning"}, 1),
        ({"visitor": "new"}, 3),
        ({"url": "/products/lamp"}, 3),
        ({"url": "https://shop.example/products/mug?x=1"}, 1),
        ({"url": "/products"}, 0),
        ({"url": "/pro*s/l*"}, 3),
        ({"from": (TODAY - timedelta(days=40)).isoformat(), "to": "2000-01-01"}, -1),
        ({"to": (TODAY - timedelta(days=3)).isoformat()}, 0),
    ],
)
def test_filters_narrow_the_clicks(
    client: TestClient, alice: Account, visits: None, params: dict[str, str], total: int
) -> None:
    query = {"url": "/products/*", **params}
    response = client.get(
        f"/api/v1/projects/{alice.project.id}/heatmaps/clicks", params=query, headers=auth(alice)
    )
    if total < 0:
        assert response.status_code == 400
        return
    assert response.status_code == 200, response.text
    assert response.json()["total"] == total


def test_a_segment_falls_back_to_the_raw_clicks_of_its_sessions(
    client: TestClient, ctx: Context, alice: Account, visits: None
) -> None:
    with ctx.engine.begin() as conn:
        mobile = segments.save(
            conn, alice.project.id, "Phones", search.parse({"device": "mobile"}), alice.user_id
        )
        lamp = segments.save(
            conn, alice.project.id, "Lamp", search.parse({"url": "/lamp"}), alice.user_id
        )
    data = get(client, alice, "clicks", url="/products/*", segment=str(mobile.id))
    assert data["source"] == "segment"
    assert data["segment"] == "Phones"
    assert data["total"] == 1
    assert cells(data) == {(50, 15): 1}
    assert data["elements"] == [
        {"selector": "button#buy", "tag": "button", "clicks": 1, "offset_x": 250, "offset_y": 750}
    ]
    everyone = get(client, alice, "clicks", url="/products/*", segment=str(lamp.id))
    assert everyone["total"] == 3
    scroll = get(client, alice, "scroll", url="/products/*", segment=str(lamp.id))
    assert [b["views"] for b in scroll["bands"]] == [2] * 4 + [1] * 10 + [0] * 6
    attention = get(client, alice, "attention", url="/products/*", segment=str(mobile.id))
    assert [b["ms"] for b in attention["bands"]] == [1998] * 7 + [0] * 13
    moves = client.get(
        f"/api/v1/projects/{alice.project.id}/heatmaps/moves",
        params={"url": "/products/*", "segment": str(mobile.id)},
        headers=auth(alice),
    )
    assert moves.status_code == 400
    assert "segment" in moves.json()["error"]


def test_sessions_that_clicked_an_element_link_to_the_moment(
    client: TestClient, ctx: Context, alice: Account, visits: None
) -> None:
    response = client.get(
        f"/api/v1/projects/{alice.project.id}/heatmaps/clicks/sessions",
        params={"url": "/products/*", "selector": "button#buy"},
        headers=auth(alice),
    )
    assert response.status_code == 200, response.text
    found = response.json()["sessions"]
    with ctx.engine.connect() as conn:
        ids = dict(conn.execute(select(session.c.client_id, session.c.id)).all())
    # newest click first: Ada's second visit (0.5 s in), Ben (1 s in), Ada's first (1 s in)
    assert [s["session_id"] for s in found] == [
        ids["sessionADA000002"],
        ids["sessionBEN000001"],
        ids["sessionADA000001"],
    ]
    assert found[0]["replay_url"] == f"/sessions/{ids['sessionADA000002']}?t=0"
    assert found[2]["replay_url"] == f"/sessions/{ids['sessionADA000001']}?t=1"
    assert all(s["clicks"] == 1 for s in found)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "url is required"),
        ({"url": "products"}, "url must be a path"),
        ({"url": "/a", "device": "fridge"}, "device must be one of"),
        ({"url": "/a", "visitor": "old"}, "visitor must be new or returning"),
        ({"url": "/a", "min_width": "wide"}, "min_width must be a whole number"),
        ({"url": "/a", "max_width": "-1"}, "max_width must be a whole number"),
        ({"url": "/a", "min_width": "900", "max_width": "300"}, "min_width must not be more"),
        ({"url": "/a", "from": "yesterday"}, "dates must look like"),
        ({"url": "/a", "from": "2026-02-02", "to": "2026-01-01"}, "'from' must not be after"),
        ({"url": "/a", "segment": "x"}, "segment must be the id"),
        ({"url": "/a", "segment": "999999"}, "no such saved segment"),
        ({"url": "/a", "segment": "99999999999999"}, "segment must be the id"),
    ],
)
def test_bad_filters_are_400s_that_say_what_is_wrong(
    client: TestClient, alice: Account, params: dict[str, str], message: str
) -> None:
    for kind in ("clicks", "moves", "scroll", "attention"):
        response = client.get(
            f"/api/v1/projects/{alice.project.id}/heatmaps/{kind}",
            params=params,
            headers=auth(alice),
        )
        assert response.status_code == 400, (kind, response.text)
        assert message in response.json()["error"], response.text


def test_another_organisation_gets_404_and_no_token_401(
    client: TestClient, alice: Account, bob: Account, visits: None
) -> None:
    for kind in ("clicks", "moves", "scroll", "attention", "clicks/sessions"):
        path = f"/api/v1/projects/{alice.project.id}/heatmaps/{kind}"
        params = {"url": "/products/*", "selector": "button#buy"}
        assert client.get(path, params=params, headers=auth(bob)).status_code == 404
        assert client.get(path, params=params).status_code == 401
    login(client, bob.email)
    page = client.get(f"/projects/{alice.project.id}/heatmaps", params={"url": "/products/*"})
    assert page.status_code == 404
    listed = client.get(
        f"/projects/{alice.project.id}/heatmaps/sessions",
        params={"url": "/products/*", "selector": "button#buy"},
    )
    assert listed.status_code == 404


def test_the_page_suggests_pages_and_patterns_and_embeds_the_data(
    client: TestClient, alice: Account, visits: None
) -> None:
    login(client, alice.email)
    page = client.get(f"/projects/{alice.project.id}/heatmaps")
    assert page.status_code == 200
    # the most viewed page is chosen; its siblings are offered as a pattern
    assert 'value="/products/lamp"' in page.text
    assert ">/products/*</a> (2 pages)" in page.text
    assert 'id="heatmap-data"' in page.text
    assert 'data-blocks-url="/sessions/' in page.text
    assert 'aria-current="page">Heatmaps' in page.text
    scroll = client.get(
        f"/projects/{alice.project.id}/heatmaps", params={"kind": "scroll", "url": "/products/*"}
    )
    assert "95&ndash;100%" in scroll.text
    bad = client.get(f"/projects/{alice.project.id}/heatmaps", params={"device": "fridge"})
    assert bad.status_code == 400
    assert "device must be one of" in bad.text
    listed = client.get(
        f"/projects/{alice.project.id}/heatmaps/sessions",
        params={"url": "/products/*", "selector": "a.more"},
    )
    assert listed.status_code == 200
    assert len(listed.json()["sessions"]) == 1


def test_processing_a_batch_twice_counts_it_once(
    client: TestClient, ctx: Context, alice: Account, visits: None, processor: Processor
) -> None:
    with ctx.engine.connect() as conn:
        before = conn.execute(select(func.sum(heatmap_cell.c.n))).scalar_one()
    body = batch(2, session_id="sessionADA000001", visitor_id="visitorADA0001", events=[])
    body["events"] = [clicked(NOW + 30_000, "a.again", 1, 1, 0, 0, ADA_DOC)]
    # the same seq as a stored batch: a duplicate, not processed again
    assert send(client, alice, body).json()["duplicate"] is True
    processor.drain()
    with ctx.engine.connect() as conn:
        assert conn.execute(select(func.sum(heatmap_cell.c.n))).scalar_one() == before


def test_erasing_a_visitor_leaves_only_day_counts(
    client: TestClient, ctx: Context, alice: Account, visits: None
) -> None:
    with ctx.engine.begin() as conn:
        erase(conn, ctx.blobs, alice.project.id, "visitor", "visitorADA0001")
    with ctx.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(heatmap_view)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(page_click)).scalar_one() == 1
        # the day totals hold no session or visitor: they stay
        assert conn.execute(select(func.sum(heatmap_band.c.views))).scalar_one() > 0
    data = get(client, alice, "clicks", url="/products/*")
    assert data["total"] == 4
    listed = client.get(
        f"/api/v1/projects/{alice.project.id}/heatmaps/clicks/sessions",
        params={"url": "/products/*", "selector": "button#buy"},
        headers=auth(alice),
    )
    assert len(listed.json()["sessions"]) == 1


def totals(ctx: Context) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    with ctx.engine.connect() as conn:
        cell_rows = conn.execute(select(heatmap_cell_total)).all()
        element_rows = conn.execute(select(heatmap_element_total)).all()
    return {tuple(r) for r in cell_rows}, {tuple(r) for r in element_rows}


def test_day_totals_are_the_sums_of_the_detailed_rows(
    client: TestClient, ctx: Context, alice: Account, visits: None
) -> None:
    cell, element = heatmap_cell, heatmap_element
    with ctx.engine.connect() as conn:
        cells = conn.execute(
            select(cell.c.project_id, cell.c.kind, cell.c.path, cell.c.day, cell.c.x, cell.c.y)
            .add_columns(func.sum(cell.c.n))
            .group_by(cell.c.project_id, cell.c.kind, cell.c.path, cell.c.day, cell.c.x, cell.c.y)
        ).all()
        elements = conn.execute(
            select(element.c.project_id, element.c.path, element.c.day, element.c.selector)
            .add_columns(
                func.max(element.c.tag),
                func.sum(element.c.clicks),
                func.sum(element.c.offset_x_sum),
                func.sum(element.c.offset_y_sum),
            )
            .group_by(element.c.project_id, element.c.path, element.c.day, element.c.selector)
        ).all()
    kept = totals(ctx)
    assert kept == ({tuple(r) for r in cells}, {tuple(r) for r in elements})
    with ctx.engine.begin() as conn:
        heatmaps.fill_totals(conn, alice.project.id)
    assert totals(ctx) == kept
    # without filters the totals answer; a filter that keeps everything reads the detailed
    # rows: the same heatmap
    for kind in ("clicks", "moves"):
        assert get(client, alice, kind, url="/products/*") == get(
            client, alice, kind, url="/products/*", min_width="0"
        )
