"""Users, organisations and memberships."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from sessionlens.accounts.passwords import check_strength, hash_password, verify_password
from sessionlens.storage.tables import inserted_id, membership, organisation, users, utcnow

ROLES = ("owner", "admin", "member")


class AccountError(ValueError):
    """A user-caused problem with an account operation."""


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 320:
        raise AccountError(f"{email!r} is not an email address")
    return email


def create_organisation(conn: Connection, name: str) -> int:
    return inserted_id(conn.execute(insert(organisation).values(name=name)))


def find_organisation(conn: Connection, name: str) -> int | None:
    row = conn.execute(select(organisation.c.id).where(organisation.c.name == name)).first()
    return None if row is None else int(row.id)


def create_account(
    conn: Connection, email: str, name: str, password: str, verified: bool = True
) -> User:
    """A user with no organisation yet."""
    email = normalise_email(email)
    problem = check_strength(password)
    if problem:
        raise AccountError(problem)
    if find_user(conn, email) is not None:
        raise AccountError(f"a user with email {email} already exists")
    user_id = inserted_id(
        conn.execute(
            insert(users).values(
                email=email,
                name=name.strip()[:200],
                password_hash=hash_password(password),
                email_verified_at=utcnow() if verified else None,
            )
        )
    )
    return User(user_id, email, name.strip()[:200])


def create_user(
    conn: Connection, email: str, name: str, password: str, org_name: str | None = None
) -> tuple[User, int]:
    """Create a user and their membership: an organisation of their own (as owner) unless
    org_name names an existing one (then as member). For operators (CLI, first run)."""
    user = create_account(conn, email, name, password)
    org_id = find_organisation(conn, org_name) if org_name else None
    role = "member"
    if org_id is None:
        org_id = create_organisation(conn, org_name or (user.name or user.email))
        role = "owner"
    conn.execute(insert(membership).values(organisation_id=org_id, user_id=user.id, role=role))
    return user, org_id


def find_user(conn: Connection, email: str) -> User | None:
    row = conn.execute(
        select(users.c.id, users.c.email, users.c.name).where(
            users.c.email == email.strip().lower()
        )
    ).first()
    return None if row is None else User(row.id, row.email, row.name)


def get_user(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(
        select(users.c.id, users.c.email, users.c.name).where(
            users.c.id == user_id, users.c.is_active.is_(True)
        )
    ).first()
    return None if row is None else User(row.id, row.email, row.name)


def authenticate(conn: Connection, email: str, password: str) -> User | None:
    row = conn.execute(
        select(users).where(users.c.email == email.strip().lower(), users.c.is_active.is_(True))
    ).first()
    if not verify_password(row.password_hash if row else None, password) or row is None:
        return None
    conn.execute(update(users).where(users.c.id == row.id).values(last_login_at=utcnow()))
    return User(row.id, row.email, row.name)


def organisation_ids(conn: Connection, user_id: int) -> list[int]:
    rows = conn.execute(select(membership.c.organisation_id).where(membership.c.user_id == user_id))
    return [int(r.organisation_id) for r in rows]


def count_users(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def set_password(conn: Connection, user_id: int, password: str) -> None:
    problem = check_strength(password)
    if problem:
        raise AccountError(problem)
    conn.execute(
        update(users).where(users.c.id == user_id).values(password_hash=hash_password(password))
    )


def mark_verified(conn: Connection, user_id: int) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user_id, users.c.email_verified_at.is_(None))
        .values(email_verified_at=utcnow())
    )


def is_verified(conn: Connection, user_id: int) -> bool:
    return (
        conn.execute(
            select(users.c.email_verified_at).where(users.c.id == user_id)
        ).scalar_one_or_none()
        is not None
    )


def check_password(password: str) -> str | None:
    return check_strength(password)
