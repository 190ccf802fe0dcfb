"""Console: an organisation's members, invitations, audit log, and deleting it."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from sessionlens import projects
from sessionlens.accounts import audit, mail, members, onetime, twofactor
from sessionlens.accounts.users import ROLES, AccountError, normalise_email
from sessionlens.console.common import ViewerDep, ctx_of, record_action, render
from sessionlens.ingest.queue import DeadLetter, QueueUnavailable
from sessionlens.recordings.subjects import erase_sessions
from sessionlens.storage.tables import project, session
from sessionlens.web import auth
from sessionlens.web.params import DbId

router = APIRouter(include_in_schema=False)


def _role(request: Request, viewer: auth.Viewer, org_id: DbId) -> str:
    with ctx_of(request).engine.connect() as conn:
        role = projects.role_in(conn, viewer.user.id, org_id)
    if role is None:
        raise HTTPException(404, "No such organisation.")
    return role


def _manager(request: Request, viewer: auth.Viewer, org_id: DbId) -> str:
    role = _role(request, viewer, org_id)
    if role not in ("owner", "admin"):
        raise HTTPException(403, "Only owners and admins of the organisation may do this.")
    return role


def _audit(
    request: Request,
    viewer: auth.Viewer,
    org_id: DbId,
    action: str,
    object_id: str,
    detail: dict[str, object],
) -> None:
    record_action(request, viewer, org_id, action, "user", object_id, detail)


@router.get("/organisations")
def organisation_list(request: Request, viewer: ViewerDep) -> Response:
    with ctx_of(request).engine.connect() as conn:
        mine = members.organisations_of(conn, viewer.user.id)
    return render(request, "organisations.html", viewer=viewer, organisations=mine)


@router.get("/organisations/{org_id}")
def organisation_page(
    request: Request, viewer: ViewerDep, org_id: DbId, error: str | None = None
) -> Response:
    role = _manager(request, viewer, org_id)
    with ctx_of(request).engine.connect() as conn:
        people = members.members(conn, org_id)
        invites = onetime.pending_invites(conn, org_id)
        owned = conn.execute(
            select(project.c.id, project.c.name)
            .where(project.c.organisation_id == org_id)
            .order_by(project.c.name)
        ).all()
        name = members.organisation_name(conn, org_id)
    return render(
        request,
        "organisation.html",
        viewer=viewer,
        org_id=org_id,
        org_name=name,
        role=role,
        people=people,
        invites=invites,
        projects=owned,
        roles=ROLES,
        error=error,
    )


def _back(org_id: DbId, error: str | None = None) -> Response:
    suffix = f"?error={quote(error)}" if error else ""
    return RedirectResponse(f"/organisations/{org_id}{suffix}", status_code=303)


@router.post("/organisations/{org_id}/invites")
def invite(
    request: Request,
    viewer: ViewerDep,
    org_id: DbId,
    email: Annotated[str, Form(max_length=320)] = "",
    role: Annotated[str, Form()] = "member",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    auth.check_csrf(csrf_token, viewer.csrf)
    actor_role = _manager(request, viewer, org_id)
    if role not in ROLES or (role == "owner" and actor_role != "owner"):
        return _back(org_id, "You cannot invite with that role.")
    try:
        address = normalise_email(email)
    except AccountError as exc:
        return _back(org_id, str(exc))
    ctx = ctx_of(request)
    with ctx.engine.begin() as conn:
        token = onetime.issue(
            conn, "invite", address, organisation_id=org_id, role=role, invited_by=viewer.user.id
        )
        name = members.organisation_name(conn, org_id)
    mail.send(
        ctx.settings,
        address,
        f"You are invited to {name} on sessionlens",
        f"{viewer.user.email} invites you to join {name} on sessionlens as {role}.\n\n"
        f"Accept within 7 days: {ctx.settings.base_url}/invites/{token}\n",
    )
    _audit(request, viewer, org_id, "member.invite", "", {"role": role})
    return _back(org_id)


@router.post("/organisations/{org_id}/members/{user_id}")
async def change_member(
    request: Request, viewer: ViewerDep, org_id: DbId, user_id: DbId
) -> Response:
    form = await request.form()
    auth.check_csrf(str(form.get("csrf_token", "")), viewer.csrf)
    actor_role = _manager(request, viewer, org_id)
    action = str(form.get("action", "update"))
    try:
        with ctx_of(request).engine.begin() as conn:
            if action == "remove":
                members.remove(conn, org_id, actor_role, user_id)
            else:
                picked = [int(str(v)) for v in form.getlist("projects") if str(v).isdigit()]
                members.change(conn, org_id, actor_role, user_id, str(form.get("role", "")), picked)
    except AccountError as exc:
        return _back(org_id, str(exc))
    detail: dict[str, object] = {"action": action}
    if action != "remove":
        detail |= {
            "role": str(form.get("role", "")),
            "projects": [str(v) for v in form.getlist("projects")],
        }
    _audit(
        request,
        viewer,
        org_id,
        f"member.{'remove' if action == 'remove' else 'update'}",
        str(user_id),
        detail,
    )
    return _back(org_id)


@router.post("/organisations/{org_id}/settings")
def organisation_settings(
    request: Request,
    viewer: ViewerDep,
    org_id: DbId,
    require_2fa: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    auth.check_csrf(csrf_token, viewer.csrf)
    if _role(request, viewer, org_id) != "owner":
        raise HTTPException(403, "Only an owner can change this.")
    with ctx_of(request).engine.begin() as conn:
        twofactor.set_required(conn, org_id, require_2fa == "1")
    _audit(
        request, viewer, org_id, "organisation.settings", "", {"require_2fa": require_2fa == "1"}
    )
    return _back(org_id)


@router.get("/organisations/{org_id}/audit")
def audit_page(request: Request, viewer: ViewerDep, org_id: DbId) -> Response:
    _manager(request, viewer, org_id)
    with ctx_of(request).engine.connect() as conn:
        entries = audit.entries(conn, org_id, limit=500)
        name = members.organisation_name(conn, org_id)
    return render(
        request, "audit.html", viewer=viewer, org_id=org_id, org_name=name, entries=entries
    )


@router.get("/organisations/{org_id}/health")
def health_page(request: Request, viewer: ViewerDep, org_id: DbId) -> Response:
    """The ingest queue and the organisation's dead letters: batches set aside because
    their content could not be processed (time, project, session, reason; no content)."""
    _manager(request, viewer, org_id)
    ctx = ctx_of(request)
    with ctx.engine.connect() as conn:
        name = members.organisation_name(conn, org_id)
        names = {p.id: p.name for p in projects.for_user(conn, viewer.user.id, org_id)}
    queue = ctx.queue
    try:
        dead: list[DeadLetter] | None = queue.dead_letters(sorted(names), limit=100)
    except QueueUnavailable:
        dead = None  # the page says it cannot read them now
    return render(
        request,
        "health.html",
        viewer=viewer,
        org_id=org_id,
        org_name=name,
        queue=queue.describe(),
        ready=queue.ready(),
        pending=queue.pending(),
        dead=dead,
        project_names=names,
    )


@router.post("/organisations/{org_id}/delete")
def delete_organisation(
    request: Request,
    viewer: ViewerDep,
    org_id: DbId,
    csrf_token: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    auth.check_csrf(csrf_token, viewer.csrf)
    if _role(request, viewer, org_id) != "owner":
        raise HTTPException(403, "Only an owner can delete the organisation.")
    ctx = ctx_of(request)
    with ctx.engine.begin() as conn:
        name = members.organisation_name(conn, org_id)
        if confirm.strip() != name:
            return _back(org_id, "Type the organisation's name to confirm the deletion.")
        for project_id in (
            conn.execute(select(project.c.id).where(project.c.organisation_id == org_id))
            .scalars()
            .all()
        ):
            ids = list(
                conn.execute(
                    select(session.c.id).where(session.c.project_id == project_id)
                ).scalars()
            )
            erase_sessions(conn, ctx.blobs, project_id, ids)
        members.delete_organisation(conn, org_id)
    return RedirectResponse("/organisations", status_code=303)
