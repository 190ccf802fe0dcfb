"""How well the site worked for its visitors: JavaScript errors, page load timing and the
pages where visitors struggled.

Same shape as the usage reports (reports.py): a connection, a project id and a Period in,
plain data out, for the console page and the JSON API.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from sessionlens.analytics.period import Period
from sessionlens.processing.events import split_url
from sessionlens.processing.struggle import KINDS
from sessionlens.storage.tables import pageview, session, session_error, session_signal

TOP = 20
TIMING_METRICS = ("ttfb", "dcl", "load", "lcp")
PERCENTILES = (50, 75, 95)


def _in(period: Period, column: Any) -> Any:
    return (column >= period.start) & (column < period.end)


def errors(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    """The most frequent errors, grouped by fingerprint, with the sessions they affected."""
    where = (session_error.c.project_id == project_id, _in(period, session_error.c.started_at))
    rows = conn.execute(
        select(
            session_error.c.fingerprint,
            session_error.c.kind,
            func.min(session_error.c.message),
            func.count(),
            func.count(func.distinct(session_error.c.session_id)),
            func.min(session_error.c.ts),
            func.max(session_error.c.ts),
        )
        .where(*where)
        .group_by(session_error.c.fingerprint, session_error.c.kind)
        .order_by(func.count().desc(), session_error.c.fingerprint)
        .limit(TOP)
    ).all()
    pages: dict[str, Counter[str]] = defaultdict(Counter)
    if rows:
        for fingerprint, url, count in conn.execute(
            select(session_error.c.fingerprint, session_error.c.page_url, func.count())
            .where(*where, session_error.c.fingerprint.in_([r[0] for r in rows]))
            .group_by(session_error.c.fingerprint, session_error.c.page_url)
        ):
            pages[fingerprint][split_url(url)[0] if url else ""] += int(count)
    sessions_total, with_errors = conn.execute(
        select(func.count(), func.count().filter(session.c.errors > 0)).where(
            session.c.project_id == project_id, _in(period, session.c.started_at)
        )
    ).one()
    return {
        "sessions": int(sessions_total or 0),
        "sessions_with_errors": int(with_errors or 0),
        "errors": [
            {
                "fingerprint": r[0],
                "kind": r[1],
                "message": r[2],
                "occurrences": int(r[3]),
                "sessions": int(r[4]),
                "first_seen": _iso(r[5]),
                "last_seen": _iso(r[6]),
                "pages": [
                    {"path": path, "count": count}
                    for path, count in pages[r[0]].most_common(3)
                    if path
                ],
            }
            for r in rows
        ],
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def percentile(values: Counter[int], p: int) -> int | None:
    """Nearest-rank percentile of a value -> count distribution."""
    total = sum(values.values())
    if not total:
        return None
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for value in sorted(values):
        seen += values[value]
        if seen >= rank:
            return value
    return None  # pragma: no cover - rank <= total always ends the loop


def timing(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    """Percentiles (p50/p75/p95) of each navigation timing figure for the most visited
    pages that were measured, and for the whole site."""
    where = (
        pageview.c.project_id == project_id,
        _in(period, pageview.c.started_at),
        pageview.c.ttfb_ms.is_not(None),
    )
    top = conn.execute(
        select(pageview.c.path, func.count())
        .where(*where)
        .group_by(pageview.c.path)
        .order_by(func.count().desc(), pageview.c.path)
        .limit(TOP)
    ).all()
    paths = [r[0] for r in top]
    per_page: dict[str, dict[str, Counter[int]]] = {p: defaultdict(Counter) for p in paths}
    site: dict[str, Counter[int]] = defaultdict(Counter)
    for metric in TIMING_METRICS:
        column = pageview.c[f"{metric}_ms"]
        for value, count in conn.execute(
            select(column, func.count()).where(*where, column.is_not(None)).group_by(column)
        ):
            site[metric][int(value)] += int(count)
        if not paths:
            continue
        for path, value, count in conn.execute(
            select(pageview.c.path, column, func.count())
            .where(*where, column.is_not(None), pageview.c.path.in_(paths))
            .group_by(pageview.c.path, column)
        ):
            per_page[path][metric][int(value)] += int(count)

    def figures(dist: dict[str, Counter[int]]) -> dict[str, dict[str, int | None]]:
        return {
            metric: {f"p{p}": percentile(dist[metric], p) for p in PERCENTILES}
            for metric in TIMING_METRICS
        }

    return {
        "measured": sum(int(r[1]) for r in top) if len(top) < TOP else _measured(conn, where),
        "site": figures(site),
        "pages": [
            {"path": path, "measured": int(count), **figures(per_page[path])} for path, count in top
        ],
    }


def _measured(conn: Connection, where: tuple[Any, ...]) -> int:
    return int(conn.execute(select(func.count()).select_from(pageview).where(*where)).scalar_one())


def struggle(conn: Connection, project_id: int, period: Period) -> dict[str, Any]:
    """The pages where visitors struggled most: page views, their mean struggle score (0-100)
    and the signals seen there, worst first; and the signal totals."""
    views = (pageview.c.project_id == project_id, _in(period, pageview.c.started_at))
    rows = conn.execute(
        select(
            pageview.c.path,
            func.count(),
            func.avg(pageview.c.struggle_score),
            func.count().filter(pageview.c.struggle_score > 0),
        )
        .where(*views)
        .group_by(pageview.c.path)
        .having(func.count().filter(pageview.c.struggle_score > 0) > 0)
        .order_by(func.sum(pageview.c.struggle_score).desc(), pageview.c.path)
        .limit(TOP)
    ).all()
    signals = (session_signal.c.project_id == project_id, _in(period, session_signal.c.started_at))
    by_page: dict[str, Counter[str]] = defaultdict(Counter)
    if rows:
        for path, kind, count in conn.execute(
            select(session_signal.c.path, session_signal.c.kind, func.count())
            .where(*signals, session_signal.c.path.in_([r[0] for r in rows]))
            .group_by(session_signal.c.path, session_signal.c.kind)
        ):
            by_page[path][kind] += int(count)
    totals = Counter(
        {
            kind: int(count)
            for kind, count in conn.execute(
                select(session_signal.c.kind, func.count())
                .where(*signals)
                .group_by(session_signal.c.kind)
            )
        }
    )
    return {
        "signals": {kind: totals.get(kind, 0) for kind in KINDS},
        "pages": [
            {
                "path": r[0],
                "pageviews": int(r[1]),
                "score": round(float(r[2] or 0), 1),
                "struggling_pageviews": int(r[3]),
                "signals": {kind: by_page[r[0]].get(kind, 0) for kind in KINDS},
            }
            for r in rows
        ],
    }
