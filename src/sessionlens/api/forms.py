"""REST API: form analytics as JSON."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from sessionlens import projects
from sessionlens.accounts.tokens import ApiCaller
from sessionlens.analytics import forms
from sessionlens.analytics.period import PeriodError, parse_period
from sessionlens.api.models import ErrorOut
from sessionlens.context import ctx_of
from sessionlens.web.auth import api_user
from sessionlens.web.params import DbId

router = APIRouter(
    responses={
        400: {"model": ErrorOut, "description": "Bad dates or url"},
        401: {"model": ErrorOut, "description": "No or a bad API token"},
        404: {"model": ErrorOut, "description": "Not found, or not visible to this token"},
    }
)


class FieldOut(BaseModel):
    field: str
    type: str
    visitors: int
    interactions: int
    avg_time_ms: int | None
    avg_hesitation_ms: int | None
    refills: int
    left_blank: int
    abandoned_here: int


class FormOut(BaseModel):
    form: str
    paths: list[str]
    interactions: int
    visitors: int
    submits: int
    successes: int | None
    abandoned: int | None
    success_rate: float | None
    fields: list[FieldOut]


class FormsOut(BaseModel):
    url: str | None = Field(description="the path or pattern reported on; null: every page")
    from_: str = Field(alias="from")
    to: str
    forms: list[FormOut]


def form_report(
    conn: Any, project_id: int, start: str | None, end: str | None, url: str | None
) -> dict[str, Any]:
    """The report for the API and the console; raises PeriodError / FormQueryError."""
    period = parse_period(start, end)
    pattern = forms.parse_url(url)
    data = forms.report(conn, project_id, period, pattern, int(time.time() * 1000))
    return {
        "url": pattern,
        "from": period.start.date().isoformat(),
        "to": (period.end - timedelta(days=1)).date().isoformat(),
        **data,
    }


@router.get(
    "/projects/{project_id}/forms",
    summary="Form analytics: per form and field on pages matching url, over a date range",
    response_model=FormsOut,
)
def get_forms(
    request: Request,
    caller: Annotated[ApiCaller, Depends(api_user)],
    project_id: DbId,
    url: Annotated[str | None, Query(max_length=forms.MAX_URL)] = None,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> dict[str, Any]:
    with ctx_of(request).reader.connect() as conn:
        project = projects.get_for_user(conn, caller.id, project_id, caller.organisation_id)
        if project is None:
            raise HTTPException(404, "no such project")
        try:
            return form_report(conn, project.id, start, end, url)
        except (PeriodError, forms.FormQueryError) as exc:
            raise HTTPException(400, str(exc)) from exc
