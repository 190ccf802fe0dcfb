"""Console: find one visitor's data, export it, erase it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse

from sessionlens import jsonbytes
from sessionlens.console.common import (
    MANAGERS,
    ViewerDep,
    ctx_of,
    managed_project,
    project_for,
    record_action,
    render,
)
from sessionlens.projects import Project
from sessionlens.recordings import subjects
from sessionlens.recordings.subjects import By
from sessionlens.web import auth
from sessionlens.web.params import DbId

router = APIRouter(include_in_schema=False)
ByParam = Annotated[By, Query()]


def _audit(
    request: Request, viewer: auth.Viewer, project: Project, action: str, detail: dict[str, object]
) -> None:
    record_action(
        request, viewer, project.organisation_id, action, "project", str(project.id), detail
    )


@router.get("/projects/{project_id}/visitors")
def visitor_search(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    by: ByParam = "visitor",
    id: Annotated[str, Query(max_length=200)] = "",
    erased: int | None = None,
) -> Response:
    project, role = project_for(request, viewer, project_id)
    found: list[dict[str, object]] = []
    error = None
    if id.strip():
        try:
            with ctx_of(request).engine.connect() as conn:
                found = subjects.session_rows(conn, project.id, by, id)
        except subjects.SubjectError as exc:
            error = str(exc)
    return render(
        request,
        "visitors.html",
        viewer=viewer,
        project=project,
        role=role,
        tab="visitors",
        by=by,
        subject=id.strip(),
        sessions=found,
        error=error,
        erased=erased,
        can_manage=role in MANAGERS,
    )


@router.get("/projects/{project_id}/visitors/export")
def visitor_export(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    by: ByParam,
    id: Annotated[str, Query(min_length=1, max_length=200)],
) -> Response:
    project, _ = managed_project(request, viewer, project_id)
    try:
        with ctx_of(request).engine.connect() as conn:
            data = subjects.export(conn, ctx_of(request).blobs, project.id, by, id)
    except subjects.SubjectError as exc:
        raise HTTPException(400, str(exc)) from exc
    _audit(
        request, viewer, project, "visitor.export", {"by": by, "sessions": len(data["sessions"])}
    )
    return Response(
        jsonbytes.dumps(data),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="sessionlens-export-{project.id}.json"'
        },
    )


@router.post("/projects/{project_id}/visitors/erase")
def visitor_erase(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    by: Annotated[By, Form()],
    id: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    auth.check_csrf(csrf_token, viewer.csrf)
    project, _ = managed_project(request, viewer, project_id)
    if confirm != "erase":
        raise HTTPException(400, "Tick the box to confirm the erasure.")
    try:
        with ctx_of(request).engine.begin() as conn:
            erased = subjects.erase(conn, ctx_of(request).blobs, project.id, by, id)
    except subjects.SubjectError as exc:
        raise HTTPException(400, str(exc)) from exc
    _audit(
        request,
        viewer,
        project,
        "visitor.erase",
        {
            "by": by,
            "sessions": erased.sessions,
            "blocks": erased.blocks,
            "answers": erased.answers,
        },
    )
    return RedirectResponse(
        f"/projects/{project.id}/visitors?erased={erased.sessions}", status_code=303
    )
