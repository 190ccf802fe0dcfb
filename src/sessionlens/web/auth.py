"""Who is asking: console logins (cookie) and API clients (bearer token)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import HTTPException, Request, Response

from sessionlens.accounts import tokens, twofactor
from sessionlens.accounts.users import User
from sessionlens.context import ctx_of as _ctx

LOGIN_COOKIE = "sl_login"
PRELOGIN_CSRF_COOKIE = "sl_csrf"


class LoginRequired(Exception):
    """Raised by console routes; answered with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class SecondFactorRequired(Exception):
    """The user's organisation requires a second factor they have not set up yet."""


# Where a user without the required second factor may still go: to set it up, or leave.
SECOND_FACTOR_SETUP_PATHS = ("/account", "/logout")


class Viewer:
    """A logged-in console user and their CSRF token."""

    def __init__(self, user: User, csrf: str) -> None:
        self.user = user
        self.csrf = csrf


def cookie_secure(request: Request) -> bool:
    return _ctx(request).settings.is_https


def viewer(request: Request) -> Viewer:
    """The console user, or LoginRequired."""
    secret = request.cookies.get(LOGIN_COOKIE)
    if secret:
        with _ctx(request).engine.connect() as conn:
            found = tokens.find_login(conn, secret)
        if found is not None:
            viewer_ = Viewer(*found)
            if not request.url.path.startswith(SECOND_FACTOR_SETUP_PATHS):
                with _ctx(request).engine.connect() as conn:
                    missing = twofactor.required_for(conn, viewer_.user.id) and not (
                        twofactor.enabled(conn, viewer_.user.id)
                    )
                if missing:
                    raise SecondFactorRequired()
            return viewer_
    raise LoginRequired(request.url.path)


def check_csrf(request_token: str | None, expected: str) -> None:
    if not request_token or not hmac.compare_digest(request_token, expected):
        raise HTTPException(
            403,
            "the form has expired or did not come from this site; reload the page and try again",
        )


def set_login_cookie(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        secret,
        max_age=int(tokens.LOGIN_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
        path="/",
    )


def _sign(request: Request, nonce: str) -> str:
    key = hashlib.sha256(b"prelogin-csrf:" + _ctx(request).settings.secret_key.encode()).digest()
    return nonce + "." + hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


def prelogin_csrf(request: Request) -> str:
    """The login form's token (no login session exists yet): signed by the server and
    also kept in a cookie, so a forged form needs both the cookie and the signature."""
    current = request.cookies.get(PRELOGIN_CSRF_COOKIE, "")
    if current and prelogin_valid(request, current):
        return current
    return _sign(request, secrets.token_urlsafe(24))


def prelogin_valid(request: Request, token: str) -> bool:
    nonce = token.split(".", 1)[0]
    return hmac.compare_digest(_sign(request, nonce), token)


def set_prelogin_cookie(request: Request, response: Response, token: str, path: str = "/") -> None:
    response.set_cookie(
        PRELOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
        path=path,
    )


def api_user(request: Request) -> tokens.ApiCaller:
    """The API caller from `Authorization: Bearer <token>`, or 401. Write methods need a
    read-write token."""
    user = api_reader(request)
    if request.method not in ("GET", "HEAD", "OPTIONS") and user.scope != "write":
        raise HTTPException(403, "this API token is read-only")
    return user


def api_reader(request: Request) -> tokens.ApiCaller:
    """The API caller, of any scope: for a route that only reads whatever its method (a
    query sent as a POST body)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401,
            "send an API token as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with _ctx(request).engine.begin() as conn:
        user = tokens.user_for_api_token(conn, token.strip())
    if user is None:
        raise HTTPException(
            401, "the API token is not valid", headers={"WWW-Authenticate": "Bearer"}
        )
    return user
