"""A survey's results: invitations and response rate, figures per question (choices,
ratings, NPS), the text answers with a search, and the responses for the API and the CSV.

A period, when given, bounds the invitations by the UTC day they reached the server
(`created_at`). Figures per question read every answer given, so the partial answers of a
dismissed invitation count too. Each response links to its session's replay when the
session is stored: (project_id, session_key) = (session.project_id, session.client_id).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, or_, select

from sessionlens.analytics.period import Period, parse_period
from sessionlens.storage.tables import session, survey_response
from sessionlens.surveys.definition import Question
from sessionlens.surveys.store import Survey

PER_PAGE = 50
CSV_CHUNK = 500
GIVEN = ("answered", "dismissed")  # invitations that may carry answers
_RISKY = ("=", "+", "-", "@", "\t", "\r")


def period_of(start: str | None, end: str | None) -> Period | None:
    """None (all time) when neither day is given; raises PeriodError for bad days."""
    if not start and not end:
        return None
    return parse_period(start or None, end or None)


def _where(project_id: int, survey_id: int, period: Period | None) -> list[ColumnElement[bool]]:
    out = [survey_response.c.project_id == project_id, survey_response.c.survey_id == survey_id]
    if period is not None:
        out.append(survey_response.c.created_at >= period.start)
        out.append(survey_response.c.created_at < period.end)
    return out


def _states(state: str) -> tuple[str, ...]:
    return ("shown", *GIVEN) if state == "all" else GIVEN if state == "given" else (state,)


def given_at(ts: int) -> str:
    """The browser's ms clock as an ISO UTC time."""
    return datetime.fromtimestamp(ts / 1000, UTC).isoformat(timespec="seconds")


