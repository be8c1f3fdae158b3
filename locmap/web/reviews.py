"""Partner review pages, the pilot timeline (review points, board overview), "waiting for
me" and the PDF report.

Forms post to this blueprint and redirect back (they work without JavaScript); refused
forms flash the service's message. Every check is in the services: a hidden form is a
courtesy, never the control.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from locmap.errors import Conflict, InvalidData
from locmap.services import report, review_history, reviews, timeline
from locmap.services.assessments import assessment_view
from locmap.services.permissions import can
from locmap.vocab import REVIEW_DECISIONS
from locmap.web.context import actor, db_session, login_required

bp = Blueprint("reviews", __name__)

_KINDS = {"assessments": "assessment", "plans": "plan"}
_SUBJECT = "/pilots/<int:pilot_id>/<any(assessments, plans):kinds>/<int:subject_id>"


def _ints(name: str) -> list[int]:
    try:
        return [int(v) for v in request.form.getlist(name) if v]
    except ValueError as exc:
        raise InvalidData(f"{name} must be whole numbers.") from exc


def _optional_int(name: str) -> int | None:
    value = request.form.get(name, "")
    if not value:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidData(f"{name} must be a whole number.") from exc


def _items(kind: str, pilot_id: int, subject_id: int) -> list[dict[str, Any]]:
    """The factors (or actions) a reviewer may comment on one by one."""
    s, a = db_session(), actor()
    if kind == "assessment":
        return [{"field": "factor_id", "id": f["id"],
                 "label": f"{f['quadrant']}: {f['statement']}"}
                for f in assessment_view(s, a, pilot_id, subject_id)["factors"]]
    subject = reviews.get_subject(s, a, pilot_id, kind, subject_id)
    return [{"field": "action_id", "id": x.id, "label": x.description}
            for x in getattr(subject, "actions", [])]


@bp.route(f"{_SUBJECT}/review")
@login_required
def review_page(pilot_id: int, kinds: str, subject_id: int) -> Any:
    s, a = db_session(), actor()
    kind = _KINDS[kinds]
    h = review_history.history(s, a, pilot_id, kind, subject_id)
    current = next(v for v in h["versions"] if v["id"] == subject_id)
    pool = reviews.reviewers_of(s, pilot_id)
    agencies = sorted({(r["agency_id"], r["agency"]) for r in pool if r["agency_id"]},
                      key=lambda x: x[1] or "")
    return render_template(
        "review.html", h=h, v=current, kind=kind, kinds=kinds, pilot_id=pilot_id,
        pool=pool, agencies=agencies, items=_items(kind, pilot_id, subject_id),
        decisions=REVIEW_DECISIONS,
        can_request=can(a, pilot_id, "assessment.edit" if kind == "assessment"
                        else "plan.edit") and current["status"] == "in_review",
        can_review=can(a, pilot_id, "review.give") and current["status"] == "in_review"
        and current["author_id"] != a.user_id)


@bp.route(f"{_SUBJECT}/review/request", methods=["POST"])
@login_required
def request_review(pilot_id: int, kinds: str, subject_id: int) -> Any:
    s, a = db_session(), actor()
    try:
        new = reviews.request_review(s, a, pilot_id, _KINDS[kinds], subject_id,
                                     reviewer_ids=_ints("reviewer_id"),
                                     agency_ids=_ints("agency_id"))
        flash(f"Sent for review ({len(new)} new request{'s' if len(new) != 1 else ''}).",
              "info")
    except (InvalidData, Conflict) as exc:
        s.rollback()
        flash(exc.message, "error")
    return redirect(url_for(".review_page", pilot_id=pilot_id, kinds=kinds,
                            subject_id=subject_id))


@bp.route(f"{_SUBJECT}/review/give", methods=["POST"])
@login_required
def give_review(pilot_id: int, kinds: str, subject_id: int) -> Any:
    s, a = db_session(), actor()
    item = request.form.get("item", "")
    field, _, value = item.partition(":")
    ids: dict[str, int | None] = {"factor_id": None, "action_id": None}
    if field in ids and value.isdigit():
        ids[field] = int(value)
    try:
        reviews.give_review(s, a, pilot_id, _KINDS[kinds], subject_id,
                            decision=request.form.get("decision", ""),
                            comment=request.form.get("comment", ""),
                            factor_id=ids["factor_id"], action_id=ids["action_id"])
        flash("Your review is recorded.", "info")
    except (InvalidData, Conflict) as exc:  # a Forbidden role answers 403
        s.rollback()
        flash(exc.message, "error")
    return redirect(url_for(".review_page", pilot_id=pilot_id, kinds=kinds,
                            subject_id=subject_id) + "#history")


@bp.route(f"{_SUBJECT}/report.pdf")
@login_required
def report_pdf(pilot_id: int, kinds: str, subject_id: int) -> Any:
    pdf = report.report_pdf_bytes(db_session(), actor(), pilot_id, _KINDS[kinds], subject_id)
    name = f"locmap-{_KINDS[kinds]}-{subject_id}.pdf"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/pilots/<int:pilot_id>/review-points")
@login_required
def review_points(pilot_id: int) -> Any:
    return redirect(url_for(".overview", pilot_id=pilot_id) + "#review-points")


@bp.route("/pilots/<int:pilot_id>/review-points/<int:point_id>", methods=["GET", "POST"])
@login_required
def review_point(pilot_id: int, point_id: int) -> Any:
    s, a = db_session(), actor()
    if request.method == "POST":
        try:
            timeline.record_review_point(s, a, pilot_id, point_id, {
                k: request.form.get(k, "") for k in ("held_on", "attendees", "minutes",
                                                     "decisions")})
            flash("Review point saved.", "info")
        except InvalidData as exc:
            s.rollback()
            flash(exc.message, "error")
        return redirect(url_for(".review_point", pilot_id=pilot_id, point_id=point_id))
    d = timeline.review_point_detail(s, a, pilot_id, point_id)
    return render_template("review_point.html", d=d, pilot_id=pilot_id,
                           can_manage=can(a, pilot_id, "review_point.manage"))


@bp.route("/pilots/<int:pilot_id>/overview")
@login_required
def overview(pilot_id: int) -> Any:
    a = actor()
    d = timeline.pilot_overview(db_session(), a, pilot_id)
    return render_template("overview.html", d=d, pilot_id=pilot_id,
                           can_assess=can(a, pilot_id, "assessment.edit"))


@bp.route("/waiting")
@login_required
def waiting() -> Any:
    return render_template("waiting.html", w=timeline.waiting_for(db_session(), actor()))
