"""The ASGI application: ingest, console, REST API, recorder script and demo shop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sessionlens.api.audit import router as api_audit_router
from sessionlens.api.forms import router as api_forms_router
from sessionlens.api.funnels import router as api_funnels_router
from sessionlens.api.heatmaps import router as api_heatmaps_router
from sessionlens.api.imports import router as api_imports_router
from sessionlens.api.reports import router as api_reports_router
from sessionlens.api.routes import router as api_router
from sessionlens.api.surveys import router as api_surveys_router
from sessionlens.api.visitors import router as api_visitors_router
from sessionlens.console.account_pages import router as account_pages_router
from sessionlens.console.common import render
from sessionlens.console.form_pages import router as form_pages_router
from sessionlens.console.funnel_pages import router as funnel_pages_router
from sessionlens.console.heatmap_pages import router as heatmap_pages_router
from sessionlens.console.login_pages import router as login_pages_router
from sessionlens.console.me_pages import router as me_pages_router
from sessionlens.console.org_pages import router as org_pages_router
from sessionlens.console.privacy_pages import router as privacy_pages_router
from sessionlens.console.recorded_pages import router as recorded_pages_router
from sessionlens.console.recording_pages import router as recording_pages_router
from sessionlens.console.report_pages import router as report_pages_router
from sessionlens.console.routes import router as console_router
from sessionlens.console.survey_pages import router as survey_pages_router
from sessionlens.console.visitor_pages import router as visitor_pages_router
from sessionlens.context import Context
from sessionlens.demo.routes import STATIC as DEMO_STATIC
from sessionlens.demo.routes import router as demo_router
from sessionlens.ingest.routes import router as ingest_router
from sessionlens.processing.processor import Processor
from sessionlens.recordings.subjects import SubjectError
from sessionlens.storage.blobs import BlobStoreUnavailable
from sessionlens.storage.crypto import BlobDecryptionError
from sessionlens.surveys.ingest import router as survey_ingest_router
from sessionlens.web import health
from sessionlens.web.auth import LoginRequired, SecondFactorRequired
from sessionlens.web.headers import SecurityHeaders
from sessionlens.web.observe import Observe

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "console" / "static"
RECORDER = STATIC / "build" / "sessionlens.js"
JSON_PREFIXES = ("/api/", "/i/")
API_SUMMARY = (
    "Read projects, sessions and recordings. Authenticate with "
    "'Authorization: Bearer <token>' (create one with `sessionlens token create`)."
)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(JSON_PREFIXES) or path.endswith("/blocks") or "/blocks/" in path


def _error_response(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    heading = {404: "Not found", 403: "Not allowed", 401: "Please log in"}.get(status, "Error")
    return render(request, "error.html", status=status, heading=heading, message=message)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": "log in first"}, status_code=401)
        return RedirectResponse(f"/login?next={exc.next_path}", status_code=303)

    @app.exception_handler(SecondFactorRequired)
    async def second_factor_required(request: Request, exc: SecondFactorRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": "set up a second factor first"}, status_code=403)
        return RedirectResponse("/account?required=1", status_code=303)

    @app.exception_handler(SubjectError)
    async def bad_subject(request: Request, exc: SubjectError) -> Response:
        return _error_response(request, 400, str(exc))

    @app.exception_handler(BlobDecryptionError)
    async def undecryptable(request: Request, exc: BlobDecryptionError) -> Response:
        logger.error("cannot decrypt a recording block on %s: %s", request.url.path, exc)
        return _error_response(
            request,
            409,
            "This recording cannot be decrypted with the server's keys; see docs/encryption.md.",
        )

    @app.exception_handler(BlobStoreUnavailable)
    async def blob_store_down(request: Request, exc: BlobStoreUnavailable) -> Response:
        logger.error("blob store unavailable on %s: %s", request.url.path, exc)
        response = _error_response(
            request, 503, "Recordings cannot be read right now; try again shortly."
        )
        response.headers["Retry-After"] = "30"
        return response

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def database_down(request: Request, exc: Exception) -> Response:
        # Unreachable, restarting or locked: nothing was stored, the client may retry (the
        # recorder does), so a 503 and not a 500.
        logger.error("database unavailable on %s: %s", request.url.path, type(exc).__name__)
        response = _error_response(request, 503, "The database is unavailable; retry shortly.")
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = _error_response(request, exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        return _error_response(request, 400, f"bad request: {problems}")

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error on %s", request.url.path)
        return _error_response(request, 500, "Something went wrong on our side; it is logged.")


def _document_errors_as_400(app: FastAPI) -> None:
    """Bad requests are answered 400 {"error": ...} (see bad_request above), not FastAPI's
    422: make the OpenAPI document say so."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        error_ref = {"$ref": "#/components/schemas/ErrorOut"}
        schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "ErrorOut",
            {
                "type": "object",
                "properties": {"error": {"type": "string"}},
                "required": ["error"],
                "title": "ErrorOut",
            },
        )
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if responses.pop("422", None) is not None or "400" not in responses:
                    responses.setdefault(
                        "400",
                        {
                            "description": "Bad request: the error names what is wrong",
                            "content": {"application/json": {"schema": error_ref}},
                        },
                    )
        schema.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
        schema.get("components", {}).get("schemas", {}).pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(ctx: Context, run_processor: bool | None = None) -> FastAPI:
    """The app; the processor runs inside it unless told otherwise."""
    processor = Processor(ctx)
    if run_processor is None:
        run_processor = ctx.settings.processor

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await health.log_unready(ctx)
        task = asyncio.create_task(processor.run()) if run_processor else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="sessionlens API",
        version="1",
        summary=API_SUMMARY,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.processor = processor if run_processor else None
    app.include_router(health.router)
    app.include_router(ingest_router)
    app.include_router(survey_ingest_router)
    app.include_router(login_pages_router)
    app.include_router(console_router)
    app.include_router(account_pages_router)
    app.include_router(org_pages_router)
    app.include_router(me_pages_router)
    app.include_router(privacy_pages_router)
    app.include_router(recording_pages_router)
    app.include_router(visitor_pages_router)
    app.include_router(recorded_pages_router)
    app.include_router(report_pages_router)
    app.include_router(funnel_pages_router)
    app.include_router(heatmap_pages_router)
    app.include_router(form_pages_router)
    app.include_router(survey_pages_router)
    if ctx.settings.demo:
        app.include_router(demo_router)
        app.mount("/demo/static", StaticFiles(directory=DEMO_STATIC), name="demo-static")
    app.include_router(api_router, prefix="/api/v1")
    app.include_router(api_visitors_router, prefix="/api/v1")
    app.include_router(api_audit_router, prefix="/api/v1")
    app.include_router(api_reports_router, prefix="/api/v1")
    app.include_router(api_funnels_router, prefix="/api/v1")
    app.include_router(api_heatmaps_router, prefix="/api/v1")
    app.include_router(api_forms_router, prefix="/api/v1")
    app.include_router(api_imports_router, prefix="/api/v1")
    app.include_router(api_surveys_router, prefix="/api/v1")
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")

    @app.get("/sessionlens.js", include_in_schema=False)
    def recorder() -> Response:
        if not RECORDER.exists():
            raise HTTPException(503, "the recorder is not built; run `make build`")
        return FileResponse(
            RECORDER,
            media_type="text/javascript",
            headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"},
        )

    _install_errors(app)
    _document_errors_as_400(app)
    app.add_middleware(SecurityHeaders, https=ctx.settings.is_https)
    app.add_middleware(Observe, access_lines=True)
    return app
