"""Security headers on every response; the strict CSP on console pages."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The replay iframe is about:blank and inherits this policy, so a recorded <script> cannot
# run even if it got past rrweb's rebuild. Images and fonts of recorded pages come from the
# recorded site, hence the wide img-src and font-src.
CONSOLE_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline' https: http:",
        "img-src 'self' data: blob: https: http:",
        "font-src 'self' data: https: http:",
        "media-src 'self' data: blob: https: http:",
        "connect-src 'self'",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

# Paths that are not the console: the recorded site's own pages and the public endpoints.
PUBLIC_PREFIXES = ("/demo", "/i/", "/sessionlens.js")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        console = not str(scope["path"]).startswith(PUBLIC_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff")]
                if console:
                    extra += [
                        (b"content-security-policy", CONSOLE_CSP.encode()),
                        (b"x-frame-options", b"DENY"),
                        (b"referrer-policy", b"same-origin"),
                        (b"cross-origin-opener-policy", b"same-origin"),
                    ]
                if self.https:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                headers += [(k, v) for k, v in extra if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
