"""POST /i/v1/{project_key}/batch: validate, append to the ingest queue, then acknowledge."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sessionlens import metrics, projects
from sessionlens.context import ctx_of
from sessionlens.ingest import log
from sessionlens.ingest.body import BodyTooLarge, BodyUnreadable, decode, read_capped
from sessionlens.ingest.geo import lookup_for
from sessionlens.ingest.guard import scrub
from sessionlens.ingest.queue import QueueUnavailable
from sessionlens.ingest.quota import MonthlySessions
from sessionlens.ingest.ratelimit import IngestLimits
from sessionlens.ingest.schema import Batch, BatchError, encode_batch, parse_batch
from sessionlens.ingest.trim import trim_oversize
from sessionlens.ingest.urls import strip_batch_urls
from sessionlens.projects import Project
from sessionlens.storage.tables import utcnow
from sessionlens.surveys import store as survey_store

router = APIRouter(include_in_schema=False)
RETRY_AFTER_UNAVAILABLE_S = 5
MB = 1024 * 1024


def truncate_address(address: str) -> str:
    """Keep only the network part: /24 for IPv4, /48 for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def prepare(
    compressed: bytes,
    encoding: str,
    project: Project,
    max_inflated: int = 50 * MB,
    max_event: int = 5 * MB,
) -> tuple[Batch, bytes]:
    """Inflate, guard, parse and clean a batch: what is stored, and its parsed form."""
    raw = decode(compressed, encoding, max_inflated)
    # The server guard: card numbers (and the project's extra patterns) are masked in
    # every string before anything is parsed further or written.
    raw = scrub(raw, project.privacy.extra_patterns).body
    batch = parse_batch(raw)
    changed = strip_batch_urls(batch, project.privacy.denylist())
    # No event can be larger than the whole body: most batches skip the per-event sizes.
    if len(raw) > max_event:
        trimmed = trim_oversize(batch.events, max_event)
        if trimmed.assets:
            metrics.TRIMMED_ASSETS.inc(trimmed.assets)
            changed = True
    if changed:
        raw = encode_batch(batch)
    return batch, raw


def _limits(request: Request) -> IngestLimits:
    limits: IngestLimits | None = getattr(request.app.state, "ingest_limits", None)
    if limits is None:
        settings = ctx_of(request).settings
        limits = IngestLimits(settings.ingest_rate_per_project, settings.ingest_rate_per_address)
        request.app.state.ingest_limits = limits
    return limits


def _cors(origin: str | None) -> dict[str, str]:
    if not origin:
        return {}
    # Retry-After must be readable by the recorder's script on a 429.
    return {
        "Access-Control-Allow-Origin": origin,
        "Vary": "Origin",
        "Access-Control-Expose-Headers": "Retry-After",
    }


def _monthly(request: Request) -> MonthlySessions:
    counter: MonthlySessions | None = getattr(request.app.state, "monthly_sessions", None)
    if counter is None:
        ctx = ctx_of(request)
        counter = MonthlySessions(ctx.engine, ctx.settings.quota_cache_s)
        request.app.state.monthly_sessions = counter
    return counter


def _error(status: int, message: str, origin: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_cors(origin))


def _not_kept(reason: str, origin: str | None) -> JSONResponse:
    """Accepted and dropped on purpose: the recorder stops sending this session (sampled)
    or this page (not one of the pages to record)."""
    return JSONResponse(
        {"ok": True, "kept": False, "reason": reason}, status_code=202, headers=_cors(origin)
    )


def _over_quota(request: Request, project: Project, batch: Batch) -> bool:
    """A new session (seq 0, not stored yet) while the month's quota is used up."""
    quota = project.recording.monthly_quota
    if quota is None or batch.seq != 0:
        return False
    counter = _monthly(request)
    if counter.count(project.id, utcnow()) < quota:
        return False
    return not counter.known(project.id, batch.session_id)


def _origin_allowed(project: Project, origin: str | None) -> bool:
    if not origin:
        return False
    try:
        return projects.normalise_origin(origin) in project.website_origins
    except projects.ProjectError:
        return False


async def _project(request: Request, key: str) -> Project | None:
    ctx = ctx_of(request)

    def lookup() -> Project | None:
        with ctx.engine.connect() as conn:
            return projects.by_key(conn, key)

    return await run_in_threadpool(lookup)


