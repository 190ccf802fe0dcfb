"""What every request leaves behind: a request id, log fields, an access line in JSON
mode, and the ingest's metrics (outcome by reason, bytes received, latency)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sessionlens import metrics
from sessionlens.ingest.routes import truncate_address
from sessionlens.web.logs import REQUEST, safe_path

access_log = logging.getLogger("sessionlens.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_INGEST = re.compile(r"^/i/v1/[^/]+/batch$")
# Why the ingest answered as it did, by status (the route's own statuses).
OUTCOMES = {
    400: "invalid",
    403: "origin_not_allowed",
    404: "unknown_project",
    408: "timeout",
    413: "too_large",
    429: "rate_limited",
    503: "unavailable",
}


def outcome(status: int, body: bytes) -> str:
    if 200 <= status < 300:
        if b'"kept":false' in body:
            return "not_kept"
        return "duplicate" if b'"duplicate":true' in body else "accepted"
    if status == 429 and b'"quota":true' in body:
        return "over_quota"
    return OUTCOMES.get(status, f"status_{status}")


class Observe:
    def __init__(self, app: ASGIApp, access_lines: bool) -> None:
        self.app = app
        self.access_lines = access_lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex[:16]
        path = str(scope.get("path", ""))
        method = str(scope.get("method", ""))
        client = scope.get("client")
        fields: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "path": safe_path(path),
            "client": truncate_address(client[0]) if client else "",
        }
        token = REQUEST.set(fields)
        ingest = method == "POST" and _INGEST.match(path) is not None
        received = 0
        status = 500
        body = b""

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def observing_send(message: Message) -> None:
            nonlocal status, body
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            elif message["type"] == "http.response.body" and ingest and len(body) < 256:
                body += message.get("body", b"")[:256]
            await send(message)

        try:
            await self.app(scope, counting_receive if ingest else receive, observing_send)
        finally:
            elapsed = time.perf_counter() - started
            if ingest:
                metrics.INGEST_LATENCY.observe(elapsed)
                metrics.INGEST_BYTES.inc(received)
                metrics.BATCHES.inc(1, outcome(status, body))
            if self.access_lines:
                access_log.info(
                    "%s %s %d",
                    method,
                    fields["path"],
                    status,
                    extra={"http": {"status": status, "duration_ms": round(elapsed * 1000, 2)}},
                )
            REQUEST.reset(token)
