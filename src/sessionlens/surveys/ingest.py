"""POST /i/v1/{key}/survey and /i/v1/{key}/feedback: what the widget and the feedback button
send (docs/surveys.md). The same doors as a batch: the project's origins only, the same rate
limits, the server privacy guard over every string, URLs without denied parameters."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sessionlens.context import ctx_of
from sessionlens.ingest.body import BodyTooLarge, BodyUnreadable, decode, read_capped
from sessionlens.ingest.guard import scrub
from sessionlens.ingest.routes import (
    _cors,
    _error,
    _limits,
    _origin_allowed,
    _project,
    cors_preflight,
)
from sessionlens.privacy import strip_text_urls, strip_url
from sessionlens.projects import Project
from sessionlens.surveys import answers, feedback, store
from sessionlens.surveys.answers import AnswerError

router = APIRouter(include_in_schema=False)
MAX_BODY = 64 * 1024


def _clean(value: Any, denylist: tuple[str, ...]) -> Any:
    """Free text with any URL in it stripped of denied parameters."""
    if isinstance(value, str):
        return strip_text_urls(value, denylist)
    if isinstance(value, list):
        return [_clean(v, denylist) for v in value]
    return value


async def _body(request: Request, project: Project) -> dict[str, Any]:
    """The JSON object sent, guarded; AnswerError when it cannot be read."""
    try:
        raw = await read_capped(request.stream(), MAX_BODY)
        raw = decode(raw, request.headers.get("content-encoding", ""), MAX_BODY)
    except BodyUnreadable as exc:
        raise AnswerError(str(exc)) from exc
    raw = scrub(raw, project.privacy.extra_patterns).body
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise AnswerError("the body is not JSON") from exc
    if not isinstance(body, dict):
        raise AnswerError("the body must be a JSON object")
    denylist = project.privacy.denylist()
    if isinstance(body.get("url"), str):
        body["url"] = strip_url(body["url"], denylist)
    for name in ("comment", "answers"):
        if isinstance(body.get(name), str):
            body[name] = _clean(body[name], denylist)
        elif isinstance(body.get(name), dict):
            body[name] = {k: _clean(v, denylist) for k, v in body[name].items()}
    return body


async def _door(request: Request, key: str) -> tuple[Project | None, Response | None]:
    """The project, or the answer that turns the request away."""
    origin = request.headers.get("origin")
    project = await _project(request, key)
    if project is None:
        return None, _error(404, "unknown project key", origin)
    if not _origin_allowed(project, origin):
        message = "an Origin header is required"
        if origin:
            message = "origin not allowed for this project"
        return None, _error(403, message, origin)
    address = request.client.host if request.client else ""
    wait = _limits(request).check(project.id, address)
    if wait:
        response = _error(429, "too many requests; retry later", origin)
        response.headers["Retry-After"] = str(wait)
        return None, response
    return project, None


def _accepted(origin: str | None, stored: bool) -> JSONResponse:
    body = {"ok": True, "duplicate": not stored}
    return JSONResponse(body, status_code=202, headers=_cors(origin))


@router.options("/i/v1/{project_key}/survey")
@router.options("/i/v1/{project_key}/feedback")
async def preflight(project_key: str, request: Request) -> Response:
    return await cors_preflight(request, project_key, "Content-Type")


@router.post("/i/v1/{project_key}/survey")
async def receive_answer(project_key: str, request: Request) -> Response:
    origin = request.headers.get("origin")
    project, refused = await _door(request, project_key)
    if project is None:
        assert refused is not None
        return refused
    engine = ctx_of(request).engine
    try:
        body = await _body(request, project)
        survey_id = body.get("survey_id")
        if isinstance(survey_id, bool) or not isinstance(survey_id, int) or survey_id < 1:
            raise AnswerError("survey_id must be a survey's id")

        def save() -> bool | None:
            with engine.begin() as conn:
                found = store.get(conn, project.id, survey_id)
                # A draft was never shown to anyone: an answer to it is made up. A paused
                # one may have been open in a browser when it was paused: kept.
                if found is None or found.status == "draft":
                    return None
                checked = answers.checked(body, found.id, found.definition)
                return answers.store(conn, project.id, found.definition, checked)

        stored = await run_in_threadpool(save)
    except BodyTooLarge as exc:
        return _error(413, str(exc), origin)
    except AnswerError as exc:
        return _error(400, str(exc), origin)
    if stored is None:
        return _error(404, "no such survey in this project", origin)
    return _accepted(origin, stored)


@router.post("/i/v1/{project_key}/feedback")
async def receive_feedback(project_key: str, request: Request) -> Response:
    origin = request.headers.get("origin")
    project, refused = await _door(request, project_key)
    if project is None:
        assert refused is not None
        return refused
    if not project.surveys.feedback:
        return _error(404, "the feedback button is off for this project", origin)
    engine = ctx_of(request).engine
    try:
        checked = feedback.checked(await _body(request, project))
    except BodyTooLarge as exc:
        return _error(413, str(exc), origin)
    except AnswerError as exc:
        return _error(400, str(exc), origin)

    def save() -> bool:
        with engine.begin() as conn:
            return feedback.store(conn, project.id, checked)

    return _accepted(origin, await run_in_threadpool(save))
