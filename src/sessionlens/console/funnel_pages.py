"""Console: a project's saved funnels, each with its figures, chart and dropped sessions."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse

from sessionlens.analytics import funnels, saved_funnels, segments
from sessionlens.api.funnels import figures
from sessionlens.console.charts import funnel_chart
from sessionlens.console.common import MANAGERS, ViewerDep, ctx_of, project_for, render
from sessionlens.web import auth
from sessionlens.web.auth import Viewer
from sessionlens.web.params import DbId

router = APIRouter(include_in_schema=False)
TYPES = (("url", "Page (URL path)"), ("event", "Custom event"), ("click", "Click on"))
StepTypes = Annotated[list[str], Form(max_length=funnels.MAX_STEPS + 2)]
StepValues = Annotated[list[str], Form(max_length=funnels.MAX_STEPS + 2)]


def _steps_from_form(types: list[str], values: list[str]) -> list[funnels.Step]:
    """Rows left empty are skipped, so the form can offer more rows than are used."""
    raw = [
        {"type": kind, "value": value}
        for kind, value in zip(types, values, strict=False)
        if value.strip()
    ]
    return funnels.parse_steps(raw)


def _window(raw: str) -> int:
    if not raw.strip().isdigit():
        raise funnels.FunnelError("the window is a whole number of minutes")
    return funnels.check_window(int(raw))


def _list_page(
    request: Request,
    viewer: Viewer,
    project_id: int,
    error: str | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    project, role = project_for(request, viewer, project_id)
    with ctx_of(request).reader.connect() as conn:
        saved = saved_funnels.for_project(conn, project.id)
    return render(
        request,
        "funnels.html",
        status=400 if error else 200,
        viewer=viewer,
        project=project,
        role=role,
        tab="funnels",
        funnels=saved,
        error=error,
        form=form or {"name": "", "window": funnels.DEFAULT_WINDOW_MINUTES, "steps": []},
        types=TYPES,
        rows=funnels.MAX_STEPS,
    )


@router.get("/projects/{project_id}/funnels")
def funnel_list(request: Request, viewer: ViewerDep, project_id: DbId) -> Response:
    return _list_page(request, viewer, project_id)


@router.post("/projects/{project_id}/funnels")
def create_funnel(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    name: Annotated[str, Form(max_length=200)] = "",
    window: Annotated[str, Form(max_length=10)] = "",
    step_type: StepTypes = [],  # noqa: B006 (FastAPI copies defaults)
    step_value: StepValues = [],  # noqa: B006
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    auth.check_csrf(csrf_token, viewer.csrf)
    project, _ = project_for(request, viewer, project_id)
    try:
        steps = _steps_from_form(step_type, step_value)
        with ctx_of(request).engine.begin() as conn:
            saved = saved_funnels.create(
                conn, project.id, name, steps, _window(window), viewer.user.id
            )
    except funnels.FunnelError as exc:
        form = {
            "name": name,
            "window": window,
            "steps": list(zip(step_type, step_value, strict=False)),
        }
        return _list_page(request, viewer, project_id, str(exc), form)
    return RedirectResponse(f"/projects/{project.id}/funnels/{saved.id}", status_code=303)


def _saved_or_404(request: Request, project_id: int, funnel_id: int) -> Any:
    with ctx_of(request).reader.connect() as conn:
        saved = saved_funnels.get(conn, project_id, funnel_id)
    if saved is None:
        raise HTTPException(404, "No such funnel.")
    return saved


def _may_change(viewer: Viewer, role: str, saved: saved_funnels.SavedFunnel) -> None:
    if saved.created_by != viewer.user.id and role not in MANAGERS:
        raise HTTPException(403, "Only who saved a funnel, or an admin, may change it.")


@router.get("/projects/{project_id}/funnels/{funnel_id}")
def funnel_page(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    funnel_id: DbId,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    segment: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Response:
    project, role = project_for(request, viewer, project_id)
    saved = _saved_or_404(request, project.id, funnel_id)
    error = None
    with ctx_of(request).reader.connect() as conn:
        saved_segments = segments.for_project(conn, project.id)
        chosen = next((s for s in saved_segments if s.id == segment), None)
        filters = dict(parse_qsl(chosen.query)) if chosen else None
        try:
            data = figures(conn, project.id, saved.steps, saved.window_minutes, start, end, filters)
        except funnels.FunnelError as exc:
            error = str(exc)
            data = figures(conn, project.id, saved.steps, saved.window_minutes, None, None)
    return render(
        request,
        "funnel.html",
        status=400 if error else 200,
        viewer=viewer,
        project=project,
        role=role,
        tab="funnels",
        funnel=saved,
        data=data,
        chart=funnel_chart(data["steps"]),
        error=error,
        first=data["from"],
        last=data["to"],
        segments=saved_segments,
        segment=chosen.id if chosen else None,
        may_change=saved.created_by == viewer.user.id or role in MANAGERS,
        types=TYPES,
        rows=funnels.MAX_STEPS,
        funnel_rows=[(step.type, step.value) for step in saved.steps],
    )


@router.post("/projects/{project_id}/funnels/{funnel_id}")
def change_funnel(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    funnel_id: DbId,
    name: Annotated[str, Form(max_length=200)] = "",
    window: Annotated[str, Form(max_length=10)] = "",
    step_type: StepTypes = [],  # noqa: B006
    step_value: StepValues = [],  # noqa: B006
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    auth.check_csrf(csrf_token, viewer.csrf)
    project, role = project_for(request, viewer, project_id)
    _may_change(viewer, role, _saved_or_404(request, project.id, funnel_id))
    try:
        steps = _steps_from_form(step_type, step_value)
        with ctx_of(request).engine.begin() as conn:
            saved_funnels.change(conn, project.id, funnel_id, name, steps, _window(window))
    except funnels.FunnelError as exc:
        raise HTTPException(400, str(exc)) from exc
    return RedirectResponse(f"/projects/{project.id}/funnels/{funnel_id}", status_code=303)


@router.post("/projects/{project_id}/funnels/{funnel_id}/delete")
def delete_funnel(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    funnel_id: DbId,
    confirm: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """A saved funnel is the team's: deleting it needs the box ticked, as a second thought."""
    auth.check_csrf(csrf_token, viewer.csrf)
    project, role = project_for(request, viewer, project_id)
    _may_change(viewer, role, _saved_or_404(request, project.id, funnel_id))
    if confirm != "yes":
        raise HTTPException(400, "Tick the box to confirm that the funnel is to be deleted.")
    with ctx_of(request).engine.begin() as conn:
        saved_funnels.remove(conn, project.id, funnel_id)
    return RedirectResponse(f"/projects/{project.id}/funnels", status_code=303)
