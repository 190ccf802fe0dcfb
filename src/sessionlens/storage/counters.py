"""Counter rows (aggregates the processor keeps): insert, or add to the row already there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite


def add(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    key: Sequence[str],
    counts: Sequence[str],
    greatest: Sequence[str] = (),
) -> None:
    """Insert rows, adding their counts (which may be negative) to those of rows with the
    same key; `greatest` columns keep the larger of the two values. Callers pass rows in
    key order, so that concurrent writers on PostgreSQL lock rows in the same order."""
    if not rows:
        return
    postgres = conn.dialect.name == "postgresql"
    statement = (postgresql if postgres else sqlite).insert(table)
    larger = func.greatest if postgres else func.max  # SQLite's two-argument max() is scalar
    update: dict[str, Any] = {name: table.c[name] + statement.excluded[name] for name in counts}
    update.update({name: larger(table.c[name], statement.excluded[name]) for name in greatest})
    conn.execute(statement.on_conflict_do_update(index_elements=list(key), set_=update), rows)
