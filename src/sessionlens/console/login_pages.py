"""Console: logging in (password, then the second factor when enabled) and out.

Attempts are throttled per account and per address; every attempt is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection

from sessionlens.accounts import audit, throttle, tokens, twofactor, users
from sessionlens.console.common import ViewerDep, address_of, ctx_of, render
from sessionlens.storage.tables import utcnow
from sessionlens.web import auth

router = APIRouter(include_in_schema=False)
MFA_COOKIE = "sl_mfa"
MFA_SECONDS = 300


def safe_next(raw: str | None) -> str:
    """Only same-site paths, so the login form cannot redirect elsewhere."""
    if raw and raw.startswith("/") and not raw.startswith(("//", "/\\")):
        return raw
    return "/projects"


def record_login(
    conn: Connection,
    request: Request,
    email: str,
    user: users.User | None,
    action: str | None = None,
) -> None:
    """Audit a login attempt: a success in each organisation of the account, a failure
    once (it is also what throttling counts)."""
    known = user or users.find_user(conn, email)
    org_ids = users.organisation_ids(conn, known.id) if known else []
    action = action or ("login.success" if user else "login.failure")
    targets: list[int | None] = list(org_ids if action == "login.success" else org_ids[:1])
    for org_id in targets or [None]:
        audit.record(
            conn,
            organisation_id=org_id,
            user_id=known.id if known else None,
            actor=email.strip().lower()[:320],
            action=action,
            address=address_of(request),
        )


def _form(request: Request, status: int = 200, **context: object) -> Response:
    token = auth.prelogin_csrf(request)
    context.setdefault("error", None)
    response = render(
        request,
        "login.html",
        status=status,
        csrf=token,
        signup=ctx_of(request).settings.signup,
        **context,
    )
    auth.set_prelogin_cookie(request, response, token)
    return response


def _throttled(request: Request, conn: Connection, email: str) -> Response | None:
    wait = throttle.retry_after(conn, email, address_of(request), utcnow())
    if not wait:
        return None
    minutes = max(1, round(wait / 60))
    response = _form(
        request,
        status=429,
        next="/projects",
        email=email,
        error=f"Too many failed attempts. Try again in about {minutes} minutes.",
    )
    response.headers["Retry-After"] = str(wait)
    return response


def _finish(request: Request, conn: Connection, user: users.User, to: str) -> Response:
    # A new secret on every login: a cookie planted before login is never reused.
    old = request.cookies.get(auth.LOGIN_COOKIE)
    if old:
        tokens.end_login(conn, old)
    secret, _ = tokens.start_login(conn, user.id)
    record_login(conn, request, user.email, user)
    response = RedirectResponse(safe_next(to), status_code=303)
    auth.set_login_cookie(request, response, secret)
    response.delete_cookie(auth.PRELOGIN_CSRF_COOKIE, path="/")
    response.delete_cookie(MFA_COOKIE, path="/")
    return response


def _mfa_value(request: Request, user_id: int, expires: int) -> str:
    key = hashlib.sha256(b"mfa:" + ctx_of(request).settings.secret_key.encode()).digest()
    body = f"{user_id}.{expires}"
    return body + "." + hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def _mfa_user(request: Request) -> int | None:
    raw = request.cookies.get(MFA_COOKIE, "")
    parts = raw.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    user_id, expires = int(parts[0]), int(parts[1])
    if expires < time.time() or not hmac.compare_digest(_mfa_value(request, user_id, expires), raw):
        return None
    return user_id


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return _form(request, next=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/projects",
) -> Response:
    auth.check_csrf(csrf_token, request.cookies.get(auth.PRELOGIN_CSRF_COOKIE, ""))
    if not auth.prelogin_valid(request, csrf_token):
        raise HTTPException(403, "the form has expired; reload the page and try again")
    with ctx_of(request).engine.begin() as conn:
        blocked = _throttled(request, conn, email)
        if blocked is not None:
            return blocked
        user = users.authenticate(conn, email, password)
        if user is None:
            record_login(conn, request, email, None)
            return _form(
                request,
                status=400,
                next=safe_next(next),
                email=email,
                error="Wrong email or password.",
            )
        if not twofactor.enabled(conn, user.id):
            return _finish(request, conn, user, next)
    # Password right, second factor to come: remember who, briefly, in a signed cookie.
    response = RedirectResponse(f"/login/2fa?next={safe_next(next)}", status_code=303)
    response.set_cookie(
        MFA_COOKIE,
        _mfa_value(request, user.id, int(time.time()) + MFA_SECONDS),
        max_age=MFA_SECONDS,
        httponly=True,
        samesite="strict",
        secure=auth.cookie_secure(request),
        path="/",
    )
    return response


@router.get("/login/2fa")
def second_factor_form(request: Request, next: str | None = None) -> Response:
    if _mfa_user(request) is None:
        return RedirectResponse("/login", status_code=303)
    token = auth.prelogin_csrf(request)
    response = render(request, "login_2fa.html", csrf=token, next=safe_next(next), error=None)
    auth.set_prelogin_cookie(request, response, token)
    return response


@router.post("/login/2fa")
def second_factor(
    request: Request,
    code: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/projects",
) -> Response:
    auth.check_csrf(csrf_token, request.cookies.get(auth.PRELOGIN_CSRF_COOKIE, ""))
    user_id = _mfa_user(request)
    if user_id is None:
        return RedirectResponse("/login", status_code=303)
    ctx = ctx_of(request)
    with ctx.engine.begin() as conn:
        user = users.get_user(conn, user_id)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        wait = throttle.retry_after(conn, user.email, address_of(request), utcnow())
        if wait:
            raise HTTPException(
                429,
                "Too many failed attempts; try again later.",
                headers={"Retry-After": str(wait)},
            )
        if twofactor.verify(conn, ctx.settings.secret_key, user.id, code):
            return _finish(request, conn, user, next)
        record_login(conn, request, user.email, None, action="login.2fa_failure")
    return render(
        request,
        "login_2fa.html",
        status=400,
        csrf=csrf_token,
        next=safe_next(next),
        error="That code is not right (or was used already).",
    )


@router.post("/logout")
def logout(
    request: Request, viewer: ViewerDep, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    auth.check_csrf(csrf_token, viewer.csrf)
    with ctx_of(request).engine.begin() as conn:
        tokens.end_login(conn, request.cookies.get(auth.LOGIN_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.LOGIN_COOKIE, path="/")
    return response
