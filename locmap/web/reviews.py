"""Partner review pages, the pilot timeline (review points, board overview), "waiting for
me" and the PDF report.

Forms post to this blueprint and redirect back (they work without JavaScript); refused
forms flash the service's message. Every check is in the services: a hidden form is a
courtesy, never the control.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from locmap.errors import Conflict, InvalidData
from locmap.services import inbox, plans, referrals, report, review_history, reviews, timeline
from locmap.services.assessments import assessment_view
from locmap.services.permissions import can
from locmap.vocab import REVIEW_DECISIONS
from locmap.web.context import actor, db_session, login_required, suppression_threshold

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


def _items(kind: str, pilot_id: int, subject_id: int,
           plan: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The factors (and a plan's actions) a reviewer may comment on one by one."""
    s, a = db_session(), actor()
    if plan is None:
        return [{"field": "factor_id", "id": f["id"],
                 "label": f"{f['quadrant']}: {f['statement']}"}
                for f in assessment_view(s, a, pilot_id, subject_id,
                                         threshold=suppression_threshold())["factors"]]
    p = plan
    return ([{"field": "factor_id", "id": f["id"], "label": f"{f['quadrant']}: {f['statement']}"}
             for f in p["factors"]]
            + [{"field": "action_id", "id": x["id"], "label": x["description"]}
               for x in p["actions"]])


@bp.route(f"{_SUBJECT}/review")
@login_required
def review_page(pilot_id: int, kinds: str, subject_id: int) -> Any:
    s, a = db_session(), actor()
    kind = _KINDS[kinds]
    h = review_history.history(s, a, pilot_id, kind, subject_id,
                              threshold=suppression_threshold())
    current = next(v for v in h["versions"] if v["id"] == subject_id)
    pool = reviews.reviewers_of(s, pilot_id)
    agencies = sorted({(r["agency_id"], r["agency"]) for r in pool if r["agency_id"]},
                      key=lambda x: x[1] or "")
    plan = (plans.plan_detail(s, a, subject_id, pilot_id=pilot_id,
                              threshold=suppression_threshold())
            if kind == "plan" else None)
    return render_template(
        "review.html", h=h, v=current, kind=kind, kinds=kinds, pilot_id=pilot_id, plan=plan,
        can_override=kind == "plan" and current["waits_for_assessment"]
        and can(a, pilot_id, "plan.override_approval"),
        pool=pool, agencies=agencies, items=_items(kind, pilot_id, subject_id, plan),
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


@bp.route("/pilots/<int:pilot_id>/plans/<int:plan_id>/approval-override", methods=["POST"])
@login_required
def override_block(pilot_id: int, plan_id: int) -> Any:
    """A coordinator lets a plan be approved before its assessment (with a reason)."""
    s, a = db_session(), actor()
    try:
        plan = reviews.override_plan_block(s, a, pilot_id, plan_id,
                                           reason=request.form.get("reason", ""))
        flash("Override recorded: this plan can be approved before its assessment"
              + (" — and it is now approved." if plan.status == "approved" else "."), "info")
    except (InvalidData, Conflict) as exc:
        s.rollback()
        flash(exc.message, "error")
    return redirect(url_for(".review_page", pilot_id=pilot_id, kinds="plans",
                            subject_id=plan_id))


@bp.route(f"{_SUBJECT}/report.pdf")
@login_required
def report_pdf(pilot_id: int, kinds: str, subject_id: int) -> Any:
    pdf = report.report_pdf_bytes(db_session(), actor(), pilot_id, _KINDS[kinds], subject_id,
                                  threshold=suppression_threshold())
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
    d = timeline.review_point_detail(s, a, pilot_id, point_id, threshold=suppression_threshold())
    return render_template("review_point.html", d=d, pilot_id=pilot_id,
                           can_manage=can(a, pilot_id, "review_point.manage"))


@bp.route("/pilots/<int:pilot_id>/overview")
@login_required
def overview(pilot_id: int) -> Any:
    a = actor()
    d = timeline.pilot_overview(db_session(), a, pilot_id, threshold=suppression_threshold())
    measures = referrals.referral_measures(
        db_session(), a, pilot_id,
        threshold=suppression_threshold())
    return render_template("overview.html", d=d, pilot_id=pilot_id, m=measures,
                           can_assess=can(a, pilot_id, "assessment.edit"))


@bp.route("/waiting")
@login_required
def waiting() -> Any:
    """The old "Waiting for me" page is the inbox now."""
    return redirect(url_for(".inbox_page"))


def target_url(item: dict[str, Any]) -> str:
    """Where an inbox item leads: the review page of a version, a review point."""
    t = item["target"]
    if t["kind"] == "review_point":
        return url_for(".review_point", pilot_id=item["pilot_id"], point_id=t["id"])
    if item["type"] == "overdue":
        return url_for("plans.view", pilot_id=item["pilot_id"], plan_id=t["id"]) + "#actions"
    return url_for(".review_page", pilot_id=item["pilot_id"], kinds=t["kind"] + "s",
                   subject_id=t["id"])


@bp.app_context_processor
def _inbox_badge() -> dict[str, Any]:
    def inbox_unread() -> int | None:
        """The top bar's unread count (None if it cannot be counted on this page)."""
        try:
            return inbox.unread_count(db_session(), actor())
        except Exception:  # noqa: BLE001 - a badge never breaks a page (e.g. an error page)
            return None
    return {"inbox_unread": inbox_unread}


@bp.route("/inbox")
@login_required
def inbox_page() -> Any:
    show = request.args.get("show", "all")
    rows = inbox.items(db_session(), actor(), unread_only=show == "unread")
    return render_template("inbox.html", items=rows, show=show, target_url=target_url,
                           labels=_INBOX_LABELS)


_INBOX_LABELS = {"review": "Review requested", "changes": "Changes requested",
                 "approved": "Approved", "overdue": "Action overdue",
                 "review_point": "Review point due"}


@bp.route("/inbox/read", methods=["POST"])
@login_required
def inbox_read() -> Any:
    """Mark items read (``key``, repeated), all (``all=1``), or unread (``unread=1``);
    with ``open=1`` and one key, go on to the item itself.
    """
    s, a, f = db_session(), actor(), request.form
    keys = f.getlist("key")
    try:
        inbox.mark_read(s, a, keys, every=f.get("all") == "1", unread=f.get("unread") == "1")
    except InvalidData as exc:
        s.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".inbox_page"))
    if f.get("open") == "1" and len(keys) == 1:
        item = next((i for i in inbox.items(s, a) if i["key"] == keys[0]), None)
        if item is not None:
            return redirect(target_url(item))
    return redirect(url_for(".inbox_page", show=f.get("show", "all")))
