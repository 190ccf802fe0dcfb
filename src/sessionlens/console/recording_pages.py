"""Console: a project's recording rules (sampling, pages to record, minimum duration,
monthly quota), beside its privacy rules."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from sessionlens import projects, recording_rules
from sessionlens.accounts import audit
from sessionlens.console.common import (
    MANAGERS,
    ViewerDep,
    address_of,
    ctx_of,
    manager_form,
    project_for,
    render,
)
from sessionlens.projects import Project
from sessionlens.recording_rules import RecordingRules, RecordingRulesError
from sessionlens.web import auth
from sessionlens.web.params import DbId

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    viewer: auth.Viewer,
    project: Project,
    role: str,
    rules: RecordingRules,
    status: int = 200,
    **extra: object,
) -> Response:
    return render(
        request,
        "recording.html",
        status=status,
        viewer=viewer,
        project=project,
        role=role,
        tab="recording",
        rules=rules,
        can_edit=role in MANAGERS,
        **extra,
    )


def _number(name: str, raw: str, whole: bool = True) -> float | int | None:
    text = raw.strip()
    if not text:
        return None
    try:
        return int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise RecordingRulesError(f"{name} must be {kind}") from None


def _submitted(form: dict[str, str]) -> RecordingRules:
    rate = _number("sample_rate", form.get("sample_rate", ""), whole=False)
    minimum = _number("min_duration_s", form.get("min_duration_s", ""))
    return recording_rules.parse(
        {
            "sample_rate": 100 if rate is None else rate,
            "record_pages": form.get("record_pages", "").splitlines(),
            "min_duration_s": 0 if minimum is None else minimum,
            "monthly_quota": _number("monthly_quota", form.get("monthly_quota", "")),
        }
    )


@router.get("/projects/{project_id}/recording")
def recording_form(
    request: Request, viewer: ViewerDep, project_id: DbId, saved: bool = False
) -> Response:
    project, role = project_for(request, viewer, project_id)
    return _page(request, viewer, project, role, project.recording, saved=saved)


@router.post("/projects/{project_id}/recording")
async def save_recording(request: Request, viewer: ViewerDep, project_id: DbId) -> Response:
    form, project, role = await manager_form(request, viewer, project_id)
    try:
        rules = _submitted({k: str(v) for k, v in form.items()})
    except RecordingRulesError as exc:
        return _page(request, viewer, project, role, project.recording, status=400, error=str(exc))
    with ctx_of(request).engine.begin() as conn:
        before = project.recording.to_json()
        projects.save_recording(conn, project, rules)
        audit.record(
            conn,
            organisation_id=project.organisation_id,
            user_id=viewer.user.id,
            actor=viewer.user.email,
            action="recording.update",
            object_type="project",
            object_id=str(project.id),
            detail={"changed": {k: v for k, v in rules.to_json().items() if before.get(k) != v}},
            address=address_of(request),
        )
    return RedirectResponse(f"/projects/{project.id}/recording?saved=1", status_code=303)
