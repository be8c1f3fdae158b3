"""Pages for every kind of context (issue 19): peer groups, schools and online spaces.

The list page starts each kind's assessment (a peer group seeded from a network group, a
school's self-assessment, an online space); the assessment pages themselves are the
places' (:mod:`locmap.web.assessments`), with the context section from
``_context_section.html`` posted here. Plain HTML forms; errors are flashed and lose
nothing (the form is shown again with what was typed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from locmap.errors import Conflict, InvalidData
from locmap.services import contexts
from locmap.services.permissions import can, require
from locmap.web.context import actor, db_session, login_required, suppression_threshold

bp = Blueprint("contexts", __name__)


def _page(pilot_id: int, status: int = 200, **form: Any) -> Any:
    s, a = db_session(), actor()
    data = contexts.contexts_overview(s, a, pilot_id)
    return render_template(
        "contexts/index.html", pilot_id=pilot_id, **data, form=form,
        can_edit=can(a, pilot_id, "assessment.edit"),
        online_fields=contexts.ONLINE_FIELDS), status


@bp.route("/pilots/<int:pilot_id>/contexts")
@login_required
def index(pilot_id: int) -> Any:
    return _page(pilot_id)


def _as_of() -> dt.date | None:
    text = request.form.get("as_of", "").strip()
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError as exc:
        raise InvalidData("The date is YYYY-MM-DD.", details={"field": "as_of"}) from exc


def _opened(pilot_id: int, assessment_id: int) -> Any:
    return redirect(url_for("assessments.view", pilot_id=pilot_id,
                            assessment_id=assessment_id) + "#context-section")


def _start(pilot_id: int, make: Callable[[], Any]) -> Any:
    """Start a context's assessment and open it; an error shows the form again, filled."""
    require(actor(), pilot_id, "assessment.edit")
    try:
        new = make()
    except InvalidData as exc:
        db_session().rollback()
        flash(exc.message, "error")
        return _page(pilot_id, 422, **request.form.to_dict())
    return _opened(pilot_id, new.id)


@bp.route("/pilots/<int:pilot_id>/contexts/peer-groups", methods=["POST"])
@login_required
def new_peer_group(pilot_id: int) -> Any:
    return _start(pilot_id, lambda: contexts.seed_peer_group(
        db_session(), actor(), pilot_id, request.form.get("group", ""),
        name=request.form.get("name", ""), as_of=_as_of()))


@bp.route("/pilots/<int:pilot_id>/contexts/schools", methods=["POST"])
@login_required
def new_school(pilot_id: int) -> Any:
    return _start(pilot_id, lambda: contexts.start_school(
        db_session(), actor(), pilot_id, request.form.get("place_id", type=int) or 0))


@bp.route("/pilots/<int:pilot_id>/contexts/online", methods=["POST"])
@login_required
def new_online(pilot_id: int) -> Any:
    return _start(pilot_id, lambda: contexts.create_online(
        db_session(), actor(), pilot_id, request.form.to_dict()))


def _answers(kind: str) -> dict[str, Any]:
    f = request.form
    if kind == "school":
        return {key: {"rating": f.get(f"rating_{key}") or None,
                      "evidence": f.get(f"evidence_{key}", "")}
                for key, _, _ in contexts.SCHOOL_AREAS}
    return {key: f.get(key, "") for key, _, _ in contexts.PEER_GROUP_PROMPTS}


@bp.route("/pilots/<int:pilot_id>/assessments/<int:assessment_id>/context",
          methods=["POST"])
@login_required
def save_section(pilot_id: int, assessment_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "assessment.edit")
    # The kind is the stored context's: a form saying "school" on a peer group's
    # assessment must not read (and so blank) the other kind's fields.
    kind = contexts.section_kind(s, a, pilot_id, assessment_id) or ""
    try:
        contexts.update_section(s, a, pilot_id, assessment_id, _answers(kind),
                                version=request.form.get("version", type=int))
        flash("Context section saved.", "info")
    except (InvalidData, Conflict) as exc:
        s.rollback()
        flash(exc.message, "error")
        if isinstance(exc, Conflict):
            return _section_again(pilot_id, assessment_id, 409)
        return _section_again(pilot_id, assessment_id, 422)
    return _opened(pilot_id, assessment_id)


def _section_again(pilot_id: int, assessment_id: int, status: int) -> Any:
    """The section form again with what was typed (nothing lost) and the error."""
    s, a = db_session(), actor()
    section = contexts.section(s, a, pilot_id, assessment_id, threshold=suppression_threshold())
    if section is None:  # a neighbourhood place's assessment has no context section
        return _opened(pilot_id, assessment_id)
    typed = _answers(section["kind"])
    return render_template("contexts/section_again.html", pilot_id=pilot_id,
                           section=section, typed=typed, rag=contexts.RAG), status


@bp.route("/pilots/<int:pilot_id>/contexts/<int:place_id>/online", methods=["POST"])
@login_required
def save_online(pilot_id: int, place_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "place.edit")
    back = request.form.get("assessment_id", type=int)
    data: dict[str, Any] = request.form.to_dict()
    data["version"] = request.form.get("version", type=int)
    status = 200
    try:
        contexts.update_profile(s, a, pilot_id, place_id, data)
        flash("Online space saved.", "info")
    except (InvalidData, Conflict) as exc:
        s.rollback()
        flash(exc.message, "error")
        status = 409 if isinstance(exc, Conflict) else 422
    if back and status == 200:
        return _opened(pilot_id, back)
    section = (contexts.section(s, a, pilot_id, back, threshold=suppression_threshold())
               if back else None)
    if section is not None:
        return render_template("contexts/section_again.html", pilot_id=pilot_id,
                               section=section, typed=request.form.to_dict(),
                               rag=contexts.RAG), status
    return redirect(url_for(".index", pilot_id=pilot_id))


@bp.route("/pilots/<int:pilot_id>/assessments/<int:a_id>/school-compare/<int:b_id>")
@login_required
def school_compare(pilot_id: int, a_id: int, b_id: int) -> Any:
    d = contexts.compare_school(db_session(), actor(), pilot_id, a_id, b_id)
    return render_template("contexts/school_compare.html", d=d, pilot_id=pilot_id)
