"""Usage reports over a period: counts from the session and pageview rows.

Every function takes a connection, a project id and a Period and returns plain data, which
the console draws and the API returns as JSON.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import Connection, String, case, column, func, literal_column, or_, select, values

from sessionlens.analytics.period import Period, Unit, labels
from sessionlens.analytics.sources import GROUPS
from sessionlens.privacy import DEFAULT_URL_DENYLIST, param_denied, strip_url
from sessionlens.processing.events import UTM_FIELDS, split_url
from sessionlens.storage.tables import UTCDateTime, page_day, pageview, session

TOP = 20
BUCKETS_PER_QUERY = 1000


def _in(period: Period, column: Any = session.c.started_at) -> Any:
    return (column >= period.start) & (column < period.end)


def _figures(conn: Connection, project_id: int, period: Period) -> dict[str, float]:
    row = conn.execute(
        select(
            func.count(),
            func.count(func.distinct(session.c.visitor_id)),
            func.sum(case((session.c.is_returning.is_(True), 1), else_=0)),
            func.avg(session.c.duration_ms),
            func.avg(session.c.active_ms),
            func.sum(case((session.c.pages <= 1, 1), else_=0)),
        ).where(session.c.project_id == project_id, _in(period))
    ).one()
    sessions = int(row[0] or 0)
    views = conn.execute(
        select(func.count())
        .select_from(pageview)
        .where(pageview.c.project_id == project_id, _in(period, pageview.c.started_at))
    ).scalar_one()
    returning = int(row[2] or 0)
    return {
        "visitors": int(row[1] or 0),
        "sessions": sessions,
        "pageviews": int(views or 0),
        "new_sessions": sessions - returning,
        "returning_sessions": returning,
        "avg_duration_ms": round(float(row[3] or 0)),
        "avg_active_ms": round(float(row[4] or 0)),
        "bounce_rate": round(int(row[5] or 0) / sessions, 4) if sessions else 0.0,
    }


def overview(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    """Headline figures, with the same figures for the period before and the change."""
    now = _figures(conn, project_id, period)
    before = _figures(conn, project_id, period.previous)
    change = {
        key: (round((now[key] - before[key]) / before[key], 4) if before[key] else None)
        for key in now
    }
    return {"current": now, "previous": before, "change": change}


def _buckets(period: Period, unit: Unit) -> list[tuple[str, datetime, datetime]]:
    """Each bucket's label and time range, cut to the period."""
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=7 if unit == "week" else 1)
    out = []
    for label in labels(period, unit):
        start = datetime.fromisoformat(label.replace("T", " ")).replace(tzinfo=UTC)
        out.append((label, max(start, period.start), min(start + step, period.end)))
    return out


def _bucket_counts(
    conn: Connection, project_id: int, buckets: list[tuple[str, datetime, datetime]]
) -> list[Any]:
    table = (
        values(
            column("t", String()),
            column("s", UTCDateTime()),
            column("e", UTCDateTime()),
            name="bucket",
        )
        .data(buckets)
        .cte("bucket")
    )

    def within(rows: Any) -> list[Any]:
        return [
            rows.c.project_id == project_id,
            rows.c.started_at >= table.c.s,
            rows.c.started_at < table.c.e,
        ]

    return list(
        conn.execute(
            select(
                table.c.t,
                select(func.count()).select_from(session).where(*within(session)).scalar_subquery(),
                select(func.count(func.distinct(session.c.visitor_id)))
                .where(*within(session))
                .scalar_subquery(),
                select(func.count())
                .select_from(pageview)
                .where(*within(pageview))
                .scalar_subquery(),
            )
        ).all()
    )


def timeseries(conn: Connection, project_id: int, period: Period, unit: Unit) -> dict[str, Any]:
    # One index range per bucket instead of a label computed and grouped for every row: the
    # same counts, without sorting a period's sessions and pageviews. Buckets go in
    # statements of BUCKETS_PER_QUERY, under SQLite's limit on bound parameters.
    buckets = _buckets(period, unit)
    rows = []
    for at in range(0, len(buckets), BUCKETS_PER_QUERY):
        rows += _bucket_counts(conn, project_id, buckets[at : at + BUCKETS_PER_QUERY])
    points = [
        {"t": t, "sessions": int(n or 0), "visitors": int(v or 0), "pageviews": int(p or 0)}
        for t, n, v, p in rows
    ]
    points.sort(key=lambda point: str(point["t"]))
    return {"unit": unit, "points": points}


