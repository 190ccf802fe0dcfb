"""The feedback button's submissions as the console and the API read them: the average and
the distribution of ratings, a list newest first (by rating, with a search in the comments),
and pages by id for the API. Each links to its session's replay like a survey response."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from sessionlens.analytics.period import Period
from sessionlens.storage.tables import page_feedback
from sessionlens.surveys.feedback import RATING_LABELS
from sessionlens.surveys.results import Linked, given_at, link_fields, sessions_of

PER_PAGE = 50


def _where(
    project_id: int, period: Period | None, rating: int | None = None, q: str = ""
) -> list[ColumnElement[bool]]:
    out = [page_feedback.c.project_id == project_id]
    if period is not None:
        out.append(page_feedback.c.created_at >= period.start)
        out.append(page_feedback.c.created_at < period.end)
    if rating is not None:
        out.append(page_feedback.c.rating == rating)
    if q:
        out.append(page_feedback.c.comment.icontains(q, autoescape=True))
    return out


def summary(conn: Connection, project_id: int, period: Period | None) -> dict[str, Any]:
    """How many, the average rating (None without any) and the count of each rating."""
    rows = conn.execute(
        select(page_feedback.c.rating, func.count())
        .where(*_where(project_id, period))
        .group_by(page_feedback.c.rating)
    )
    counts = dict.fromkeys(RATING_LABELS, 0)
    for rating, n in rows:
        counts[rating] = counts.get(rating, 0) + n
    total = sum(counts.values())
    average = round(sum(r * n for r, n in counts.items()) / total, 2) if total else None
    distribution = [
        {
            "rating": rating,
            "name": f"{rating} {RATING_LABELS.get(rating, '')}".strip(),
            "count": n,
            "share": round(n / total, 4) if total else 0.0,
        }
        for rating, n in sorted(counts.items(), reverse=True)
    ]
    return {"count": total, "average": average, "distribution": distribution}


def feedback_dict(row: Any, linked: Linked | None, base_url: str = "") -> dict[str, Any]:
    links = link_fields(linked, row.ts, base_url)
    return {
        "id": row.id,
        "rating": row.rating,
        "rating_label": RATING_LABELS.get(row.rating, ""),
        "comment": row.comment,
        "selector": row.selector,
        "page_url": row.url,
        "given_at": given_at(row.ts),
        "session_id": links["session_id"],
        "replay_url": links["replay"],
        "visitor_id": row.visitor_key,
    }


def _dicts(
    conn: Connection, project_id: int, rows: Sequence[Any], base_url: str
) -> list[dict[str, Any]]:
    linked = sessions_of(conn, project_id, (row.session_key for row in rows))
    return [feedback_dict(row, linked.get(row.session_key), base_url) for row in rows]


def page_of(
    conn: Connection,
    project_id: int,
    period: Period | None,
    rating: int | None,
    q: str,
    page: int,
) -> dict[str, Any]:
    """One page of feedback, newest first; comments searched case-insensitively (on SQLite
    for ASCII letters only, as its lower() folds no others)."""
    rows = conn.execute(
        select(page_feedback)
        .where(*_where(project_id, period, rating, q.strip()))
        .order_by(page_feedback.c.id.desc())
        .offset((page - 1) * PER_PAGE)
        .limit(PER_PAGE + 1)
    ).all()
    items = _dicts(conn, project_id, rows[:PER_PAGE], "")
    return {"items": items, "page": page, "has_more": len(rows) > PER_PAGE}


def after(
    conn: Connection,
    project_id: int,
    period: Period | None,
    rating: int | None,
    after_id: int,
    limit: int,
    base_url: str,
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `limit` feedbacks with an id above `after_id`, ascending, and the next cursor."""
    rows = conn.execute(
        select(page_feedback)
        .where(*_where(project_id, period, rating), page_feedback.c.id > after_id)
        .order_by(page_feedback.c.id)
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return _dicts(conn, project_id, rows, base_url), rows[-1].id if more and rows else None
