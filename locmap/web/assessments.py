"""Assessment pages: start a draft, edit it (three sides, four quadrants, context weighting),
read a submitted version (map, charts, risk terrain, summary) and compare two versions.

Edits are plain HTML forms posting to this blueprint (they work without JavaScript); the
+/- buttons of the context weighting call :func:`context_weighting.set_share` on the
server, so the shares always sum to 100 by the same largest-remainder rule as the API.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from locmap.errors import Conflict, InvalidData, NotFound
from locmap.services import (
    assessments,
    contexts,
    place_map,
    reviews,
    share_map,
    weighting_records,
)
from locmap.services.permissions import can, require
from locmap.vocab import CONFIDENCE, QUADRANTS, VOICES
from locmap.web.context import actor, db_session, login_required, suppression_threshold

bp = Blueprint("assessments", __name__)

_STEP = 5


@bp.route("/pilots/<int:pilot_id>/places/<int:place_id>/assessments/new", methods=["GET", "POST"])
@login_required
def start(pilot_id: int, place_id: int) -> Any:
    s, a = db_session(), actor()
    versions = assessments.list_assessments(s, a, pilot_id, place_id)
    if request.method == "POST":
        try:
            new = assessments.start_assessment(s, a, pilot_id, place_id)
        except Conflict as exc:
            flash(exc.message, "error")
            return redirect(url_for(".view", pilot_id=pilot_id,
                                    assessment_id=exc.details["assessment_id"]))
        return redirect(url_for(".view", pilot_id=pilot_id, assessment_id=new.id))
    place = assessments.place_header(s, a, pilot_id, place_id)
    return render_template("assessment_new.html", pilot_id=pilot_id, place=place,
                           versions=versions, can_edit=can(a, pilot_id, "assessment.edit"),
                           labels=reviews.version_labels(s, a, pilot_id, "assessment",
                                                         [v["id"] for v in versions]))


@bp.route("/pilots/<int:pilot_id>/assessments/<int:assessment_id>")
@login_required
def view(pilot_id: int, assessment_id: int) -> Any:
    s, a = db_session(), actor()
    threshold = suppression_threshold()
    data = assessments.assessment_view(s, a, pilot_id, assessment_id, threshold=threshold)
    template = "assessment_edit.html" if data["status"] == "draft" else "assessment.html"
    # The combined perceived-safety surface as it stands (latest period with maps) around
    # the place, suppressed for partners as everywhere: the map shows it instead of single
    # maps.
    perceived = None
    if data["status"] != "draft":
        perceived = place_map.perceived_layer(s, a, pilot_id, data["place"]["id"],
                                              threshold=threshold)
    return render_template(
        template, a=data, pilot_id=pilot_id,
        section=contexts.section(s, a, pilot_id, assessment_id, threshold=suppression_threshold()),
        section_editable=data["status"] == "draft" and can(a, pilot_id, "assessment.edit"),
        # What the weighting form offers to link: the pilot's places of every kind.
        records=weighting_records.choices(s, pilot_id) if data["status"] == "draft" else [],
        state_label=reviews.version_label(s, a, pilot_id, "assessment", assessment_id),
        quadrants=QUADRANTS, voices=VOICES,
        confidence=CONFIDENCE, step=_STEP, perceived=perceived,
        tile_url=current_app.config["LOCMAP_TILE_URL"],
        tile_attribution=current_app.config["LOCMAP_TILE_ATTRIBUTION"],
    )


def share_map_response(pilot_id: int, assessment_id: int) -> Response:
    """The assessment's share map as a download (the page's link and the API's route)."""
    page = share_map.share_map_html(
        db_session(), actor(), pilot_id, assessment_id,
        threshold=suppression_threshold())
    return Response(page, mimetype="text/html", headers={
        "Content-Disposition": f'attachment; filename="assessment-{assessment_id}-map.html"',
        "Cache-Control": "no-store"})


@bp.route("/pilots/<int:pilot_id>/assessments/<int:assessment_id>/share-map.html")
@login_required
def share(pilot_id: int, assessment_id: int) -> Any:
    return share_map_response(pilot_id, assessment_id)


def _int(name: str) -> int:
    try:
        return int(request.form[name])
    except (KeyError, ValueError) as exc:
        raise InvalidData(f"{name} must be a whole number.") from exc


