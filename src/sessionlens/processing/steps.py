"""What a session did, as funnel step keys: the aggregate that funnels read.

One `session_step` row per session, key (a page path, a path's first section such as
/products/*, a custom event name or a clicked selector) and time the session did it, so a
funnel step is one index range read of `session_step` instead of a scan of pageviews,
events and clicks, and SQL can compare the steps' times. The processor
rebuilds a session's rows after each of its transactions (idempotent: the same rows come
out however often it runs); `rebuild` fills them for data written before (the migration
that made the tables does the same once).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, tuple_

from sessionlens.storage.tables import (
    page_click,
    pageview,
    session,
    session_event,
    session_step,
    step_key,
)

# url: a path; sect: a path's first section (/products/*); event: a name; click: a selector
KINDS = ("url", "sect", "event", "click")
KEY_LENGTH = 500  # longer paths are cut, here and when a funnel step is looked up


def _keys_of(conn: Connection, session_id: str) -> dict[tuple[str, str], list[int]]:
    """(kind, key) -> the times (ms since the epoch) the session did it."""
    found: dict[tuple[str, str], list[int]] = defaultdict(list)
    sources: tuple[tuple[str, Any, Any], ...] = (
        ("url", pageview.c.path, pageview),
        ("event", session_event.c.name, session_event),
        ("click", page_click.c.selector, page_click),
    )
    for kind, column, table in sources:
        rows = conn.execute(select(column, table.c.ts).where(table.c.session_id == session_id))
        for key, ts in rows:
            found[(kind, str(key)[:KEY_LENGTH])].append(int(ts))
            part = section(str(key)) if kind == "url" else None
            if part is not None:
                found[("sect", part[:KEY_LENGTH])].append(int(ts))
    return found


def key_ids(conn: Connection, project_id: int, wanted: set[tuple[str, str]]) -> dict[Any, int]:
    """The ids of the (kind, key) pairs, adding the ones not seen before in the project."""
    if not wanted:
        return {}

    def known() -> dict[Any, int]:
        ids: dict[Any, int] = {}
        pairs = sorted(wanted)
        for at in range(0, len(pairs), 200):
            rows = conn.execute(
                select(step_key.c.id, step_key.c.kind, step_key.c.key).where(
                    step_key.c.project_id == project_id,
                    tuple_(step_key.c.kind, step_key.c.key).in_(pairs[at : at + 200]),
                )
            )
            ids.update({(r.kind, r.key): int(r.id) for r in rows})
        return ids

    ids = known()
    missing = wanted - ids.keys()
    if missing:
        statement = _insert_ignoring_duplicates(conn).values(
            [{"project_id": project_id, "kind": kind, "key": key} for kind, key in missing]
        )
        conn.execute(statement)
        ids = known()
    return ids


def _insert_ignoring_duplicates(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(step_key).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(step_key).on_conflict_do_nothing()


def apply(conn: Connection, project_id: int, session_id: str) -> None:
    """Rebuild one session's step rows from its pageviews, custom events and clicks."""
    row = conn.execute(
        select(session.c.first_ts, session.c.device, session.c.source).where(
            session.c.id == session_id
        )
    ).first()
    conn.execute(delete(session_step).where(session_step.c.session_id == session_id))
    if row is None:
        return
    found = _keys_of(conn, session_id)
    ids = key_ids(conn, project_id, set(found))
    rows = [
        {
            "key_id": ids[pair],
            "session_ts": row.first_ts,
            "session_id": session_id,
            "ms": ts - row.first_ts,
            "is_first": at == 0,
            "device": row.device,
            "source": row.source,
        }
        for pair, times in found.items()
        for at, ts in enumerate(sorted(set(times)))
    ]
    if rows:
        conn.execute(insert(session_step), rows)


# The same rows for every session of a project at once, in SQL (the migration keeps its own
# copy). A session that did a key twice in the same millisecond has one row for it.
_KEYS_SQL = """
INSERT INTO step_key (project_id, kind, key)
SELECT DISTINCT x.project_id, '{kind}', {key} FROM {table} x
WHERE {where} AND {key} IS NOT NULL
ON CONFLICT DO NOTHING
"""
_STEPS_SQL = """
INSERT INTO session_step (key_id, session_ts, session_id, ms, is_first, device, source)
SELECT key_id, session_ts, session_id, ms,
       ms = MIN(ms) OVER (PARTITION BY key_id, session_id), device, source
FROM (
    SELECT DISTINCT k.id AS key_id, s.first_ts AS session_ts, x.session_id,
           x.ts - s.first_ts AS ms, s.device, s.source
    FROM {table} x
    JOIN session s ON s.id = x.session_id
    JOIN step_key k ON k.project_id = x.project_id AND k.kind = '{kind}' AND k.key = {key}
    WHERE {where}
) y
"""
_CUT = f"substr(x.{{column}}, 1, {KEY_LENGTH})"
# The section of a path ("/products/*" for /products/oak-lamp): NULL for a path without one.
_SECTION = (
    "CASE WHEN {find}(substr(x.path, 2), '/') > 0 "
    "THEN substr(x.path, 1, {find}(substr(x.path, 2), '/') + 1) || '*' END"
)


def section(path: str) -> str | None:
    """The key of the path's first section, so that a step such as /products/* is one key
    instead of every product's path; None for a path without one (/, /cart)."""
    at = path.find("/", 1)
    return path[: at + 1] + "*" if at > 0 else None


def rebuild_sql(dialect: str, project_id: int | None = None) -> list[str]:
    """The statements that rebuild every session's step rows (of one project, or all)."""
    find = "strpos" if dialect == "postgresql" else "instr"
    where = "true" if project_id is None else f"x.project_id = {int(project_id)}"
    sources = (
        ("url", "pageview", _CUT.format(column="path")),
        ("sect", "pageview", _SECTION.format(find=find)),
        ("event", "session_event", _CUT.format(column="name")),
        ("click", "page_click", _CUT.format(column="selector")),
    )
    statements = []
    for kind, table, key in sources:
        statements.append(_KEYS_SQL.format(kind=kind, table=table, key=key, where=where))
        statements.append(_STEPS_SQL.format(kind=kind, table=table, key=key, where=where))
    return statements


def rebuild(conn: Connection, project_id: int | None = None) -> None:
    """Step rows for every session of a project (or of all projects), from scratch."""
    if project_id is None:
        conn.execute(delete(session_step))
    else:
        conn.execute(
            delete(session_step).where(
                session_step.c.key_id.in_(
                    select(step_key.c.id).where(step_key.c.project_id == project_id)
                )
            )
        )
    for statement in rebuild_sql(conn.dialect.name, project_id):
        conn.execute(text(statement))
