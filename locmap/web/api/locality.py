"""A pilot's locality over JSON (issue 15): check what a new one leaves outside, then save
it (``version``: the pilot's; anything outside needs ``confirm: true``, else 409 with
the counts). The coordinator uses the pilot's routes, an admin the ``/admin`` ones.
"""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, fields

from locmap.errors import InvalidData
from locmap.services import locality
from locmap.services.admin import require_admin
from locmap.web.api import api
from locmap.web.api.schemas import GeoJSONGeometry
from locmap.web.context import actor, db_session


class PlaceNameSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class CheckSchema(Schema):
    anything_outside = fields.Boolean()
    incidents_joining = fields.Integer()
    incidents_leaving = fields.Integer()
    places_outside = fields.List(fields.Nested(PlaceNameSchema))
    places_partly_outside = fields.List(fields.Nested(PlaceNameSchema))


class ChangedSchema(CheckSchema):
    locality = fields.Nested(GeoJSONGeometry)
    version = fields.Integer()


def _body(*, save: bool) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("locality"), dict):
        raise InvalidData("Body: {\"locality\": a GeoJSON polygon"
                          + (", \"version\": the pilot's version}." if save else "}."))
    if save and "version" not in data:
        raise InvalidData("Say which version of the pilot you edited (version).",
                          details={"version": "required"})
    if not isinstance(data.get("confirm", False), bool):
        raise InvalidData("confirm is true or false.")
    return data


def _check(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    d = _body(save=False)
    found = locality.impact(s, a, pilot_id, d["locality"])
    found.pop("locality")
    return found


def _set(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    d = _body(save=True)
    done = locality.set_locality(s, a, pilot_id, d["locality"], version=d["version"],
                                 confirm=d.get("confirm", False))
    return done


@api.route("/pilots/<int:pilot_id>/locality/check", "POST", summary="What a new locality "
           "would leave outside (coordinator)", tag="pilots", permission="pilot.manage",
           response=CheckSchema)
def locality_check(pilot_id: int) -> Any:
    return _check(pilot_id)


@api.route("/pilots/<int:pilot_id>/locality", "PUT", summary="Change the pilot's locality "
           "(coordinator; version → 409; confirm what falls outside)", tag="pilots",
           permission="pilot.manage", response=ChangedSchema)
def locality_set(pilot_id: int) -> Any:
    return _set(pilot_id)


@api.route("/admin/pilots/<int:admin_pilot_id>/locality/check", "POST", summary="What a new "
           "locality would leave outside (admins)", tag="admin", response=CheckSchema)
def admin_locality_check(admin_pilot_id: int) -> Any:
    require_admin(actor())
    return _check(admin_pilot_id)


@api.route("/admin/pilots/<int:admin_pilot_id>/locality", "PUT", summary="Change a pilot's "
           "locality (admins; version → 409; confirm what falls outside)", tag="admin",
           response=ChangedSchema)
def admin_locality_set(admin_pilot_id: int) -> Any:
    require_admin(actor())
    return _set(admin_pilot_id)
