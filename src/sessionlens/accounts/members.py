"""Organisation members: roles, project restrictions, invitations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update

from sessionlens.accounts.users import ROLES, AccountError
from sessionlens.storage.tables import (
    membership,
    membership_project,
    organisation,
    project,
    users,
)


@dataclass(frozen=True)
class Member:
    user_id: int
    email: str
    name: str
    role: str
    projects: tuple[int, ...]  # empty: all projects


def organisation_name(conn: Connection, organisation_id: int) -> str:
    name = conn.execute(
        select(organisation.c.name).where(organisation.c.id == organisation_id)
    ).scalar_one_or_none()
    return str(name or "")


def organisations_of(conn: Connection, user_id: int) -> list[tuple[int, str, str]]:
    """(id, name, role) of each organisation the user belongs to."""
    rows = conn.execute(
        select(organisation.c.id, organisation.c.name, membership.c.role)
        .join(membership, membership.c.organisation_id == organisation.c.id)
        .where(membership.c.user_id == user_id)
        .order_by(organisation.c.name)
    )
    return [(r.id, r.name, r.role) for r in rows]


def members(conn: Connection, organisation_id: int) -> list[Member]:
    rows = conn.execute(
        select(
            membership.c.id,
            users.c.id.label("user_id"),
            users.c.email,
            users.c.name,
            membership.c.role,
        )
        .join(users, users.c.id == membership.c.user_id)
        .where(membership.c.organisation_id == organisation_id)
        .order_by(users.c.email)
    )
    out = []
    for row in rows:
        restricted = (
            conn.execute(
                select(membership_project.c.project_id).where(
                    membership_project.c.membership_id == row.id
                )
            )
            .scalars()
            .all()
        )
        out.append(Member(row.user_id, row.email, row.name, row.role, tuple(sorted(restricted))))
    return out


def _membership_id(conn: Connection, organisation_id: int, user_id: int) -> int:
    found = conn.execute(
        select(membership.c.id).where(
            membership.c.organisation_id == organisation_id, membership.c.user_id == user_id
        )
    ).scalar_one_or_none()
    if found is None:
        raise AccountError("that person is not a member of this organisation")
    return int(found)


def _owners(conn: Connection, organisation_id: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(membership)
            .where(membership.c.organisation_id == organisation_id, membership.c.role == "owner")
        ).scalar_one()
    )


def change(
    conn: Connection,
    organisation_id: int,
    actor_role: str,
    user_id: int,
    role: str,
    project_ids: list[int],
) -> None:
    """Set a member's role and project restriction, within what the actor may do."""
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}")
    membership_id = _membership_id(conn, organisation_id, user_id)
    current = conn.execute(
        select(membership.c.role).where(membership.c.id == membership_id)
    ).scalar_one()
    if actor_role != "owner" and "owner" in (role, current):
        raise AccountError("only an owner can make or change owners")
    if current == "owner" and role != "owner" and _owners(conn, organisation_id) == 1:
        raise AccountError("an organisation needs at least one owner")
    own_projects = set(
        conn.execute(
            select(project.c.id).where(project.c.organisation_id == organisation_id)
        ).scalars()
    )
    if not set(project_ids) <= own_projects:
        raise AccountError("a project restriction names a project of another organisation")
    conn.execute(update(membership).where(membership.c.id == membership_id).values(role=role))
    conn.execute(
        delete(membership_project).where(membership_project.c.membership_id == membership_id)
    )
    if role == "member":
        for project_id in sorted(set(project_ids)):
            conn.execute(
                insert(membership_project).values(
                    membership_id=membership_id, project_id=project_id
                )
            )


def remove(conn: Connection, organisation_id: int, actor_role: str, user_id: int) -> None:
    membership_id = _membership_id(conn, organisation_id, user_id)
    current = conn.execute(
        select(membership.c.role).where(membership.c.id == membership_id)
    ).scalar_one()
    if current == "owner" and actor_role != "owner":
        raise AccountError("only an owner can remove an owner")
    if current == "owner" and _owners(conn, organisation_id) == 1:
        raise AccountError("an organisation needs at least one owner")
    conn.execute(delete(membership).where(membership.c.id == membership_id))


def add(conn: Connection, organisation_id: int, user_id: int, role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}")
    exists = conn.execute(
        select(membership.c.id).where(
            membership.c.organisation_id == organisation_id, membership.c.user_id == user_id
        )
    ).first()
    if exists is None:
        conn.execute(
            insert(membership).values(organisation_id=organisation_id, user_id=user_id, role=role)
        )


def delete_organisation(conn: Connection, organisation_id: int) -> None:
    conn.execute(delete(organisation).where(organisation.c.id == organisation_id))
