"""Secrets handed to clients: API bearer tokens and console login sessions.

Only SHA-256 digests are stored, so a copy of the database holds no usable secret.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from sessionlens.accounts.users import User, get_user, organisation_ids
from sessionlens.storage.tables import api_token, login_session, utcnow

TOKEN_PREFIX = "slk_"  # noqa: S105 (a public prefix, not a secret)
LOGIN_LIFETIME = timedelta(days=14)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


SCOPES = ("read", "write")


@dataclass(frozen=True)
class ApiCaller(User):
    """The user behind an API token, limited to the token's organisation and scope."""

    organisation_id: int = 0
    scope: str = "read"
    token_id: int = 0


def create_api_token(
    conn: Connection,
    user_id: int,
    name: str = "",
    organisation_id: int | None = None,
    scope: str = "read",
) -> str:
    """A new token, shown once; only its digest is kept. Scoped to one organisation of
    the user (their first when none is named)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    orgs = organisation_ids(conn, user_id)
    if organisation_id is None and orgs:
        organisation_id = orgs[0]
    if organisation_id not in orgs:
        raise ValueError("the token's organisation must be one the user belongs to")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        insert(api_token).values(
            user_id=user_id,
            name=name[:200],
            token_hash=digest(token),
            organisation_id=organisation_id,
            scope=scope,
        )
    )
    return token


def list_api_tokens(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    rows = (
        conn.execute(
            select(
                api_token.c.id,
                api_token.c.name,
                api_token.c.scope,
                api_token.c.organisation_id,
                api_token.c.created_at,
                api_token.c.last_used_at,
            )
            .where(api_token.c.user_id == user_id, api_token.c.revoked_at.is_(None))
            .order_by(api_token.c.created_at)
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


def revoke_api_token(conn: Connection, user_id: int, token_id: int) -> bool:
    done = conn.execute(
        update(api_token)
        .where(
            api_token.c.id == token_id,
            api_token.c.user_id == user_id,
            api_token.c.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    ).rowcount
    return bool(done)


def user_for_api_token(conn: Connection, token: str) -> ApiCaller | None:
    row = conn.execute(
        select(
            api_token.c.id, api_token.c.user_id, api_token.c.organisation_id, api_token.c.scope
        ).where(api_token.c.token_hash == digest(token), api_token.c.revoked_at.is_(None))
    ).first()
    if row is None or row.organisation_id is None:
        return None
    user = get_user(conn, row.user_id)
    # A token stops working when its user leaves the organisation.
    if user is None or row.organisation_id not in organisation_ids(conn, user.id):
        return None
    conn.execute(update(api_token).where(api_token.c.id == row.id).values(last_used_at=utcnow()))
    return ApiCaller(user.id, user.email, user.name, row.organisation_id, row.scope, row.id)


def start_login(conn: Connection, user_id: int) -> tuple[str, str]:
    """A new console login: (cookie secret, CSRF token)."""
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    conn.execute(
        insert(login_session).values(
            token_hash=digest(secret),
            user_id=user_id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + LOGIN_LIFETIME,
        )
    )
    return secret, csrf


def find_login(conn: Connection, secret: str) -> tuple[User, str] | None:
    """The user and CSRF token of a live login, or None."""
    row = conn.execute(
        select(login_session).where(
            login_session.c.token_hash == digest(secret), login_session.c.expires_at > utcnow()
        )
    ).first()
    if row is None:
        return None
    user = get_user(conn, row.user_id)
    return None if user is None else (user, row.csrf_token)


def end_login(conn: Connection, secret: str) -> None:
    conn.execute(delete(login_session).where(login_session.c.token_hash == digest(secret)))


def end_all_logins(conn: Connection, user_id: int) -> None:
    conn.execute(delete(login_session).where(login_session.c.user_id == user_id))
