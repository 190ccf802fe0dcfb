"""What every console page module shares: templates, rendering, who is asking."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from sessionlens import projects
from sessionlens.accounts import audit
from sessionlens.console import formatting
from sessionlens.context import ctx_of as ctx_of  # re-exported for the page modules
from sessionlens.ingest.routes import truncate_address
from sessionlens.projects import Project
from sessionlens.web import auth
from sessionlens.web.auth import Viewer

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
formatting.install(templates.env)
ViewerDep = Annotated[Viewer, Depends(auth.viewer)]
MANAGERS = ("owner", "admin")


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("viewer", None)
    return templates.TemplateResponse(request, name, context, status_code=status)


def address_of(request: Request) -> str:
    return truncate_address(request.client.host if request.client else "")


def project_for(request: Request, viewer: Viewer, project_id: int) -> tuple[Project, str]:
    """The project and the viewer's role in its organisation, or 404."""
    with ctx_of(request).engine.connect() as conn:
        found = projects.get_for_user(conn, viewer.user.id, project_id)
        role = projects.role_in(conn, viewer.user.id, found.organisation_id) if found else None
    if found is None or role is None:
        raise HTTPException(404, "No such project.")
    return found, role


def require_manager(role: str) -> None:
    if role not in MANAGERS:
        raise HTTPException(403, "Only owners and admins of the organisation may do this.")


def managed_project(request: Request, viewer: Viewer, project_id: int) -> tuple[Project, str]:
    """The project and the viewer's role, for an owner or admin only: 404, or 403."""
    found, role = project_for(request, viewer, project_id)
    require_manager(role)
    return found, role


async def manager_form(
    request: Request, viewer: Viewer, project_id: int
) -> tuple[FormData, Project, str]:
    """A form an owner or admin posts about a project: its CSRF token checked first, then
    who is asking (managed_project)."""
    form = await request.form()
    auth.check_csrf(str(form.get("csrf_token", "")), viewer.csrf)
    found, role = managed_project(request, viewer, project_id)
    return form, found, role


def record_action(
    request: Request,
    viewer: Viewer,
    organisation_id: int | None,
    action: str,
    object_type: str = "",
    object_id: str = "",
    detail: dict[str, object] | None = None,
) -> None:
    """Write one audit entry for something a console user did, in its own transaction."""
    with ctx_of(request).engine.begin() as conn:
        audit.record(
            conn,
            organisation_id=organisation_id,
            user_id=viewer.user.id,
            actor=viewer.user.email,
            action=action,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
            address=address_of(request),
        )
