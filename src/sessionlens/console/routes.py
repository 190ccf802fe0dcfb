"""Console pages: login, projects, a project's sessions, the replay page."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from sessionlens import projects
from sessionlens.analytics import search, segments
from sessionlens.analytics.sources import GROUPS
from sessionlens.console.common import (
    MANAGERS,
    ViewerDep,
    ctx_of,
    project_for,
    record_action,
    render,
)
from sessionlens.processing import interactions
from sessionlens.recordings import queries
from sessionlens.surveys import linked
from sessionlens.web import auth
from sessionlens.web.auth import Viewer
from sessionlens.web.params import DbId

router = APIRouter(include_in_schema=False)
PER_PAGE = 50

_ctx = ctx_of


@router.get("/")
def home() -> Response:
    return RedirectResponse("/projects", status_code=303)


@router.get("/projects")
def project_list(request: Request, viewer: ViewerDep) -> Response:
    with _ctx(request).reader.connect() as conn:
        mine = projects.for_user(conn, viewer.user.id)
    return render(
        request,
        "projects.html",
        viewer=viewer,
        projects=mine,
        base_url=_ctx(request).settings.base_url,
    )


@router.get("/projects/{project_id}")
def project_sessions(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    found, role = project_for(request, viewer, project_id)
    error = None
    try:
        wanted = search.parse(dict(request.query_params))
    except search.FilterError as exc:
        wanted, error = search.SessionFilter(), str(exc)
    with _ctx(request).reader.connect() as conn:
        rows, has_more = queries.list_sessions(
            conn, project_id, page, PER_PAGE, wanted.conditions()
        )
        saved = segments.for_project(conn, project_id)
    return render(
        request,
        "sessions.html",
        status=400 if error else 200,
        viewer=viewer,
        project=found,
        role=role,
        tab="sessions",
        sessions=rows,
        page=page,
        has_more=has_more,
        filters=wanted.values,
        chips=search.describe(wanted.values),
        query=wanted.query_string(),
        segments=saved,
        error=error,
        groups=GROUPS,
    )


@router.post("/projects/{project_id}/segments")
def save_segment(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    name: Annotated[str, Form(max_length=200)] = "",
    query: Annotated[str, Form(max_length=4000)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    auth.check_csrf(csrf_token, viewer.csrf)
    found, _ = project_for(request, viewer, project_id)
    try:
        wanted = search.parse(dict(parse_qsl(query)))
        with _ctx(request).engine.begin() as conn:
            segments.save(conn, found.id, name, wanted, viewer.user.id)
    except (search.FilterError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from exc
    return RedirectResponse(f"/projects/{found.id}?{wanted.query_string()}", status_code=303)


@router.post("/projects/{project_id}/segments/{segment_id}/delete")
def delete_segment(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    segment_id: DbId,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Anyone may delete the segments they saved; owners and admins any segment."""
    auth.check_csrf(csrf_token, viewer.csrf)
    found, role = project_for(request, viewer, project_id)
    with _ctx(request).engine.begin() as conn:
        saved_by = segments.owner_of(conn, found.id, segment_id)
        if saved_by is False:
            raise HTTPException(404, "No such segment.")
        if saved_by != viewer.user.id and role not in MANAGERS:
            raise HTTPException(403, "Only who saved a segment, or an admin, may delete it.")
        segments.remove(conn, found.id, segment_id)
    return RedirectResponse(f"/projects/{found.id}", status_code=303)


def _session_or_404(request: Request, viewer: Viewer, session_id: str) -> dict[str, Any]:
    with _ctx(request).reader.connect() as conn:
        found = queries.get_session(conn, viewer.user.id, session_id)
    if found is None:
        raise HTTPException(404, "No such session.")
    return found


def _record_session(request: Request, viewer: Viewer, found: dict[str, Any], action: str) -> None:
    with _ctx(request).reader.connect() as conn:
        current = projects.by_id(conn, found["project_id"])
    organisation_id = current.organisation_id if current else None
    record_action(request, viewer, organisation_id, action, "session", str(found["id"]))


@router.get("/sessions/{session_id}")
def session_page(request: Request, viewer: ViewerDep, session_id: str) -> Response:
    found = _session_or_404(request, viewer, session_id)
    with _ctx(request).reader.connect() as conn:
        pages = queries.pageviews(conn, session_id)
        signals = queries.signals(conn, session_id, found["first_ts"])
        _, struggle = interactions.breakdown(conn, session_id)
        key = (found["project_id"], found["session_key"], found["first_ts"])
        answers = linked.session_answers(conn, *key)
        feedback = linked.session_feedback(conn, *key)
    _record_session(request, viewer, found, "recording.view")
    return render(
        request,
        "session.html",
        viewer=viewer,
        s=found,
        pages=pages,
        signals=signals,
        said=linked.timeline(answers, feedback),
        answers=answers,
        feedback=feedback,
        struggle=struggle,
        labels=queries.SIGNAL_LABELS,
    )


@router.get("/sessions/{session_id}/export")
def session_export(request: Request, viewer: ViewerDep, session_id: str) -> Response:
    """The recording as rrweb JSON (an array of events), for rrweb-based tools."""
    found = _session_or_404(request, viewer, session_id)
    ctx = _ctx(request)
    with ctx.reader.connect() as conn:
        blocks = queries.blocks(conn, session_id)
    _record_session(request, viewer, found, "recording.export")
    body = b"".join(queries.stream_events(ctx.blobs, blocks))
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="session-{session_id}.rrweb.json"'},
    )


@router.get("/sessions/{session_id}/blocks")
def session_blocks(request: Request, viewer: ViewerDep, session_id: str) -> dict[str, Any]:
    """What the player fetches, in order: each entry one or more consecutive blocks."""
    found = _session_or_404(request, viewer, session_id)
    with _ctx(request).reader.connect() as conn:
        blocks = queries.blocks(conn, session_id)
    entries = []
    for group in queries.chunks(blocks):
        first, last = group[0], group[-1]
        url = f"/sessions/{session_id}/blocks/{first.index}"
        if last.index != first.index:
            url += f"?through={last.index}"
        entries.append(
            {
                "index": first.index,
                "url": url,
                "first_ts": min(b.first_ts for b in group),
                "last_ts": max(b.last_ts for b in group),
                "has_full_snapshot": any(b.has_full_snapshot for b in group),
            }
        )
    return {
        "session_id": session_id,
        "first_ts": found["first_ts"],
        "duration_ms": found["duration_ms"],
        "blocks": entries,
    }


@router.get("/sessions/{session_id}/blocks/{index}")
def session_block(
    request: Request,
    viewer: ViewerDep,
    session_id: str,
    index: Annotated[int, Path(ge=0)],
    through: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The events of block `index` (through block `through`) as one JSON array."""
    _session_or_404(request, viewer, session_id)
    last = index if through is None else through
    if last < index or last - index > 10_000:
        raise HTTPException(400, "through must be at least the block index")
    with _ctx(request).reader.connect() as conn:
        wanted = [b for b in queries.blocks(conn, session_id) if index <= b.index <= last]
    if all(b.index != index for b in wanted):
        raise HTTPException(404, "No such block.")
    body = b"".join(queries.stream_events(_ctx(request).blobs, wanted))
    # Blocks never change once written.
    return Response(
        body,
        media_type="application/json",
        headers={"Cache-Control": "private, max-age=86400, immutable"},
    )
