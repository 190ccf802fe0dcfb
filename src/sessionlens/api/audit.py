"""REST API: an organisation's audit log (owners and admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from sessionlens import projects
from sessionlens.accounts import audit
from sessionlens.accounts.tokens import ApiCaller
from sessionlens.api.models import ErrorOut
from sessionlens.context import ctx_of
from sessionlens.web.auth import api_user
from sessionlens.web.params import DbId

router = APIRouter(
    responses={
        401: {"model": ErrorOut, "description": "No or a bad API token"},
        403: {"model": ErrorOut, "description": "Only owners and admins"},
        404: {"model": ErrorOut, "description": "Not the token's organisation"},
    }
)


class AuditEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    detail: dict[str, Any]
    address: str


class AuditLog(BaseModel):
    entries: list[AuditEntry]


@router.get(
    "/organisations/{org_id}/audit",
    response_model=AuditLog,
    summary="The organisation's audit log, newest first",
)
def audit_log(
    request: Request,
    caller: Annotated[ApiCaller, Depends(api_user)],
    org_id: DbId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AuditLog:
    ctx = ctx_of(request)
    if org_id != caller.organisation_id:
        raise HTTPException(404, "no such organisation")
    with ctx.engine.connect() as conn:
        role = projects.role_in(conn, caller.id, org_id)
        if role not in ("owner", "admin"):
            raise HTTPException(403, "only owners and admins may read the audit log")
        rows = audit.entries(conn, org_id, limit=limit)
    return AuditLog(entries=[AuditEntry.model_validate(r) for r in rows])
