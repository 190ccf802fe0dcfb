"""Console: a project's usage reports."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Query, Request, Response

from sessionlens.analytics.period import PeriodError, default_unit, parse_period
from sessionlens.api.reports import Kind, report
from sessionlens.console.charts import line_chart
from sessionlens.console.common import ViewerDep, ctx_of, project_for, render
from sessionlens.web.params import DbId

router = APIRouter(include_in_schema=False)
KINDS = get_args(Kind)


@router.get("/projects/{project_id}/reports")
def reports_page(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    unit: Literal["hour", "day", "week"] | None = None,
) -> Response:
    project, role = project_for(request, viewer, project_id)
    try:
        period = parse_period(start, end)
        error = None
    except PeriodError as exc:
        period, error = parse_period(None, None), str(exc)
    chosen = unit or default_unit(period)
    with ctx_of(request).reader.connect() as conn:
        data = {kind: report(conn, kind, project, period, chosen) for kind in KINDS}
    chart = line_chart(
        data["timeseries"]["points"],
        [("sessions", "Sessions"), ("visitors", "Visitors"), ("pageviews", "Pageviews")],
    )
    return render(
        request,
        "reports.html",
        status=400 if error else 200,
        viewer=viewer,
        project=project,
        role=role,
        tab="reports",
        data=data,
        chart=chart,
        error=error,
        unit=chosen,
        first=period.start.date().isoformat(),
        last=(period.end - timedelta(days=1)).date().isoformat(),
    )