def answers_of(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# --- links to the replay ---------------------------------------------------------------


@dataclass(frozen=True)
class Linked:
    """The stored session a response or feedback was given in."""

    id: str
    first_ts: int

    def replay(self, ts: int) -> str:
        return f"/sessions/{self.id}?t={max(0, ts - self.first_ts) // 1000}"


def sessions_of(conn: Connection, project_id: int, keys: Iterable[str]) -> dict[str, Linked]:
    """The stored sessions among the recorder's session ids, by that id."""
    wanted = sorted({k for k in keys if k})
    if not wanted:
        return {}
    rows = conn.execute(
        select(session.c.client_id, session.c.id, session.c.first_ts).where(
            session.c.project_id == project_id, session.c.client_id.in_(wanted)
        )
    )
    return {row.client_id: Linked(row.id, row.first_ts) for row in rows}


def link_fields(linked: Linked | None, ts: int, base_url: str = "") -> dict[str, Any]:
    """session_id and replay (a console path, or absolute when base_url is given)."""
    if linked is None:
        return {"session_id": None, "replay": None}
    return {"session_id": linked.id, "replay": base_url.rstrip("/") + linked.replay(ts)}


# --- figures -----------------------------------------------------------------------------


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def round_half_up(value: Decimal) -> int:
    """Halves away from zero, as people round (Python's round() goes to the even one)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _valid(question: Question, value: Any) -> bool:
    """A stored answer that fits the question as it is now (its kind may have changed)."""
    if question.kind == "single":
        return isinstance(value, str)
    if question.kind == "multiple":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if question.kind in ("rating", "nps"):
        low, high = (1, 5) if question.kind == "rating" else (0, 10)
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    return isinstance(value, str) and bool(value.strip())


def _choice_items(question: Question, values: list[Any], answered: int) -> list[dict[str, Any]]:
    counts = dict.fromkeys(question.choices, 0)
    for value in values:
        for choice in value if isinstance(value, list) else [value]:
            counts[choice] = counts.get(choice, 0) + 1  # a choice since removed stays listed
    return [
        {
            "name": name,
            "count": n,
            "share": _share(n, answered),
            "removed": name not in question.choices,
        }
        for name, n in counts.items()
    ]


def _scale(values: list[int], low: int, high: int) -> list[dict[str, Any]]:
    return [
        {"name": str(v), "count": values.count(v), "share": _share(values.count(v), len(values))}
        for v in range(low, high + 1)
    ]


def nps_figures(values: list[int]) -> dict[str, Any]:
    promoters = sum(1 for v in values if v >= 9)
    detractors = sum(1 for v in values if v <= 6)
    passives = len(values) - promoters - detractors
    score = None
    if values:
        score = round_half_up(Decimal(100 * (promoters - detractors)) / Decimal(len(values)))
    return {
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "promoters_share": _share(promoters, len(values)),
        "passives_share": _share(passives, len(values)),
        "detractors_share": _share(detractors, len(values)),
        "score": score,
    }


def question_figures(question: Question, values: list[Any]) -> dict[str, Any]:
    """One question's figures over the answers given to it (values that fit it)."""
    out: dict[str, Any] = {
        "id": question.id,
        "kind": question.kind,
        "text": question.text,
        "answered": len(values),
    }
    if question.kind in ("single", "multiple"):
        out["choices"] = _choice_items(question, values, len(values))
    elif question.kind == "rating":
        out["distribution"] = _scale(values, 1, 5)
        out["average"] = round(sum(values) / len(values), 2) if values else None
    elif question.kind == "nps":
        out["distribution"] = _scale(values, 0, 10)
        out["nps"] = nps_figures(values)
    return out


def figures(conn: Connection, found: Survey, period: Period | None) -> dict[str, Any]:
    """Invitations by state, the response rate, and the figures of every question."""
    where = _where(found.project_id, found.id, period)
    counts = dict.fromkeys(("shown", "answered", "dismissed"), 0)
    values: dict[str, list[Any]] = {q.id: [] for q in found.definition.questions}
    rows = conn.execution_options(yield_per=1000).execute(
        select(survey_response.c.state, survey_response.c.answers).where(*where)
    )
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
        if row.state not in GIVEN:
            continue
        answers = answers_of(row.answers)
        for question in found.definition.questions:
            value = answers.get(question.id)
            if value is not None and _valid(question, value):
                values[question.id].append(value)
    invited = sum(counts.values())
    return {
        **counts,
        "invited": invited,
        "response_rate": round(counts["answered"] / invited, 4) if invited else None,
        "questions": [question_figures(q, values[q.id]) for q in found.definition.questions],
    }


# --- text answers ------------------------------------------------------------------------


def _text_prefilter(found: Survey, q: str) -> ColumnElement[bool] | None:
    """A SQL condition every response with a matching text answer meets (not the reverse:
    Python checks each row). None when SQL cannot narrow it safely."""
    if q:
        if not q.isascii():
            return None  # SQLite's lower() folds ASCII only
        encoded = json.dumps(q.lower(), ensure_ascii=False)[1:-1]
        return survey_response.c.answers.ilike(f"%{_escape_like(encoded)}%", escape="\\")
    ids = [qu.id for qu in found.definition.questions if qu.kind == "text"]
    return or_(*(survey_response.c.answers.contains(f'"{i}":', autoescape=True) for i in ids))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def text_answers_of(found: Survey, answers: dict[str, Any], q: str) -> list[dict[str, str]]:
    """The text answers of one response, [] when q is given and none of them contains it."""
    out = [
        {"question_id": qu.id, "question": qu.text, "answer": answers[qu.id]}
        for qu in found.definition.questions
        if qu.kind == "text" and _valid(qu, answers.get(qu.id))
    ]
    if q and not any(q.casefold() in item["answer"].casefold() for item in out):
        return []
    return out


def text_answers(
    conn: Connection, found: Survey, period: Period | None, q: str = "", page: int = 1
) -> dict[str, Any]:
    """Responses with text answers, newest first, PER_PAGE a page; with q, only those whose
    text answer contains it (case-insensitive)."""
    q = q.strip()
    if not any(qu.kind == "text" for qu in found.definition.questions):
        return {"items": [], "page": page, "has_more": False, "q": q}
    query = (
        select(survey_response)
        .where(*_where(found.project_id, found.id, period))
        .where(survey_response.c.state.in_(GIVEN))
        .order_by(survey_response.c.id.desc())
    )
    narrowed = _text_prefilter(found, q)
    if narrowed is not None:
        query = query.where(narrowed)
    skip, wanted = (page - 1) * PER_PAGE, PER_PAGE + 1
    kept: list[tuple[Any, list[dict[str, str]]]] = []
    rows = conn.execution_options(yield_per=500).execute(query)
    try:
        for row in rows:
            items = text_answers_of(found, answers_of(row.answers), q)
            if not items:
                continue
            if skip:
                skip -= 1
                continue
            kept.append((row, items))
            if len(kept) == wanted:
                break
    finally:
        rows.close()  # a server-side cursor left half read
    has_more = len(kept) > PER_PAGE
    kept = kept[:PER_PAGE]
    linked = sessions_of(conn, found.project_id, (row.session_key for row, _ in kept))
    out = [
        {
            "id": row.id,
            "state": row.state,
            "answers": items,
            "page_url": row.url,
            "given_at": given_at(row.ts),
            **link_fields(linked.get(row.session_key), row.ts),
        }
        for row, items in kept
    ]
    return {"items": out, "page": page, "has_more": has_more, "q": q}


# --- responses: the API and the CSV --------------------------------------------------------


def _responses_query(found: Survey, period: Period | None, state: str, after: int) -> Select[Any]:
    return (
        select(survey_response)
        .where(*_where(found.project_id, found.id, period))
        .where(survey_response.c.state.in_(_states(state)), survey_response.c.id > after)
        .order_by(survey_response.c.id)
    )


def response_dict(row: Any, linked: Linked | None, base_url: str) -> dict[str, Any]:
    links = link_fields(linked, row.ts, base_url)
    return {
        "id": row.id,
        "state": row.state,
        "given_at": given_at(row.ts),
        "page_url": row.url,
        "answers": answers_of(row.answers),
        "session_id": links["session_id"],
        "replay_url": links["replay"],
        "visitor_id": row.visitor_key,
    }


def responses_after(
    conn: Connection,
    found: Survey,
    period: Period | None,
    state: str,
    after: int,
    limit: int,
    base_url: str,
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `limit` responses with an id above `after`, ascending; and the cursor for the
    next page (None when this was the last)."""
    rows = conn.execute(_responses_query(found, period, state, after).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    linked = sessions_of(conn, found.project_id, (row.session_key for row in rows))
    out = [response_dict(row, linked.get(row.session_key), base_url) for row in rows]
    return out, rows[-1].id if more and rows else None


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet will not run: formulas get a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_RISKY) else text


def _csv_line(cells: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([csv_cell(c) for c in cells])
    return out.getvalue()


def _answer_cell(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return value


def csv_lines(
    engine: Engine, found: Survey, period: Period | None, everything: bool, base_url: str
) -> Iterator[str]:
    """The CSV, a line at a time, read CSV_CHUNK responses per query: answered and
    dismissed invitations, or every one (shown too) when `everything`."""
    questions = found.definition.questions
    head = ["response id", "state", "given at", "page url", "session id", "replay url"]
    yield _csv_line([*head, "visitor id", *(f"{q.id}: {q.text}" for q in questions)])
    state, after = ("all" if everything else "given"), 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                _responses_query(found, period, state, after).limit(CSV_CHUNK)
            ).all()
            linked = sessions_of(conn, found.project_id, (row.session_key for row in rows))
        for row in rows:
            item = response_dict(row, linked.get(row.session_key), base_url)
            answers = item["answers"]
            yield _csv_line(
                [
                    item["id"],
                    item["state"],
                    item["given_at"],
                    item["page_url"],
                    item["session_id"],
                    item["replay_url"],
                    item["visitor_id"],
                    *(_answer_cell(answers.get(q.id)) for q in questions),
                ]
            )
        if len(rows) < CSV_CHUNK:
            return
        after = rows[-1].id