def _ranked(counter: Counter[Any], limit: int = TOP) -> list[tuple[Any, int]]:
    """The most common, ties in the order of their names (SQL's ORDER BY count left them
    in no set order)."""
    return sorted(counter.items(), key=lambda item: (-item[1], str(item[0])))[:limit]


def _top(counter: Counter[str], limit: int = TOP) -> list[dict[str, Any]]:
    return [{"name": name, "count": count} for name, count in counter.most_common(limit)]


def _named(counter: Counter[str]) -> list[dict[str, Any]]:
    return [{"name": name, "count": count} for name, count in _ranked(counter)]


def _whole_days(period: Period) -> bool:
    return all(moment.astimezone(UTC).time() == dtime() for moment in (period.start, period.end))


def pages(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    """Top pages (pageviews, distinct sessions, mean time), entry and exit pages, summed
    from the processor's day rollup (processing/page_days.py)."""
    if not _whole_days(period):
        return _pages_from_rows(conn, project_id, period)
    first = period.start.astimezone(UTC).date()
    end = period.end.astimezone(UTC).date()
    # a session that viewed a path on consecutive days of the period counts once
    carried = func.sum(case((page_day.c.day > first, page_day.c.carried), else_=0))
    rows = [
        (path, int(views), int(sessions), int(time_ms), int(entries), int(exits))
        for path, views, sessions, time_ms, entries, exits in conn.execute(
            select(
                page_day.c.path,
                func.sum(page_day.c.views),
                func.sum(page_day.c.sessions) - carried,
                func.sum(page_day.c.time_ms),
                func.sum(page_day.c.entries),
                func.sum(page_day.c.exits),
            )
            .where(
                page_day.c.project_id == project_id, page_day.c.day >= first, page_day.c.day < end
            )
            .group_by(page_day.c.path)
        )
    ]
    viewed = sorted((r for r in rows if r[1] > 0), key=lambda r: (-r[1], r[0]))
    top = [
        {"path": path, "pageviews": views, "sessions": sessions, "avg_time_ms": round(ms / views)}
        for path, views, sessions, ms, _, _ in viewed[:TOP]
    ]
    entries = Counter({r[0]: r[4] for r in rows if r[4] > 0})
    exits = Counter({r[0]: r[5] for r in rows if r[5] > 0})
    return {"top": top, "entry": _named(entries), "exit": _named(exits)}


def _pages_from_rows(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    """The pages report from the pageviews and sessions, for a period that does not start
    and end at midnight UTC (the rollup knows whole days only)."""
    rows = conn.execute(
        select(
            pageview.c.path,
            func.count(),
            func.count(func.distinct(pageview.c.session_id)),
            func.avg(pageview.c.duration_ms),
        )
        .where(pageview.c.project_id == project_id, _in(period, pageview.c.started_at))
        .group_by(pageview.c.path)
        .order_by(func.count().desc(), pageview.c.path)
        .limit(TOP)
    ).all()
    top = [
        {
            "path": r[0],
            "pageviews": int(r[1]),
            "sessions": int(r[2]),
            "avg_time_ms": round(float(r[3] or 0)),
        }
        for r in rows
    ]
    entries: Counter[str] = Counter()
    exits: Counter[str] = Counter()
    for entry, exit_url, count in conn.execute(
        select(session.c.entry_url, session.c.exit_url, func.count())
        .where(session.c.project_id == project_id, _in(period))
        .group_by(session.c.entry_url, session.c.exit_url)
    ):
        entries[split_url(entry)[0]] += count
        exits[split_url(exit_url)[0]] += count
    return {"top": top, "entry": _named(entries), "exit": _named(exits)}


def sources(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    # One pass over (source, referrer domain), read in the order of their index.
    groups: Counter[str] = Counter()
    referrers: Counter[tuple[str, str]] = Counter()
    for source, domain, count in conn.execute(
        select(session.c.source, session.c.referrer_domain, func.count())
        .where(session.c.project_id == project_id, _in(period))
        .group_by(session.c.source, session.c.referrer_domain)
    ):
        groups[source] += count
        if domain != "":
            referrers[(domain, source)] += count
    return {
        "groups": [{"name": g, "count": int(groups.get(g, 0))} for g in GROUPS],
        "referrers": [
            {"domain": domain, "group": group, "count": count}
            for (domain, group), count in _ranked(referrers)
        ],
    }


def utm(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    # One pass over the sessions with any UTM parameter, then each parameter's counts.
    columns = [session.c[name] for name in UTM_FIELDS]
    counters: dict[str, Counter[str]] = {name: Counter() for name in UTM_FIELDS}
    for row in conn.execute(
        select(*columns, func.count())
        .where(
            session.c.project_id == project_id,
            _in(period),
            or_(*(col != "" for col in columns)),
        )
        .group_by(*columns)
    ):
        for name, value in zip(UTM_FIELDS, row[:-1], strict=True):
            if value != "":
                counters[name][value] += row[-1]
    return {
        name.removeprefix("utm_"): [{"name": v, "count": c} for v, c in _ranked(counters[name])]
        for name in UTM_FIELDS
    }


def params(
    conn: Connection,
    project_id: int,
    period: Period,
    denylist: tuple[str, ...] = DEFAULT_URL_DENYLIST,
) -> dict[str, Any]:
    """The query parameters seen per page (search terms, filters), besides UTM ones."""
    seen: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for path, query, count in conn.execute(
        select(pageview.c.path, pageview.c.query, func.count())
        .where(
            pageview.c.project_id == project_id,
            _in(period, pageview.c.started_at),
            # inline, not a parameter, so that SQLite can use the partial index on it
            pageview.c.query != literal_column("''"),
        )
        .group_by(pageview.c.path, pageview.c.query)
    ):
        clean = strip_url(f"x:?{query}", denylist)
        for pair in clean.partition("?")[2].split("&"):
            name, _, value = pair.partition("=")
            if not name or name.startswith("utm_") or param_denied(name, denylist):
                continue
            seen[path][name][value[:100]] += count
    result: list[dict[str, Any]] = []
    for path, names in seen.items():
        for name, counts in names.items():
            result.append(
                {
                    "path": path,
                    "param": name,
                    "total": sum(counts.values()),
                    "values": _top(counts, 10),
                }
            )
    result.sort(key=lambda item: -int(item["total"]))
    return {"params": result[:50]}


def devices(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    # One pass over the device columns, read in the order of their index.
    names = ("device", "browser", "os")
    counters: dict[str, Counter[Any]] = {name: Counter() for name in (*names, "screen")}
    for device, browser, os_name, width, height, count in conn.execute(
        select(
            session.c.device,
            session.c.browser,
            session.c.os,
            session.c.screen_width,
            session.c.screen_height,
            func.count(),
        )
        .where(session.c.project_id == project_id, _in(period))
        .group_by(
            session.c.device,
            session.c.browser,
            session.c.os,
            session.c.screen_width,
            session.c.screen_height,
        )
    ):
        for name, value in zip(names, (device, browser, os_name), strict=True):
            counters[name][value] += count
        if width is not None:
            counters["screen"][(width, height)] += count
    out: dict[str, Any] = {
        name: [{"name": v or "unknown", "count": c} for v, c in _ranked(counters[name])]
        for name in names
    }
    out["screen"] = [{"name": f"{w}x{h}", "count": c} for (w, h), c in _ranked(counters["screen"])]
    return out


def countries(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    rows = conn.execute(
        select(session.c.country, func.count())
        .where(session.c.project_id == project_id, _in(period), session.c.country != "")
        .group_by(session.c.country)
        .order_by(func.count().desc())
    ).all()
    return {"countries": [{"name": r[0], "count": int(r[1])} for r in rows]}
