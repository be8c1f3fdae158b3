"""Subject access pages (issue 15): find one person of a pilot by pseudonym, see what an
export would hold, and download it as a ZIP of CSVs (with the PDF summary) or the PDF.
For admins and the pilot's members who read identities; every export is audited.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request

from locmap.errors import NotFound
from locmap.services import subject_access
from locmap.web.context import actor, db_session, login_required

bp = Blueprint("subject_access", __name__)

_BASE = "/pilots/<int:pilot_id>"


@bp.route(f"{_BASE}/subject-access")
@login_required
def index(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    name = subject_access.pilot_name(s, a, pilot_id)  # the permission, before anything
    pseudonym = (request.args.get("pseudonym") or "").strip()
    found, error = None, None
    if pseudonym:
        try:
            pid = subject_access.find(s, a, pilot_id, pseudonym)
        except NotFound as exc:
            error = exc.message
        else:
            found = subject_access.preview(s, a, pilot_id, pid)
    return render_template("subject_access.html", pilot_id=pilot_id, pilot_name=name,
                           pseudonym=pseudonym, found=found, error=error), (
        404 if error else 200)


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


@bp.route(f"{_BASE}/people/<int:person_id>/subject-access.zip")
@login_required
def download_zip(pilot_id: int, person_id: int) -> Any:
    data = subject_access.export_zip(db_session(), actor(), pilot_id, person_id)
    return _download(data, "application/zip", f"subject-access-{person_id}.zip")


@bp.route(f"{_BASE}/people/<int:person_id>/subject-access.pdf")
@login_required
def download_pdf(pilot_id: int, person_id: int) -> Any:
    data = subject_access.export_pdf(db_session(), actor(), pilot_id, person_id)
    return _download(data, "application/pdf", f"subject-access-{person_id}.pdf")
