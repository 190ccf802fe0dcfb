"""REST API v1: bearer-token access to projects, sessions and recordings."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain, islice
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from sessionlens import projects
from sessionlens.accounts import audit
from sessionlens.accounts.tokens import ApiCaller
from sessionlens.analytics import search
from sessionlens.api.filters import SearchParams
from sessionlens.api.models import (
    ErrorOut,
    PageviewOut,
    ProjectList,
    ProjectOut,
    SessionDetail,
    SessionOut,
    SessionPage,
)
from sessionlens.context import ctx_of as _ctx
from sessionlens.ingest.routes import truncate_address
from sessionlens.processing import interactions
from sessionlens.recordings import queries
from sessionlens.web.auth import api_user
from sessionlens.web.params import DbId

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No or a bad API token"},
    404: {"model": ErrorOut, "description": "Not found, or not visible to this token"},
}
router = APIRouter(responses=ERRORS)
UserDep = Annotated[ApiCaller, Depends(api_user)]


@router.get("/projects", response_model=ProjectList, summary="Projects visible to the token")
def list_projects(request: Request, user: UserDep) -> ProjectList:
    with _ctx(request).reader.connect() as conn:
        mine = projects.for_user(conn, user.id, user.organisation_id)
    return ProjectList(
        projects=[
            ProjectOut(
                id=p.id,
                name=p.name,
                website_origins=list(p.website_origins),
                ingest_key=p.ingest_key,
            )
            for p in mine
        ]
    )


@router.get(
    "/projects/{project_id}/sessions",
    response_model=SessionPage,
    summary="A project's sessions, newest first",
)
def list_sessions(
    request: Request,
    user: UserDep,
    project_id: DbId,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
    filters: Annotated[SearchParams, Query()] = SearchParams(),  # noqa: B008
) -> SessionPage:
    try:
        wanted = search.parse(filters.as_query())
    except search.FilterError as exc:
        raise HTTPException(400, str(exc)) from exc
    with _ctx(request).reader.connect() as conn:
        if projects.get_for_user(conn, user.id, project_id, user.organisation_id) is None:
            raise HTTPException(404, "no such project")
        rows, has_more = queries.list_sessions(
            conn, project_id, page, per_page, wanted.conditions()
        )
    return SessionPage(
        sessions=[SessionOut.model_validate(r) for r in rows],
        page=page,
        per_page=per_page,
        has_more=has_more,
    )


def _session(request: Request, user: ApiCaller, session_id: str) -> dict[str, Any]:
    with _ctx(request).reader.connect() as conn:
        found = queries.get_session(conn, user.id, session_id, user.organisation_id)
    if found is None:
        raise HTTPException(404, "no such session")
    return found


@router.get(
    "/sessions/{session_id}", response_model=SessionDetail, summary="One session with its pageviews"
)
def get_session(request: Request, user: UserDep, session_id: str) -> SessionDetail:
    found = _session(request, user, session_id)
    with _ctx(request).reader.connect() as conn:
        pages = queries.pageviews(conn, session_id)
        signals = queries.signals(conn, session_id, found["first_ts"])
        _, struggle = interactions.breakdown(conn, session_id)
    return SessionDetail.model_validate(
        {
            **found,
            "pageviews": [
                PageviewOut(
                    url=p["url"],
                    path=p["path"],
                    title=p["title"],
                    started_at=p["started_at"],
                    offset_ms=p["ts"] - found["first_ts"],
                    duration_ms=p["duration_ms"],
                    ttfb_ms=p["ttfb_ms"],
                    dcl_ms=p["dcl_ms"],
                    load_ms=p["load_ms"],
                    lcp_ms=p["lcp_ms"],
                )
                for p in pages
            ],
            "signals": signals,
            "struggle": struggle,
        }
    )


@router.get(
    "/sessions/{session_id}/events",
    summary="The session's rrweb events in order",
    response_description="A JSON array of rrweb events, streamed block by block",
    responses={200: {"content": {"application/json": {}}}},
)
def session_events(request: Request, user: UserDep, session_id: str) -> StreamingResponse:
    found = _session(request, user, session_id)
    with _ctx(request).engine.begin() as conn:
        audit.record(
            conn,
            organisation_id=user.organisation_id,
            user_id=user.id,
            actor=user.email,
            action="recording.view",
            object_type="session",
            object_id=session_id,
            detail={"via": "api", "project": found["project_id"]},
            address=truncate_address(request.client.host if request.client else ""),
        )
    with _ctx(request).reader.connect() as conn:
        blocks = queries.blocks(conn, session_id)
    body: Iterator[bytes] = queries.stream_events(_ctx(request).blobs, blocks)
    # Read the opening bracket and the first block before the status goes out, so a block
    # that cannot be read is a clear error, not a cut-off 200.
    head = list(islice(body, 2))
    return StreamingResponse(chain(head, body), media_type="application/json")
