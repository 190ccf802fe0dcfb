"""Liveness (/healthz), readiness (/readyz) and Prometheus metrics (/metrics).

/healthz answers 200 while the process runs and touches nothing else. /readyz checks what
a request needs (the database, the ingest queue, a write to the blob store), each under a
time limit, and answers 503 naming what failed. /metrics is for a scraper: with
SESSIONLENS_METRICS_TOKEN set it wants that bearer token, without it it answers only
direct requests from loopback. None of the three is in the API's schema.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from sessionlens import metrics
from sessionlens.context import Context, ctx_of
from sessionlens.ingest import log
from sessionlens.storage.blobs import PROBE_KEY, ObjectBlobStore
from sessionlens.storage.tables import utcnow

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
CHECK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class QueueState:
    ready: bool
    pending: int | None
    oldest_age_s: float | None


def queue_state(ctx: Context) -> QueueState:
    """How the ingest queue is doing: the one place that asks it. The queue on the Context
    when there is one (NATS JetStream or the SQL log behind its interface), else the SQL
    ingest log directly. The age of the oldest waiting batch is known for the SQL log."""
    queue: Any = getattr(ctx, "queue", None)
    if queue is not None and getattr(queue, "kind", "sql") != "sql":
        oldest = getattr(queue, "oldest_age_s", None)
        return QueueState(
            bool(queue.ready()), queue.pending(), oldest() if callable(oldest) else None
        )
    with ctx.engine.connect() as conn:
        pending = log.pending_count(conn)
        since: datetime | None = log.oldest_pending(conn)
    age = max(0.0, (utcnow() - since).total_seconds()) if since is not None else 0.0
    return QueueState(True, pending, age)


def _check_database(ctx: Context) -> dict[str, Any]:
    with ctx.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {}


def _check_queue(ctx: Context) -> dict[str, Any]:
    state = queue_state(ctx)
    if not state.ready:
        raise RuntimeError("the queue cannot store batches now")
    return {"pending": state.pending}


def _check_blobs(ctx: Context) -> dict[str, Any]:
    inner = ctx.blobs.inner
    if isinstance(inner, ObjectBlobStore):
        inner.probe()
    else:
        inner.list(PROBE_KEY)
    return {}


CHECKS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "database": _check_database,
    "queue": _check_queue,
    "blob_store": _check_blobs,
}


async def _run(
    name: str, check: Callable[[Context], dict[str, Any]], ctx: Context
) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        found = await asyncio.wait_for(asyncio.to_thread(check, ctx), CHECK_TIMEOUT_S)
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_S:g} s"}
    except Exception as exc:
        reason = str(exc).split("\n", 1)[0][:300] or type(exc).__name__
        return {"ok": False, "error": reason}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **found}


async def readiness(ctx: Context) -> dict[str, dict[str, Any]]:
    results = await asyncio.gather(*(_run(name, check, ctx) for name, check in CHECKS.items()))
    return dict(zip(CHECKS, results, strict=True))


async def log_unready(ctx: Context) -> None:
    """At start-up: say clearly in the log what is not usable (a missing bucket, refused
    credentials, an unreachable database); the server still starts and /readyz says 503."""
    for name, result in (await readiness(ctx)).items():
        if not result["ok"]:
            logger.error("not ready: %s: %s", name, result["error"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    ctx = ctx_of(request)
    checks = await readiness(ctx)
    failed = sorted(name for name, result in checks.items() if not result["ok"])
    previous = getattr(request.app.state, "unready", None)
    if failed != previous:
        # Logged when it changes, not on every probe of a load balancer.
        request.app.state.unready = failed
        for name in failed:
            logger.warning("not ready: %s: %s", name, checks[name]["error"])
        if not failed and previous:
            logger.info("ready again")
    body = {"status": "unready" if failed else "ready", "failed": failed, "checks": checks}
    return JSONResponse(body, status_code=503 if failed else 200)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _metrics_allowed(request: Request, token: str | None) -> bool:
    if token:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    # Without a token: only a scraper on this machine, not a request through a local proxy.
    forwarded = any(h in request.headers for h in ("x-forwarded-for", "forwarded", "x-real-ip"))
    client = request.client.host if request.client else ""
    return _is_loopback(client) and not forwarded


def _queue_lines(ctx: Context) -> Iterable[str]:
    try:
        state = queue_state(ctx)
    except Exception as exc:
        logger.warning("metrics: cannot read the queue: %s", str(exc).split("\n", 1)[0][:200])
        return
    yield from metrics.gauge(
        "sessionlens_processor_pending_batches",
        "Batches accepted but not yet processed.",
        state.pending if state.pending is not None else float("nan"),
    )
    yield from metrics.gauge(
        "sessionlens_processor_oldest_pending_seconds",
        "Age of the oldest batch waiting for the processor, in seconds (0 when none waits).",
        state.oldest_age_s if state.oldest_age_s is not None else float("nan"),
    )
    counters = getattr(getattr(ctx, "queue", None), "counters", None)
    if counters is not None:
        for name, value in sorted(counters.snapshot().items()):
            yield from metrics.gauge(
                f"sessionlens_queue_{name}_total",
                f"Batches {name.replace('_', ' ')} by the queue in this process.",
                value,
                kind="counter",
            )


@router.get("/metrics")
async def metrics_page(request: Request) -> Response:
    ctx = ctx_of(request)
    if not _metrics_allowed(request, ctx.settings.metrics_token):
        return JSONResponse(
            {"error": "metrics need the bearer token (SESSIONLENS_METRICS_TOKEN)"}, status_code=403
        )
    extra = await asyncio.to_thread(lambda: list(_queue_lines(ctx)))
    return PlainTextResponse(metrics.render(extra), media_type=metrics.CONTENT_TYPE)
