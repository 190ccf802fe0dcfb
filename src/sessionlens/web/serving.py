"""Running the app with uvicorn: plain HTTP, or HTTPS with an optional redirect listener."""

from __future__ import annotations

import asyncio

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from sessionlens.config import Settings


def redirect_app(https_port: int) -> ASGIApp:
    """Answers every plain-HTTP request with a permanent redirect to the HTTPS port."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"localhost").decode("latin-1").rsplit(":", 1)[0]
        target = f"https://{host}:{https_port}{scope.get('path', '/')}"
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        await send(
            {
                "type": "http.response.start",
                "status": 308,
                "headers": [(b"location", target.encode("latin-1")), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    return app


def _config(app: ASGIApp, settings: Settings, port: int, tls: bool) -> uvicorn.Config:
    trusted = settings.trusted_proxies or ""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=port,
        log_level="info",
        # Logging is configured by web/logs.py (text or JSON), and the app writes its own
        # access lines (web/observe.py: no query strings, no one-time tokens); uvicorn's
        # would print both, and the client's full address.
        log_config=None,
        access_log=False,
        server_header=False,
        # X-Forwarded-* only from the configured proxies; none by default.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or "",
        ssl_certfile=settings.tls_cert if tls else None,
        ssl_keyfile=settings.tls_key if tls else None,
    )


def serve_app(app: ASGIApp, settings: Settings) -> None:
    tls = settings.tls_cert is not None
    main = uvicorn.Server(_config(app, settings, settings.port, tls))
    if not (tls and settings.http_redirect_port):
        main.run()
        return
    redirect = uvicorn.Server(
        _config(redirect_app(settings.port), settings, settings.http_redirect_port, tls=False)
    )

    async def both() -> None:
        await asyncio.gather(main.serve(), redirect.serve())

    asyncio.run(both())
