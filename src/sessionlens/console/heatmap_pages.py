"""Console: heatmaps of a page drawn over the page itself, rebuilt from a recording."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request, Response

from sessionlens.analytics import heatmaps, segments
from sessionlens.analytics.period import parse_period
from sessionlens.api.heatmaps import HeatmapParams, heatmap
from sessionlens.console.common import ViewerDep, ctx_of, project_for, render
from sessionlens.web.params import DbId

router = APIRouter(include_in_schema=False)
Kind = Literal["clicks", "moves", "scroll", "attention"]
ParamsDep = Annotated[HeatmapParams, Query()]
KIND_NAMES = {
    "clicks": "Clicks",
    "moves": "Mouse movement",
    "scroll": "Scroll reach",
    "attention": "Attention",
}


@router.get("/projects/{project_id}/heatmaps")
def heatmaps_page(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    params: ParamsDep,
    kind: Kind = "clicks",
) -> Response:
    project, role = project_for(request, viewer, project_id)
    query = params.as_query()
    error = None
    data: dict[str, Any] | None = None
    sample = None
    with ctx_of(request).reader.connect() as conn:
        saved = segments.for_project(conn, project.id)
        try:
            period = parse_period(query["from"], query["to"])
        except ValueError:
            period = parse_period(None, None)
        suggested = heatmaps.suggestions(conn, project.id, period)
        if not query["url"] and suggested:
            query["url"] = suggested[0]["url"]
        if query["url"]:
            try:
                data = heatmap(conn, kind, project.id, query)
                wanted = heatmaps.parse(conn, project.id, query)
                sample = heatmaps.sample_page(conn, project.id, wanted)
                period = wanted.period
            except heatmaps.HeatmapError as exc:
                error = str(exc)
    return render(
        request,
        "heatmaps.html",
        status=400 if error else 200,
        viewer=viewer,
        project=project,
        role=role,
        tab="heatmaps",
        kind=kind,
        kinds=KIND_NAMES,
        query=query,
        filters=urlencode(sorted((k, v) for k, v in query.items() if v)),
        data=data,
        sample=sample,
        suggested=suggested,
        segments=saved,
        devices=heatmaps.DEVICES,
        error=error,
        first=period.start.date().isoformat(),
        last=(period.end - timedelta(days=1)).date().isoformat(),
    )


@router.get("/projects/{project_id}/heatmaps/sessions")
def heatmap_sessions(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    params: ParamsDep,
    selector: Annotated[str, Query(max_length=300)] = "",
) -> dict[str, Any]:
    """The sessions that clicked an element (for the page's element list), as JSON."""
    project, _ = project_for(request, viewer, project_id)
    with ctx_of(request).reader.connect() as conn:
        try:
            wanted = heatmaps.parse(conn, project.id, params.as_query())
            found = heatmaps.element_sessions(conn, project.id, wanted, selector)
        except heatmaps.HeatmapError as exc:
            raise HTTPException(400, str(exc)) from exc
    return {"url": wanted.url, "selector": selector, "sessions": found}
