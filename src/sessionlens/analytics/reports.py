"""Usage reports over a period: counts from the session and pageview rows.

Every function takes a connection, a project id and a Period and returns plain data, which
the console draws and the API returns as JSON.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import Connection, case, func, select

from sessionlens.analytics.period import Period, Unit, bucket, labels
from sessionlens.analytics.sources import GROUPS
from sessionlens.privacy import DEFAULT_URL_DENYLIST, param_denied, strip_url
from sessionlens.processing.events import split_url
from sessionlens.storage.tables import pageview, session

TOP = 20


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


def timeseries(conn: Connection, project_id: int, period: Period, unit: Unit) -> dict[str, Any]:
    dialect = conn.dialect.name
    label = bucket(session.c.started_at, unit, dialect).label("t")
    rows = conn.execute(
        select(label, func.count(), func.count(func.distinct(session.c.visitor_id)))
        .where(session.c.project_id == project_id, _in(period))
        .group_by(label)
    ).all()
    view_label = bucket(pageview.c.started_at, unit, dialect).label("t")
    views: dict[str, int] = dict(
        (r[0], int(r[1]))
        for r in conn.execute(
            select(view_label, func.count())
            .where(pageview.c.project_id == project_id, _in(period, pageview.c.started_at))
            .group_by(view_label)
        ).all()
    )
    by_label = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    points = [
        {
            "t": t,
            "sessions": by_label.get(t, (0, 0))[0],
            "visitors": by_label.get(t, (0, 0))[1],
            "pageviews": int(views.get(t, 0)),
        }
        for t in labels(period, unit)
    ]
    return {"unit": unit, "points": points}


def _top(counter: Counter[str], limit: int = TOP) -> list[dict[str, Any]]:
    return [{"name": name, "count": count} for name, count in counter.most_common(limit)]


def pages(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    rows = conn.execute(
        select(
            pageview.c.path,
            func.count(),
            func.count(func.distinct(pageview.c.session_id)),
            func.avg(pageview.c.duration_ms),
        )
        .where(pageview.c.project_id == project_id, _in(period, pageview.c.started_at))
        .group_by(pageview.c.path)
        .order_by(func.count().desc())
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
    return {"top": top, "entry": _top(entries), "exit": _top(exits)}


def sources(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    groups: dict[str, int] = dict(
        (r[0], int(r[1]))
        for r in conn.execute(
            select(session.c.source, func.count())
            .where(session.c.project_id == project_id, _in(period))
            .group_by(session.c.source)
        ).all()
    )
    referrers = conn.execute(
        select(session.c.referrer_domain, session.c.source, func.count())
        .where(session.c.project_id == project_id, _in(period), session.c.referrer_domain != "")
        .group_by(session.c.referrer_domain, session.c.source)
        .order_by(func.count().desc())
        .limit(TOP)
    ).all()
    return {
        "groups": [{"name": g, "count": int(groups.get(g, 0))} for g in GROUPS],
        "referrers": [{"domain": r[0], "group": r[1], "count": int(r[2])} for r in referrers],
    }


def utm(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"):
        column = session.c[name]
        rows = conn.execute(
            select(column, func.count())
            .where(session.c.project_id == project_id, _in(period), column != "")
            .group_by(column)
            .order_by(func.count().desc())
            .limit(TOP)
        ).all()
        out[name.removeprefix("utm_")] = [{"name": r[0], "count": int(r[1])} for r in rows]
    return out


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
            pageview.c.query != "",
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
        for name, values in names.items():
            result.append(
                {
                    "path": path,
                    "param": name,
                    "total": sum(values.values()),
                    "values": _top(values, 10),
                }
            )
    result.sort(key=lambda item: -int(item["total"]))
    return {"params": result[:50]}


def devices(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("device", "browser", "os"):
        column = session.c[name]
        rows = conn.execute(
            select(column, func.count())
            .where(session.c.project_id == project_id, _in(period))
            .group_by(column)
            .order_by(func.count().desc())
            .limit(TOP)
        ).all()
        out[name] = [{"name": r[0] or "unknown", "count": int(r[1])} for r in rows]
    screens = conn.execute(
        select(session.c.screen_width, session.c.screen_height, func.count())
        .where(session.c.project_id == project_id, _in(period), session.c.screen_width.is_not(None))
        .group_by(session.c.screen_width, session.c.screen_height)
        .order_by(func.count().desc())
        .limit(TOP)
    ).all()
    out["screen"] = [{"name": f"{r[0]}x{r[1]}", "count": int(r[2])} for r in screens]
    return out


def countries(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    rows = conn.execute(
        select(session.c.country, func.count())
        .where(session.c.project_id == project_id, _in(period), session.c.country != "")
        .group_by(session.c.country)
        .order_by(func.count().desc())
    ).all()
    return {"countries": [{"name": r[0], "count": int(r[1])} for r in rows]}
