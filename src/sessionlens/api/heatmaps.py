"""REST API: heatmaps of a page or a pattern of pages as JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from sessionlens import projects
from sessionlens.accounts.tokens import ApiCaller
from sessionlens.analytics import heatmaps
from sessionlens.api.models import ErrorOut
from sessionlens.context import ctx_of
from sessionlens.web.auth import api_user
from sessionlens.web.params import DbId

router = APIRouter(
    responses={
        400: {"model": ErrorOut, "description": "A bad filter; the message names it"},
        401: {"model": ErrorOut, "description": "No or a bad API token"},
        404: {"model": ErrorOut, "description": "Not found, or not visible to this token"},
    }
)


class HeatmapParams(BaseModel):
    """The filters every heatmap takes (all but url optional)."""

    model_config = ConfigDict(populate_by_name=True)

    url: str | None = Field(
        None, max_length=500, description="A path (/products/lamp) or a pattern (/products/*)"
    )
    start: str | None = Field(
        None, alias="from", max_length=10, description="First UTC day, YYYY-MM-DD"
    )
    end: str | None = Field(None, alias="to", max_length=10, description="Last UTC day")
    device: str | None = Field(None, max_length=100, description="desktop, mobile or tablet")
    min_width: str | None = Field(None, max_length=100, description="Narrowest viewport, px")
    max_width: str | None = Field(None, max_length=100, description="Widest viewport, px")
    visitor: str | None = Field(None, max_length=100, description="new or returning")
    segment: str | None = Field(None, max_length=100, description="A saved segment's id")

    def as_query(self) -> dict[str, str | None]:
        return {
            "url": self.url,
            "from": self.start,
            "to": self.end,
            "device": self.device,
            "min_width": self.min_width,
            "max_width": self.max_width,
            "visitor": self.visitor,
            "segment": self.segment,
        }


def heatmap(conn: Any, kind: str, project_id: int, query: dict[str, str | None]) -> dict[str, Any]:
    """One heatmap by kind, with the filters it was made with; shared by API and console."""
    wanted = heatmaps.parse(conn, project_id, query)
    data = heatmaps.KINDS[kind](conn, project_id, wanted)
    return {
        "kind": kind,
        "url": wanted.url,
        "from": wanted.period.start.date().isoformat(),
        "to": (wanted.period.end - timedelta(days=1)).date().isoformat(),
        "segment": wanted.segment.name if wanted.segment else None,
        **data,
    }


def _answer(
    request: Request, caller: ApiCaller, project_id: int, call: Callable[[Any], Any]
) -> Any:
    with ctx_of(request).reader.connect() as conn:
        if projects.get_for_user(conn, caller.id, project_id, caller.organisation_id) is None:
            raise HTTPException(404, "no such project")
        try:
            return call(conn)
        except heatmaps.HeatmapError as exc:
            raise HTTPException(400, str(exc)) from exc


CallerDep = Annotated[ApiCaller, Depends(api_user)]
ParamsDep = Annotated[HeatmapParams, Query()]


def _route(kind: str, summary: str) -> None:
    def endpoint(
        request: Request, caller: CallerDep, project_id: DbId, params: ParamsDep
    ) -> dict[str, Any]:
        result: dict[str, Any] = _answer(
            request,
            caller,
            project_id,
            lambda conn: heatmap(conn, kind, project_id, params.as_query()),
        )
        return result

    endpoint.__name__ = f"heatmap_{kind}"
    router.add_api_route(
        f"/projects/{{project_id}}/heatmaps/{kind}", endpoint, methods=["GET"], summary=summary
    )


_route("clicks", "Clicks on a page: per grid cell (x in 1/100 of its width) and per element")
_route("moves", "Mouse movement on a page: samples per grid cell")
_route("scroll", "Scroll reach: pageviews that reached each 5% band of the page")
_route("attention", "Attention: time each 5% band of the page was in view")


@router.get(
    "/projects/{project_id}/heatmaps/clicks/sessions",
    summary="The latest sessions that clicked an element of a page, with the moment",
)
def heatmap_element_sessions(
    request: Request,
    caller: CallerDep,
    project_id: DbId,
    params: ParamsDep,
    selector: Annotated[str, Query(max_length=300)] = "",
) -> dict[str, Any]:
    def call(conn: Any) -> dict[str, Any]:
        wanted = heatmaps.parse(conn, project_id, params.as_query())
        found = heatmaps.element_sessions(conn, project_id, wanted, selector)
        return {"url": wanted.url, "selector": selector, "sessions": found}

    result: dict[str, Any] = _answer(request, caller, project_id, call)
    return result
