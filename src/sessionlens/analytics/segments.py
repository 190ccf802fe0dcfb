"""Saved session searches ("segments") of a project."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from sessionlens.analytics.search import SessionFilter
from sessionlens.storage.tables import inserted_id, segment


@dataclass(frozen=True)
class Segment:
    id: int
    name: str
    query: str


def save(
    conn: Connection, project_id: int, name: str, wanted: SessionFilter, user_id: int
) -> Segment:
    name = name.strip()[:200]
    if not name:
        raise ValueError("a segment needs a name")
    if not wanted.values:
        raise ValueError("choose at least one filter before saving a segment")
    query = wanted.query_string()
    new_id = inserted_id(
        conn.execute(
            insert(segment).values(
                project_id=project_id, name=name, query=query, created_by=user_id
            )
        )
    )
    return Segment(new_id, name, query)


def for_project(conn: Connection, project_id: int) -> list[Segment]:
    rows = conn.execute(
        select(segment.c.id, segment.c.name, segment.c.query)
        .where(segment.c.project_id == project_id)
        .order_by(segment.c.name)
    )
    return [Segment(r.id, r.name, r.query) for r in rows]


def remove(conn: Connection, project_id: int, segment_id: int) -> bool:
    return bool(
        conn.execute(
            delete(segment).where(segment.c.project_id == project_id, segment.c.id == segment_id)
        ).rowcount
    )


def owner_of(conn: Connection, project_id: int, segment_id: int) -> int | bool | None:
    """Who saved the segment (None if unknown); False when there is no such segment."""
    row = conn.execute(
        select(segment.c.created_by).where(
            segment.c.project_id == project_id, segment.c.id == segment_id
        )
    ).first()
    if row is None:
        return False
    created_by: int | None = row.created_by
    return created_by
