"""Console: "What is recorded" — a session replayed with masked and blocked parts marked."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from sessionlens import privacy
from sessionlens.console.common import ViewerDep, ctx_of, project_for, render
from sessionlens.recordings import queries
from sessionlens.recordings.retention import retention_days
from sessionlens.web.params import DbId

router = APIRouter(include_in_schema=False)

ALWAYS = (
    "Every input, textarea, select and contenteditable value is masked (same length of *), "
    "unless the site unmasks the field.",
    "Password, card (autocomplete cc-*, or named or labelled as card number, CVV/CVC, "
    "expiry, IBAN, sort code, account or routing number, SSN), one-time-code and hidden "
    "fields are never recorded, even when unmasked.",
    "Typed values of 13-19 digits that pass the Luhn check (card numbers) are never sent.",
    "Card numbers are removed again on the server from every string of every batch.",
    "Visitors' addresses are truncated (IPv4 to /24, IPv6 to /48) before anything is stored.",
)


@router.get("/projects/{project_id}/recorded")
def recorded(
    request: Request, viewer: ViewerDep, project_id: DbId, session: str | None = None
) -> Response:
    project, role = project_for(request, viewer, project_id)
    with ctx_of(request).engine.connect() as conn:
        recent, _ = queries.list_sessions(conn, project.id, 1, 20)
        chosen = None
        if session:
            chosen = queries.get_session(conn, viewer.user.id, session)
            if chosen is None or chosen["project_id"] != project.id:
                raise HTTPException(404, "No such session in this project.")
        elif recent:
            chosen = recent[0]
    rules = project.privacy
    return render(
        request,
        "recorded.html",
        viewer=viewer,
        project=project,
        role=role,
        tab="recorded",
        rules=rules,
        always=ALWAYS,
        recent=recent,
        chosen=chosen,
        defaults=privacy.DEFAULT_URL_DENYLIST,
        retention_days=retention_days(project.settings),
    )
