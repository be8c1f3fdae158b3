"""Partner-agency referral forms (issue 19): an admin enables, per pilot, a form through which
a named partner agency refers a context without an account.

The form is reached by its link (an unguessable key); a referral made through it is an
ordinary context referral (:func:`locmap.services.referrals.create_referral`) with the
form's agency as the referrer's agency, made by a stand-in actor that holds no role but
``referral.make`` in that pilot (so a closed pilot refuses it like any write). The referrer
does not know the network's pseudonyms: children are given as a count. Submissions are
limited (:data:`PER_FORM_PER_HOUR` per form, :data:`PER_ADDRESS_PER_HOUR` per address),
counted from the audit trail, where each one is recorded with the form and the address
(as every event carries its request's address).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap.errors import InvalidData, LocmapError, NotFound
from locmap.models import Agency, AuditEvent, Pilot, Place
from locmap.models.board import PartnerReferralForm
from locmap.models.pathway import ContextReferral
from locmap.services import audit, referrals
from locmap.services.admin import require_admin
from locmap.services.permissions import READ_ONLY_STATUSES, Actor
from locmap.services.versioning import check_version

__all__ = ["PER_FORM_PER_HOUR", "PER_ADDRESS_PER_HOUR", "FORM_KINDS", "TooMany", "list_forms",
           "create_form", "set_enabled", "open_form", "submit"]

PER_FORM_PER_HOUR = 20
PER_ADDRESS_PER_HOUR = 5
# What a partner refers through the form: a place of the pilot, or a context by name.
FORM_KINDS = ("place", "peer_group", "school", "online")


class TooMany(LocmapError):
    """Too many referrals through a form in the last hour."""

    status = 429
    code = "too_many"


def _dict(f: PartnerReferralForm, agencies: dict[int, str]) -> dict[str, Any]:
    return {"id": f.id, "agency": agencies.get(f.agency_id, ""), "agency_id": f.agency_id,
            "key": f.key, "enabled": f.enabled, "version": f.version}


def list_forms(session: Session, actor: Actor, pilot_id: int) -> dict[str, Any]:
    """The pilot's forms and the agencies a new one may name (admins only)."""
    require_admin(actor)
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound("No such pilot.")
    agencies = dict(session.execute(select(Agency.id, Agency.name).order_by(Agency.name))
                    .tuples().all())
    forms = session.scalars(select(PartnerReferralForm).where(
        PartnerReferralForm.pilot_id == pilot_id).order_by(PartnerReferralForm.id))
    return {"pilot": {"id": pilot.id, "name": pilot.name},
            "forms": [_dict(f, agencies) for f in forms],
            "agencies": [{"id": i, "name": n} for i, n in agencies.items()]}


def create_form(session: Session, actor: Actor, pilot_id: int,
                agency_id: Any) -> PartnerReferralForm:
    """Enable a form for a named agency in a pilot (admins only)."""
    require_admin(actor)
    if session.get(Pilot, pilot_id) is None:
        raise NotFound("No such pilot.")
    if not isinstance(agency_id, int) or session.get(Agency, agency_id) is None:
        raise InvalidData("Choose the partner agency the form is for.",
                          details={"field": "agency_id"})
    form = PartnerReferralForm(pilot_id=pilot_id, agency_id=agency_id,
                               key=secrets.token_urlsafe(32), enabled=True)
    session.add(form)
    session.flush()
    audit.record(session, actor, "create", "partner_referral_form", form.id,
                 pilot_id=pilot_id, detail={"agency_id": agency_id})
    return form


def set_enabled(session: Session, actor: Actor, pilot_id: int, form_id: Any, enabled: bool,
                version: Any) -> PartnerReferralForm:
    """Open or close a form (admins only; a stale version answers 409)."""
    require_admin(actor)
    form = session.get(PartnerReferralForm, form_id) if isinstance(form_id, int) else None
    if form is None or form.pilot_id != pilot_id:
        raise NotFound("No such form in this pilot.")
    check_version(session, "partner_referral_form", form, version)
    form.enabled = enabled
    audit.record(session, actor, "update", "partner_referral_form", form.id,
                 pilot_id=pilot_id, detail={"enabled": enabled})
    return form


def open_form(session: Session, key: str) -> dict[str, Any]:
    """The form behind a link, with what it offers; an unknown or closed one is not found."""
    form = session.scalar(select(PartnerReferralForm).where(PartnerReferralForm.key == key)) \
        if key else None
    pilot = session.get(Pilot, form.pilot_id) if form is not None else None
    if form is None or not form.enabled or pilot is None or pilot.status in READ_ONLY_STATUSES:
        raise NotFound("This referral form's link is not valid, or the form is closed.")
    agency = session.get(Agency, form.agency_id)
    places = session.execute(select(Place.id, Place.name).where(
        Place.pilot_id == pilot.id, Place.deleted_at.is_(None)).order_by(Place.name)).all()
    return {"form_id": form.id, "pilot_id": pilot.id, "pilot": pilot.name,
            "agency": agency.name if agency else "",
            "places": [{"id": i, "name": n} for i, n in places]}


def _recent(session: Session, form_id: int, remote_addr: str | None) -> tuple[int, int]:
    """Referrals through the form, and from the address, in the last hour (the trail's
    own clock).
    """
    since = func.clock_timestamp() - dt.timedelta(hours=1)
    base = select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "partner_referral", AuditEvent.action == "create",
        AuditEvent.at >= since)
    by_form = session.scalar(base.where(
        AuditEvent.detail["partner_form"].astext == str(form_id))) or 0
    by_address = session.scalar(base.where(
        AuditEvent.remote_addr == remote_addr)) or 0 if remote_addr else 0
    return by_form, by_address


def submit(session: Session, key: str, data: dict[str, Any],
           remote_addr: str | None) -> ContextReferral:
    """Record a referral through the form; the caller commits.

    Raises
    ------
    NotFound
        No such form, or it is closed.
    TooMany
        The form or the address sent too many referrals in the last hour.
    InvalidData
        As for any referral (and pseudonyms are not offered here: a count of children).
    """
    form = open_form(session, key)
    by_form, by_address = _recent(session, form["form_id"], remote_addr)
    if by_form >= PER_FORM_PER_HOUR or by_address >= PER_ADDRESS_PER_HOUR:
        raise TooMany("Too many referrals through this form in the last hour: try again "
                      "later, or telephone the team.")
    if data.get("context_kind") not in FORM_KINDS:
        raise InvalidData("Choose what the referral is about.",
                          details={"field": "context_kind"})
    pid = form["pilot_id"]
    agency_id = session.scalar(select(PartnerReferralForm.agency_id).where(
        PartnerReferralForm.id == form["form_id"]))
    stand_in = Actor(user_id=None, email=f"partner form {form['form_id']}",
                     roles={pid: frozenset({"partner_reviewer"})}, remote_addr=remote_addr)
    r = referrals.create_referral(session, stand_in, pid, {
        **{k: data.get(k) for k in ("context_kind", "place_id", "context_name", "concern",
                                    "harm_types", "children_count", "referrer_name",
                                    "urgency")},
        "children": [], "referrer_agency_id": agency_id, "referred_on": None})
    audit.record(session, stand_in, "create", "partner_referral", r.id, pilot_id=pid,
                 detail={"partner_form": form["form_id"]})
    return r
