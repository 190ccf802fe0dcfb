"""The feedback button's submissions: a rating, a comment and the element pointed at."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from sessionlens.storage.tables import page_feedback
from sessionlens.surveys.answers import AnswerError, client_ids, page_url, timestamp

MAX_COMMENT = 2000
MAX_SELECTOR = 1000
RATING_LABELS = {1: "Very bad", 2: "Bad", 3: "OK", 4: "Good", 5: "Very good"}
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(frozen=True)
class Feedback:
    feedback_key: str
    session_key: str
    visitor_key: str
    ts: int
    url: str
    rating: int
    comment: str
    selector: str


def _text(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name) or ""
    if not isinstance(value, str) or len(value) > limit:
        raise AnswerError(f"{name} must be text of at most {limit} characters")
    return value.strip()


def checked(body: dict[str, Any]) -> Feedback:
    key = body.get("feedback_id")
    if not isinstance(key, str) or not _KEY.match(key):
        raise AnswerError("feedback_id must be 8-64 letters, digits, _ or -")
    rating = body.get("rating")
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATING_LABELS:
        raise AnswerError("rating must be a whole number 1-5")
    session_key, visitor_key = client_ids(body)
    return Feedback(
        feedback_key=key,
        session_key=session_key,
        visitor_key=visitor_key,
        ts=timestamp(body.get("ts")),
        url=page_url(body.get("url")),
        rating=rating,
        comment=_text(body, "comment", MAX_COMMENT),
        selector=_text(body, "selector", MAX_SELECTOR),
    )


def store(conn: Connection, project_id: int, feedback: Feedback) -> bool:
    """Insert once; False when this feedback id was stored before."""
    exists = conn.execute(
        select(page_feedback.c.id).where(
            page_feedback.c.project_id == project_id,
            page_feedback.c.feedback_key == feedback.feedback_key,
        )
    ).first()
    if exists is not None:
        return False
    try:
        with conn.begin_nested():
            conn.execute(
                insert(page_feedback).values(
                    project_id=project_id,
                    feedback_key=feedback.feedback_key,
                    session_key=feedback.session_key,
                    visitor_key=feedback.visitor_key,
                    ts=feedback.ts,
                    url=feedback.url,
                    rating=feedback.rating,
                    comment=feedback.comment,
                    selector=feedback.selector,
                )
            )
    except IntegrityError:
        return False  # the same feedback sent twice at once: stored by the other request
    return True
