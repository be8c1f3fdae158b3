"""Context conference / MACE meeting pages, the high-risk contexts log and the minutes PDF.

Plain forms posting to this blueprint and redirecting back; a refused form flashes the
service's message. Every check is in :mod:`locmap.services.meetings`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from locmap.errors import Conflict, InvalidData
from locmap.services import meetings, referrals
from locmap.services.permissions import can, require
from locmap.vocab import ACTION_STATUSES, PLAN_CATEGORIES
from locmap.web.context import actor, db_session, login_required
from locmap.web.referrals import form_int

bp = Blueprint("meetings", __name__)

_P = "/pilots/<int:pilot_id>"


def _back(target: str, fn: Any, done: str) -> Any:
    s = db_session()
    try:
        fn()
        flash(done, "info")
    except (InvalidData, Conflict) as exc:
        s.rollback()
        flash(exc.message, "error")
    return redirect(target)


@bp.route(f"{_P}/meetings", methods=["GET", "POST"])
@login_required
def meeting_list(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    if request.method == "POST":
        require(a, pilot_id, "meeting.edit")
        f = request.form
        try:
            attendance = [{"agency_id": int(k.split("_", 1)[1]), "attendees": int(v)}
                          for k, v in f.items() if k.startswith("agency_") and v.strip()]
        except ValueError:
            flash("Attendance is a whole number per agency.", "error")
            return redirect(url_for(".meeting_list", pilot_id=pilot_id))
        try:
            m = meetings.create_meeting(s, a, pilot_id, {
                "held_on": f.get("held_on"), "title": f.get("title", ""),
                "chair": f.get("chair", ""), "attendance": attendance,
                "prefill": f.get("prefill") == "1"})
        except (InvalidData, Conflict) as exc:
            s.rollback()
            flash(exc.message, "error")
            return redirect(url_for(".meeting_list", pilot_id=pilot_id))
        return redirect(url_for(".meeting", pilot_id=pilot_id, meeting_id=m.id))
    return render_template("meetings.html", pilot_id=pilot_id,
                           rows=meetings.list_meetings(s, a, pilot_id),
                           options=referrals.form_options(s, a, pilot_id),
                           can_edit=can(a, pilot_id, "meeting.edit"))


@bp.route(f"{_P}/meetings/<int:meeting_id>")
@login_required
def meeting(pilot_id: int, meeting_id: int) -> Any:
    s, a = db_session(), actor()
    m = meetings.meeting_view(s, a, pilot_id, meeting_id)
    return render_template("meeting.html", pilot_id=pilot_id, m=m, volt=meetings.VOLT,
                           options=referrals.form_options(s, a, pilot_id),
                           categories=PLAN_CATEGORIES, statuses=ACTION_STATUSES,
                           can_edit=can(a, pilot_id, "meeting.edit"))


@bp.route(f"{_P}/meetings/<int:meeting_id>/attendance", methods=["POST"])
@login_required
def attendance(pilot_id: int, meeting_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "meeting.edit")
    target = url_for(".meeting", pilot_id=pilot_id, meeting_id=meeting_id) + "#attendance"
    return _back(target, lambda: meetings.set_attendance(
        s, a, pilot_id, meeting_id, form_int("agency_id"),
        form_int("attendees") or 0), "Attendance saved.")


@bp.route(f"{_P}/meetings/<int:meeting_id>/items", methods=["POST"])
@login_required
def add_item(pilot_id: int, meeting_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "meeting.edit")
    target = url_for(".meeting", pilot_id=pilot_id, meeting_id=meeting_id)
    return _back(target, lambda: meetings.add_item(s, a, pilot_id, meeting_id, {
        "place_id": form_int("place_id"),
        "context_name": request.form.get("context_name", "")}), "Added to the agenda.")


@bp.route(f"{_P}/meeting-items/<int:item_id>", methods=["POST"])
@login_required
def item(pilot_id: int, item_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "meeting.edit")
    f = request.form
    target = (url_for(".meeting", pilot_id=pilot_id,
                      meeting_id=form_int("meeting_id") or 0) + f"#item-{item_id}"
              if form_int("meeting_id") else url_for(".meeting_list", pilot_id=pilot_id))
    op = f.get("op", "")
    if op == "action":
        return _back(target, lambda: meetings.add_action(s, a, pilot_id, item_id, {
            "description": f.get("description", ""), "category": f.get("category") or None,
            "owner_agency_id": form_int("owner_agency_id"), "lead": f.get("lead", ""),
            "due_on": f.get("due_on") or None}), "Action recorded.")
    if op == "log":
        return _back(target, lambda: meetings.open_log_entry(
            s, a, pilot_id, item_id, f.get("reason", "")), "Opened on the high-risk log.")
    fields = {k: f.get(k, "") for k in (*(k for k, _ in meetings.VOLT), "shared", "decision")
              if k in f}
    return _back(target, lambda: meetings.update_item(
        s, a, pilot_id, item_id, {"version": form_int("version"), **fields}),
        "Item saved.")


@bp.route(f"{_P}/meeting-actions/<int:meeting_action_id>", methods=["POST"])
@login_required
def action_status(pilot_id: int, meeting_action_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "meeting.edit")
    meeting_id = form_int("meeting_id")
    target = (url_for(".meeting", pilot_id=pilot_id, meeting_id=meeting_id)
              if meeting_id else url_for(".meeting_list", pilot_id=pilot_id))
    return _back(target, lambda: meetings.set_action_status(
        s, a, pilot_id, meeting_action_id, request.form.get("status"),
        version=form_int("version")), "Action updated.")


@bp.route(f"{_P}/meetings/<int:meeting_id>/minutes.pdf")
@login_required
def minutes(pilot_id: int, meeting_id: int) -> Any:
    s, a = db_session(), actor()
    partner = request.args.get("version") == "partner"
    pdf, name = meetings.minutes_pdf(s, a, pilot_id, meeting_id, partner=partner)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route(f"{_P}/high-risk-log")
@login_required
def log(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    return render_template("high_risk_log.html", pilot_id=pilot_id,
                           rows=meetings.high_risk_log(s, a, pilot_id),
                           can_edit=can(a, pilot_id, "meeting.edit"))


@bp.route(f"{_P}/high-risk-log/<int:entry_id>/close", methods=["POST"])
@login_required
def close(pilot_id: int, entry_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "meeting.edit")
    return _back(url_for(".log", pilot_id=pilot_id), lambda: meetings.close_log_entry(
        s, a, pilot_id, entry_id, {"version": form_int("version"),
                                   "reason": request.form.get("reason", ""),
                                   "closed_on": request.form.get("closed_on") or None}),
        "Closed on the log.")
