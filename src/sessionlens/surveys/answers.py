"""Survey answers from the widget: checked against the survey, then stored one row per
invitation (docs/surveys.md, "What the recorder sends").

The body has already passed the server privacy guard and URL stripping (surveys/ingest.py);
here every field is checked, and a state never moves backwards.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from sessionlens.storage.tables import inserted_id, survey_answer, survey_response, utcnow
from sessionlens.surveys.definition import MAX_ANSWER_TEXT, Definition, Question

STATES = ("shown", "dismissed", "answered")
RANK = {"shown": 0, "dismissed": 1, "answered": 2}
MAX_TS = 10**13
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{0,64}$")
Answer = str | int | list[str]


class AnswerError(ValueError):
    """A body that cannot be stored: a 400 whose message names the field."""


@dataclass(frozen=True)
class Response:
    response_key: str
    survey_id: int
    session_key: str
    visitor_key: str
    ts: int
    url: str
    state: str
    answers: dict[str, Answer]


def _key(value: Any, name: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise AnswerError(f"{name} must be 8-64 letters, digits, _ or -")
    return value


def client_ids(body: dict[str, Any]) -> tuple[str, str]:
    """The recorder's session and visitor ids (either may be empty)."""
    session_key = body.get("session_id") or ""
    visitor_key = body.get("visitor_id") or ""
    for name, value in (("session_id", session_key), ("visitor_id", visitor_key)):
        if not isinstance(value, str) or not _CLIENT_ID.match(value):
            raise AnswerError(f"{name} must be up to 64 letters, digits, _ or -")
    return session_key, visitor_key


def timestamp(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < MAX_TS:
        raise AnswerError("ts must be milliseconds since 1970")
    return value


def page_url(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 4000:
        raise AnswerError("url must be text of at most 4000 characters")
    return value


def _answer(question: Question, value: Any) -> Answer:
    where = f"the answer to {question.id}"
    if question.kind == "single":
        if value not in question.choices:
            raise AnswerError(f"{where} is not one of its choices")
        return str(value)
    if question.kind == "multiple":
        if not isinstance(value, list) or any(v not in question.choices for v in value):
            raise AnswerError(f"{where} must be a list of its choices")
        return [c for c in question.choices if c in value]
    if question.kind in ("rating", "nps"):
        low, high = (1, 5) if question.kind == "rating" else (0, 10)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise AnswerError(f"{where} must be a whole number {low}-{high}")
        return value
    if not isinstance(value, str) or len(value) > MAX_ANSWER_TEXT:
        raise AnswerError(f"{where} must be text of at most {MAX_ANSWER_TEXT} characters")
    return value.strip()


def answers_for(definition: Definition, raw: Any, complete: bool) -> dict[str, Answer]:
    """The answers checked against the questions; `complete` also needs every required one."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise AnswerError("answers must be an object of question id to answer")
    out: dict[str, Answer] = {}
    for question_id, value in raw.items():
        question = definition.question(str(question_id))
        if question is None:
            raise AnswerError(f"the survey has no question {str(question_id)[:20]!r}")
        if value is None or value == "" or value == []:
            continue
        out[question.id] = _answer(question, value)
    if complete:
        for question in definition.questions:
            if question.required and question.id not in out:
                raise AnswerError(f"{question.id} is required")
    return out


def checked(body: dict[str, Any], survey_id: int, definition: Definition) -> Response:
    state = body.get("state")
    if state not in STATES:
        raise AnswerError(f"state is one of {', '.join(STATES)}")
    session_key, visitor_key = client_ids(body)
    return Response(
        response_key=_key(body.get("response_id"), "response_id", _KEY),
        survey_id=survey_id,
        session_key=session_key,
        visitor_key=visitor_key,
        ts=timestamp(body.get("ts")),
        url=page_url(body.get("url")),
        state=state,
        answers=answers_for(definition, body.get("answers"), complete=state == "answered"),
    )


def _nps(definition: Definition, answers: dict[str, Answer]) -> int | None:
    for question in definition.questions:
        value = answers.get(question.id)
        if question.kind == "nps" and isinstance(value, int):
            return value
    return None


def answer_rows(definition: Definition, answers: dict[str, Answer]) -> list[dict[str, Any]]:
    """The survey_answer rows of a response's answers (one per choice of a multiple one)."""
    rows: list[dict[str, Any]] = []
    for question in definition.questions:
        value = answers.get(question.id)
        if value is None:
            continue
        row: dict[str, Any] = {"question_id": question.id, "number": None, "choice": None}
        row |= {"text": None, "folded": None}
        if isinstance(value, list):
            rows += [row | {"choice": choice} for choice in value]
        elif isinstance(value, int):
            rows.append(row | {"number": value})
        elif question.kind == "single":
            rows.append(row | {"choice": value})
        else:
            rows.append(row | {"text": value, "folded": value.casefold()})
    return rows


def _write_answers(
    conn: Connection,
    response_id: int,
    survey_id: int,
    rows: list[dict[str, Any]],
    created_at: datetime,
) -> None:
    conn.execute(delete(survey_answer).where(survey_answer.c.response_id == response_id))
    if rows:
        conn.execute(
            insert(survey_answer),
            [
                {
                    **row,
                    "response_id": response_id,
                    "survey_id": survey_id,
                    "created_at": created_at,
                }
                for row in rows
            ],
        )


def store(conn: Connection, project_id: int, definition: Definition, response: Response) -> bool:
    """Insert or move the invitation on; False when nothing changed (a repeat, or older news)."""
    now = utcnow()
    values = {
        "state": response.state,
        "ts": response.ts,
        "answers": json.dumps(response.answers, ensure_ascii=False),
        "nps": _nps(definition, response.answers),
        "updated_at": now,
    }
    # Only answers given (answered, or dismissed part way) count in the figures.
    rows = answer_rows(definition, response.answers) if response.state != "shown" else []
    current = conn.execute(
        select(
            survey_response.c.id,
            survey_response.c.state,
            survey_response.c.survey_id,
            survey_response.c.created_at,
        ).where(
            survey_response.c.project_id == project_id,
            survey_response.c.response_key == response.response_key,
        )
    ).first()
    if current is None:
        try:
            with conn.begin_nested():
                new_id = inserted_id(
                    conn.execute(
                        insert(survey_response).values(
                            project_id=project_id,
                            survey_id=response.survey_id,
                            response_key=response.response_key,
                            session_key=response.session_key,
                            visitor_key=response.visitor_key,
                            url=response.url,
                            created_at=now,
                            **values,
                        )
                    )
                )
                _write_answers(conn, new_id, response.survey_id, rows, now)
            return True
        except IntegrityError:
            # The same invitation sent twice at once: the other insert won; move it on.
            return store(conn, project_id, definition, response)
    if current.survey_id != response.survey_id:
        raise AnswerError("response_id belongs to another survey")
    if RANK[response.state] <= RANK[current.state]:
        return False
    conn.execute(update(survey_response).where(survey_response.c.id == current.id).values(**values))
    _write_answers(conn, current.id, current.survey_id, rows, current.created_at)
    return True
