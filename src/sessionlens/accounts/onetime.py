"""One-time links sent by email: verify an address, reset a password, join an organisation.

Only a SHA-256 of each token is stored; a token works once and expires.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import Connection, insert, select, update

from sessionlens.accounts.tokens import digest
from sessionlens.storage.tables import one_time_token, utcnow

Purpose = Literal["verify", "reset", "invite"]
LIFETIME: dict[str, timedelta] = {
    "verify": timedelta(days=3),
    "reset": timedelta(hours=1),
    "invite": timedelta(days=7),
}


@dataclass(frozen=True)
class Grant:
    id: int
    purpose: str
    email: str
    user_id: int | None
    organisation_id: int | None
    role: str | None
    invited_by: int | None


def issue(
    conn: Connection,
    purpose: Purpose,
    email: str,
    *,
    user_id: int | None = None,
    organisation_id: int | None = None,
    role: str | None = None,
    invited_by: int | None = None,
) -> str:
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(one_time_token).values(
            token_hash=digest(token),
            purpose=purpose,
            email=email,
            user_id=user_id,
            organisation_id=organisation_id,
            role=role,
            invited_by=invited_by,
            expires_at=utcnow() + LIFETIME[purpose],
        )
    )
    return token


def peek(conn: Connection, purpose: Purpose, token: str) -> Grant | None:
    """The live grant behind a token, without using it up."""
    row = conn.execute(
        select(one_time_token).where(
            one_time_token.c.token_hash == digest(token),
            one_time_token.c.purpose == purpose,
            one_time_token.c.used_at.is_(None),
            one_time_token.c.expires_at > utcnow(),
        )
    ).first()
    if row is None:
        return None
    return Grant(
        row.id, row.purpose, row.email, row.user_id, row.organisation_id, row.role, row.invited_by
    )


def redeem(conn: Connection, purpose: Purpose, token: str) -> Grant | None:
    """Use the token up; None if it is unknown, used or expired."""
    grant = peek(conn, purpose, token)
    if grant is None:
        return None
    used = conn.execute(
        update(one_time_token)
        .where(one_time_token.c.id == grant.id, one_time_token.c.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    return grant if used == 1 else None


def pending_invites(conn: Connection, organisation_id: int) -> list[Grant]:
    rows = conn.execute(
        select(one_time_token)
        .where(
            one_time_token.c.purpose == "invite",
            one_time_token.c.organisation_id == organisation_id,
            one_time_token.c.used_at.is_(None),
            one_time_token.c.expires_at > utcnow(),
        )
        .order_by(one_time_token.c.created_at)
    )
    return [
        Grant(r.id, r.purpose, r.email, r.user_id, r.organisation_id, r.role, r.invited_by)
        for r in rows
    ]
