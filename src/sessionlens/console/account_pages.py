"""Console: sign-up, email verification, password reset and accepting an invitation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection

from sessionlens import projects
from sessionlens.accounts import audit, mail, members, onetime, tokens, users
from sessionlens.console.common import address_of, ctx_of, render
from sessionlens.web import auth

router = APIRouter(include_in_schema=False)


def _prelogin(request: Request, name: str, status: int = 200, **context: object) -> Response:
    token = auth.prelogin_csrf(request)
    response = render(request, name, status=status, csrf=token, **context)
    auth.set_prelogin_cookie(request, response, token, path="/")
    return response


def _check(request: Request, token: str) -> None:
    auth.check_csrf(token, request.cookies.get(auth.PRELOGIN_CSRF_COOKIE, ""))
    if not auth.prelogin_valid(request, token):
        raise HTTPException(403, "the form has expired; reload the page and try again")


def _log_in(request: Request, user_id: int, to: str) -> Response:
    with ctx_of(request).engine.begin() as conn:
        secret, _ = tokens.start_login(conn, user_id)
    response = RedirectResponse(to, status_code=303)
    auth.set_login_cookie(request, response, secret)
    return response


def send_verification(request: Request, user: users.User) -> None:
    ctx = ctx_of(request)
    with ctx.engine.begin() as conn:
        token = onetime.issue(conn, "verify", user.email, user_id=user.id)
    mail.send(
        ctx.settings,
        user.email,
        "Confirm your email for sessionlens",
        f"Confirm your email address by opening this link within 3 days:\n\n"
        f"{ctx.settings.base_url}/verify/{token}\n",
    )


@router.get("/signup")
def signup_form(request: Request) -> Response:
    if not ctx_of(request).settings.signup:
        raise HTTPException(404, "Sign-up is turned off on this server; ask for an invitation.")
    return _prelogin(request, "signup.html", error=None, form={})


@router.post("/signup")
def signup(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    website: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    ctx = ctx_of(request)
    if not ctx.settings.signup:
        raise HTTPException(404, "Sign-up is turned off on this server; ask for an invitation.")
    _check(request, csrf_token)
    form = {"name": name, "email": email, "website": website}
    try:
        with ctx.engine.begin() as conn:
            user = users.create_account(conn, email, name, password, verified=False)
            org_id = users.create_organisation(conn, name.strip() or user.email)
            members.add(conn, org_id, user.id, "owner")
            host = website.strip().split("//")[-1].split("/")[0] or "My website"
            created = projects.create_project(conn, org_id, host, [website])
            audit.record(
                conn,
                organisation_id=org_id,
                user_id=user.id,
                actor=user.email,
                action="account.signup",
                address=address_of(request),
            )
    except (users.AccountError, projects.ProjectError) as exc:
        return _prelogin(request, "signup.html", status=400, error=str(exc), form=form)
    send_verification(request, user)
    return _log_in(request, user.id, f"/projects?welcome={created.id}")


@router.get("/verify/{token}")
def verify(request: Request, token: str) -> Response:
    with ctx_of(request).engine.begin() as conn:
        grant = onetime.redeem(conn, "verify", token)
        if grant is None or grant.user_id is None:
            raise HTTPException(404, "This link is not valid any more; ask for a new one.")
        users.mark_verified(conn, grant.user_id)
    return render(
        request,
        "message.html",
        heading="Email confirmed",
        message="Thank you: your email address is confirmed.",
        link="/projects",
    )


@router.get("/password/forgot")
def forgot_form(request: Request) -> Response:
    return _prelogin(request, "forgot.html", sent=False)


@router.post("/password/forgot")
def forgot(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _check(request, csrf_token)
    ctx = ctx_of(request)
    with ctx.engine.begin() as conn:
        user = users.find_user(conn, email)
        token = onetime.issue(conn, "reset", user.email, user_id=user.id) if user else None
    if user is not None and token is not None:
        mail.send(
            ctx.settings,
            user.email,
            "Reset your sessionlens password",
            f"To choose a new password, open this link within an hour:\n\n"
            f"{ctx.settings.base_url}/password/reset/{token}\n\n"
            "If you did not ask for this, ignore this email.",
        )
    # The same answer whether or not the address has an account.
    return _prelogin(request, "forgot.html", sent=True)


@router.get("/password/reset/{token}")
def reset_form(request: Request, token: str) -> Response:
    with ctx_of(request).engine.connect() as conn:
        if onetime.peek(conn, "reset", token) is None:
            raise HTTPException(404, "This link is not valid any more; ask for a new one.")
    return _prelogin(request, "reset.html", token=token, error=None)


@router.post("/password/reset/{token}")
def reset(
    request: Request,
    token: str,
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _check(request, csrf_token)
    with ctx_of(request).engine.begin() as conn:
        grant = onetime.peek(conn, "reset", token)
        if grant is None or grant.user_id is None:
            raise HTTPException(404, "This link is not valid any more; ask for a new one.")
        problem = users.check_password(password)
        if problem:
            return _prelogin(request, "reset.html", status=400, token=token, error=problem)
        onetime.redeem(conn, "reset", token)
        users.set_password(conn, grant.user_id, password)
        # A reset ends every existing login of the account.
        tokens.end_all_logins(conn, grant.user_id)
        for org_id in users.organisation_ids(conn, grant.user_id):
            audit.record(
                conn,
                organisation_id=org_id,
                user_id=grant.user_id,
                actor=grant.email,
                action="account.password_reset",
                address=address_of(request),
            )
    return _log_in(request, grant.user_id, "/projects")


def _invite_page(
    request: Request,
    conn: Connection,
    token: str,
    grant: onetime.Grant,
    existing: bool,
    status: int = 200,
    error: str | None = None,
) -> Response:
    assert grant.organisation_id is not None
    return _prelogin(
        request,
        "invite.html",
        status=status,
        token=token,
        grant=grant,
        org_name=members.organisation_name(conn, grant.organisation_id),
        existing=existing,
        error=error,
    )


@router.get("/invites/{token}")
def invite_form(request: Request, token: str) -> Response:
    with ctx_of(request).engine.connect() as conn:
        grant = onetime.peek(conn, "invite", token)
        if grant is None or grant.organisation_id is None:
            raise HTTPException(404, "This invitation is not valid any more; ask for a new one.")
        existing = users.find_user(conn, grant.email) is not None
        return _invite_page(request, conn, token, grant, existing)


@router.post("/invites/{token}")
def accept_invite(
    request: Request,
    token: str,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    _check(request, csrf_token)
    with ctx_of(request).engine.begin() as conn:
        grant = onetime.peek(conn, "invite", token)
        if grant is None or grant.organisation_id is None or grant.role is None:
            raise HTTPException(404, "This invitation is not valid any more; ask for a new one.")
        user = users.find_user(conn, grant.email)
        if user is None:
            try:
                user = users.create_account(conn, grant.email, name, password)
            except users.AccountError as exc:
                return _invite_page(request, conn, token, grant, False, 400, str(exc))
        elif users.authenticate(conn, grant.email, password) is None:
            return _invite_page(
                request, conn, token, grant, True, 400, "Wrong password for this account."
            )
        onetime.redeem(conn, "invite", token)
        members.add(conn, grant.organisation_id, user.id, grant.role)
        audit.record(
            conn,
            organisation_id=grant.organisation_id,
            user_id=user.id,
            actor=user.email,
            action="member.join",
            object_type="user",
            object_id=str(user.id),
            detail={"role": grant.role},
            address=address_of(request),
        )
    return _log_in(request, user.id, "/projects")
