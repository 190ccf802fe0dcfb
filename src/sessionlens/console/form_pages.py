"""Console: a project's form analytics, per form and field."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from sessionlens.analytics.forms import MAX_URL, FormQueryError
from sessionlens.analytics.period import PeriodError, parse_period
from sessionlens.api.forms import form_report
from sessionlens.console.common import ViewerDep, ctx_of, project_for, render
from sessionlens.web.params import DbId

router = APIRouter(include_in_schema=False)


@router.get("/projects/{project_id}/forms")
def forms_page(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    url: Annotated[str | None, Query(max_length=MAX_URL)] = None,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    project, role = project_for(request, viewer, project_id)
    error = None
    with ctx_of(request).reader.connect() as conn:
        try:
            data: dict[str, Any] = form_report(conn, project.id, start, end, url)
        except (PeriodError, FormQueryError) as exc:
            error = str(exc)
            data = form_report(conn, project.id, None, None, None)
    period = parse_period(data["from"], data["to"])
    return render(
        request,
        "forms.html",
        status=400 if error else 200,
        viewer=viewer,
        project=project,
        role=role,
        tab="forms",
        data=data,
        error=error,
        url=url or "",
        first=period.start.date().isoformat(),
        last=(period.end - timedelta(days=1)).date().isoformat(),
    )
