"""REST API: load an rrweb recording made elsewhere into a project."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from sessionlens import projects
from sessionlens.accounts import audit
from sessionlens.accounts.tokens import ApiCaller
from sessionlens.api.models import ErrorOut
from sessionlens.context import ctx_of
from sessionlens.ingest.body import BodyTooLarge, BodyUnreadable, decode, read_capped
from sessionlens.ingest.guard import scrub
from sessionlens.ingest.routes import truncate_address
from sessionlens.recordings import importer
from sessionlens.web.auth import api_user
from sessionlens.web.params import DbId

router = APIRouter(
    responses={
        400: {"model": ErrorOut, "description": "Not an rrweb recording"},
        401: {"model": ErrorOut, "description": "No or a bad API token"},
        403: {"model": ErrorOut, "description": "A read-only token"},
        404: {"model": ErrorOut, "description": "Not found, or not visible to this token"},
        413: {"model": ErrorOut, "description": "Over 10 MB compressed or 50 MB of JSON"},
    }
)


class Imported(BaseModel):
    session_id: str
    events: int


@router.post(
    "/projects/{project_id}/import",
    status_code=202,
    response_model=Imported,
    summary="Import rrweb JSON (an array of events, or {events: [...]}; gzip allowed)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}
            },
        }
    },
)
async def import_recording(
    request: Request, caller: Annotated[ApiCaller, Depends(api_user)], project_id: DbId
) -> Imported:
    ctx = ctx_of(request)

    def find() -> projects.Project | None:
        with ctx.engine.connect() as conn:
            return projects.get_for_user(conn, caller.id, project_id, caller.organisation_id)

    project = await run_in_threadpool(find)
    if project is None:
        raise HTTPException(404, "no such project")
    try:
        raw = decode(
            await read_capped(request.stream()), request.headers.get("content-encoding", "")
        )
        events = importer.events_of(orjson.loads(raw))
    except BodyTooLarge as exc:
        raise HTTPException(413, str(exc)) from exc
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"the body is not valid JSON: {exc}") from exc
    except (BodyUnreadable, importer.ImportError_) as exc:
        raise HTTPException(400, str(exc)) from exc
    patterns = project.privacy.extra_patterns
    session_id = await run_in_threadpool(
        importer.import_events,
        ctx.engine,
        project.id,
        events,
        lambda raw: scrub(raw, patterns).body,
    )
    processor = getattr(request.app.state, "processor", None)
    if processor is not None:
        processor.wake()

    def note() -> None:
        with ctx.engine.begin() as conn:
            audit.record(
                conn,
                organisation_id=project.organisation_id,
                user_id=caller.id,
                actor=caller.email,
                action="recording.import",
                object_type="session",
                object_id=session_id,
                detail={"events": len(events)},
                address=truncate_address(request.client.host if request.client else ""),
            )

    await run_in_threadpool(note)
    return Imported(session_id=session_id, events=len(events))
