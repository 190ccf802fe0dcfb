"""Secrets handed to clients: API bearer tokens and console login sessions.

Only SHA-256 digests are stored, so a copy of the database holds no usable secret.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import Connection, delete, insert, select, update

from sessionlens.accounts.users import User, get_user
from sessionlens.storage.tables import api_token, login_session, utcnow

TOKEN_PREFIX = "slk_"  # noqa: S105 (a public prefix, not a secret)
LOGIN_LIFETIME = timedelta(days=14)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(conn: Connection, user_id: int, name: str = "") -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(insert(api_token).values(user_id=user_id, name=name, token_hash=digest(token)))
    return token


def user_for_api_token(conn: Connection, token: str) -> User | None:
    row = conn.execute(
        select(api_token.c.id, api_token.c.user_id).where(
            api_token.c.token_hash == digest(token), api_token.c.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    conn.execute(update(api_token).where(api_token.c.id == row.id).values(last_used_at=utcnow()))
    return get_user(conn, row.user_id)


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
