"""Console: a project's surveys (list and settings, builder, preview, results, CSV) and the
feedback button's submissions (docs/surveys.md, "Console and API")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from starlette.datastructures import FormData

from sessionlens import projects
from sessionlens.analytics.period import Period, PeriodError
from sessionlens.console.common import (
    MANAGERS,
    ViewerDep,
    ctx_of,
    managed_project,
    manager_form,
    project_for,
    record_action,
    render,
)
from sessionlens.projects import Project
from sessionlens.surveys import definition, feedback_list, results, store
from sessionlens.surveys import settings as survey_settings
from sessionlens.surveys.definition import KIND_LABELS, SurveyError, next_question_id
from sessionlens.surveys.feedback import RATING_LABELS
from sessionlens.web.auth import Viewer
from sessionlens.web.params import DbId

router = APIRouter(include_in_schema=False)
ROWS = definition.MAX_QUESTIONS
FEEDBACK_POSITIONS = {"right": "Right edge", "left": "Left edge", "bottom-right": "Bottom right"}
POSITIONS = {"bottom-right": "Bottom right", "bottom-left": "Bottom left"}
# action -> (the status it needs, the status it sets)
MOVES = {
    "start": ("draft", "active"),
    "pause": ("active", "paused"),
    "resume": ("paused", "active"),
}
Page = Annotated[int, Query(ge=1, le=100_000)]
Day = Annotated[str | None, Query(alias="from", max_length=10)]
LastDay = Annotated[str | None, Query(alias="to", max_length=10)]
Search = Annotated[str, Query(max_length=200)]


def _today() -> date:
    return datetime.now(UTC).date()


def _survey_or_404(request: Request, project_id: int, survey_id: int) -> store.Survey:
    with ctx_of(request).reader.connect() as conn:
        found = store.get(conn, project_id, survey_id)
    if found is None:
        raise HTTPException(404, "No such survey.")
    return found


# --- the list and the project's survey settings -------------------------------------------


def _list_page(
    request: Request,
    viewer: Viewer,
    project: Project,
    role: str,
    status: int = 200,
    **extra: Any,
) -> Response:
    with ctx_of(request).reader.connect() as conn:
        surveys = store.for_project(conn, project.id)
        counts = store.counts(conn, project.id)
    empty = {"shown": 0, "answered": 0, "dismissed": 0, "invited": 0}
    today = _today()
    rows = [
        {"survey": s, "state": s.state_on(today), "figures": counts.get(s.id, empty)}
        for s in surveys
    ]
    return render(
        request,
        "surveys.html",
        status=status,
        viewer=viewer,
        project=project,
        role=role,
        tab="surveys",
        rows=rows,
        can_edit=role in MANAGERS,
        chosen=extra.pop("chosen", project.surveys),
        feedback_positions=FEEDBACK_POSITIONS,
        feedback_texts=survey_settings.FEEDBACK_TEXTS,
        **extra,
    )


@router.get("/projects/{project_id}/surveys")
def survey_list(
    request: Request, viewer: ViewerDep, project_id: DbId, saved: bool = False
) -> Response:
    project, role = project_for(request, viewer, project_id)
    return _list_page(request, viewer, project, role, saved=saved)


@router.post("/projects/{project_id}/surveys/settings")
async def save_settings(request: Request, viewer: ViewerDep, project_id: DbId) -> Response:
    form, project, role = await manager_form(request, viewer, project_id)
    names = ("every_days", "feedback", "feedback_color", "feedback_position", "feedback_label")
    raw: dict[str, Any] = {name: str(form[name]) for name in names if name in form}
    raw["feedback_texts"] = {
        key: str(form.get(f"fbtext_{key}", "")) for key in survey_settings.FEEDBACK_TEXTS
    }
    try:
        chosen = survey_settings.parse(raw)
    except SurveyError as exc:
        return _list_page(request, viewer, project, role, 400, error=str(exc))
    with ctx_of(request).engine.begin() as conn:
        projects.save_survey_settings(conn, project, chosen)
    record_action(
        request,
        viewer,
        project.organisation_id,
        "surveys.settings",
        "project",
        str(project.id),
        {"settings": chosen.to_json()},
    )
    return RedirectResponse(f"/projects/{project.id}/surveys?saved=1", status_code=303)


# --- the builder ---------------------------------------------------------------------------


def _blank_row() -> dict[str, Any]:
    return {"id": "", "kind": "single", "text": "", "choices": "", "required": False}


def values_of(found: store.Survey | None) -> dict[str, Any]:
    """The builder's fields for a stored survey, or for a new one."""
    d = found.definition if found else definition.Definition(questions=())
    rows = [
        {
            "id": q.id,
            "kind": q.kind,
            "text": q.text,
            "choices": "\n".join(q.choices),
            "required": q.required,
        }
        for q in d.questions
    ]
    return {
        "name": found.name if found else "",
        "intro": d.intro,
        "thanks": d.thanks,
        "rows": rows + [_blank_row() for _ in range(ROWS - len(rows))],
        "pages": "\n".join(d.targeting.pages),
        "devices": list(d.targeting.devices),
        "visitors": d.targeting.visitors,
        "share": f"{d.targeting.share:g}",
        "trigger": d.trigger,
        "delay": str(d.delay_s),
        "color": d.color,
        "position": d.position,
        "starts_on": found.starts_on.isoformat() if found and found.starts_on else "",
        "ends_on": found.ends_on.isoformat() if found and found.ends_on else "",
        "texts": dict(d.texts),
    }


