"""The pages report's day rollup (processing/page_days.py) holds what the raw rows say,
however the batches arrive, after a replay of the log, an erasure and a purge, on SQLite
and PostgreSQL; the report read from it equals the report counted from the rows."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from sessionlens import projects
from sessionlens.analytics import reports
from sessionlens.analytics.period import Period
from sessionlens.context import Context
from sessionlens.processing import page_days
from sessionlens.processing.events import split_url
from sessionlens.processing.processor import Processor
from sessionlens.recordings import retention, subjects
from sessionlens.storage.engine import alembic_config
from sessionlens.storage.tables import (
    heatmap_cell_total,
    heatmap_element_total,
    ingest_log,
    pageview,
    session,
    utcnow,
)
from tests.conftest import Account, batch, click, page_events, send
from tests.test_heatmaps import clicked, moved

SHOP = "https://shop.example"
# a UTC midnight three days ago: sessions below cross it
MIDNIGHT = datetime.combine(datetime.now(UTC).date() - timedelta(days=3), datetime.min.time(), UTC)
M = int(MIDNIGHT.timestamp() * 1000)
DOC = (1000, 3000)


def post(client: TestClient, account: Account, body: dict[str, Any]) -> None:
    assert send(client, account, body).status_code == 202


def recorded(client: TestClient, account: Account, processor: Processor) -> None:
    """Three visits, each batch processed on its own so that times and exits change."""
    # Ada: /a before midnight, /b, /a again after midnight, then /c: four batches
    ada = {"session_id": "sessionADA000001", "visitor_id": "visitorADA0001"}
    post(client, account, batch(0, url=f"{SHOP}/a?x=1", start=M - 20_000, **ada))
    processor.drain()
    post(
        client,
        account,
        batch(
            1,
            url=f"{SHOP}/a?x=1",
            start=M - 20_000,
            events=page_events(f"{SHOP}/b", M - 10_000),
            **ada,
        ),
    )
    processor.drain()
    post(
        client,
        account,
        batch(
            2,
            url=f"{SHOP}/a?x=1",
            start=M - 20_000,
            events=page_events(f"{SHOP}/a", M + 5_000),
            **ada,
        ),
    )
    processor.drain()
    events = [
        click(M + 20_000),
        clicked(M + 21_000, "button#buy", 250, 500, 500, 250, DOC),
        moved(M + 22_000, (100, 100), (100, 110)),
        *page_events(f"{SHOP}/c", M + 30_000),
        click(M + 90_000),
        clicked(M + 91_000, "a.more", 900, 2500, 100, 900, DOC),
    ]
    post(client, account, batch(3, url=f"{SHOP}/a?x=1", start=M - 20_000, events=events, **ada))
    processor.drain()
    # Ben: his second batch arrives first (after midnight); the first then moves his start
    # to the day before, with another entry page
    ben = {"session_id": "sessionBEN000001", "visitor_id": "visitorBEN0001"}
    post(
        client,
        account,
        batch(
            1, url=f"{SHOP}/d", start=M + 60_000, events=page_events(f"{SHOP}/d", M + 60_000), **ben
        ),
    )
    processor.drain()
    post(client, account, batch(0, url=f"{SHOP}/e", start=M - 60_000, **ben))
    processor.drain()
    post(
        client,
        account,
        batch(
            2,
            url=f"{SHOP}/d",
            start=M + 60_000,
            events=[clicked(M + 70_000, "button#buy", 260, 510, 0, 0, DOC)],
            **ben,
        ),
    )
    processor.drain()
    # Ada again the next day: one page, a bounce
    again = {"session_id": "sessionADA000002", "visitor_id": "visitorADA0001"}
    post(client, account, batch(0, url=f"{SHOP}/", start=M + 86_400_000, **again))
    processor.drain()


def from_rows(ctx: Context, project_id: int) -> dict[tuple[date, str], tuple[int, ...]]:
    """The rollup as the raw rows say it should be, counted here from scratch."""
    counts: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0] * 6)
    days_seen: dict[tuple[str, str], set[date]] = defaultdict(set)
    with ctx.engine.connect() as conn:
        views = conn.execute(select(pageview).where(pageview.c.project_id == project_id)).all()
        sessions = conn.execute(select(session).where(session.c.project_id == project_id)).all()
    for view in views:
        day = view.started_at.date()
        counts[(day, view.path)][0] += 1
        counts[(day, view.path)][3] += view.duration_ms
        days_seen[(view.session_id, view.path)].add(day)
    for (_, path), days in days_seen.items():
        for day in days:
            counts[(day, path)][1] += 1
            counts[(day, path)][2] += (day - timedelta(days=1)) in days
    for row in sessions:
        counts[(row.started_at.date(), split_url(row.entry_url)[0])][4] += 1
        counts[(row.started_at.date(), split_url(row.exit_url)[0])][5] += 1
    return {key: tuple(value) for key, value in counts.items()}


def stored(ctx: Context, project_id: int) -> dict[tuple[date, str], tuple[int, ...]]:
    with ctx.engine.connect() as conn:
        return page_days.rows(conn, project_id)


def periods() -> list[Period]:
    day = timedelta(days=1)
    return [
        Period(MIDNIGHT - day, MIDNIGHT),
        Period(MIDNIGHT, MIDNIGHT + day),
        Period(MIDNIGHT - day, MIDNIGHT + day),
        Period(MIDNIGHT - day, MIDNIGHT + 2 * day),
        Period(MIDNIGHT - 30 * day, MIDNIGHT + 30 * day),
    ]


def assert_report_matches_rows(ctx: Context, project_id: int) -> None:
    with ctx.engine.connect() as conn:
        for period in periods():
            assert reports.pages(conn, project_id, period) == reports._pages_from_rows(
                conn, project_id, period
            ), period


def test_rollup_follows_sessions_arriving_in_many_batches(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    recorded(client, alice, processor)
    rollup = stored(ctx, alice.project.id)
    assert rollup == from_rows(ctx, alice.project.id)
    before, after = MIDNIGHT.date() - timedelta(days=1), MIDNIGHT.date()
    # Ada viewed /a on both days: one session each day, carried on the second
    assert rollup[(after, "/a")][:3] == (1, 1, 1)
    assert rollup[(before, "/a")][4] == 1  # she entered on /a the day before
    assert rollup[(before, "/c")][5] == 1  # and left on /c, counted by her start day
    # Ben's late first batch moved his start, entry and exit day to the day before
    assert rollup[(before, "/e")][4] == 1
    assert rollup[(before, "/d")][5] == 1
    assert rollup[(after, "/d")][4:] == (0, 0)
    assert_report_matches_rows(ctx, alice.project.id)
    with ctx.engine.connect() as conn:
        both = reports.pages(conn, alice.project.id, periods()[2])
    top = {p["path"]: (p["pageviews"], p["sessions"]) for p in both["top"]}
    assert top["/a"] == (2, 1)  # two views, one session, across midnight


def test_replaying_the_log_changes_nothing(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    recorded(client, alice, processor)
    first = stored(ctx, alice.project.id)
    with ctx.engine.begin() as conn:
        conn.execute(update(ingest_log).values(processed_at=None))
    processor.drain()
    assert stored(ctx, alice.project.id) == first == from_rows(ctx, alice.project.id)


def test_rebuild_gives_what_the_processor_kept(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    recorded(client, alice, processor)
    kept = stored(ctx, alice.project.id)
    with ctx.engine.begin() as conn:
        page_days.rebuild(conn, alice.project.id)
    assert stored(ctx, alice.project.id) == kept


def test_erased_and_purged_sessions_leave_the_rollup(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    recorded(client, alice, processor)
    with ctx.engine.begin() as conn:
        ben = conn.execute(
            select(session.c.id).where(session.c.client_id == "sessionBEN000001")
        ).scalar_one()
        subjects.erase_sessions(conn, ctx.blobs, alice.project.id, [ben])
    rollup = stored(ctx, alice.project.id)
    assert rollup == from_rows(ctx, alice.project.id)
    assert not any(path in ("/d", "/e") for _, path in rollup)  # no rows left at zero
    assert_report_matches_rows(ctx, alice.project.id)

    with ctx.engine.begin() as conn:
        current = projects.by_id(conn, alice.project.id)
        assert current is not None
        projects.save_retention(conn, current, 30)
        conn.execute(
            update(session)
            .where(session.c.client_id == "sessionADA000001")
            .values(ended_at=utcnow() - timedelta(days=31))
        )
    assert retention.purge(ctx.engine, ctx.blobs, utcnow()) == 1
    assert stored(ctx, alice.project.id) == from_rows(ctx, alice.project.id)
    assert set(stored(ctx, alice.project.id)) == {(MIDNIGHT.date() + timedelta(days=1), "/")}
    assert_report_matches_rows(ctx, alice.project.id)


def test_migration_0015_fills_the_rollups_from_the_rows_stored_before(
    client: TestClient, ctx: Context, alice: Account, processor: Processor
) -> None:
    recorded(client, alice, processor)

    def everything() -> tuple[Any, ...]:
        with ctx.engine.connect() as conn:
            return (
                page_days.rows(conn, alice.project.id),
                set(conn.execute(select(heatmap_cell_total)).all()),
                set(conn.execute(select(heatmap_element_total)).all()),
            )

    kept = everything()
    assert kept[1]
    assert kept[2]
    config = alembic_config(ctx.engine.url.render_as_string(hide_password=False))
    with ctx.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0013")  # drops the rollups
        command.upgrade(config, "heads")  # and fills them again from the rows
    assert everything() == kept
