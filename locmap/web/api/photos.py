"""Photos on site visits and incidents: upload (multipart), list, view, delete.

Uploads are ``multipart/form-data`` with the files under ``photos`` (one or more); each
is resized and stripped of its metadata before it is stored (:mod:`locmap.services.photos`).
A photo over the size limit is refused with 413, a file that is not a photo with 422.
Only the owning team reads photos; each view of one is audited.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from marshmallow import Schema, fields

from locmap.services import photos
from locmap.web.api import api
from locmap.web.context import actor, db_session

_PILOT = "/pilots/<int:pilot_id>"


class PhotoSchema(Schema):
    id = fields.Integer()
    width = fields.Integer()
    height = fields.Integer()
    size = fields.Integer(metadata={"description": "bytes of the stored JPEG"})
    observation_id = fields.Integer(allow_none=True)
    incident_id = fields.Integer(allow_none=True)
    url = fields.String(metadata={"description": "the image itself (audited when read)"})


def uploaded() -> list[bytes]:
    """The bytes of the files under ``photos`` (empty parts, as a form sends, skipped)."""
    return [b for b in (f.read() for f in request.files.getlist("photos")) if b]


def _add(pilot_id: int, kind: photos.Owner, owner_id: int) -> Any:
    out = photos.add_photos(db_session(), actor(), pilot_id, kind, owner_id, uploaded())
    return out, 201


@api.route(f"{_PILOT}/observations/<int:observation_id>/photos", "POST",
           summary="Add photos to a site visit", tag="photos", files="photos",
           response=PhotoSchema, many=True, status=201, permission="evidence.edit",
           idempotent=True)
def add_observation_photos(pilot_id: int, observation_id: int) -> Any:
    return _add(pilot_id, "observation", observation_id)


@api.route(f"{_PILOT}/incidents/<int:incident_id>/photos", "POST",
           summary="Add photos to an incident", tag="photos", files="photos",
           response=PhotoSchema, many=True, status=201, permission="evidence.edit",
           idempotent=True)
def add_incident_photos(pilot_id: int, incident_id: int) -> Any:
    return _add(pilot_id, "incident", incident_id)


@api.route(f"{_PILOT}/observations/<int:observation_id>/photos",
           summary="The photos of a site visit", tag="photos", response=PhotoSchema,
           many=True, permission="evidence.records")
def list_observation_photos(pilot_id: int, observation_id: int) -> Any:
    return photos.photos_of(db_session(), actor(), pilot_id, "observation",
                                    observation_id)


@api.route(f"{_PILOT}/incidents/<int:incident_id>/photos",
           summary="The photos of an incident", tag="photos", response=PhotoSchema,
           many=True, permission="evidence.records")
def list_incident_photos(pilot_id: int, incident_id: int) -> Any:
    return photos.photos_of(db_session(), actor(), pilot_id, "incident", incident_id)


@api.route(f"{_PILOT}/photos/<int:photo_id>/image", summary="A photo (JPEG, no metadata)",
           tag="photos", produces="image/jpeg", permission="evidence.records")
def photo_image(pilot_id: int, photo_id: int) -> Any:
    """Each read is recorded in the audit trail; the browser does not keep a copy."""
    content, sha = photos.photo_content(db_session(), actor(), pilot_id, photo_id)
    response = Response(content, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["ETag"] = f'"{sha}"'
    return response


@api.route(f"{_PILOT}/photos/<int:photo_id>", "DELETE", summary="Delete a photo",
           tag="photos", status=204, permission="evidence.edit")
def delete_photo(pilot_id: int, photo_id: int) -> Any:
    photos.delete_photo(db_session(), actor(), pilot_id, photo_id)
    return "", 204