def values_from(form: FormData) -> dict[str, Any]:
    """The builder's fields as typed, to check them or to show them again."""

    def column(name: str) -> list[str]:
        got = [str(v) for v in form.getlist(name)][:ROWS]
        return got + [""] * (ROWS - len(got))

    required = {str(v) for v in form.getlist("q_required")}
    rows = [
        {"id": i, "kind": k, "text": t, "choices": c, "required": str(n) in required}
        for n, (i, k, t, c) in enumerate(
            zip(
                column("q_id"), column("q_kind"), column("q_text"), column("q_choices"), strict=True
            )
        )
    ]
    one = {name: str(form.get(name, "")) for name in ("name", "intro", "thanks", "pages")}
    one |= {name: str(form.get(name, "")) for name in ("visitors", "share", "trigger", "delay")}
    one |= {name: str(form.get(name, "")) for name in ("color", "position")}
    one |= {name: str(form.get(name, "")) for name in ("starts_on", "ends_on")}
    texts = {key: str(form.get(f"text_{key}", "")) for key in definition.TEXTS}
    return one | {
        "rows": rows,
        "devices": [str(v) for v in form.getlist("devices")],
        "texts": texts,
    }


def _number(raw: str, whole: bool) -> Any:
    """The number typed, or the text itself so that parse() names what is wrong."""
    try:
        return int(raw) if whole else float(raw)
    except ValueError:
        return raw


def _day(raw: str, what: str) -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise SurveyError(f"the {what} date must look like 2026-11-29") from exc


def _questions(rows: list[dict[str, Any]], before: store.Survey | None) -> list[dict[str, Any]]:
    """Rows with a text or choices, as definition JSON. A row keeps the id it had when the
    survey has that question of the same kind (its answers stay linked); any other row
    gets an id no question of the survey had."""
    stored = {q.id: q.kind for q in before.definition.questions} if before else {}
    used: list[dict[str, Any]] = [{"id": qid} for qid in stored]
    out: list[dict[str, Any]] = []
    for row in rows:
        choices = [line for line in str(row["choices"]).splitlines() if line.strip()]
        if not str(row["text"]).strip() and not choices:
            continue
        qid = row["id"] if stored.get(row["id"]) == row["kind"] else ""
        if not qid or any(q["id"] == qid for q in out):
            qid = next_question_id(used + out)
        item = {"id": qid, "kind": row["kind"], "text": row["text"], "required": row["required"]}
        out.append(item | ({"choices": choices} if row["kind"] in ("single", "multiple") else {}))
    return out


def parsed(
    values: dict[str, Any], before: store.Survey | None
) -> tuple[definition.Definition, date | None, date | None]:
    """The checked definition and dates; SurveyError names what is wrong."""
    raw = {
        "intro": values["intro"],
        "thanks": values["thanks"],
        "questions": _questions(values["rows"], before),
        "targeting": {
            "pages": [line for line in values["pages"].splitlines() if line.strip()],
            "devices": values["devices"],
            "visitors": values["visitors"] or "all",
            "share": _number(values["share"] or "100", whole=False),
        },
        "trigger": {
            "kind": values["trigger"] or "delay",
            "seconds": _number(values["delay"] or "0", True),
        },
        "theme": {"color": values["color"], "position": values["position"]},
        "texts": {key: words for key, words in values["texts"].items() if words.strip()},
    }
    starts_on = _day(values["starts_on"], "start")
    ends_on = _day(values["ends_on"], "end")
    if starts_on and ends_on and ends_on < starts_on:
        raise SurveyError("the survey ends before it starts")
    return definition.parse(raw), starts_on, ends_on


