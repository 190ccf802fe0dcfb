"""bench/seed.py: a small seeded project has the shape of real traffic and every report and
search answers over it, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from bench import seed
from sqlalchemy import func, select

from sessionlens.analytics import reports, search
from sessionlens.analytics.period import Period
from sessionlens.analytics.sources import GROUPS, classify
from sessionlens.recordings.queries import list_sessions
from sessionlens.storage.engine import make_engine
from sessionlens.storage.tables import (
    pageview,
    session,
    session_error,
    session_event,
    session_trait,
    visitor,
)

SESSIONS = 500
END = date(2026, 11, 1)
PERIOD = Period(datetime(2026, 8, 3, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


@pytest.fixture
def seeded(database_url: str) -> seed.Seeded:
    return seed.seed(database_url, SESSIONS, days=90, end=END, random_seed=3, progress=False)


def test_seeded_project_has_the_shape_of_real_traffic(
    database_url: str, seeded: seed.Seeded
) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(session)).mappings().all()
        views = conn.execute(select(pageview).order_by(pageview.c.ts)).mappings().all()
        visitors = conn.execute(select(func.count()).select_from(visitor)).scalar_one()
        events = conn.execute(select(func.count()).select_from(session_event)).scalar_one()
        errors = conn.execute(select(func.count()).select_from(session_error)).scalar_one()
        traits = conn.execute(select(func.count()).select_from(session_trait)).scalar_one()
    engine.dispose()

    assert len(rows) == seeded.sessions == SESSIONS
    assert (visitors, len(views), events, errors, traits) == (
        seeded.visitors,
        seeded.pageviews,
        seeded.events,
        seeded.errors,
        seeded.traits,
    )
    assert 0.3 < sum(r["is_returning"] for r in rows) / SESSIONS < 0.5
    assert visitors == SESSIONS - sum(r["is_returning"] for r in rows)
    assert 4 < len(views) / SESSIONS < 6
    assert {r["source"] for r in rows} == set(GROUPS)
    assert {"desktop", "mobile", "tablet"} <= {r["device"] for r in rows}
    assert any(r["utm_campaign"] for r in rows)
    assert any(r["user_id"] for r in rows)
    assert 0 < sum(r["errors"] for r in rows) == errors < SESSIONS
    assert all(PERIOD.start <= r["started_at"] < PERIOD.end for r in rows)

    by_session: dict[str, list[dict[str, object]]] = {}
    for view in views:
        by_session.setdefault(str(view["session_id"]), []).append(dict(view))
    for row in rows:
        pages = by_session[row["id"]]
        assert row["pages"] == len(pages)
        assert (row["entry_url"], row["exit_url"]) == (pages[0]["url"], pages[-1]["url"])
        assert row["duration_ms"] == row["last_ts"] - row["first_ts"] >= row["active_ms"]
        assert (row["source"], row["referrer_domain"]) == classify(
            row["referrer"], row["entry_url"]
        )
        assert pages[0]["ttfb_ms"] is not None  # the first page is always a hard load
    assert any(v["query"].startswith("q=") for v in views)
    assert any(v["ttfb_ms"] is None for v in views)  # SPA navigations are not timed


def test_same_seed_gives_the_same_sessions(tmp_path: Path) -> None:
    urls = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path}/{name}.db"
        seed.seed(url, 50, days=30, end=END, random_seed=9, progress=False)
        engine = make_engine(url)
        with engine.connect() as conn:
            urls.append(conn.execute(select(pageview.c.url).order_by(pageview.c.id)).all())
        engine.dispose()
    assert urls[0] == urls[1]
    assert len(urls[0]) > 50


def test_every_report_and_search_answers_over_the_seeded_project(
    database_url: str, seeded: seed.Seeded
) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        answers = {
            "overview": reports.overview(conn, seeded.project_id, PERIOD)["current"],
            "timeseries": reports.timeseries(conn, seeded.project_id, PERIOD, "day")["points"],
            **reports.pages(conn, seeded.project_id, PERIOD),
            **reports.sources(conn, seeded.project_id, PERIOD),
            **reports.utm(conn, seeded.project_id, PERIOD),
            **reports.params(conn, seeded.project_id, PERIOD),
            **reports.devices(conn, seeded.project_id, PERIOD),
            **reports.countries(conn, seeded.project_id, PERIOD),
        }
        found = {
            name: list_sessions(conn, seeded.project_id, 1, 50, search.parse(values).conditions())[
                0
            ]
            for name, values in {
                "mobile from search": {"device": "mobile", "source": "search"},
                "visited checkout": {"url": "/checkout"},
                "purchased": {"event": "purchase"},
                "returning from the US": {"visitor": "returning", "country": "US"},
                "vip": {"trait": "plan:vip"},
            }.items()
        }
    engine.dispose()

    assert answers["overview"]["sessions"] == SESSIONS
    assert answers["overview"]["pageviews"] == seeded.pageviews
    assert sum(point["pageviews"] for point in answers["timeseries"]) == seeded.pageviews
    empty = [name for name, answer in {**answers, **found}.items() if not answer]
    assert empty == []
    assert any(p["param"] == "q" for p in answers["params"])


def test_seeded_pages_rollup_answers_as_the_rows_do(database_url: str, seeded: seed.Seeded) -> None:
    engine = make_engine(database_url)
    week = Period(PERIOD.end - timedelta(days=7), PERIOD.end)
    with engine.connect() as conn:
        for period in (PERIOD, week):
            from_rollup = reports.pages(conn, seeded.project_id, period)
            assert from_rollup == reports._pages_from_rows(conn, seeded.project_id, period)
            assert from_rollup["top"]
    engine.dispose()
