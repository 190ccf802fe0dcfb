"""Survey answers and feedback as part of a session and of a visitor's data: the replay's
timeline, visitor export and erasure, and retention."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, or_, select

from sessionlens.storage.tables import page_feedback, survey, survey_response
from sessionlens.surveys.definition import parse
from sessionlens.surveys.feedback import RATING_LABELS

STATE_LABELS = {"shown": "shown", "dismissed": "dismissed", "answered": "answered"}


def _shown(value: Any) -> str:
    return "; ".join(value) if isinstance(value, list) else str(value)


def session_answers(
    conn: Connection, project_id: int, session_key: str, first_ts: int
) -> list[dict[str, Any]]:
    """The session's survey invitations in time order, each answer with its question."""
    rows = conn.execute(
        select(
            survey_response.c.ts,
            survey_response.c.state,
            survey_response.c.answers,
            survey_response.c.survey_id,
            survey.c.name,
            survey.c.definition,
        )
        .join(survey, survey.c.id == survey_response.c.survey_id)
        .where(
            survey_response.c.project_id == project_id,
            survey_response.c.session_key == session_key,
        )
        .order_by(survey_response.c.ts, survey_response.c.id)
    ).all()
    out = []
    for row in rows:
        questions = parse(json.loads(row.definition)).questions
        given = json.loads(row.answers or "{}")
        answers = [
            {"question": q.text, "answer": _shown(given[q.id])} for q in questions if q.id in given
        ]
        out.append(
            {
                "survey_id": row.survey_id,
                "survey": row.name,
                "state": row.state,
                "offset_ms": max(0, row.ts - first_ts),
                "answers": answers,
            }
        )
    return out


def session_feedback(
    conn: Connection, project_id: int, session_key: str, first_ts: int
) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            page_feedback.c.ts,
            page_feedback.c.rating,
            page_feedback.c.comment,
            page_feedback.c.selector,
            page_feedback.c.url,
        )
        .where(
            page_feedback.c.project_id == project_id,
            page_feedback.c.session_key == session_key,
        )
        .order_by(page_feedback.c.ts, page_feedback.c.id)
    ).all()
    return [
        {
            "offset_ms": max(0, row.ts - first_ts),
            "rating": row.rating,
            "rating_label": RATING_LABELS.get(row.rating, str(row.rating)),
            "comment": row.comment,
            "selector": row.selector,
            "url": row.url,
        }
        for row in rows
    ]


def timeline(answers: list[dict[str, Any]], feedback: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries for the replay's timeline (the same shape as struggle signals)."""
    out = []
    for item in answers:
        text = f"{item['survey']}: {item['state']}"
        if item["answers"]:
            text += " - " + "; ".join(a["answer"] for a in item["answers"])
        out.append({"kind": "survey", "label": "Survey", "text": text, **item})
    for item in feedback:
        text = f"{item['rating_label']} ({item['rating']}/5)"
        if item["comment"]:
            text += f": {item['comment']}"
        out.append({"kind": "feedback", "label": "Feedback", "text": text, **item})
    return sorted(out, key=lambda entry: entry["offset_ms"])


def _subject(table: Any, project_id: int, session_keys: list[str], visitor_keys: list[str]) -> Any:
    keys = [k for k in session_keys if k]
    visitors = [k for k in visitor_keys if k]
    return (table.c.project_id == project_id) & or_(
        table.c.session_key.in_(keys), table.c.visitor_key.in_(visitors)
    )


def of_subject(
    conn: Connection, project_id: int, session_keys: list[str], visitor_keys: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """A visitor's survey answers and feedback, for the export."""
    answers = conn.execute(
        select(
            survey_response.c.survey_id,
            survey_response.c.state,
            survey_response.c.ts,
            survey_response.c.url,
            survey_response.c.answers,
            survey_response.c.session_key.label("session_client_id"),
            survey_response.c.visitor_key.label("visitor_id"),
        )
        .where(_subject(survey_response, project_id, session_keys, visitor_keys))
        .order_by(survey_response.c.ts, survey_response.c.id)
    ).mappings()
    feedback = conn.execute(
        select(
            page_feedback.c.ts,
            page_feedback.c.url,
            page_feedback.c.rating,
            page_feedback.c.comment,
            page_feedback.c.selector,
            page_feedback.c.session_key.label("session_client_id"),
            page_feedback.c.visitor_key.label("visitor_id"),
        )
        .where(_subject(page_feedback, project_id, session_keys, visitor_keys))
        .order_by(page_feedback.c.ts, page_feedback.c.id)
    ).mappings()
    return {
        "survey_responses": [
            {**row, "answers": json.loads(row["answers"] or "{}")} for row in answers
        ],
        "feedback": [dict(row) for row in feedback],
    }


def erase_subject(
    conn: Connection, project_id: int, session_keys: list[str], visitor_keys: list[str]
) -> int:
    """Delete a visitor's survey answers and feedback; how many rows went."""
    gone = 0
    for table in (survey_response, page_feedback):
        gone += conn.execute(
            delete(table).where(_subject(table, project_id, session_keys, visitor_keys))
        ).rowcount
    return gone


def purge_before(conn: Connection, project_id: int, cutoff: datetime) -> int:
    """Retention: answers and feedback older than the project's retention."""
    gone = conn.execute(
        delete(survey_response).where(
            survey_response.c.project_id == project_id, survey_response.c.created_at < cutoff
        )
    ).rowcount
    gone += conn.execute(
        delete(page_feedback).where(
            page_feedback.c.project_id == project_id, page_feedback.c.created_at < cutoff
        )
    ).rowcount
    return gone
