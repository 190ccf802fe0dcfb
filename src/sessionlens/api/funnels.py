"""REST API: funnel figures, and a project's saved funnels."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from sessionlens import projects
from sessionlens.accounts.tokens import ApiCaller
from sessionlens.analytics import funnels, saved_funnels, search
from sessionlens.analytics.period import PeriodError, parse_period
from sessionlens.api.models import ErrorOut
from sessionlens.context import ctx_of
from sessionlens.web.auth import api_reader, api_user
from sessionlens.web.params import DbId

router = APIRouter(
    responses={
        400: {"model": ErrorOut, "description": "Bad steps, window, dates or filters"},
        401: {"model": ErrorOut, "description": "No or a bad API token"},
        404: {"model": ErrorOut, "description": "Not found, or not visible to this token"},
    }
)
WRITES: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "A read-only token, or another member's funnel"}
}
Reader = Annotated[ApiCaller, Depends(api_reader)]
Writer = Annotated[ApiCaller, Depends(api_user)]


class StepIn(BaseModel):
    type: Literal["url", "event", "click"] = Field(
        description="url: a page path, * matches anything (/product/*); event: a custom "
        "event's name; click: a clicked element's selector (button#buy, .buy, div.card > a)"
    )
    value: Annotated[str, Field(min_length=1, max_length=500)]


Steps = Annotated[list[StepIn], Field(min_length=funnels.MIN_STEPS, max_length=funnels.MAX_STEPS)]
Window = Annotated[
    int,
    Field(ge=1, le=funnels.MAX_WINDOW_MINUTES, description="every step within this of step 1"),
]


class FunnelQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    steps: Steps
    window_minutes: Window = funnels.DEFAULT_WINDOW_MINUTES
    start: Annotated[
        str | None, Field(alias="from", max_length=10, description="first day (UTC) of sessions")
    ] = None
    to: Annotated[str | None, Field(max_length=10, description="last day, included")] = None
    filters: Annotated[
        dict[str, str] | None,
        Field(description="session search filters, as on GET /projects/{id}/sessions"),
    ] = None
    dropped_limit: Annotated[
        int, Field(ge=0, le=100, description="dropped sessions listed per step, newest first")
    ] = funnels.DROPPED_LIMIT


class FunnelIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    steps: Steps
    window_minutes: Window = funnels.DEFAULT_WINDOW_MINUTES


class FunnelOut(FunnelIn):
    id: int


class FunnelList(BaseModel):
    funnels: list[FunnelOut]


class DroppedSession(BaseModel):
    session_id: str
    started_at: str
    offset_ms: int = Field(description="when it did its last step, ms into the session")
    replay: str = Field(description="the console's replay, opened at that moment")


class StepFigures(BaseModel):
    step: int
    type: str
    value: str
    sessions: int = Field(description="sessions that reached this step")
    conversion: float = Field(description="of the sessions at the step before")
    overall: float = Field(description="of the sessions at step 1")
    dropped: int = Field(description="reached this step and not the next")
    drop_off: float
    median_ms: int | None = Field(description="time from the step before: median")
    p90_ms: int | None = Field(description="time from the step before: 90th percentile")
    dropped_sessions: list[DroppedSession]


class Group(BaseModel):
    name: str
    entered: int
    converted: int
    conversion: float
    steps: list[int] = Field(description="sessions at each step")


class FunnelFigures(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: str = Field(alias="from", description="first day (UTC) of the sessions counted")
    to: str = Field(description="last day, included")
    window_minutes: int
    entered: int
    converted: int
    conversion: float
    steps: list[StepFigures]
    breakdown: dict[str, list[Group]] = Field(description="by device and by source")


def figures(
    conn: Connection,
    project_id: int,
    steps: list[funnels.Step],
    window_minutes: int,
    start: str | None,
    end: str | None,
    filters: dict[str, str] | None = None,
    dropped_limit: int = funnels.DROPPED_LIMIT,
) -> dict[str, Any]:
    """A funnel's figures as the API answers them; shared with the console. Raises
    FunnelError for anything the caller can fix."""
    try:
        period = parse_period(start, end)
        wanted = search.parse(filters or {})
    except (PeriodError, search.FilterError) as exc:
        raise funnels.FunnelError(str(exc)) from exc
    data = funnels.compute(
        conn,
        project_id,
        steps,
        funnels.check_window(window_minutes),
        period,
        wanted.conditions(),
        dropped_limit,
    )
    return {
        "from": period.start.date().isoformat(),
        "to": (period.end - timedelta(days=1)).date().isoformat(),
        "window_minutes": window_minutes,
        **data,
    }


def _steps(items: list[StepIn]) -> list[funnels.Step]:
    try:
        return funnels.parse_steps([item.model_dump() for item in items])
    except funnels.FunnelError as exc:
        raise HTTPException(400, str(exc)) from exc


def _project(conn: Connection, caller: ApiCaller, project_id: int) -> projects.Project:
    found = projects.get_for_user(conn, caller.id, project_id, caller.organisation_id)
    if found is None:
        raise HTTPException(404, "no such project")
    return found


def _out(saved: saved_funnels.SavedFunnel) -> FunnelOut:
    return FunnelOut.model_validate(saved.as_dict())


@router.post(
    "/projects/{project_id}/funnels/query",
    response_model=FunnelFigures,
    summary="A funnel's figures over the sessions started in a date range (read tokens may ask)",
)
def query_funnel(
    request: Request, caller: Reader, project_id: DbId, body: FunnelQuery
) -> dict[str, Any]:
    steps = _steps(body.steps)
    with ctx_of(request).reader.connect() as conn:
        _project(conn, caller, project_id)
        try:
            return figures(
                conn,
                project_id,
                steps,
                body.window_minutes,
                body.start,
                body.to,
                body.filters,
                body.dropped_limit,
            )
        except funnels.FunnelError as exc:
            raise HTTPException(400, str(exc)) from exc


@router.get(
    "/projects/{project_id}/funnels", response_model=FunnelList, summary="A project's saved funnels"
)
def list_funnels(request: Request, caller: Reader, project_id: DbId) -> FunnelList:
    with ctx_of(request).reader.connect() as conn:
        _project(conn, caller, project_id)
        saved = saved_funnels.for_project(conn, project_id)
    return FunnelList(funnels=[_out(f) for f in saved])


@router.post(
    "/projects/{project_id}/funnels",
    response_model=FunnelOut,
    status_code=201,
    summary="Save a funnel",
    responses=WRITES,
)
def create_funnel(request: Request, caller: Writer, project_id: DbId, body: FunnelIn) -> FunnelOut:
    steps = _steps(body.steps)
    with ctx_of(request).engine.begin() as conn:
        _project(conn, caller, project_id)
        try:
            saved = saved_funnels.create(
                conn, project_id, body.name, steps, body.window_minutes, caller.id
            )
        except funnels.FunnelError as exc:
            raise HTTPException(400, str(exc)) from exc
    return _out(saved)


def _saved(
    conn: Connection, caller: ApiCaller, project_id: int, funnel_id: int
) -> tuple[projects.Project, saved_funnels.SavedFunnel]:
    found = _project(conn, caller, project_id)
    saved = saved_funnels.get(conn, project_id, funnel_id)
    if saved is None:
        raise HTTPException(404, "no such funnel")
    return found, saved


def _may_change(
    conn: Connection, caller: ApiCaller, found: projects.Project, by: int | None
) -> None:
    """Whoever saved a funnel may change it; owners and admins any funnel."""
    if by != caller.id and projects.role_in(conn, caller.id, found.organisation_id) not in (
        "owner",
        "admin",
    ):
        raise HTTPException(403, "only who saved a funnel, or an admin, may change it")


@router.get(
    "/projects/{project_id}/funnels/{funnel_id}",
    response_model=FunnelOut,
    summary="One saved funnel",
)
def get_funnel(request: Request, caller: Reader, project_id: DbId, funnel_id: DbId) -> FunnelOut:
    with ctx_of(request).reader.connect() as conn:
        return _out(_saved(conn, caller, project_id, funnel_id)[1])


@router.put(
    "/projects/{project_id}/funnels/{funnel_id}",
    response_model=FunnelOut,
    summary="Change a saved funnel",
    responses=WRITES,
)
def change_funnel(
    request: Request, caller: Writer, project_id: DbId, funnel_id: DbId, body: FunnelIn
) -> FunnelOut:
    steps = _steps(body.steps)
    with ctx_of(request).engine.begin() as conn:
        found, saved = _saved(conn, caller, project_id, funnel_id)
        _may_change(conn, caller, found, saved.created_by)
        try:
            changed = saved_funnels.change(
                conn, project_id, funnel_id, body.name, steps, body.window_minutes
            )
        except funnels.FunnelError as exc:
            raise HTTPException(400, str(exc)) from exc
    assert changed is not None
    return _out(changed)


@router.delete(
    "/projects/{project_id}/funnels/{funnel_id}",
    status_code=204,
    summary="Delete a saved funnel",
    responses=WRITES,
)
def delete_funnel(request: Request, caller: Writer, project_id: DbId, funnel_id: DbId) -> Response:
    with ctx_of(request).engine.begin() as conn:
        found, saved = _saved(conn, caller, project_id, funnel_id)
        _may_change(conn, caller, found, saved.created_by)
        saved_funnels.remove(conn, project_id, funnel_id)
    return Response(status_code=204)


@router.get(
    "/projects/{project_id}/funnels/{funnel_id}/figures",
    response_model=FunnelFigures,
    summary="A saved funnel's figures over a date range (UTC days, both included)",
)
def saved_figures(
    request: Request,
    caller: Reader,
    project_id: DbId,
    funnel_id: DbId,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> dict[str, Any]:
    with ctx_of(request).reader.connect() as conn:
        _, saved = _saved(conn, caller, project_id, funnel_id)
        try:
            return figures(conn, project_id, saved.steps, saved.window_minutes, start, end)
        except funnels.FunnelError as exc:
            raise HTTPException(400, str(exc)) from exc
