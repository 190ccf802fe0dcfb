"""REST API: a visitor's data, exported or erased (owners and admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator

from sessionlens import jsonbytes, projects
from sessionlens.accounts import audit
from sessionlens.accounts.tokens import ApiCaller
from sessionlens.api.models import ErrorOut
from sessionlens.context import ctx_of as _ctx
from sessionlens.ingest.routes import truncate_address
from sessionlens.projects import Project
from sessionlens.recordings import subjects
from sessionlens.recordings.subjects import By
from sessionlens.web.auth import api_user
from sessionlens.web.params import DbId

router = APIRouter(
    responses={
        401: {"model": ErrorOut, "description": "No or a bad API token"},
        403: {"model": ErrorOut, "description": "Only owners and admins"},
        404: {"model": ErrorOut, "description": "Not found, or not visible to this token"},
    }
)
UserDep = Annotated[ApiCaller, Depends(api_user)]


class Subject(BaseModel):
    visitor_id: str | None = Field(None, min_length=1, max_length=200)
    user_id: str | None = Field(None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def exactly_one(self) -> Subject:
        if (self.visitor_id is None) == (self.user_id is None):
            raise ValueError("give exactly one of visitor_id and user_id")
        return self

    def key(self) -> tuple[By, str]:
        if self.visitor_id is not None:
            return "visitor", self.visitor_id
        return "user", self.user_id or ""


class ErasedOut(BaseModel):
    sessions_erased: int
    blocks_erased: int
    answers_erased: int = 0  # survey answers and feedback


def _managed_project(request: Request, user: ApiCaller, project_id: DbId) -> Project:
    with _ctx(request).engine.connect() as conn:
        found = projects.get_for_user(conn, user.id, project_id, user.organisation_id)
        role = projects.role_in(conn, user.id, found.organisation_id) if found else None
    if found is None:
        raise HTTPException(404, "no such project")
    if role not in ("owner", "admin"):
        raise HTTPException(403, "only owners and admins may export or erase visitor data")
    return found


def _audit(
    request: Request, user: ApiCaller, project: Project, action: str, detail: dict[str, Any]
) -> None:
    with _ctx(request).engine.begin() as conn:
        audit.record(
            conn,
            organisation_id=project.organisation_id,
            user_id=user.id,
            actor=user.email,
            action=action,
            object_type="project",
            object_id=str(project.id),
            detail=detail,
            address=truncate_address(request.client.host if request.client else ""),
        )


@router.get(
    "/projects/{project_id}/visitors/export",
    summary="Everything stored about one visitor or identified user, as JSON",
    responses={200: {"content": {"application/json": {}}}},
)
def export_visitor(
    request: Request,
    user: UserDep,
    project_id: DbId,
    visitor_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    user_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> Response:
    try:
        by, value = Subject(visitor_id=visitor_id, user_id=user_id).key()
    except ValueError as exc:
        raise HTTPException(400, "give exactly one of visitor_id and user_id") from exc
    project = _managed_project(request, user, project_id)
    with _ctx(request).engine.connect() as conn:
        data = subjects.export(conn, _ctx(request).blobs, project.id, by, value)
    _audit(request, user, project, "visitor.export", {"by": by, "sessions": len(data["sessions"])})
    return Response(
        jsonbytes.dumps(data),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="sessionlens-export-{project.id}.json"'
        },
    )


@router.post(
    "/projects/{project_id}/visitors/erase",
    response_model=ErasedOut,
    summary="Erase one visitor's or identified user's sessions, blocks and blobs",
)
def erase_visitor(request: Request, user: UserDep, project_id: DbId, subject: Subject) -> ErasedOut:
    project = _managed_project(request, user, project_id)
    by, value = subject.key()
    with _ctx(request).engine.begin() as conn:
        erased = subjects.erase(conn, _ctx(request).blobs, project.id, by, value)
    # The audit entry says that and how much was erased, never whose data it was.
    _audit(
        request,
        user,
        project,
        "visitor.erase",
        {
            "by": by,
            "sessions": erased.sessions,
            "blocks": erased.blocks,
            "answers": erased.answers,
        },
    )
    return ErasedOut(
        sessions_erased=erased.sessions,
        blocks_erased=erased.blocks,
        answers_erased=erased.answers,
    )
