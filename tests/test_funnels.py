"""Funnels: figures against hand-counted recorded sessions, saved funnels in the API and the
console, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sessionlens.accounts import tokens
from sessionlens.analytics.funnels import selector_matches
from sessionlens.context import Context
from sessionlens.processing import steps
from sessionlens.processing.processor import Processor
from sessionlens.storage.tables import session_step, step_key
from tests.conftest import Account, batch, login, page_events, send

T = int(time.time() * 1000) - 3_600_000
SECOND, MINUTE = 1000, 60_000
MOBILE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
SHOP = [
    {"type": "url", "value": "/"},
    {"type": "url", "value": "/products/*"},
    {"type": "event", "value": "add_to_cart"},
    {"type": "click", "value": "button#checkout"},
]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def page(url: str, at: int) -> list[dict[str, Any]]:
    return page_events(f"https://shop.example{url}", at)


def event(name: str, at: int) -> dict[str, Any]:
    payload = {"name": name, "props": {}}
    return {"type": 5, "timestamp": at, "data": {"tag": "sessionlens.event", "payload": payload}}


def clicked(selector: str, at: int) -> dict[str, Any]:
    payload = {"sel": selector, "tag": "button", "x": 10, "y": 10, "ox": 500, "oy": 500}
    payload |= {"w": 1280, "h": 2000, "vw": 1280, "vh": 720, "int": 1, "dl": 0}
    return {"type": 5, "timestamp": at, "data": {"tag": "sessionlens.click", "payload": payload}}


# What each session did (ms after T), and what the SHOP funnel with a 30-minute window makes
# of it (counted by hand in the docstring of `recorded`).
SESSIONS: dict[str, tuple[list[dict[str, Any]], dict[str, str]]] = {
    "sessionS1converts": (
        [
            *page("/", T),
            *page("/products/lamp", T + 10 * SECOND),
            event("add_to_cart", T + 20 * SECOND),
            clicked("main#content > div.cart > button#checkout", T + 30 * SECOND),
        ],
        {},
    ),
    "sessionS2mobile0": (
        [*page("/", T), *page("/products/mug", T + 5 * SECOND)],
        {"User-Agent": MOBILE},
    ),
    "sessionS3outoforder": (
        [
            *page("/products/x", T),
            *page("/", T + 10 * SECOND),
            event("add_to_cart", T + 20 * SECOND),
        ],
        {"referrer": "https://www.google.com/"},
    ),
    "sessionS4toolate": (
        [*page("/", T), *page("/products/a", T + 40 * MINUTE)],
        {},
    ),
    "sessionS5repeats": (
        [
            *page("/", T),
            *page("/cart", T + 5 * SECOND),
            *page("/", T + 50 * MINUTE),
            *page("/products/b", T + 51 * MINUTE),
            event("add_to_cart", T + 52 * MINUTE),
            clicked("button#checkout", T + 53 * MINUTE),
        ],
        {},
    ),
    "sessionS6nohome": ([*page("/products/c", T)], {}),
    "sessionS7clickfirst": (
        [
            *page("/", T),
            *page("/products/d", T + 10 * SECOND),
            clicked("button#checkout", T + 15 * SECOND),
            event("add_to_cart", T + 20 * SECOND),
        ],
        {},
    ),
}


@pytest.fixture
def recorded(client: TestClient, alice: Account, processor: Processor) -> None:
    """Funnel / -> /products/* -> add_to_cart -> click button#checkout, 30 minutes:
    S1 does all four; S2 (mobile) stops after the product page; S3 sees a product before
    the home page, so only step 1; S4 reaches the product page after 40 minutes; S5's
    funnel starts at its first home page, so its second visit 50 minutes later, which
    converts in 3 minutes, is out of the window: only step 1; S6 never sees the home page;
    S7 clicks checkout before adding to the cart, so stops at step 3.
    Each session's events come in two batches, the second processed separately."""
    for session_id, (events, extra) in SESSIONS.items():
        headers = {"User-Agent": extra["User-Agent"]} if "User-Agent" in extra else {}
        meta = {"referrer": extra["referrer"]} if "referrer" in extra else {}
        first_url = events[0]["data"]["href"]
        common = {"session_id": session_id, "visitor_id": f"v{session_id}", "url": first_url}
        half = max(2, len(events) // 2)
        sent = send(client, alice, batch(0, **common, events=events[:half], **meta), **headers)
        assert sent.status_code == 202, sent.text
        processor.drain()
        if events[half:]:
            sent = send(client, alice, batch(1, **common, events=events[half:], **meta), **headers)
            assert sent.status_code == 202, sent.text
    processor.drain()


def query(client: TestClient, account: Account, token: str | None = None, **body: Any) -> Any:
    return client.post(
        f"/api/v1/projects/{account.project.id}/funnels/query",
        json={"steps": SHOP, "window_minutes": 30, **body},
        headers={"Authorization": f"Bearer {token or account.token}"},
    )


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["session_id"] for item in items]


def client_ids(ctx: Context, session_ids: list[str]) -> set[str]:
    from sessionlens.storage.tables import session

    with ctx.engine.connect() as conn:
        rows = conn.execute(select(session.c.client_id).where(session.c.id.in_(session_ids)))
        return {r.client_id for r in rows}


def test_funnel_counts_ordered_steps_within_the_window_once_per_session(
    client: TestClient, alice: Account, recorded: None
) -> None:
    response = query(client, alice)
    assert response.status_code == 200, response.text
    data = response.json()
    assert [s["sessions"] for s in data["steps"]] == [6, 3, 2, 1]
    assert (data["entered"], data["converted"], data["conversion"]) == (6, 1, round(1 / 6, 4))
    assert [s["dropped"] for s in data["steps"]] == [3, 1, 1, 0]
    assert [s["conversion"] for s in data["steps"]] == [1.0, 0.5, round(2 / 3, 4), 0.5]
    assert data["steps"][1]["drop_off"] == round(1 / 3, 4)
    # from the step before: S1 10 s, S2 5 s, S7 10 s; then S1 10 s, S7 10 s; then S1 10 s
    assert [s["median_ms"] for s in data["steps"]] == [None, 10_000, 10_000, 10_000]
    assert [s["p90_ms"] for s in data["steps"]] == [None, 10_000, 10_000, 10_000]


def test_dropped_sessions_open_the_replay_at_their_last_step(
    client: TestClient, ctx: Context, alice: Account, recorded: None
) -> None:
    steps_out = query(client, alice).json()["steps"]
    after_one = steps_out[0]["dropped_sessions"]
    assert client_ids(ctx, ids(after_one)) == {
        "sessionS3outoforder",
        "sessionS4toolate",
        "sessionS5repeats",
    }
    # S4 and S5 stopped on their first page, S3 at 10 s
    assert sorted(item["offset_ms"] for item in after_one) == [0, 0, 10_000]
    s3 = max(after_one, key=lambda item: item["offset_ms"])
    assert s3["replay"] == f"/sessions/{s3['session_id']}?t=10"
    assert client_ids(ctx, ids(steps_out[1]["dropped_sessions"])) == {"sessionS2mobile0"}
    assert steps_out[1]["dropped_sessions"][0]["replay"].endswith("?t=5")
    assert client_ids(ctx, ids(steps_out[2]["dropped_sessions"])) == {"sessionS7clickfirst"}
    assert steps_out[2]["dropped_sessions"][0]["replay"].endswith("?t=20")
    assert steps_out[3]["dropped_sessions"] == []
    limited = query(client, alice, dropped_limit=1).json()["steps"][0]["dropped_sessions"]
    assert len(limited) == 1


def test_breakdown_by_device_and_source(client: TestClient, alice: Account, recorded: None) -> None:
    breakdown = query(client, alice).json()["breakdown"]
    devices = {g["name"]: g["steps"] for g in breakdown["device"]}
    assert devices == {"desktop": [5, 2, 2, 1], "mobile": [1, 1, 0, 0]}
    sources = {g["name"]: g["steps"] for g in breakdown["source"]}
    assert sources == {"direct": [5, 3, 2, 1], "search": [1, 0, 0, 0]}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"window_minutes": 60}, [6, 5, 3, 2]),  # S4's product page and S5's visit in time
        ({"filters": {"device": "mobile"}}, [1, 1, 0, 0]),
        ({"filters": {"source": "search"}}, [1, 0, 0, 0]),
        ({"from": "2001-01-01", "to": "2001-01-31"}, [0, 0, 0, 0]),
        ({"steps": [{"type": "url", "value": "/"}, {"type": "url", "value": "/cart"}]}, [6, 1]),
        ({"steps": SHOP[:2]}, [6, 3]),  # /products/* is read as one section key...
        ({"steps": [SHOP[0], {"type": "url", "value": "/prod*s/*"}]}, [6, 3]),  # ...or paths
        ({"steps": [SHOP[0], {"type": "click", "value": ".nothing"}]}, [6, 0]),
        ({"steps": [SHOP[0], SHOP[0]], "window_minutes": 60}, [6, 1]),  # S5 came back
        ({"steps": [{"type": "event", "value": "add_to_cart"}, SHOP[3]]}, [4, 2]),
    ],
)
def test_window_filters_dates_and_steps_change_the_counts(
    client: TestClient,
    alice: Account,
    recorded: None,
    changes: dict[str, Any],
    expected: list[int],
) -> None:
    response = query(client, alice, **changes)
    assert response.status_code == 200, response.text
    assert [s["sessions"] for s in response.json()["steps"]] == expected


@pytest.mark.parametrize(
    ("wanted", "stored", "matches"),
    [
        ("button#checkout", "button#checkout", True),
        ("button#checkout", "main#content > div.cart > button#checkout", True),
        ("#checkout", "main#content > div.cart > button#checkout", True),
        ("button", "main#content > div.cart > button#checkout", True),
        (".buy", "div.card:nth-of-type(2) > a.buy.primary", True),
        ("a.buy", "div.card:nth-of-type(2) > a.buy.primary", True),
        (
            "div.card:nth-of-type(2) > a.buy.primary",
            "main > div.card:nth-of-type(2) > a.buy.primary",
            True,
        ),
        ("a:nth-of-type(2)", "div > a:nth-of-type(2)", True),
        ("a.buy", "div > a.sell", False),
        ("span.buy", "div > a.buy", False),
        ("div.card", "div.card > a.buy", False),  # the element clicked is the last one
        ("ta.buy", "div > a.buy", False),
        ("card > a.buy", "div.card > a.buy", False),  # a suffix starts at an element
    ],
)
def test_click_step_selector_rule(wanted: str, stored: str, matches: bool) -> None:
    assert selector_matches(wanted, stored) is matches


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"steps": [SHOP[0]]}, "steps"),
        ({"steps": [SHOP[0], {"type": "scroll", "value": "x"}]}, "type"),
        ({"steps": [SHOP[0], {"type": "url", "value": "cart"}]}, "path"),
        ({"steps": [SHOP[0], {"type": "click", "value": "button[ > "}]}, "selector"),
        ({"steps": [SHOP[0], {"type": "event", "value": "  "}]}, "value"),
        ({"window_minutes": 0}, "window_minutes"),
        ({"window_minutes": "soon"}, "window_minutes"),
        ({"from": "yesterday"}, "dates"),
        ({"filters": {"min_pages": "two"}}, "min_pages"),
        ({"dropped_limit": 1000}, "dropped_limit"),
    ],
)
def test_bad_funnels_are_400_naming_the_problem(
    client: TestClient, alice: Account, body: dict[str, Any], message: str
) -> None:
    response = query(client, alice, **body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_read_only_token_may_query_but_not_save(
    client: TestClient, ctx: Context, alice: Account, recorded: None
) -> None:
    with ctx.engine.begin() as conn:
        reader = tokens.create_api_token(conn, alice.user_id, "reader", scope="read")
    assert query(client, alice, token=reader).status_code == 200
    response = client.post(
        f"/api/v1/projects/{alice.project.id}/funnels",
        json={"name": "Shop", "steps": SHOP},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert response.status_code == 403


def test_another_organisation_gets_404(
    client: TestClient, alice: Account, bob: Account, recorded: None
) -> None:
    response = client.post(
        f"/api/v1/projects/{alice.project.id}/funnels/query",
        json={"steps": SHOP},
        headers={"Authorization": f"Bearer {bob.token}"},
    )
    assert response.status_code == 404


def test_saved_funnel_crud_over_the_api(
    client: TestClient, alice: Account, bob: Account, recorded: None
) -> None:
    base = f"/api/v1/projects/{alice.project.id}/funnels"
    auth = {"Authorization": f"Bearer {alice.token}"}
    created = client.post(
        base, json={"name": "Checkout", "steps": SHOP, "window_minutes": 30}, headers=auth
    )
    assert created.status_code == 201, created.text
    funnel_id = created.json()["id"]
    assert [f["name"] for f in client.get(base, headers=auth).json()["funnels"]] == ["Checkout"]
    figures = client.get(f"{base}/{funnel_id}/figures", headers=auth).json()
    assert [s["sessions"] for s in figures["steps"]] == [6, 3, 2, 1]
    changed = client.put(
        f"{base}/{funnel_id}",
        json={"name": "Home to product", "steps": SHOP[:2], "window_minutes": 60},
        headers=auth,
    )
    assert changed.status_code == 200, changed.text
    assert client.get(f"{base}/{funnel_id}", headers=auth).json()["steps"] == SHOP[:2]
    bob_auth = {"Authorization": f"Bearer {bob.token}"}
    assert client.get(f"{base}/{funnel_id}", headers=bob_auth).status_code == 404
    assert client.delete(f"{base}/{funnel_id}", headers=bob_auth).status_code == 404
    assert client.delete(f"{base}/{funnel_id}", headers=auth).status_code == 204
    assert client.get(f"{base}/{funnel_id}", headers=auth).status_code == 404


def _csrf(client: TestClient, path: str) -> str:
    match = CSRF.search(client.get(path).text)
    assert match is not None
    return match.group(1)


def _form(name: str, window: int, funnel: list[dict[str, str]], csrf: str) -> dict[str, Any]:
    return {
        "name": name,
        "window": str(window),
        "step_type": [s["type"] for s in funnel] + ["url"],
        "step_value": [s["value"] for s in funnel] + [""],  # an empty row is skipped
        "csrf_token": csrf,
    }


def test_console_creates_shows_changes_and_deletes_a_funnel_with_csrf(
    client: TestClient, alice: Account, recorded: None
) -> None:
    login(client, alice.email)
    listing = f"/projects/{alice.project.id}/funnels"
    csrf = _csrf(client, listing)
    refused = client.post(listing, data=_form("Checkout", 30, SHOP, "forged"))
    assert refused.status_code == 403
    made = client.post(listing, data=_form("Checkout", 30, SHOP, csrf), follow_redirects=False)
    assert made.status_code == 303, made.text
    page_url = made.headers["location"]
    shown = client.get(page_url)
    assert shown.status_code == 200
    assert '<svg class="chart funnel-chart"' in shown.text
    assert re.search(r'href="/sessions/[0-9a-f]{32}\?t=20"', shown.text)  # S7, after step 3
    assert "Checkout" in client.get(listing).text
    empty = client.get(page_url, params={"from": "2001-01-01", "to": "2001-01-02"})
    assert re.search(r'data-figure="entered">.*?"figure-value">0<', empty.text)
    bad = client.post(page_url, data=_form("Checkout", 30, SHOP[:1], csrf))
    assert bad.status_code == 400
    renamed = client.post(page_url, data=_form("Renamed", 30, SHOP[:2], csrf))
    assert renamed.status_code == 200  # followed the redirect back to the page
    assert "Renamed" in renamed.text
    unconfirmed = client.post(f"{page_url}/delete", data={"csrf_token": csrf})
    assert unconfirmed.status_code == 400
    confirmed = {"csrf_token": csrf, "confirm": "yes"}
    gone = client.post(f"{page_url}/delete", data=confirmed, follow_redirects=False)
    assert gone.status_code == 303
    assert client.get(page_url).status_code == 404


def test_console_funnel_of_another_organisation_is_404(
    client: TestClient, alice: Account, bob: Account, recorded: None
) -> None:
    created = client.post(
        f"/api/v1/projects/{alice.project.id}/funnels",
        json={"name": "Checkout", "steps": SHOP},
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    login(client, bob.email)
    path = f"/projects/{alice.project.id}/funnels/{created.json()['id']}"
    assert client.get(path).status_code == 404
    assert client.get(f"/projects/{alice.project.id}/funnels").status_code == 404
    csrf = _csrf(client, f"/projects/{bob.project.id}/funnels")
    assert client.post(f"{path}/delete", data={"csrf_token": csrf}).status_code == 404


def test_rebuild_gives_the_rows_the_processor_kept(
    ctx: Context, alice: Account, recorded: None
) -> None:
    """The set-based rebuild (and the migration's copy of it) and the per-session upkeep
    agree, a row per key and time."""

    def rows() -> set[tuple[Any, ...]]:
        with ctx.engine.connect() as conn:
            found = conn.execute(
                select(
                    step_key.c.kind,
                    step_key.c.key,
                    session_step.c.session_id,
                    session_step.c.session_ts,
                    session_step.c.ms,
                    session_step.c.is_first,
                    session_step.c.device,
                    session_step.c.source,
                ).join(step_key, step_key.c.id == session_step.c.key_id)
            )
            return {tuple(r) for r in found}

    kept = rows()
    assert ("url", "/products/b") in {r[:2] for r in kept}
    assert ("click", "main#content > div.cart > button#checkout") in {r[:2] for r in kept}
    # S5's home page at 0 and at 50 minutes: only the first is step 1's row
    home = sorted(r[4:6] for r in kept if r[:2] == ("url", "/") and r[4] in (0, 50 * MINUTE))
    assert (0, True) in home
    assert (50 * MINUTE, False) in home
    with ctx.engine.begin() as conn:
        steps.rebuild(conn, alice.project.id)
    assert rows() == kept
