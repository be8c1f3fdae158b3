"""Children's case records pages: the case-status CSV (preview row by row, then apply the
good rows) and, for a place, the children linked to it with their case references.

Every check is in :mod:`locmap.services.case_records` (identity permissions, audit).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, render_template, request

from locmap.errors import Conflict, InvalidData
from locmap.services import case_records
from locmap.services.permissions import require
from locmap.web.context import actor, db_session, login_required

bp = Blueprint("case_records", __name__)

_P = "/pilots/<int:pilot_id>/case-records"


def _text() -> str:
    """The CSV from the uploaded file, or else from the text box."""
    file = request.files.get("file")
    if file is not None and file.filename:
        raw = file.stream.read(case_records.MAX_BYTES + 1)
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidData("The file must be CSV text in UTF-8.") from exc
    return request.form.get("csv", "")


def _page(pilot_id: int, status: int = 200, **kw: Any) -> Any:
    return render_template("case_records.html", pilot_id=pilot_id,
                           columns=case_records.COLUMNS, **kw), status


@bp.route(_P)
@login_required
def form(pilot_id: int) -> Any:
    require(actor(), pilot_id, "identity.edit")
    return _page(pilot_id)


@bp.route(f"{_P}/preview", methods=["POST"])
@login_required
def preview(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "identity.edit")
    try:
        text = _text()
        result = case_records.preview(s, a, pilot_id, text)
    except InvalidData as exc:
        s.rollback()
        flash(exc.message, "error")
        return _page(pilot_id, 422, csv=request.form.get("csv", ""))
    s.commit()
    return _page(pilot_id, preview=result, csv=text)


@bp.route(f"{_P}/apply", methods=["POST"])
@login_required
def apply(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "identity.edit")
    text = request.form.get("csv", "")
    try:
        result = case_records.apply(s, a, pilot_id, text, request.form.get("digest", ""))
    except Conflict as exc:
        s.rollback()
        flash(exc.message, "error")
        return _page(pilot_id, 409, csv=text)
    except InvalidData as exc:
        s.rollback()
        flash(exc.message, "error")
        return _page(pilot_id, 422, csv=text)
    s.commit()
    flash(f"{result['changed']} young people's case records updated.", "info")
    return _page(pilot_id, applied=result)


@bp.route("/pilots/<int:pilot_id>/places/<int:place_id>/children.csv")
@login_required
def children(pilot_id: int, place_id: int) -> Any:
    s, a = db_session(), actor()
    text, name = case_records.children_csv(s, a, pilot_id, place_id)
    s.commit()
    return Response(text.encode("utf-8-sig"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
