"""Console: your own account — password, second factor, API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from sessionlens.accounts import audit, members, tokens, twofactor, users
from sessionlens.console.common import ViewerDep, address_of, ctx_of, render
from sessionlens.web import auth
from sessionlens.web.params import DbId

router = APIRouter(include_in_schema=False)


def _audit(request: Request, viewer: auth.Viewer, action: str, **detail: object) -> None:
    with ctx_of(request).engine.begin() as conn:
        for org_id in users.organisation_ids(conn, viewer.user.id):
            audit.record(
                conn,
                organisation_id=org_id,
                user_id=viewer.user.id,
                actor=viewer.user.email,
                action=action,
                object_type="user",
                object_id=str(viewer.user.id),
                detail=dict(detail),
                address=address_of(request),
            )


def _page(request: Request, viewer: auth.Viewer, status: int = 200, **extra: object) -> Response:
    ctx = ctx_of(request)
    with ctx.engine.connect() as conn:
        has_2fa = twofactor.enabled(conn, viewer.user.id)
        required = twofactor.required_for(conn, viewer.user.id)
        remaining = twofactor.remaining_recovery_codes(conn, viewer.user.id)
        my_tokens = tokens.list_api_tokens(conn, viewer.user.id)
        orgs = members.organisations_of(conn, viewer.user.id)
    setup = None
    if not has_2fa:
        secret = str(extra.pop("pending_secret", "") or twofactor.new_secret())
        uri = twofactor.provisioning_uri(secret, viewer.user.email)
        setup = {"secret": secret, "qr": twofactor.qr_svg(uri)}
    extra.setdefault("error", None)
    return render(
        request,
        "account.html",
        status=status,
        viewer=viewer,
        has_2fa=has_2fa,
        required=required,
        remaining=remaining,
        tokens=my_tokens,
        orgs=orgs,
        org_names={o[0]: o[1] for o in orgs},
        setup=setup,
        **extra,
    )


@router.get("/account")
def account(request: Request, viewer: ViewerDep, required: int = 0) -> Response:
    return _page(request, viewer, must_set_up=bool(required))


@router.post("/account/password")
def change_password(
    request: Request,
    viewer: ViewerDep,
    current: Annotated[str, Form(max_length=1024)] = "",
    new: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    auth.check_csrf(csrf_token, viewer.csrf)
    # Decide inside the transaction, render after it: on SQLite a second connection
    # opened while this one writes would wait for the lock.
    error = None
    with ctx_of(request).engine.begin() as conn:
        if users.authenticate(conn, viewer.user.email, current) is None:
            error = "Your current password is wrong."
        else:
            try:
                users.set_password(conn, viewer.user.id, new)
            except users.AccountError as exc:
                error = str(exc)
    if error:
        return _page(request, viewer, status=400, error=error)
    _audit(request, viewer, "account.password_change")
    return _page(request, viewer, notice="Password changed.")


@router.post("/account/2fa/enable")
def enable_2fa(
    request: Request,
    viewer: ViewerDep,
    secret: Annotated[str, Form(max_length=64)] = "",
    code: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    auth.check_csrf(csrf_token, viewer.csrf)
    ctx = ctx_of(request)
    with ctx.engine.connect() as conn:
        already = twofactor.enabled(conn, viewer.user.id)
    if already:
        return _page(request, viewer, status=400, error="The second factor is already on.")
    with ctx.engine.begin() as conn:
        codes = twofactor.enable(conn, ctx.settings.secret_key, viewer.user.id, secret, code)
    if codes is None:
        return _page(
            request,
            viewer,
            status=400,
            pending_secret=secret,
            error="That code does not match; check your app's clock and try again.",
        )
    _audit(request, viewer, "account.2fa_enable")
    return _page(
        request,
        viewer,
        recovery_codes=codes,
        notice="Second factor on. Keep these recovery codes somewhere safe.",
    )


@router.post("/account/2fa/disable")
def disable_2fa(
    request: Request,
    viewer: ViewerDep,
    password: Annotated[str, Form(max_length=1024)] = "",
    code: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    auth.check_csrf(csrf_token, viewer.csrf)
    ctx = ctx_of(request)
    error = None
    with ctx.engine.begin() as conn:
        if twofactor.required_for(conn, viewer.user.id):
            error = "Your organisation requires a second factor."
        elif users.authenticate(conn, viewer.user.email, password) is None or not (
            twofactor.verify(conn, ctx.settings.secret_key, viewer.user.id, code)
        ):
            error = "Password or code is wrong."
        else:
            twofactor.disable(conn, viewer.user.id)
    if error:
        return _page(request, viewer, status=400, error=error)
    _audit(request, viewer, "account.2fa_disable")
    return _page(request, viewer, notice="Second factor off.")


@router.post("/account/tokens")
def create_token(
    request: Request,
    viewer: ViewerDep,
    name: Annotated[str, Form(max_length=200)] = "",
    organisation_id: Annotated[int, Form()] = 0,
    scope: Annotated[str, Form()] = "read",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    auth.check_csrf(csrf_token, viewer.csrf)
    try:
        with ctx_of(request).engine.begin() as conn:
            token = tokens.create_api_token(
                conn, viewer.user.id, name or "console", organisation_id or None, scope
            )
    except ValueError as exc:
        return _page(request, viewer, status=400, error=str(exc))
    _audit(request, viewer, "token.create", scope=scope, organisation=organisation_id)
    return _page(
        request, viewer, new_token=token, notice="Copy this token now: it is shown only once."
    )


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    request: Request, viewer: ViewerDep, token_id: DbId, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    auth.check_csrf(csrf_token, viewer.csrf)
    with ctx_of(request).engine.begin() as conn:
        done = tokens.revoke_api_token(conn, viewer.user.id, token_id)
    if not done:
        return _page(request, viewer, status=404, error="No such token.")
    _audit(request, viewer, "token.revoke", token=token_id)
    return _page(request, viewer, notice="Token revoked.")
