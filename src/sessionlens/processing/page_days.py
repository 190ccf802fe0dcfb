"""The pages report's day rollup (`page_day`): per project, UTC day and path, the pageviews,
the distinct sessions that viewed the path, their time on it, and the sessions that entered
or left the site there.

A session's share of the rollup changes while its batches arrive (a page's time grows until
the next page starts, the exit page moves on, an early batch may move its start), so the
processor reads the session's share before and after applying a batch, in the same
transaction, and adds the difference: however a session arrives, the rollup holds what its
rows say. Erasing a session takes its share away; `rebuild` recomputes a project's rollup
from its rows.

Periods are whole UTC days, so summing days answers any period exactly, with one care: a
session that viewed a path on two consecutive days is one session of a period holding both.
`carried` counts those on the later day, and a period subtracts it on every day but its
first. (A session that skips a whole day between two views of a path, possible only after
24 hours of activity, would count twice.)
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, text

from sessionlens.processing.events import split_url
from sessionlens.storage import counters
from sessionlens.storage.tables import page_day, pageview, session

COUNTS = ("views", "sessions", "carried", "time_ms", "entries", "exits")
VIEWS, SESSIONS, CARRIED, TIME_MS, ENTRIES, EXITS = range(len(COUNTS))
DAY_MS = 86_400_000
EPOCH = date(1970, 1, 1)

Share = dict[tuple[date, str], list[int]]  # (day, path): the counts in COUNTS order


def day_of(ms: int) -> date:
    """The UTC day of a time in ms, as the rebuild's SQL computes it (ts / 86400000)."""
    return EPOCH + timedelta(days=ms // DAY_MS)


def share(conn: Connection, session_id: str) -> Share:
    """What one session adds to the rollup, from its rows as they are now."""
    row = conn.execute(
        select(session.c.first_ts, session.c.entry_url, session.c.exit_url).where(
            session.c.id == session_id
        )
    ).first()
    if row is None:
        return {}
    out: Share = {}
    for ts, path, duration in conn.execute(
        select(pageview.c.ts, pageview.c.path, pageview.c.duration_ms).where(
            pageview.c.session_id == session_id
        )
    ):
        counts = out.setdefault((day_of(ts), path), [0] * len(COUNTS))
        counts[VIEWS] += 1
        counts[TIME_MS] += duration
    for (day, path), counts in out.items():
        counts[SESSIONS] = 1
        counts[CARRIED] = int((day - timedelta(days=1), path) in out)
    started = day_of(row.first_ts)
    out.setdefault((started, split_url(row.entry_url)[0]), [0] * len(COUNTS))[ENTRIES] += 1
    out.setdefault((started, split_url(row.exit_url)[0]), [0] * len(COUNTS))[EXITS] += 1
    return out


def apply(conn: Connection, project_id: int, before: Share, after: Share) -> None:
    """Replace a session's share `before` with `after`."""
    rows = []
    for key in sorted(before.keys() | after.keys()):
        old = before.get(key) or [0] * len(COUNTS)
        new = after.get(key) or [0] * len(COUNTS)
        change = [n - o for n, o in zip(new, old, strict=True)]
        if any(change):
            rows.append(
                {
                    "project_id": project_id,
                    "day": key[0],
                    "path": key[1],
                    **dict(zip(COUNTS, change, strict=True)),
                }
            )
    counters.add(conn, page_day, rows, ["project_id", "day", "path"], COUNTS)
    gone = [
        {"p": project_id, "d": day, "path": path}
        for day, path in sorted(before.keys() - after.keys())
    ]
    if gone:
        # rows no session counts any more
        conn.execute(
            delete(page_day).where(
                page_day.c.project_id == bindparam("p"),
                page_day.c.day == bindparam("d"),
                page_day.c.path == bindparam("path"),
                *(page_day.c[name] == 0 for name in ("views", "sessions", "entries", "exits")),
            ),
            gone,
        )


def remove(conn: Connection, project_id: int, session_id: str) -> None:
    """Take a session's share away (call before its rows are deleted)."""
    apply(conn, project_id, share(conn, session_id), {})


# Pageviews per (session, path, day) first, then per (path, day); lag() finds the sessions
# that viewed the path the day before. The same SQL backfills migration 0015.
_VIEWS_SQL = """
INSERT INTO page_day (project_id, day, path, views, sessions, carried, time_ms, entries, exits)
SELECT project_id, {day}, path, sum(views), count(*), sum(carried), sum(time_ms), 0, 0
FROM (
    SELECT project_id, path, d, views, time_ms,
           CASE WHEN lag(d) OVER (PARTITION BY session_id, path ORDER BY d) = d - 1
                THEN 1 ELSE 0 END AS carried
    FROM (
        SELECT project_id, session_id, path, ts / 86400000 AS d, count(*) AS views,
               sum(duration_ms) AS time_ms
        FROM pageview
        WHERE project_id = :project_id
        GROUP BY project_id, session_id, path, ts / 86400000
    ) AS per_session
) AS marked
GROUP BY project_id, d, path
"""


def day_sql(dialect: str) -> str:
    """SQL for the date of day number `d` (days since 1970-01-01), as a Date column holds it."""
    if dialect == "postgresql":
        return "CAST(DATE '1970-01-01' + CAST(d AS INTEGER) AS DATE)"
    return "date(d * 86400, 'unixepoch')"


def rebuild(conn: Connection, project_id: int) -> None:
    """Recompute a project's rollup from its pageviews and sessions."""
    conn.execute(delete(page_day).where(page_day.c.project_id == project_id))
    conn.execute(
        text(_VIEWS_SQL.format(day=day_sql(conn.dialect.name))), {"project_id": project_id}
    )
    # Entry and exit paths come from the session's URLs through split_url, which SQL does not
    # have; reading the sessions once in Python is quick next to the pageviews' query.
    ends: Counter[tuple[date, str, int]] = Counter()
    result = conn.execute(
        select(session.c.first_ts, session.c.entry_url, session.c.exit_url).where(
            session.c.project_id == project_id
        ),
        execution_options={"stream_results": True},
    )
    for first_ts, entry_url, exit_url in result:
        day = day_of(first_ts)
        ends[(day, split_url(entry_url)[0], ENTRIES)] += 1
        ends[(day, split_url(exit_url)[0], EXITS)] += 1
    merged: dict[tuple[date, str], dict[str, Any]] = {}
    for (day, path, which), n in ends.items():
        row = merged.setdefault(
            (day, path),
            {"project_id": project_id, "day": day, "path": path, **dict.fromkeys(COUNTS, 0)},
        )
        row[COUNTS[which]] = n
    counters.add(
        conn,
        page_day,
        [merged[key] for key in sorted(merged)],
        ["project_id", "day", "path"],
        ("entries", "exits"),
    )


def rows(conn: Connection, project_id: int) -> dict[tuple[date, str], tuple[int, ...]]:
    """A project's rollup rows, for comparing (tests, checks)."""
    return {
        (r.day, r.path): tuple(r._mapping[name] for name in COUNTS)
        for r in conn.execute(select(page_day).where(page_day.c.project_id == project_id))
    }
