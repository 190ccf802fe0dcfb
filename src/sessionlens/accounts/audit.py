"""The audit trail: who did what, when, from which (truncated) address. Append-only."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from sessionlens.storage.tables import audit_log


def record(
    conn: Connection,
    *,
    organisation_id: int | None,
    user_id: int | None,
    actor: str,
    action: str,
    object_type: str = "",
    object_id: str = "",
    detail: dict[str, Any] | None = None,
    address: str = "",
) -> None:
    conn.execute(
        insert(audit_log).values(
            organisation_id=organisation_id,
            user_id=user_id,
            actor=actor[:320],
            action=action,
            object_type=object_type,
            object_id=str(object_id)[:100],
            detail=json.dumps(detail or {}, sort_keys=True),
            address=address[:64],
        )
    )


def entries(conn: Connection, organisation_id: int, limit: int = 200) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(audit_log)
        .where(audit_log.c.organisation_id == organisation_id)
        .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        .limit(limit)
    )
    out = []
    for row in rows.mappings():
        item = dict(row)
        item["detail"] = json.loads(item["detail"])
        out.append(item)
    return out


def when(item: dict[str, Any]) -> datetime:
    at: datetime = item["at"]
    return at