def _form_page(
    request: Request,
    viewer: Viewer,
    project: Project,
    role: str,
    values: dict[str, Any],
    found: store.Survey | None = None,
    error: str | None = None,
) -> Response:
    return render(
        request,
        "survey_form.html",
        status=400 if error else 200,
        viewer=viewer,
        project=project,
        role=role,
        tab="surveys",
        survey=found,
        values=values,
        error=error,
        kinds=KIND_LABELS,
        devices=definition.DEVICES,
        positions=POSITIONS,
        widget_texts=definition.TEXTS,
    )


def _audit(
    request: Request,
    viewer: Viewer,
    project: Project,
    action: str,
    survey_id: int,
    **detail: object,
) -> None:
    """One audit entry about a survey of the project."""
    record_action(
        request,
        viewer,
        project.organisation_id,
        action,
        "survey",
        str(survey_id),
        {"project_id": project.id, **detail},
    )


@router.get("/projects/{project_id}/surveys/new")
def new_survey(request: Request, viewer: ViewerDep, project_id: DbId) -> Response:
    project, role = managed_project(request, viewer, project_id)
    return _form_page(request, viewer, project, role, values_of(None))


@router.post("/projects/{project_id}/surveys/new")
async def create_survey(request: Request, viewer: ViewerDep, project_id: DbId) -> Response:
    form, project, role = await manager_form(request, viewer, project_id)
    values = values_from(form)
    try:
        checked, starts_on, ends_on = parsed(values, None)
        with ctx_of(request).engine.begin() as conn:
            made = store.create(
                conn,
                project.id,
                values["name"],
                checked,
                viewer.user.id,
                starts_on=starts_on,
                ends_on=ends_on,
            )
    except SurveyError as exc:
        return _form_page(request, viewer, project, role, values, error=str(exc))
    _audit(request, viewer, project, "survey.create", made.id, name=made.name)
    return RedirectResponse(f"/projects/{project.id}/surveys/{made.id}", status_code=303)


@router.get("/projects/{project_id}/surveys/{survey_id}/edit")
def edit_survey(request: Request, viewer: ViewerDep, project_id: DbId, survey_id: DbId) -> Response:
    project, role = managed_project(request, viewer, project_id)
    found = _survey_or_404(request, project.id, survey_id)
    return _form_page(request, viewer, project, role, values_of(found), found)


@router.post("/projects/{project_id}/surveys/{survey_id}/edit")
async def change_survey(
    request: Request, viewer: ViewerDep, project_id: DbId, survey_id: DbId
) -> Response:
    form, project, role = await manager_form(request, viewer, project_id)
    before = _survey_or_404(request, project.id, survey_id)
    values = values_from(form)
    try:
        checked, starts_on, ends_on = parsed(values, before)
        with ctx_of(request).engine.begin() as conn:
            store.change(conn, project.id, before.id, values["name"], checked, starts_on, ends_on)
    except SurveyError as exc:
        return _form_page(request, viewer, project, role, values, before, str(exc))
    _audit(request, viewer, project, "survey.change", before.id, name=values["name"].strip())
    return RedirectResponse(f"/projects/{project.id}/surveys/{before.id}", status_code=303)


async def _survey_form(
    request: Request, viewer: Viewer, project_id: int, survey_id: int
) -> tuple[FormData, Project, store.Survey]:
    """A manager's form about one survey: CSRF checked, the project and the survey found."""
    form, project, _ = await manager_form(request, viewer, project_id)
    return form, project, _survey_or_404(request, project.id, survey_id)


@router.post("/projects/{project_id}/surveys/{survey_id}/status")
async def move_survey(
    request: Request, viewer: ViewerDep, project_id: DbId, survey_id: DbId
) -> Response:
    """Start a draft, pause an active survey, resume a paused one."""
    form, project, found = await _survey_form(request, viewer, project_id, survey_id)
    action = str(form.get("action", ""))
    if action not in MOVES:
        raise HTTPException(400, "Choose to start, pause or resume the survey.")
    needs, becomes = MOVES[action]
    if found.status != needs:
        done = {"start": "started", "pause": "paused", "resume": "resumed"}[action]
        raise HTTPException(
            400, f"Only a {needs} survey can be {done}; this one is {found.status}."
        )
    with ctx_of(request).engine.begin() as conn:
        store.set_status(conn, project.id, found.id, becomes)
    _audit(request, viewer, project, f"survey.{action}", found.id, status=becomes)
    return RedirectResponse(f"/projects/{project.id}/surveys/{found.id}", status_code=303)