def _record(value: str) -> int | None:
    """A weighting context's record as picked in a select ("" is none)."""
    try:
        return int(value) if value.strip() else None
    except ValueError as exc:
        raise InvalidData("Pick a context from the list.", details={"field": "place_id"}) from exc


def _changes(op: str) -> dict[str, Any]:
    f = request.form
    if op == "sides":
        return {k: f.get(k, "") for k in assessments.SIDES}
    if op == "set_share":
        return {"set_share": {"name": f["name"], "share": max(0, min(100, _int("share")))}}
    if op == "add_context":
        return {"add_context": {"name": f.get("name", ""), "share": _int("share"),
                                "reason": f.get("reason", ""),
                                "place_id": _record(f.get("place_id", ""))}}
    if op == "remove_context":
        return {"remove_context": f["name"]}
    if op == "reasons":
        names, shares, reasons = f.getlist("name"), f.getlist("share"), f.getlist("reason")
        # A context unlinked here keeps the kind it had (a linked one's is its record's).
        records = f.getlist("place_id") or [""] * len(names)
        kinds = f.getlist("kind") or ["other"] * len(names)
        try:
            return {"contexts": [{"name": n, "share": int(s), "reason": r, "kind": k,
                                  "place_id": _record(p)}
                                 for n, s, r, k, p in zip(names, shares, reasons, kinds,
                                                          records, strict=True)]}
        except ValueError as exc:
            raise InvalidData("The weighting form is incomplete: reload the page.") from exc
    if op == "add_factor":
        return {"add_factor": {"quadrant": f.get("quadrant"), "statement": f.get("statement", ""),
                               "weight": _int("weight"), "confidence": f.get("confidence"),
                               "voice": f.get("voice")}}
    if op == "factor_weight":
        return {"update_factor": {"id": _int("factor_id"), "weight": _int("weight")}}
    if op == "remove_factor":
        return {"remove_factor": _int("factor_id")}
    raise InvalidData(f"Unknown change {op!r}.")


@bp.route("/pilots/<int:pilot_id>/assessments/<int:assessment_id>/edit", methods=["POST"])
@login_required
def edit(pilot_id: int, assessment_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "assessment.edit")  # 404/403 before the form is read
    op = request.form.get("op", "")
    target = url_for(".view", pilot_id=pilot_id, assessment_id=assessment_id)
    version = request.form.get("version", type=int)
    try:
        if op == "submit":
            assessments.submit_assessment(s, a, pilot_id, assessment_id, version=version)
            flash("Submitted: the assessment is frozen for review. Choose its reviewers "
                  "below.", "info")
            # The same review-request step as a plan's (services/reviews.request_review).
            target = url_for("reviews.review_page", pilot_id=pilot_id, kinds="assessments",
                             subject_id=assessment_id)
        elif op == "new_version":
            new = assessments.new_version(s, a, pilot_id, assessment_id)
            target = url_for(".view", pilot_id=pilot_id, assessment_id=new.id)
        else:
            assessments.update_assessment(s, a, pilot_id, assessment_id, _changes(op),
                                          version=version)
    except (InvalidData, Conflict) as exc:
        s.rollback()
        flash(exc.message, "error")
    except NotFound as exc:  # a linked context not of this pilot: said on the form's page
        if (exc.details or {}).get("field") != "place_id":
            raise
        s.rollback()
        flash(exc.message, "error")
    return redirect(target + ("#weighting" if op in {"set_share", "add_context",
                                                     "remove_context", "reasons"} else ""))


@bp.route("/pilots/<int:pilot_id>/assessments/<int:a_id>/compare/<int:b_id>")
@login_required
def compare(pilot_id: int, a_id: int, b_id: int) -> Any:
    s, act = db_session(), actor()
    threshold = suppression_threshold()
    d = assessments.compare_assessments(s, act, pilot_id, a_id, b_id, threshold=threshold)
    a = assessments.assessment_view(s, act, pilot_id, a_id, threshold=threshold)
    b = assessments.assessment_view(s, act, pilot_id, b_id, threshold=threshold)
    return render_template("assessment_compare.html", d=d, a=a, b=b, pilot_id=pilot_id,
                           labels=reviews.version_labels(s, act, pilot_id, "assessment",
                                                         [a_id, b_id]))
