"""Saved funnels of a project: a name, the steps and the window."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from sessionlens.analytics.funnels import FunnelError, Step, check_window, parse_steps
from sessionlens.storage.tables import funnel, inserted_id, utcnow


@dataclass(frozen=True)
class SavedFunnel:
    id: int
    project_id: int
    name: str
    steps: list[Step]
    window_minutes: int
    created_by: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "steps": [step.as_dict() for step in self.steps],
            "window_minutes": self.window_minutes,
        }


def _name(name: str) -> str:
    name = name.strip()
    if not name:
        raise FunnelError("a funnel needs a name")
    if len(name) > 200:
        raise FunnelError("a funnel's name has at most 200 characters")
    return name


def _of(row: Any) -> SavedFunnel:
    return SavedFunnel(
        row.id,
        row.project_id,
        row.name,
        parse_steps(json.loads(row.steps)),
        row.window_minutes,
        row.created_by,
    )


def create(
    conn: Connection,
    project_id: int,
    name: str,
    steps: list[Step],
    window_minutes: int,
    user_id: int | None,
) -> SavedFunnel:
    values = {
        "project_id": project_id,
        "name": _name(name),
        "steps": json.dumps([step.as_dict() for step in steps]),
        "window_minutes": check_window(window_minutes),
        "created_by": user_id,
    }
    new_id = inserted_id(conn.execute(insert(funnel).values(**values)))
    found = get(conn, project_id, new_id)
    assert found is not None
    return found


def change(
    conn: Connection,
    project_id: int,
    funnel_id: int,
    name: str,
    steps: list[Step],
    window_minutes: int,
) -> SavedFunnel | None:
    changed = conn.execute(
        update(funnel)
        .where(funnel.c.project_id == project_id, funnel.c.id == funnel_id)
        .values(
            name=_name(name),
            steps=json.dumps([step.as_dict() for step in steps]),
            window_minutes=check_window(window_minutes),
            updated_at=utcnow(),
        )
    ).rowcount
    return get(conn, project_id, funnel_id) if changed else None


def get(conn: Connection, project_id: int, funnel_id: int) -> SavedFunnel | None:
    row = conn.execute(
        select(funnel).where(funnel.c.project_id == project_id, funnel.c.id == funnel_id)
    ).first()
    return _of(row) if row is not None else None


def for_project(conn: Connection, project_id: int) -> list[SavedFunnel]:
    rows = conn.execute(
        select(funnel).where(funnel.c.project_id == project_id).order_by(funnel.c.name)
    )
    return [_of(row) for row in rows]


def remove(conn: Connection, project_id: int, funnel_id: int) -> bool:
    return bool(
        conn.execute(
            delete(funnel).where(funnel.c.project_id == project_id, funnel.c.id == funnel_id)
        ).rowcount
    )
