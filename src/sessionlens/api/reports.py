"""REST API: usage reports as JSON."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from sessionlens import projects
from sessionlens.accounts.tokens import ApiCaller
from sessionlens.analytics import quality, reports
from sessionlens.analytics.period import Period, PeriodError, default_unit, parse_period
from sessionlens.api.models import ErrorOut
from sessionlens.context import ctx_of
from sessionlens.web.auth import api_user
from sessionlens.web.params import DbId

router = APIRouter(
    responses={
        400: {"model": ErrorOut, "description": "Bad dates"},
        401: {"model": ErrorOut, "description": "No or a bad API token"},
        404: {"model": ErrorOut, "description": "Not found, or not visible to this token"},
    }
)
Kind = Literal[
    "overview",
    "timeseries",
    "pages",
    "sources",
    "utm",
    "params",
    "devices",
    "countries",
    "errors",
    "timing",
    "struggle",
]


def report(
    conn: Any, kind: str, project: projects.Project, period: Period, unit: str | None
) -> dict[str, Any]:
    """One report by name; shared by the API and the console."""
    if kind == "timeseries":
        chosen = unit if unit in ("hour", "day", "week") else default_unit(period)
        return reports.timeseries(conn, project.id, period, chosen)  # type: ignore[arg-type]
    if kind == "params":
        return reports.params(conn, project.id, period, project.privacy.denylist())
    function = {
        "overview": reports.overview,
        "pages": reports.pages,
        "sources": reports.sources,
        "utm": reports.utm,
        "devices": reports.devices,
        "countries": reports.countries,
        "errors": quality.errors,
        "timing": quality.timing,
        "struggle": quality.struggle,
    }[kind]
    result: dict[str, Any] = function(conn, project.id, period)
    return result


@router.get(
    "/projects/{project_id}/reports/{kind}",
    summary="A usage report over a date range (UTC days, both included)",
)
def get_report(
    request: Request,
    caller: Annotated[ApiCaller, Depends(api_user)],
    project_id: DbId,
    kind: Kind,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    unit: Literal["hour", "day", "week"] | None = None,
) -> dict[str, Any]:
    ctx = ctx_of(request)
    try:
        period = parse_period(start, end)
    except PeriodError as exc:
        raise HTTPException(400, str(exc)) from exc
    with ctx.reader.connect() as conn:
        project = projects.get_for_user(conn, caller.id, project_id, caller.organisation_id)
        if project is None:
            raise HTTPException(404, "no such project")
        data = report(conn, kind, project, period, unit)
    return {
        "report": kind,
        "from": period.start.date().isoformat(),
        "to": (period.end.date()).isoformat(),
        **data,
    }
