"""The struggle detectors on recorded-like streams: each signal, and each false positive
named in the issue (pagination and steppers, downloads, form fields, slow pages)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from sessionlens.context import Context
from sessionlens.processing import interactions, struggle
from sessionlens.processing.processor import Processor
from sessionlens.processing.struggle import Item
from sessionlens.storage.tables import page_click, pageview, session, session_signal, signal_state
from tests.conftest import Account, batch, login, page_events, send

T = 1_764_000_000_000
NOW = int(time.time() * 1000) - 3_600_000


def click(ms: int, sel: str = "button#buy", x: int = 100, y: int = 200, **data: Any) -> Item:
    values = {"sel": sel, "tag": sel.split("#")[0].split(".")[0], "x": x, "y": y, "int": 1}
    return Item(T + ms, "click", {**values, "dl": 0, "path": "/p", **data})


def at(ms: int, kind: str, **data: Any) -> Item:
    return Item(T + ms, kind, data)


def kinds(items: list[Item], horizon: int | None = None) -> list[str]:
    found, _ = struggle.detect(items, {}, horizon)
    return [s.kind for s in found]


def test_rage_click_three_fast_clicks_on_one_element() -> None:
    items = [click(0), click(250, x=110), click(500, y=215), at(520, "mut")]
    found, _ = struggle.detect(items, {}, None)
    rage = [s for s in found if s.kind == "rage_click"]
    assert len(rage) == 1
    assert rage[0].selector == "button#buy"
    assert rage[0].detail == {"clicks": 3, "span_ms": 500}
    assert rage[0].clicks == [T, T + 250, T + 500]


def test_not_rage_when_slow_far_apart_or_on_different_elements() -> None:
    slow = [click(0), click(700), click(1500)]  # the first three span 1.5 s
    assert "rage_click" not in kinds(slow)
    far = [click(0), click(200, x=180), click(400, x=260)]  # 80 px and 160 px away
    assert "rage_click" not in kinds(far)
    mixed = [click(0), click(200, sel="a#next"), click(400)]
    assert "rage_click" not in kinds(mixed)
    two = [click(0), click(200)]
    assert "rage_click" not in kinds(two)


def test_pagination_and_steppers_are_not_rage() -> None:
    """Each click changed the page: a "next page" button or a quantity stepper."""
    stepper = [click(0), at(30, "mut"), click(300), at(320, "mut"), click(600), at(650, "mut")]
    assert "rage_click" not in kinds(stepper)
    # A quantity stepper changes its field's value, not the DOM.
    qty = [click(0), at(5, "input"), click(200), at(205, "input"), click(400), at(405, "input")]
    assert "rage_click" not in kinds(qty)
    # ...or the recording cannot show it (masked values look alike): the recorder says so.
    masked = [click(0, chg=1), click(200, chg=1), click(400, chg=1)]
    assert kinds(masked) == []
    # One click without an answer in the burst: that is frustration again.
    partly = [click(0), at(30, "mut"), click(300), click(600), at(650, "mut")]
    assert "rage_click" in kinds(partly)


def test_a_long_burst_is_one_rage_signal() -> None:
    items = [click(i * 150) for i in range(8)]
    assert kinds(items).count("rage_click") == 1


def test_dead_click_on_a_button_with_no_answer() -> None:
    items = [click(0, sel="button#apply"), at(1500, "mut")]  # too late
    found, _ = struggle.detect(items, {}, None)
    assert [(s.kind, s.selector) for s in found] == [("dead_click", "button#apply")]


def test_clicks_answered_are_not_dead() -> None:
    for answer in ("mut", "nav", "input", "scroll"):
        assert kinds([click(0), at(400, answer)]) == [], answer
    # A request the click started (the recorder's network marker refers to it).
    assert kinds([click(0), at(1100, "net", click_ts=T + 2)]) == []
    # A marker for another click does not count.
    assert kinds([click(0), at(1100, "net", click_ts=T - 5000)]) == ["dead_click"]


def test_downloads_form_fields_and_plain_text_are_not_dead_clicks() -> None:
    download = click(0, sel="a#report", dl=1)
    field = click(0, sel="input#email", tag="input")
    text = click(0, sel="p.intro", int=0)
    for item in (download, field, text):
        assert kinds([item]) == [], item.data


def test_error_click() -> None:
    items = [click(0), at(300, "err", message="TypeError: x"), at(310, "mut")]
    found, _ = struggle.detect(items, {}, None)
    assert [s.kind for s in found] == ["error_click"]
    assert found[0].detail == {"error": "TypeError: x"}
    # An error before the click, or more than 1 s after, is not the click's.
    assert kinds([at(0, "err"), click(10), at(20, "mut"), at(1500, "err")]) == []


def test_u_turn_back_within_five_seconds() -> None:
    items = [
        at(0, "nav", path="/list"),
        at(10_000, "nav", path="/item/1"),
        at(13_000, "nav", path="/list"),
    ]
    found, _ = struggle.detect(items, {}, None)
    assert [(s.kind, s.path, s.detail) for s in found] == [
        ("u_turn", "/list", {"to": "/item/1", "away_ms": 3000})
    ]
    slow = [
        at(0, "nav", path="/list"),
        at(10_000, "nav", path="/item/1"),
        at(40_000, "nav", path="/list"),
    ]
    assert kinds(slow) == []
    reload = [at(0, "nav", path="/list"), at(2000, "nav", path="/list")]
    assert kinds(reload) == []


def test_excessive_scrolling_up_and_down() -> None:
    ys = [0, 400, 800, 400, 0, 500, 1000, 300]  # down, up, down, up: 3 reversals
    items = [at(i * 400, "scroll", y=y, path="/long") for i, y in enumerate(ys)]
    found, _ = struggle.detect(items, {}, None)
    assert [(s.kind, s.path) for s in found] == [("excessive_scroll", "/long")]
    reading = [at(i * 1000, "scroll", y=i * 300) for i in range(20)]  # steady reading
    assert kinds(reading) == []
    jitter = [at(i * 100, "scroll", y=(i % 2) * 50) for i in range(30)]  # small legs
    assert kinds(jitter) == []


def test_mouse_thrashing() -> None:
    xs = [100, 300, 100, 300, 100, 300, 100, 300, 100]
    items = [at(i * 150, "move", x=x, y=200, path="/p") for i, x in enumerate(xs)]
    assert kinds(items) == ["thrashing"]
    calm = [at(i * 150, "move", x=100 + i * 20, y=200) for i in range(20)]
    assert kinds(calm) == []


def test_form_retry_after_validation_errors() -> None:
    items = [
        at(0, "invalid", form="form#checkout", path="/checkout"),
        at(5, "invalid", form="form#checkout", path="/checkout"),
        at(20_000, "invalid", form="form#checkout", path="/checkout"),
    ]
    found, _ = struggle.detect(items, {}, None)
    assert [(s.kind, s.selector, s.path) for s in found] == [
        ("form_retry", "form#checkout", "/checkout")
    ]
    # A script's validation: submit events answered by invalid fields.
    scripted = [
        at(0, "submit", form="form#f"),
        at(50, "invalid", form="form#f"),
        at(9000, "submit", form="form#f"),
        at(9040, "invalid", form="form#f"),
    ]
    assert kinds(scripted) == ["form_retry"]
    # One failed attempt then a good one; or two far apart.
    assert kinds([at(0, "invalid", form="form#f"), at(9000, "submit", form="form#f")]) == []
    far = [at(0, "invalid", form="form#f"), at(120_000, "invalid", form="form#f")]
    assert kinds(far) == []


def test_signals_wait_for_their_lookahead_and_are_decided_once() -> None:
    items = [click(0, sel="button#apply")]
    # The stream has not gone 1 s past the click: not decided yet.
    found, done = struggle.detect(items, {}, T + 500)
    assert found == []
    # A later batch: the answer might still come, but 1 s has passed without one.
    found, done = struggle.detect([*items, at(1200, "move", x=1, y=1)], done, T + 1200)
    assert [s.kind for s in found] == ["dead_click"]
    # Detecting again over the same stream finds nothing new.
    again, _ = struggle.detect([*items, at(1300, "move", x=1, y=1)], done, T + 1300)
    assert again == []


def test_keep_holds_what_the_next_batch_needs() -> None:
    items = [
        at(0, "mut"),
        at(0, "submit", form="f"),
        click(5000),
        at(9000, "mut"),
        at(9500, "move", x=1, y=1),
    ]
    kept = struggle.keep(items, T + 10_000)
    assert [i.kind for i in kept] == ["submit", "click", "mut", "move"]


def test_score_caps_each_kind_and_the_total() -> None:
    assert struggle.score({}) == (0, [])
    total, parts = struggle.score({"rage_click": 1, "dead_click": 2, "js_error": 1})
    assert total == 15 + 16 + 2
    assert parts == [
        {"kind": "rage_click", "count": 1, "points": 15},
        {"kind": "dead_click", "count": 2, "points": 16},
        {"kind": "js_error", "count": 1, "points": 2},
    ]
    assert struggle.score({"rage_click": 10})[0] == 45  # at most 3 count
    everything = {kind: 10 for kind in struggle.WEIGHTS}
    assert struggle.score(everything)[0] == 100


# --- through ingest and the processor -------------------------------------------------


def custom(ms: int, tag: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": 5, "timestamp": NOW + ms, "data": {"tag": tag, "payload": payload}}


def sl_click(ms: int, sel: str, x: int = 100, y: int = 200, **more: Any) -> dict[str, Any]:
    payload = {"sel": sel, "tag": "button", "x": x, "y": y, "ox": 500, "oy": 500, "int": 1}
    return custom(ms, "sessionlens.click", {**payload, "w": 1280, "h": 3000, "vw": 1280, **more})


def mutation(ms: int) -> dict[str, Any]:
    data = {"source": 0, "adds": [], "removes": [], "texts": [], "attributes": []}
    return {"type": 3, "timestamp": NOW + ms, "data": data}


def moved(ms: int) -> dict[str, Any]:
    positions = [{"x": 5, "y": 5, "id": 2, "timeOffset": 0}]
    return {"type": 3, "timestamp": NOW + ms, "data": {"source": 1, "positions": positions}}


def _send(client: TestClient, account: Account, seq: int, events: list[dict[str, Any]]) -> None:
    body = batch(seq, session_id="sessSTRUGGLE0001", start=NOW, events=events)
    assert send(client, account, body).status_code == 202


@pytest.fixture
def struggling(client: TestClient, alice: Account, processor: Processor) -> None:
    """One visit, four batches processed one by one: a rage burst split over two batches
    (also dead: nothing answers), a dead link, a stepper (answered: nothing), an error
    click, then a u-turn that is only decided once the stream is 5 s past it."""
    shop = "https://shop.example"
    batches = [
        page_events(f"{shop}/", NOW),
        [sl_click(1000, "button#buy"), sl_click(1200, "button#buy", x=105)],
        [
            sl_click(1400, "button#buy", y=210),
            sl_click(5000, "a#help", x=400, y=900),
            *(
                e
                for ms in (8000, 8300, 8600)
                for e in (sl_click(ms, "button#plus"), mutation(ms + 20))
            ),
            sl_click(11_000, "button#pay"),
            custom(11_200, "sessionlens.error", {"kind": "error", "message": "TypeError: pay"}),
            mutation(11_210),
            moved(13_000),
        ],
        [*page_events(f"{shop}/cart", NOW + 15_000), *page_events(f"{shop}/", NOW + 17_000)],
        [moved(21_000)],
    ]
    for seq, events in enumerate(batches):
        _send(client, alice, seq, events)
        processor.drain()


def test_signals_through_the_processor(struggling: None, ctx: Context) -> None:
    with ctx.engine.connect() as conn:
        row = conn.execute(select(session)).one()
        signals = conn.execute(
            select(
                session_signal.c.kind, session_signal.c.selector, session_signal.c.path
            ).order_by(session_signal.c.ts, session_signal.c.kind)
        ).all()
        clicks = conn.execute(
            select(
                page_click.c.selector, page_click.c.rage, page_click.c.dead, page_click.c.error
            ).order_by(page_click.c.ts)
        ).all()
        pages = conn.execute(
            select(pageview.c.path, pageview.c.struggle_score).order_by(pageview.c.ts)
        ).all()
    assert [tuple(s) for s in signals] == [
        ("dead_click", "button#buy", "/"),
        ("rage_click", "button#buy", "/"),
        ("dead_click", "button#buy", "/"),
        ("dead_click", "button#buy", "/"),
        ("dead_click", "a#help", "/"),
        ("error_click", "button#pay", "/"),
        ("u_turn", "", "/"),
    ]
    assert (row.rage_clicks, row.dead_clicks, row.error_clicks, row.errors) == (1, 4, 1, 1)
    assert row.struggle_score == 15 + 3 * 8 + 12 + 6 + 2
    assert [tuple(c) for c in clicks] == [
        ("button#buy", True, True, False),
        ("button#buy", True, True, False),
        ("button#buy", True, True, False),
        ("a#help", False, True, False),
        ("button#plus", False, False, False),
        ("button#plus", False, False, False),
        ("button#plus", False, False, False),
        ("button#pay", False, False, True),
    ]
    # The first view of / carries the clicks; the u-turn is anchored where / was left.
    assert [tuple(p) for p in pages] == [("/", 15 + 24 + 12 + 6), ("/cart", 0), ("/", 0)]


def test_processing_the_log_again_changes_nothing(
    struggling: None, ctx: Context, processor: Processor
) -> None:
    with ctx.engine.connect() as conn:
        before = conn.execute(select(session_signal.c.kind)).scalars().all()
    with ctx.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ingest_log SET processed_at = NULL")
    processor.drain()
    with ctx.engine.connect() as conn:
        assert conn.execute(select(session_signal.c.kind)).scalars().all() == before
        assert len(conn.execute(select(page_click.c.id)).all()) == 8


def test_a_quiet_session_settles(
    client: TestClient, alice: Account, processor: Processor, ctx: Context
) -> None:
    """The visitor clicked a dead button and left: nothing comes after it, so only settling
    decides the click."""
    _send(client, alice, 0, [*page_events("https://shop.example/", NOW), sl_click(500, "button#x")])
    processor.drain()
    with ctx.engine.connect() as conn:
        assert conn.execute(select(session.c.dead_clicks)).scalar_one() == 0
    now = int(time.time() * 1000)
    with ctx.engine.begin() as conn:
        assert interactions.settle(conn, now + 1000) == 0  # not quiet long enough
        assert interactions.settle(conn, now + interactions.SETTLE_AFTER_MS + 1000) == 1
    with ctx.engine.connect() as conn:
        assert conn.execute(select(session.c.dead_clicks)).scalar_one() == 1
        assert conn.execute(select(signal_state)).all() == []


def test_the_processor_settles_quiet_sessions(
    client: TestClient, alice: Account, processor: Processor, ctx: Context
) -> None:
    _send(client, alice, 0, [*page_events("https://shop.example/", NOW), sl_click(500, "button#x")])
    processor.drain()
    assert processor.settle() == 0  # the batch came just now: maybe more will come
    with ctx.engine.begin() as conn:
        conn.execute(update(signal_state).values(saved_ms=signal_state.c.saved_ms - 61_000))
    assert processor.settle() == 1
    assert processor.settle() == 0
    with ctx.engine.connect() as conn:
        assert conn.execute(select(session.c.dead_clicks)).scalar_one() == 1


def test_signals_on_the_api_the_session_page_and_in_search(
    struggling: None, client: TestClient, alice: Account, ctx: Context
) -> None:
    auth = {"Authorization": f"Bearer {alice.token}"}
    with ctx.engine.connect() as conn:
        sid = conn.execute(select(session.c.id)).scalar_one()
    detail = client.get(f"/api/v1/sessions/{sid}", headers=auth).json()
    assert (detail["rage_clicks"], detail["dead_clicks"], detail["error_clicks"]) == (1, 4, 1)
    assert detail["struggle_score"] == 59
    assert [s["kind"] for s in detail["signals"]][:2] == ["dead_click", "rage_click"]
    rage = detail["signals"][1]
    assert rage["text"] == "button#buy (3 clicks)"
    assert rage["offset_ms"] == 1000
    assert {p["kind"]: p["points"] for p in detail["struggle"]} == {
        "rage_click": 15,
        "dead_click": 24,
        "error_click": 12,
        "u_turn": 6,
        "js_error": 2,
    }
    url = f"/api/v1/projects/{alice.project.id}/sessions"
    for params, count in (
        ({"min_struggle": "50"}, 1),
        ({"min_struggle": "60"}, 0),
        ({"min_rage_clicks": "1"}, 1),
        ({"min_dead_clicks": "5"}, 0),
        ({"min_error_clicks": "1"}, 1),
    ):
        found = client.get(url, params=params, headers=auth).json()["sessions"]
        assert len(found) == count, params
    assert client.get(url, params={"min_struggle": "x"}, headers=auth).status_code == 400
    login(client, alice.email)
    page = client.get(f"/sessions/{sid}").text
    assert '<span class="score score-high">59</span>' in page
    assert '<li data-offset-ms="1000" data-kind="rage_click" data-label="Rage click">' in page
    assert "button#buy (3 clicks)" in page
    listing = client.get(f"/projects/{alice.project.id}?min_struggle=50").text
    assert 'class="struggle-cell high">59<' in listing


def test_pages_with_the_most_struggle_report(
    struggling: None, client: TestClient, alice: Account
) -> None:
    auth = {"Authorization": f"Bearer {alice.token}"}
    day = datetime.fromtimestamp(NOW / 1000, UTC).date().isoformat()
    url = f"/api/v1/projects/{alice.project.id}/reports/struggle?from={day}&to={day}"
    report = client.get(url, headers=auth).json()
    assert report["signals"]["rage_click"] == 1
    assert report["signals"]["dead_click"] == 4
    assert report["signals"]["u_turn"] == 1
    assert [(p["path"], p["pageviews"], p["struggling_pageviews"]) for p in report["pages"]] == [
        ("/", 2, 1)
    ]
    assert report["pages"][0]["score"] == 28.5  # (57 + 0) / 2 views of /
    assert report["pages"][0]["signals"]["dead_click"] == 4
    login(client, alice.email)
    page = client.get(f"/projects/{alice.project.id}/reports?from={day}&to={day}").text
    assert "Rage clicks 1, dead clicks 4" in page
    assert '<tr data-path="/">' in page