@router.post("/projects/{project_id}/surveys/{survey_id}/delete")
async def delete_survey(
    request: Request, viewer: ViewerDep, project_id: DbId, survey_id: DbId
) -> Response:
    """Deletes the survey and every answer to it: the box must be ticked."""
    form, project, found = await _survey_form(request, viewer, project_id, survey_id)
    if form.get("confirm") != "yes":
        raise HTTPException(400, "Tick the box to confirm that the survey and its answers go.")
    with ctx_of(request).engine.begin() as conn:
        store.remove(conn, project.id, found.id)
    _audit(request, viewer, project, "survey.delete", found.id, name=found.name)
    return RedirectResponse(f"/projects/{project.id}/surveys", status_code=303)


# --- preview, results and the CSV ----------------------------------------------------------


@router.get("/projects/{project_id}/surveys/{survey_id}/preview")
def preview_survey(
    request: Request, viewer: ViewerDep, project_id: DbId, survey_id: DbId
) -> Response:
    project, role = project_for(request, viewer, project_id)
    found = _survey_or_404(request, project.id, survey_id)
    return render(
        request,
        "survey_preview.html",
        viewer=viewer,
        project=project,
        role=role,
        tab="surveys",
        survey=found,
        config=found.recorder_config(),
    )


def _period(start: str | None, end: str | None) -> tuple[Period | None, str | None]:
    try:
        return results.period_of(start, end), None
    except PeriodError as exc:
        return None, str(exc)


@router.get("/projects/{project_id}/surveys/{survey_id}")
def survey_results(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    survey_id: DbId,
    start: Day = None,
    end: LastDay = None,
    q: Search = "",
    answer: Annotated[str, Query(max_length=120)] = "",
    page: Page = 1,
) -> Response:
    project, role = project_for(request, viewer, project_id)
    found = _survey_or_404(request, project.id, survey_id)
    period, error = _period(start, end)
    try:
        chosen = results.answer_filter(found, answer)
    except results.FilterError as exc:
        chosen, error = None, str(exc)
    with ctx_of(request).reader.connect() as conn:
        data = results.figures(conn, found, period)
        texts = results.answer_list(conn, found, period, q, chosen, page)
    return render(
        request,
        "survey.html",
        status=400 if error else 200,
        viewer=viewer,
        project=project,
        role=role,
        tab="surveys",
        survey=found,
        state=found.state_on(_today()),
        data=data,
        texts=texts,
        error=error,
        first=start or "",
        last=end or "",
        can_edit=role in MANAGERS,
        kinds=KIND_LABELS,
    )


@router.get("/projects/{project_id}/surveys/{survey_id}/responses.csv")
def survey_csv(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    survey_id: DbId,
    start: Day = None,
    end: LastDay = None,
    everything: Annotated[bool, Query(alias="all")] = False,
) -> Response:
    """Answered and dismissed invitations (every one with all=1), streamed."""
    project, _ = project_for(request, viewer, project_id)
    found = _survey_or_404(request, project.id, survey_id)
    period, error = _period(start, end)
    if error:
        raise HTTPException(400, error)
    _audit(request, viewer, project, "survey.export", found.id)
    ctx = ctx_of(request)
    lines: Iterator[str] = results.csv_lines(
        ctx.reader, found, period, everything, ctx.settings.base_url
    )
    name = f"survey-{found.id}-responses.csv"
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- the feedback button -------------------------------------------------------------------


@router.get("/projects/{project_id}/feedback")
def feedback_page(
    request: Request,
    viewer: ViewerDep,
    project_id: DbId,
    start: Day = None,
    end: LastDay = None,
    rating: Annotated[str, Query(max_length=2)] = "",
    q: Search = "",
    page: Page = 1,
) -> Response:
    project, role = project_for(request, viewer, project_id)
    period, error = _period(start, end)
    chosen = int(rating) if rating.isdigit() and int(rating) in RATING_LABELS else None
    if rating and chosen is None:
        error = "the rating is a whole number 1-5"
    with ctx_of(request).reader.connect() as conn:
        figures = feedback_list.summary(conn, project.id, period)
        listed = feedback_list.page_of(conn, project.id, period, chosen, q, page)
    return render(
        request,
        "feedback.html",
        status=400 if error else 200,
        viewer=viewer,
        project=project,
        role=role,
        tab="feedback",
        figures=figures,
        listed=listed,
        error=error,
        first=start or "",
        last=end or "",
        rating=chosen,
        q=q.strip(),
        labels=RATING_LABELS,
        enabled=project.surveys.feedback,
    )
