"""Form analytics report: per form and field, from the rows processing/forms.py keeps.

Reads never touch raw events: one grouped query per figure over `form_visit` and
`form_field_visit`, filtered by project, page path (or pattern) and day.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Connection, and_, case, func, not_, or_, select

from sessionlens.analytics.period import Period
from sessionlens.storage.tables import form_field_visit, form_visit, session

QUIET_MS = 30 * 60_000  # a session this quiet is over (the recorder starts a new one)
MAX_FORMS = 50
MAX_PATHS = 10
MAX_URL = 500


class FormQueryError(ValueError):
    """A url the user can fix."""


def parse_url(value: str | None) -> str | None:
    """The path or path pattern to report on (None: every page). A full URL counts by its
    path; `*` matches anything, slashes included."""
    if value is None or value.strip() in ("", "*"):
        return None
    text = value.strip()
    if len(text) > MAX_URL:
        raise FormQueryError(f"url is longer than {MAX_URL} characters")
    if any(ord(ch) < 32 for ch in text):
        raise FormQueryError("url must not hold control characters")
    if text.startswith(("http://", "https://")):
        text = urlsplit(text).path or "/"
    if not text.startswith(("/", "*")):
        raise FormQueryError("url must be a path starting with / (or a pattern with *)")
    return text


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _path_match(pattern: str | None) -> ColumnElement[bool]:
    if pattern is None:
        return form_visit.c.path.is_not(None)
    if "*" not in pattern:
        return form_visit.c.path == pattern
    like = "%".join(_like(part) for part in pattern.split("*"))
    return form_visit.c.path.like(like, escape="\\")


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _avg(total: Any, count: Any) -> int | None:
    return round(int(total or 0) / int(count)) if count else None


def report(
    conn: Connection, project_id: int, period: Period, pattern: str | None, now_ms: int
) -> dict[str, Any]:
    """Forms used on the matching pages in the period (by the day a visit started)."""
    where = and_(
        form_visit.c.project_id == project_id,
        _path_match(pattern),
        form_visit.c.started_at >= period.start,
        form_visit.c.started_at < period.end,
    )
    joined = form_visit.join(session, session.c.id == form_visit.c.session_id)
    success = and_(form_visit.c.submits > 0, not_(form_visit.c.failed))
    over = or_(form_visit.c.closed, session.c.last_ts < now_ms - QUIET_MS)
    abandoned = and_(over, not_(success), form_visit.c.form != "")

    def count_if(condition: ColumnElement[bool]) -> Any:
        return func.sum(case((condition, 1), else_=0))

    form_rows = conn.execute(
        select(
            form_visit.c.form,
            func.count().label("interactions"),
            func.count(session.c.visitor_id.distinct()).label("visitors"),
            count_if(form_visit.c.submits > 0).label("submitted"),
            count_if(success).label("successes"),
            count_if(abandoned).label("abandoned"),
        )
        .select_from(joined)
        .where(where)
        .group_by(form_visit.c.form)
        .order_by(func.count().desc(), form_visit.c.form)
        .limit(MAX_FORMS)
    ).all()
    names = [row.form for row in form_rows]
    if not names:
        return {"forms": []}
    in_forms = and_(where, form_visit.c.form.in_(names))
    paths: dict[str, list[str]] = {}
    for row in conn.execute(
        select(form_visit.c.form, form_visit.c.path, func.count().label("n"))
        .where(in_forms)
        .group_by(form_visit.c.form, form_visit.c.path)
        .order_by(func.count().desc(), form_visit.c.path)
    ):
        if len(paths.setdefault(row.form, [])) < MAX_PATHS:
            paths[row.form].append(row.path)
    abandoned_at = {
        (row.form, row.last_field): int(row.n)
        for row in conn.execute(
            select(form_visit.c.form, form_visit.c.last_field, func.count().label("n"))
            .select_from(joined)
            .where(in_forms, abandoned)
            .group_by(form_visit.c.form, form_visit.c.last_field)
        )
    }
    fields: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(
        select(
            form_visit.c.form,
            form_field_visit.c.field,
            func.max(form_field_visit.c.type).label("type"),
            func.count().label("interactions"),
            func.count(session.c.visitor_id.distinct()).label("visitors"),
            func.sum(form_field_visit.c.time_ms).label("time_ms"),
            func.sum(form_field_visit.c.hesitation_ms).label("hesitation_ms"),
            func.sum(form_field_visit.c.hesitations).label("hesitations"),
            func.sum(form_field_visit.c.refills).label("refills"),
            count_if(and_(form_field_visit.c.blurred, not_(form_field_visit.c.filled))).label(
                "blank"
            ),
            func.avg(form_field_visit.c.first_ts - form_visit.c.page_ts).label("position"),
        )
        .select_from(joined.join(form_field_visit, form_field_visit.c.visit_id == form_visit.c.id))
        .where(in_forms)
        .group_by(form_visit.c.form, form_field_visit.c.field)
        .order_by(form_visit.c.form, "position", form_field_visit.c.field)
    ):
        fields.setdefault(row.form, []).append(
            {
                "field": row.field,
                "type": row.type,
                "visitors": int(row.visitors),
                "interactions": int(row.interactions),
                "avg_time_ms": _avg(row.time_ms, row.interactions),
                "avg_hesitation_ms": _avg(row.hesitation_ms, row.hesitations),
                "refills": int(row.refills or 0),
                "left_blank": int(row.blank or 0),
                "abandoned_here": abandoned_at.get((row.form, row.field), 0),
            }
        )
    forms = []
    for row in form_rows:
        successes, gave_up = int(row.successes or 0), int(row.abandoned or 0)
        outside = row.form == ""  # fields outside any form: nothing to submit
        forms.append(
            {
                "form": row.form,
                "paths": paths.get(row.form, []),
                "interactions": int(row.interactions),
                "visitors": int(row.visitors),
                "submits": int(row.submitted or 0),
                "successes": None if outside else successes,
                "abandoned": None if outside else gave_up,
                "success_rate": None if outside else _rate(successes, successes + gave_up),
                "fields": fields.get(row.form, []),
            }
        )
    return {"forms": forms}
