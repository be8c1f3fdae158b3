"""Administration over JSON (issue 15): agencies, users, pilots and members.

Admin only (403 otherwise), except a pilot's members, which its coordinator manages too
(``/pilots/<pilot_id>/members``): an admin, usually no member of the pilot, lists and
removes them there as well (``admin_too``), as the members page lets them. Adding also has
``/admin/pilots/<admin_pilot_id>/members``, kept for clients that use it.
The body is read after the admin check, so a non-admin learns nothing from field errors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import request
from marshmallow import Schema, fields

from locmap.errors import InvalidData
from locmap.services import admin, pilot_admin
from locmap.web.api import api
from locmap.web.api.schemas import Date, DateTime, GeoJSONGeometry
from locmap.web.context import actor, db_session


class AdminAgencySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    active = fields.Boolean()
    users = fields.Integer(metadata={"description": "Users of the agency (in the list)."})


class AdminUserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    agency_id = fields.Integer(allow_none=True)
    agency = fields.String(allow_none=True)
    is_admin = fields.Boolean()
    is_auditor = fields.Boolean()
    active = fields.Boolean()
    must_change_password = fields.Boolean()
    last_login_at = DateTime(allow_none=True)
    pilots = fields.List(fields.String())


class OneTimeLinkSchema(Schema):
    id = fields.Integer(metadata={"description": "The invited user (invitations only)."})
    email = fields.String(metadata={"description": "Invitations only."})
    link = fields.String()
    expires_at = DateTime()
    emailed = fields.Boolean()
    mail_error = fields.String(allow_none=True, metadata={
        "description": "Why the email could not be sent (pass the link on instead)."})


class ReviewPointDateSchema(Schema):
    number = fields.Integer()
    due_on = Date()
    held_on = Date(allow_none=True)


class PilotSettingsSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    status = fields.String()
    start_date = Date()
    duration_months = fields.Integer()
    review_interval_months = fields.Integer()
    end_date = Date()
    approval_rule = fields.String()
    min_approvals = fields.Integer()
    approver_agency_ids = fields.List(fields.Integer())
    locality = fields.Nested(GeoJSONGeometry, allow_none=True)
    review_points = fields.List(fields.Nested(ReviewPointDateSchema))


class MemberSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.String(metadata={"description": "In the list only."})
    email = fields.String(metadata={"description": "In the list only."})
    role = fields.String()
    agency = fields.String(allow_none=True, metadata={"description": "In the list only."})
    active = fields.Boolean(metadata={"description": "In the list only."})


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidData("Expected a JSON object.")
    return data


def _str(d: dict[str, Any], key: str, default: str | None = None) -> str:
    value = d.get(key, default)
    if not isinstance(value, str):
        raise InvalidData(f"{key} must be text.")
    return value


def _opt(d: dict[str, Any], key: str, kind: type) -> Any:
    value = d.get(key)
    if value is not None and (not isinstance(value, kind) or
                              (kind is int and isinstance(value, bool))):
        raise InvalidData(f"{key} must be {'a number' if kind is int else kind.__name__}.")
    return value


def _admin() -> tuple[Any, Any]:
    s, a = db_session(), actor()
    admin.require_admin(a)
    return s, a


@api.route("/admin/agencies", summary="Every agency (admins)", tag="admin",
           response=AdminAgencySchema, many=True)
def admin_list_agencies() -> Any:
    s, a = _admin()
    return admin.list_agencies(s, a)


@api.route("/admin/agencies", "POST", summary="Add an agency (admins)", tag="admin",
           status=201,
           response=AdminAgencySchema)
def admin_create_agency() -> Any:
    """Body: ``{"name": ..., "kind": one of the agency kinds}``."""
    s, a = _admin()
    d = _body()
    ag = admin.create_agency(s, a, name=_str(d, "name", ""), kind=_str(d, "kind", ""))
    return {"id": ag.id, "name": ag.name, "kind": ag.kind, "active": ag.active}, 201


@api.route("/admin/agencies/<int:agency_id>", "PATCH", summary="Rename, re-kind or "
           "deactivate an agency (admins)", tag="admin",
           response=AdminAgencySchema)
def admin_update_agency(agency_id: int) -> Any:
    s, a = _admin()
    d = _body()
    ag = admin.update_agency(s, a, agency_id, name=_opt(d, "name", str),
                             kind=_opt(d, "kind", str), active=_opt(d, "active", bool))
    return {"id": ag.id, "name": ag.name, "kind": ag.kind, "active": ag.active}


@api.route("/admin/users", summary="Every user (admins)", tag="admin",
           response=AdminUserSchema, many=True)
def admin_list_users() -> Any:
    s, a = _admin()
    return admin.list_users(s, a)


@api.route("/admin/users", "POST", summary="Invite a user (admins): answers the one-time "
           "link", tag="admin", status=201,
           response=OneTimeLinkSchema)
def admin_invite_user() -> Any:
    """Body: ``email``, ``name``, optional ``agency_id``, ``is_admin``, ``is_auditor``."""
    s, a = _admin()
    d = _body()
    user, link = admin.invite_user(
        s, a, email=_str(d, "email", ""), name=_str(d, "name", ""),
        agency_id=_opt(d, "agency_id", int), is_admin=bool(_opt(d, "is_admin", bool)),
        is_auditor=bool(_opt(d, "is_auditor", bool)), base_url=request.url_root)
    return ({"id": user.id, "email": user.email, "link": link.url(request.url_root),
             "expires_at": link.expires_at.isoformat(), "emailed": link.emailed,
             "mail_error": link.mail_error}), 201


@api.route("/admin/users/<int:user_id>", "PATCH", summary="Change a user (admins): name, "
           "agency, flags, active, must change password", tag="admin",
           response=AdminUserSchema)
def admin_update_user(user_id: int) -> Any:
    s, a = _admin()
    d = _body()
    admin.update_user(
        s, a, user_id, name=_opt(d, "name", str),
        agency_id=_opt(d, "agency_id", int) if "agency_id" in d else False,
        is_admin=_opt(d, "is_admin", bool), is_auditor=_opt(d, "is_auditor", bool),
        active=_opt(d, "active", bool),
        must_change_password=_opt(d, "must_change_password", bool))
    return admin.user_dict(s, a, user_id)


@api.route("/admin/users/<int:user_id>/reset-link", "POST", summary="A one-time password "
           "reset link for a user (admins)", tag="admin",
           response=OneTimeLinkSchema)
def admin_reset_link(user_id: int) -> Any:
    s, a = _admin()
    link = admin.reset_link(s, a, user_id, base_url=request.url_root)
    return {"link": link.url(request.url_root),
            "expires_at": link.expires_at.isoformat(), "emailed": link.emailed,
            "mail_error": link.mail_error}


@api.route("/admin/pilots", "POST", summary="Create a pilot with its locality (admins)",
           tag="admin", status=201,
           response=PilotSettingsSchema)
def admin_create_pilot() -> Any:
    """Body: ``name``, ``locality`` (GeoJSON Polygon/MultiPolygon in WGS84) or
    ``locality_feature_id`` (a polygon of an imported feature layer),
    ``start_date``, optional ``duration_months`` (18), ``review_interval_months`` (3),
    ``description``.
    """
    s, a = _admin()
    d = _body()
    try:
        start = dt.date.fromisoformat(_str(d, "start_date", ""))
    except ValueError:
        raise InvalidData("start_date must be a date (YYYY-MM-DD).") from None
    locality = d.get("locality")
    if locality is None and isinstance(d.get("locality_feature_id"), int):
        locality = pilot_admin.locality_from_feature(s, a, d["locality_feature_id"])
    if not isinstance(locality, dict):
        raise InvalidData("locality must be a GeoJSON geometry (or give "
                          "locality_feature_id, an imported boundary polygon).")
    p = pilot_admin.create_pilot(
        s, a, name=_str(d, "name", ""), locality=locality, start_date=start,
        duration_months=_opt(d, "duration_months", int) or 18,
        review_interval_months=_opt(d, "review_interval_months", int) or 3,
        description=_str(d, "description", ""))
    return pilot_admin.pilot_settings(s, a, p.id), 201


@api.route("/admin/pilots/<int:admin_pilot_id>", summary="A pilot's settings (admins)",
           tag="admin",
           response=PilotSettingsSchema)
def admin_get_pilot(admin_pilot_id: int) -> Any:
    s, a = _admin()
    return pilot_admin.pilot_settings(s, a, admin_pilot_id)


@api.route("/admin/pilots/<int:admin_pilot_id>", "PATCH", summary="Change a pilot (admins): "
           "name, description, timeline, approval rule, status", tag="admin",
           response=PilotSettingsSchema)
def admin_update_pilot(admin_pilot_id: int) -> Any:
    """Any of: ``name``, ``description``; ``start_date`` + ``duration_months`` +
    ``review_interval_months`` (review points not held are regenerated); ``approval_rule``
    + ``approver_agency_ids`` + ``min_approvals``; ``status``.
    """
    s, a = _admin()
    d = _body()
    pid = admin_pilot_id
    current = pilot_admin.pilot_settings(s, a, pid)
    if "name" in d or "description" in d:
        pilot_admin.update_pilot(s, a, pid, name=_opt(d, "name", str),
                                 description=_opt(d, "description", str))
    if {"start_date", "duration_months", "review_interval_months"} & d.keys():
        try:
            start = dt.date.fromisoformat(_str(d, "start_date", current["start_date"]))
        except ValueError:
            raise InvalidData("start_date must be a date (YYYY-MM-DD).") from None
        pilot_admin.set_timeline(
            s, a, pid, start_date=start,
            duration_months=_opt(d, "duration_months", int) or current["duration_months"],
            review_interval_months=_opt(d, "review_interval_months", int)
            or current["review_interval_months"])
    if {"approval_rule", "approver_agency_ids", "min_approvals"} & d.keys():
        ids = d.get("approver_agency_ids", current["approver_agency_ids"])
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise InvalidData("approver_agency_ids must be a list of agency ids.")
        minimum = _opt(d, "min_approvals", int)
        pilot_admin.set_approval_rule(
            s, a, pid, rule=_str(d, "approval_rule", current["approval_rule"]),
            agency_ids=ids,
            min_approvals=current["min_approvals"] if minimum is None else minimum)
    if "status" in d:
        pilot_admin.set_status(s, a, pid, _str(d, "status"))
    return pilot_admin.pilot_settings(s, a, pid)


@api.route("/admin/pilots/<int:admin_pilot_id>/members", "POST", summary="Add a member "
           "(admins)", tag="admin", status=201,
           response=MemberSchema)
def admin_add_member(admin_pilot_id: int) -> Any:
    return _add_member(admin_pilot_id, admin_only=True)


@api.route("/pilots/<int:pilot_id>/members", summary="The pilot's members (coordinator "
           "or admin)", tag="pilots", permission="pilot.manage", admin_too=True,
           response=MemberSchema, many=True)
def list_members(pilot_id: int) -> Any:
    return pilot_admin.list_members(db_session(), actor(), pilot_id)


@api.route("/pilots/<int:pilot_id>/members", "POST", summary="Add a member by email and "
           "role (coordinator or admin)", tag="pilots", status=201,
           permission="pilot.manage", admin_too=True,
           response=MemberSchema)
def add_member(pilot_id: int) -> Any:
    """Body: ``{"email": ..., "role": coordinator | practitioner | peer_assessor |
    partner_reviewer}``; the user must exist (an admin invites them).
    """
    return _add_member(pilot_id, admin_only=False)


def _add_member(pilot_id: int, *, admin_only: bool) -> Any:
    s, a = (_admin() if admin_only else (db_session(), actor()))
    pilot_admin.list_members(s, a, pilot_id)  # the permission before the body
    d = _body()
    m = pilot_admin.add_member(s, a, pilot_id, email=_str(d, "email", ""),
                               role=_str(d, "role", ""))
    return {"id": m.id, "user_id": m.user_id, "role": m.role}, 201


@api.route("/pilots/<int:pilot_id>/members/<int:membership_id>", "DELETE",
           summary="Remove a member (coordinator or admin)", tag="pilots",
           permission="pilot.manage", admin_too=True, status=204)
def remove_member(pilot_id: int, membership_id: int) -> Any:
    pilot_admin.remove_member(db_session(), actor(), pilot_id, membership_id)
    return "", 204
