"""Context referral pages: the referral form, the list, one referral with its screening,
and the pilot's context thresholds.

Plain HTML forms posting to this blueprint and redirecting back (they work without
JavaScript); a refused form flashes the service's message and keeps nothing. Every check
is in :mod:`locmap.services.referrals`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from locmap.errors import Conflict, InvalidData
from locmap.services import referrals
from locmap.services.permissions import can, require
from locmap.vocab import (
    CONTEXT_KIND_LABELS,
    CONTEXT_KINDS,
    HARM_CATEGORIES,
    NO_LOCATION_KINDS,
    PLACE_KINDS,
    PLAN_CATEGORIES,
    REFERRAL_URGENCIES,
    SCREENING_OUTCOMES,
)
from locmap.web.context import actor, db_session, login_required

bp = Blueprint("referrals", __name__)

_P = "/pilots/<int:pilot_id>/referrals"
# Harm types a referral offers: the project's vocabulary without police open data's words.
_HARMS = tuple(h for h in HARM_CATEGORIES
               if h not in ("violence_and_sexual_offences", "robbery"))


def form_int(name: str) -> int | None:
    """A whole number from the posted form, None when blank (shared with the meetings)."""
    value = request.form.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidData(f"{name} must be a whole number.") from exc


def _point() -> dict[str, Any] | None:
    lon, lat = request.form.get("lon", "").strip(), request.form.get("lat", "").strip()
    if not lon and not lat:
        return None
    try:
        return {"type": "Point", "coordinates": [float(lon), float(lat)]}
    except ValueError as exc:
        raise InvalidData("The location is a longitude and a latitude in degrees.") from exc


@bp.route(f"{_P}")
@login_required
def referral_list(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    status = request.args.get("status") or None
    try:
        rows = referrals.list_referrals(s, a, pilot_id, status=status)
    except InvalidData:
        rows, status = referrals.list_referrals(s, a, pilot_id), None
    return render_template("referrals.html", pilot_id=pilot_id, rows=rows, status=status,
                           can_refer=can(a, pilot_id, "referral.make"))


@bp.route(f"{_P}/new", methods=["GET", "POST"])
@login_required
def new(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "referral.view")
    form: dict[str, Any] = {}
    if request.method == "POST":
        f = request.form
        form = f.to_dict()
        try:
            data = {
                "context_kind": f.get("context_kind"), "place_id": form_int("place_id"),
                "context_name": f.get("context_name", ""),
                "new_place_kind": f.get("new_place_kind") or None, "geometry": _point(),
                "concern": f.get("concern", ""), "harm_types": f.getlist("harm_types"),
                "children": f.get("children", ""),
                "children_count": f.get("children_count", ""),
                "referrer_name": f.get("referrer_name", ""),
                "referrer_agency_id": form_int("referrer_agency_id"),
                "urgency": f.get("urgency"), "referred_on": f.get("referred_on") or None,
            }
            r = referrals.create_referral(s, a, pilot_id, data)
        except (InvalidData, Conflict) as exc:
            s.rollback()
            flash(exc.message, "error")
        else:
            flash("Referral recorded. The owning team will screen it.", "info")
            return redirect(url_for(".view", pilot_id=pilot_id, referral_id=r.id))
    options = referrals.form_options(s, a, pilot_id)
    if request.method == "GET":
        form = {"referrer_name": options["me"]["name"],
                "referrer_agency_id": str(options["me"]["agency_id"] or "")}
    return render_template(
        "referral_new.html", pilot_id=pilot_id, form=form,
        harms_chosen=request.form.getlist("harm_types") if request.method == "POST" else [],
        options=options, kinds=CONTEXT_KINDS,
        kind_labels=CONTEXT_KIND_LABELS, harms=_HARMS, urgencies=REFERRAL_URGENCIES,
        place_kinds=[k for k in PLACE_KINDS if k not in (*NO_LOCATION_KINDS, "school")],
        can_refer=can(a, pilot_id, "referral.make"))


@bp.route(f"{_P}/<int:referral_id>")
@login_required
def view(pilot_id: int, referral_id: int) -> Any:
    s, a = db_session(), actor()
    r = referrals.referral_view(s, a, pilot_id, referral_id)
    return render_template(
        "referral.html", pilot_id=pilot_id, r=r,
        thresholds=referrals.thresholds(s, a, pilot_id),
        options=referrals.form_options(s, a, pilot_id), outcomes=SCREENING_OUTCOMES,
        categories=PLAN_CATEGORIES, can_screen=can(a, pilot_id, "referral.screen"))


@bp.route(f"{_P}/<int:referral_id>/screen", methods=["POST"])
@login_required
def screen(pilot_id: int, referral_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "referral.screen")
    f = request.form
    target = url_for(".view", pilot_id=pilot_id, referral_id=referral_id)
    try:
        data: dict[str, Any] = {
            "version": form_int("version"), "threshold_level": f.get("threshold_level"),
            "outcome": f.get("outcome"), "reason": f.get("reason", ""),
        }
        if data["outcome"] == "level_1":
            data["plan_id"] = form_int("plan_id")
            data["action"] = {"description": f.get("action_description", ""),
                              "category": f.get("action_category", ""),
                              "owner_agency_id": form_int("action_owner_agency_id"),
                              "lead": f.get("action_lead", ""),
                              "due_on": f.get("action_due_on") or None}
        r = referrals.screen_referral(s, a, pilot_id, referral_id, data)
    except (InvalidData, Conflict) as exc:
        s.rollback()
        flash(exc.message, "error")
        return redirect(target)
    if r.assessment_id:
        flash("Screened as Level 2: the draft assessment below answers this referral.", "info")
        return redirect(url_for("assessments.view", pilot_id=pilot_id,
                                assessment_id=r.assessment_id))
    flash("Screening recorded.", "info")
    return redirect(target)


@bp.route(f"{_P}/thresholds", methods=["GET", "POST"])
@login_required
def thresholds(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    if request.method == "POST":
        require(a, pilot_id, "threshold.edit")
        try:
            referrals.set_threshold(s, a, pilot_id, request.form.get("level", ""),
                                    request.form.get("criteria", ""),
                                    version=form_int("version"))
            flash("Criteria saved.", "info")
        except (InvalidData, Conflict) as exc:
            s.rollback()
            flash(exc.message, "error")
        return redirect(url_for(".thresholds", pilot_id=pilot_id))
    return render_template("referral_thresholds.html", pilot_id=pilot_id,
                           rows=referrals.thresholds(s, a, pilot_id),
                           can_edit=can(a, pilot_id, "threshold.edit"))
