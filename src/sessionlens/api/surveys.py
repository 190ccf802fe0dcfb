"""REST API: a project's surveys, their responses and the feedback button's submissions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from sessionlens import projects
from sessionlens.accounts.tokens import ApiCaller
from sessionlens.analytics.period import Period, PeriodError
from sessionlens.api.models import ErrorOut
from sessionlens.context import ctx_of
from sessionlens.surveys import feedback_list, results, store
from sessionlens.web.auth import api_reader
from sessionlens.web.params import DbId

router = APIRouter(
    responses={
        400: {"model": ErrorOut, "description": "Bad dates"},
        401: {"model": ErrorOut, "description": "No or a bad API token"},
        404: {"model": ErrorOut, "description": "Not found, or not visible to this token"},
    }
)
Reader = Annotated[ApiCaller, Depends(api_reader)]
After = Annotated[int, Query(ge=0, le=2_147_483_647, description="the id before this page")]
Limit = Annotated[int, Query(ge=1, le=1000, description="items in a page")]
First = Annotated[
    str | None,
    Query(alias="from", max_length=10, description="first UTC day the item reached the server"),
]
Last = Annotated[str | None, Query(alias="to", max_length=10, description="last day, included")]


class Counts(BaseModel):
    shown: int = Field(description="shown, not yet answered nor dismissed")
    answered: int
    dismissed: int
    invited: int = Field(description="every invitation")


class SurveyOut(BaseModel):
    id: int
    name: str
    status: Literal["draft", "active", "paused"]
    state: str = Field(description="today: draft, paused, scheduled, live or ended")
    starts_on: str | None
    ends_on: str | None
    definition: dict[str, Any] = Field(description="as in docs/surveys.md")
    created_at: str
    updated_at: str
    counts: Counts | None = None


class SurveyList(BaseModel):
    surveys: list[SurveyOut]


class ResponseOut(BaseModel):
    id: int
    state: Literal["shown", "dismissed", "answered"]
    given_at: str = Field(description="when its state last changed, by the browser's clock")
    page_url: str
    answers: dict[str, Any] = Field(description="question id -> answer")
    session_id: str | None = Field(description="the stored session; null when not recorded")
    replay_url: str | None = Field(description="the replay at the moment of the answer")
    visitor_id: str = Field(description="the recorder's visitor id")


class ResponsePage(BaseModel):
    survey: SurveyOut
    responses: list[ResponseOut]
    next_after: int | None = Field(description="pass as after for the next page; null: done")


class FeedbackOut(BaseModel):
    id: int
    rating: int
    rating_label: str
    comment: str
    selector: str = Field(description="the element pointed at, if any")
    page_url: str
    given_at: str
    session_id: str | None
    replay_url: str | None
    visitor_id: str


class FeedbackPage(BaseModel):
    feedback: list[FeedbackOut]
    next_after: int | None


def _period(start: str | None, end: str | None) -> Period | None:
    try:
        return results.period_of(start, end)
    except PeriodError as exc:
        raise HTTPException(400, str(exc)) from exc


def _project(conn: Connection, caller: ApiCaller, project_id: int) -> projects.Project:
    found = projects.get_for_user(conn, caller.id, project_id, caller.organisation_id)
    if found is None:
        raise HTTPException(404, "no such project")
    return found


def _survey_out(found: store.Survey, counts: dict[str, int] | None) -> SurveyOut:
    state = found.state_on(datetime.now(UTC).date())
    return SurveyOut.model_validate(found.as_dict() | {"state": state, "counts": counts})


@router.get(
    "/projects/{project_id}/surveys",
    response_model=SurveyList,
    summary="A project's surveys, with their invitations by state",
)
def list_surveys(request: Request, caller: Reader, project_id: DbId) -> SurveyList:
    with ctx_of(request).reader.connect() as conn:
        _project(conn, caller, project_id)
        found = store.for_project(conn, project_id)
        counts = store.counts(conn, project_id)
    empty = {"shown": 0, "answered": 0, "dismissed": 0, "invited": 0}
    return SurveyList(surveys=[_survey_out(s, counts.get(s.id, empty)) for s in found])


@router.get(
    "/projects/{project_id}/surveys/{survey_id}/responses",
    response_model=ResponsePage,
    summary="A survey's responses, one per invitation, by ascending id",
)
def survey_responses(
    request: Request,
    caller: Reader,
    project_id: DbId,
    survey_id: DbId,
    after: After = 0,
    limit: Limit = 100,
    state: Annotated[
        Literal["answered", "dismissed", "shown", "all"], Query(description="all: every state")
    ] = "all",
    start: First = None,
    end: Last = None,
) -> ResponsePage:
    period = _period(start, end)
    ctx = ctx_of(request)
    with ctx.reader.connect() as conn:
        _project(conn, caller, project_id)
        found = store.get(conn, project_id, survey_id)
        if found is None:
            raise HTTPException(404, "no such survey")
        items, next_after = results.responses_after(
            conn, found, period, state, after, limit, ctx.settings.base_url
        )
    return ResponsePage(
        survey=_survey_out(found, None),
        responses=[ResponseOut.model_validate(item) for item in items],
        next_after=next_after,
    )


@router.get(
    "/projects/{project_id}/feedback",
    response_model=FeedbackPage,
    summary="What visitors sent with the feedback button, by ascending id",
)
def project_feedback(
    request: Request,
    caller: Reader,
    project_id: DbId,
    after: After = 0,
    limit: Limit = 100,
    rating: Annotated[int | None, Query(ge=1, le=5, description="only this rating")] = None,
    start: First = None,
    end: Last = None,
) -> FeedbackPage:
    period = _period(start, end)
    ctx = ctx_of(request)
    with ctx.reader.connect() as conn:
        _project(conn, caller, project_id)
        items, next_after = feedback_list.after(
            conn, project_id, period, rating, after, limit, ctx.settings.base_url
        )
    return FeedbackPage(
        feedback=[FeedbackOut.model_validate(item) for item in items], next_after=next_after
    )
