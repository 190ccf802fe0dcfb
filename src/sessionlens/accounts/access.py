"""Which projects a user may see: the one rule every query of the console and API uses.

A user sees a project when they belong to its organisation, and, if they are a plain
member restricted to some projects, when it is one of those.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select

from sessionlens.storage.tables import membership, membership_project, project


def visible_projects(user_id: int) -> ColumnElement[bool]:
    """A condition on `project` rows: true for the projects the user may see."""
    # correlate_except: the inner queries refer to the enclosing membership and project
    # rows; without it SQLAlchemy would add `project` to the inner FROM and match any.
    restricted = exists(
        select(membership_project.c.project_id)
        .where(membership_project.c.membership_id == membership.c.id)
        .correlate_except(membership_project)
    )
    allowed_here = exists(
        select(membership_project.c.project_id)
        .where(
            membership_project.c.membership_id == membership.c.id,
            membership_project.c.project_id == project.c.id,
        )
        .correlate_except(membership_project)
    )
    return exists(
        select(membership.c.id)
        .where(
            membership.c.user_id == user_id,
            membership.c.organisation_id == project.c.organisation_id,
            or_(membership.c.role.in_(("owner", "admin")), not_(restricted), allowed_here),
        )
        .correlate_except(membership)
    )


def visible_project(user_id: int, project_id: int) -> ColumnElement[bool]:
    return and_(project.c.id == project_id, visible_projects(user_id))