async def cors_preflight(request: Request, project_key: str, allow_headers: str) -> Response:
    """The answer to a browser's CORS preflight for a POST from the project's website."""
    origin = request.headers.get("origin")
    project = await _project(request, project_key)
    if project is None:
        return _error(404, "unknown project key")
    if not _origin_allowed(project, origin):
        return _error(403, "origin not allowed for this project")
    headers = _cors(origin) | {
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": allow_headers,
        "Access-Control-Max-Age": "86400",
    }
    return Response(status_code=204, headers=headers)


@router.options("/i/v1/{project_key}/batch")
async def preflight(project_key: str, request: Request) -> Response:
    return await cors_preflight(request, project_key, "Content-Type, Content-Encoding")


@router.post("/i/v1/{project_key}/batch")
async def receive_batch(project_key: str, request: Request) -> Response:
    ctx = ctx_of(request)
    origin = request.headers.get("origin")
    project = await _project(request, project_key)
    if project is None:
        # Answering with CORS headers lets the recorder read the status and stop.
        return _error(404, "unknown project key", origin)
    if not _origin_allowed(project, origin):
        return _error(
            403,
            "origin not allowed for this project" if origin else "an Origin header is required",
            origin,
        )
    full_address = request.client.host if request.client else ""
    wait = _limits(request).check(project.id, full_address)
    if wait:
        response = _error(429, "too many batches; retry later", origin)
        response.headers["Retry-After"] = str(wait)
        return response
    settings = ctx.settings
    max_body = settings.ingest_max_body_mb * MB
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body:
        return _error(413, f"the body is over {settings.ingest_max_body_mb} MB", origin)
    try:
        compressed = await read_capped(request.stream(), max_body)
        # One trip to the thread pool for all the CPU work: each hop costs ~0.1 ms.
        batch, raw = await run_in_threadpool(
            prepare,
            compressed,
            request.headers.get("content-encoding", ""),
            project,
            settings.ingest_max_inflated_mb * MB,
            settings.ingest_max_event_mb * MB,
        )
    except BodyTooLarge as exc:
        return _error(413, str(exc), origin)
    except (BodyUnreadable, BatchError) as exc:
        return _error(400, str(exc), origin)
    rules = project.recording
    if not rules.keeps_session(batch.session_id):
        return _not_kept("sampled", origin)
    if not rules.keeps_url(str(batch.meta["url"])):
        return _not_kept("page", origin)
    if await run_in_threadpool(_over_quota, request, project, batch):
        # No Retry-After: the recorder must not retry this session (the protocol says so).
        return JSONResponse(
            {"error": "monthly session quota reached", "quota": True},
            status_code=429,
            headers=_cors(origin),
        )
    envelope = log.Envelope(
        user_agent=request.headers.get("user-agent", "")[:1000],
        # The country is read from the full address, which is then dropped: only the
        # truncated network part is ever stored.
        country=lookup_for(ctx.settings.geoip_database or "").country(full_address),
        address=truncate_address(full_address),
        received_at=utcnow(),
    )
    try:
        stored = await run_in_threadpool(ctx.queue.append, project.id, batch, raw, envelope)
    except QueueUnavailable:
        # Nothing was stored: the recorder keeps the batch and retries.
        response = _error(503, "cannot store batches right now; retry later", origin)
        response.headers["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE_S)
        return response
    if stored and batch.seq == 0:
        _monthly(request).accepted(project.id)
    processor = getattr(request.app.state, "processor", None)
    if processor is not None:
        processor.wake()
    return JSONResponse(
        {"ok": True, "duplicate": not stored}, status_code=202, headers=_cors(origin)
    )


@router.get("/i/v1/{project_key}/config")
async def recorder_config(project_key: str, request: Request) -> Response:
    """The project's privacy rules for the recorder: public, small and cacheable."""
    project = await _project(request, project_key)
    headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=60"}
    if project is None:
        return JSONResponse({"error": "unknown project key"}, status_code=404, headers=headers)
    engine = ctx_of(request).engine

    def live_surveys() -> list[dict[str, object]]:
        with engine.connect() as conn:
            live = survey_store.live(conn, project.id, utcnow().date())
            return [s.recorder_config() for s in live]

    return JSONResponse(
        project.privacy.recorder_config()
        | project.recording.recorder_config()
        | project.surveys.recorder_config()
        | {"surveys": await run_in_threadpool(live_surveys)},
        headers=headers,
    )
