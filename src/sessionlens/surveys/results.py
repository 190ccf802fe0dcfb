"""A survey's results: invitations and response rate, figures per question (choices,
ratings, NPS), the text answers with a search, and the responses for the API and the CSV.

A period, when given, bounds the invitations by the UTC day they reached the server
(`created_at`). Figures per question are counted in SQL from survey_answer, a row per value
given (answers.py), so the partial answers of a dismissed invitation count too. Each
response links to its session's replay when the session is stored: (project_id,
session_key) = (session.project_id, session.client_id).
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

from sqlalchemy import ColumnElement, Connection, Engine, Select, distinct, func, or_, select

from sessionlens.analytics.period import Period, parse_period
from sessionlens.storage.tables import session, survey_answer, survey_response
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


def _choice_items(question: Question, tally: dict[Any, int], answered: int) -> list[dict[str, Any]]:
    counts = dict.fromkeys(question.choices, 0)
    for choice, n in tally.items():
        if isinstance(choice, str):
            counts[choice] = counts.get(choice, 0) + n  # a choice since removed stays listed
    return [
        {
            "name": name,
            "count": n,
            "share": _share(n, answered),
            "removed": name not in question.choices,
        }
        for name, n in counts.items()
    ]


def _scale(tally: dict[Any, int], low: int, high: int) -> list[dict[str, Any]]:
    total = sum(tally.get(v, 0) for v in range(low, high + 1))
    return [
        {"name": str(v), "count": tally.get(v, 0), "share": _share(tally.get(v, 0), total)}
        for v in range(low, high + 1)
    ]


def nps_figures(tally: dict[Any, int]) -> dict[str, Any]:
    """Promoters (9-10), passives (7-8), detractors (0-6) and the score, from value counts."""
    promoters = tally.get(9, 0) + tally.get(10, 0)
    passives = tally.get(7, 0) + tally.get(8, 0)
    detractors = sum(tally.get(v, 0) for v in range(7))
    total = promoters + passives + detractors
    score = None
    if total:
        score = round_half_up(Decimal(100 * (promoters - detractors)) / Decimal(total))
    return {
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "promoters_share": _share(promoters, total),
        "passives_share": _share(passives, total),
        "detractors_share": _share(detractors, total),
        "score": score,
    }


def question_figures(question: Question, tally: dict[Any, int], answered: int) -> dict[str, Any]:
    """One question's figures: `tally` counts each value given (a choice, a number), and
    `answered` the responses that answered it."""
    out: dict[str, Any] = {
        "id": question.id,
        "kind": question.kind,
        "text": question.text,
        "answered": answered,
    }
    if question.kind in ("single", "multiple"):
        out["choices"] = _choice_items(question, tally, answered)
    elif question.kind == "rating":
        out["distribution"] = _scale(tally, 1, 5)
        given = sum(tally.get(v, 0) for v in range(1, 6))
        total = sum(v * tally.get(v, 0) for v in range(1, 6))
        out["average"] = round(total / given, 2) if given else None
    elif question.kind == "nps":
        out["distribution"] = _scale(tally, 0, 10)
        out["nps"] = nps_figures(tally)
    return out


def _answer_where(found: Survey, period: Period | None) -> list[ColumnElement[bool]]:
    out = [survey_answer.c.survey_id == found.id]
    if period is not None:
        out.append(survey_answer.c.created_at >= period.start)
        out.append(survey_answer.c.created_at < period.end)
    return out


def figures(conn: Connection, found: Survey, period: Period | None) -> dict[str, Any]:
    """Invitations by state, the response rate, and the figures of every question, counted
    in SQL from the answer rows (surveys/answers.py writes one per value given)."""
    counts = dict.fromkeys(("shown", "answered", "dismissed"), 0)
    for state, n in conn.execute(
        select(survey_response.c.state, func.count())
        .where(*_where(found.project_id, found.id, period))
        .group_by(survey_response.c.state)
    ):
        counts[state] = n
    where = _answer_where(found, period)
    a = survey_answer.c
    tallies: dict[str, dict[Any, int]] = {}
    for question_id, number, choice, n in conn.execute(
        select(a.question_id, a.number, a.choice, func.count())
        .where(*where, or_(a.number.is_not(None), a.choice.is_not(None)))
        .group_by(a.question_id, a.number, a.choice)
    ):
        value = number if number is not None else choice
        tallies.setdefault(question_id, {})[value] = n
    answered: dict[str, int] = dict(
        conn.execute(
            select(a.question_id, func.count(distinct(a.response_id)))
            .where(*where)
            .group_by(a.question_id)
        ).all()
    )
    invited = sum(counts.values())
    return {
        **counts,
        "invited": invited,
        "response_rate": round(counts["answered"] / invited, 4) if invited else None,
        "questions": [
            question_figures(q, tallies.get(q.id, {}), int(answered.get(q.id, 0)))
            for q in found.definition.questions
        ],
    }


# --- text answers ------------------------------------------------------------------------


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class FilterError(ValueError):
    """An answer filter that names no question or value of the survey."""


def answer_filter(found: Survey, raw: str) -> tuple[Question, int | str] | None:
    """`q2:Range` or `q1:9` -> the question and the value to list the responses of."""
    if not raw:
        return None
    question_id, _, value = raw.partition(":")
    question = found.definition.question(question_id)
    if question is None or question.kind == "text":
        raise FilterError("Filter by a choice, rating or NPS question of this survey.")
    if question.kind in ("rating", "nps"):
        if not value.isdigit():
            raise FilterError("A rating or NPS answer is a whole number.")
        return question, int(value)
    return question, value


def _shown_answer(value: Any) -> str:
    return "; ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def answer_list(
    conn: Connection,
    found: Survey,
    period: Period | None,
    q: str = "",
    answer: tuple[Question, int | str] | None = None,
    page: int = 1,
) -> dict[str, Any]:
    """Responses that hold answers, newest first, PER_PAGE a page, each with every answer and
    its replay link. With q, those whose text answer contains it (casefolded on both sides,
    so 'strasse' finds 'Straße'); with `answer`, those that gave that answer."""
    q = q.strip()
    r = survey_response.c
    # Walked newest first on the (survey_id, id) index; each filter is a set of response
    # ids from the answer rows, which SQL builds once.
    matching = select(r.id).where(
        *_where(found.project_id, found.id, period),
        r.state.in_(GIVEN),
        r.answers != "{}",
    )
    t = survey_answer.c
    if q:
        texts = [qu.id for qu in found.definition.questions if qu.kind == "text"]
        matching = matching.where(
            r.id.in_(
                select(t.response_id).where(
                    t.survey_id == found.id,
                    t.question_id.in_(texts),
                    t.folded.like(f"%{_escape_like(q.casefold())}%", escape="\\"),
                )
            )
        )
    if answer is not None:
        question, value = answer
        column = t.number if isinstance(value, int) else t.choice
        matching = matching.where(
            r.id.in_(
                select(t.response_id).where(
                    t.survey_id == found.id, t.question_id == question.id, column == value
                )
            )
        )
    ids = (
        conn.execute(
            matching.order_by(r.id.desc()).limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)
        )
        .scalars()
        .all()
    )
    has_more = len(ids) > PER_PAGE
    rows = conn.execute(
        select(survey_response)
        .where(survey_response.c.id.in_(ids[:PER_PAGE]))
        .order_by(survey_response.c.id.desc())
    ).all()
    linked = sessions_of(conn, found.project_id, (row.session_key for row in rows))
    out = []
    for row in rows:
        given = answers_of(row.answers)
        out.append(
            {
                "id": row.id,
                "state": row.state,
                "answers": [
                    {
                        "question_id": qu.id,
                        "kind": qu.kind,
                        "question": qu.text,
                        "answer": _shown_answer(given[qu.id]),
                    }
                    for qu in found.definition.questions
                    if qu.id in given
                ],
                "page_url": row.url,
                "given_at": given_at(row.ts),
                **link_fields(linked.get(row.session_key), row.ts),
            }
        )
    chosen = f"{answer[0].id}:{answer[1]}" if answer else ""
    return {"items": out, "page": page, "has_more": has_more, "q": q, "answer": chosen}


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
        # One writer and buffer per chunk: a line each costs more than the rows' reading.
        out = io.StringIO()
        writer = csv.writer(out)
        for row in rows:
            item = response_dict(row, linked.get(row.session_key), base_url)
            answers = item["answers"]
            cells = [
                item["id"],
                item["state"],
                item["given_at"],
                item["page_url"],
                item["session_id"],
                item["replay_url"],
                item["visitor_id"],
                *(_answer_cell(answers.get(q.id)) for q in questions),
            ]
            writer.writerow([csv_cell(c) for c in cells])
        yield out.getvalue()
        if len(rows) < CSV_CHUNK:
            return
        after = rows[-1].id
