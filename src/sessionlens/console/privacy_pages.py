"""Console: a project's privacy rules."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from sessionlens import privacy, projects
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
from sessionlens.privacy import PrivacySettings
from sessionlens.projects import Project
from sessionlens.recordings import retention
from sessionlens.web import auth
from sessionlens.web.params import DbId

router = APIRouter(include_in_schema=False)
LISTS = (
    "unmask_selectors",
    "mask_text_selectors",
    "block_selectors",
    "url_param_denylist",
    "exclude_pages",
)
FLAGS = ("mask_all_text", "honour_dnt", "consent_required", "cookieless")


def _page(
    request: Request,
    viewer: auth.Viewer,
    project: Project,
    role: str,
    rules: PrivacySettings,
    status: int = 200,
    **extra: object,
) -> Response:
    return render(
        request,
        "privacy.html",
        status=status,
        viewer=viewer,
        project=project,
        role=role,
        tab="privacy",
        rules=rules,
        can_edit=role in MANAGERS,
        defaults=privacy.DEFAULT_URL_DENYLIST,
        presets=privacy.EXTRA_PATTERNS,
        **extra,
    )


def _days(raw: str, project: Project) -> int:
    if not raw.strip():
        return retention.retention_days(project.settings)
    if not raw.strip().isdigit():
        raise projects.ProjectError("retention must be a whole number of days")
    days = int(raw)
    if not 1 <= days <= 3650:
        raise projects.ProjectError("retention must be between 1 and 3650 days")
    return days


@router.get("/projects/{project_id}/privacy")
def privacy_form(
    request: Request, viewer: ViewerDep, project_id: DbId, saved: bool = False
) -> Response:
    project, role = project_for(request, viewer, project_id)
    return _page(request, viewer, project, role, project.privacy, saved=saved)


@router.post("/projects/{project_id}/privacy")
async def save_privacy(request: Request, viewer: ViewerDep, project_id: DbId) -> Response:
    form, project, role = await manager_form(request, viewer, project_id)
    submitted: dict[str, object] = {
        name: [line for line in str(form.get(name, "")).splitlines() if line.strip()]
        for name in LISTS
    }
    submitted |= {name: form.get(name) == "1" for name in FLAGS}
    submitted["extra_patterns"] = [str(v) for v in form.getlist("extra_patterns")]
    try:
        rules = privacy.parse(submitted)
        days = _days(str(form.get("retention_days", "")), project)
    except (privacy.PrivacyError, projects.ProjectError) as exc:
        return _page(request, viewer, project, role, project.privacy, status=400, error=str(exc))
    with ctx_of(request).engine.begin() as conn:
        before = project.privacy.to_json()
        saved = projects.save_privacy(conn, project, rules)
        projects.save_retention(conn, saved, days)
        changed = {k: v for k, v in rules.to_json().items() if before.get(k) != v}
        if days != retention.retention_days(project.settings):
            changed["retention_days"] = days
        audit.record(
            conn,
            organisation_id=project.organisation_id,
            user_id=viewer.user.id,
            actor=viewer.user.email,
            action="privacy.update",
            object_type="project",
            object_id=str(project.id),
            detail={"changed": changed},
            address=address_of(request),
        )
    return RedirectResponse(f"/projects/{project.id}/privacy?saved=1", status_code=303)
