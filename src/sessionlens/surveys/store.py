"""Saved surveys of a project: name, status, active dates and the definition."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from sessionlens.storage.tables import inserted_id, survey, survey_response, utcnow
from sessionlens.surveys.definition import Definition, SurveyError, parse

STATUSES = ("draft", "active", "paused")
MAX_NAME = 200


@dataclass(frozen=True)
class Survey:
    id: int
    project_id: int
    name: str
    status: str
    definition: Definition
    starts_on: date | None
    ends_on: date | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime

    def live_on(self, today: date) -> bool:
        """Active and inside its dates: shown to visitors."""
        if self.status != "active":
            return False
        if self.starts_on is not None and today < self.starts_on:
            return False
        return self.ends_on is None or today <= self.ends_on

    def state_on(self, today: date) -> str:
        """What the console shows: draft, paused, scheduled, ended or live."""
        if self.status != "active":
            return self.status
        if self.starts_on is not None and today < self.starts_on:
            return "scheduled"
        if self.ends_on is not None and today > self.ends_on:
            return "ended"
        return "live"

    def recorder_config(self) -> dict[str, Any]:
        """The survey as the widget needs it (docs/surveys.md, "What the recorder is sent")."""
        return {
            "id": self.id,
            "starts_ms": _day_ms(self.starts_on),
            "ends_ms": _day_ms(self.ends_on + timedelta(days=1)) if self.ends_on else None,
        } | self.definition.to_json()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "starts_on": self.starts_on.isoformat() if self.starts_on else None,
            "ends_on": self.ends_on.isoformat() if self.ends_on else None,
            "definition": self.definition.to_json(),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _day_ms(day: date | None) -> int | None:
    if day is None:
        return None
    return int(datetime.combine(day, time(), tzinfo=UTC).timestamp() * 1000)


def _name(name: str) -> str:
    name = name.strip()
    if not name:
        raise SurveyError("a survey needs a name")
    if len(name) > MAX_NAME:
        raise SurveyError(f"a survey's name has at most {MAX_NAME} characters")
    return name


def _dates(starts_on: date | None, ends_on: date | None) -> None:
    if starts_on and ends_on and ends_on < starts_on:
        raise SurveyError("the survey ends before it starts")


def _status(status: str) -> str:
    if status not in STATUSES:
        raise SurveyError(f"the status is one of {', '.join(STATUSES)}")
    return status


def _of(row: Any) -> Survey:
    return Survey(
        row.id,
        row.project_id,
        row.name,
        row.status,
        parse(json.loads(row.definition)),
        row.starts_on,
        row.ends_on,
        row.created_by,
        row.created_at,
        row.updated_at,
    )


def create(
    conn: Connection,
    project_id: int,
    name: str,
    definition: Definition,
    user_id: int | None,
    status: str = "draft",
    starts_on: date | None = None,
    ends_on: date | None = None,
) -> Survey:
    _dates(starts_on, ends_on)
    new_id = inserted_id(
        conn.execute(
            insert(survey).values(
                project_id=project_id,
                name=_name(name),
                status=_status(status),
                definition=json.dumps(definition.to_json()),
                starts_on=starts_on,
                ends_on=ends_on,
                created_by=user_id,
            )
        )
    )
    found = get(conn, project_id, new_id)
    assert found is not None
    return found


def change(
    conn: Connection,
    project_id: int,
    survey_id: int,
    name: str,
    definition: Definition,
    starts_on: date | None,
    ends_on: date | None,
) -> Survey | None:
    _dates(starts_on, ends_on)
    changed = conn.execute(
        update(survey)
        .where(survey.c.project_id == project_id, survey.c.id == survey_id)
        .values(
            name=_name(name),
            definition=json.dumps(definition.to_json()),
            starts_on=starts_on,
            ends_on=ends_on,
            updated_at=utcnow(),
        )
    ).rowcount
    return get(conn, project_id, survey_id) if changed else None


def set_status(conn: Connection, project_id: int, survey_id: int, status: str) -> bool:
    return bool(
        conn.execute(
            update(survey)
            .where(survey.c.project_id == project_id, survey.c.id == survey_id)
            .values(status=_status(status), updated_at=utcnow())
        ).rowcount
    )


def get(conn: Connection, project_id: int, survey_id: int) -> Survey | None:
    row = conn.execute(
        select(survey).where(survey.c.project_id == project_id, survey.c.id == survey_id)
    ).first()
    return _of(row) if row is not None else None


def for_project(conn: Connection, project_id: int) -> list[Survey]:
    rows = conn.execute(
        select(survey).where(survey.c.project_id == project_id).order_by(survey.c.id.desc())
    )
    return [_of(row) for row in rows]


def live(conn: Connection, project_id: int, today: date) -> list[Survey]:
    """The surveys visitors may be shown today, oldest first."""
    rows = conn.execute(
        select(survey)
        .where(
            survey.c.project_id == project_id,
            survey.c.status == "active",
            or_(survey.c.starts_on.is_(None), survey.c.starts_on <= today),
            or_(survey.c.ends_on.is_(None), survey.c.ends_on >= today),
        )
        .order_by(survey.c.id)
    )
    return [_of(row) for row in rows]


def counts(conn: Connection, project_id: int) -> dict[int, dict[str, int]]:
    """Per survey: invitations shown, answered and dismissed."""
    rows = conn.execute(
        select(survey_response.c.survey_id, survey_response.c.state, func.count())
        .where(survey_response.c.project_id == project_id)
        .group_by(survey_response.c.survey_id, survey_response.c.state)
    )
    out: dict[int, dict[str, int]] = {}
    for survey_id, state, n in rows:
        figures = out.setdefault(survey_id, {"shown": 0, "answered": 0, "dismissed": 0})
        figures[state] = figures.get(state, 0) + n
    for figures in out.values():
        figures["invited"] = figures["shown"] + figures["answered"] + figures["dismissed"]
    return out


def remove(conn: Connection, project_id: int, survey_id: int) -> bool:
    """Delete a survey and its answers (the console asks for a confirmation first)."""
    conn.execute(
        delete(survey_response).where(
            and_(
                survey_response.c.project_id == project_id,
                survey_response.c.survey_id == survey_id,
            )
        )
    )
    return bool(
        conn.execute(
            delete(survey).where(survey.c.project_id == project_id, survey.c.id == survey_id)
        ).rowcount
    )
