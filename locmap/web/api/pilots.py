"""Pilots, their places and their people."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from locmap.services import people, pilots, places
from locmap.web.api import api
from locmap.web.api.schemas import (
    PersonQuerySchema,
    PersonSchema,
    PilotSchema,
    PlaceCollectionSchema,
)
from locmap.web.context import actor, db_session, suppression_threshold


def _threshold() -> int:
    return suppression_threshold()


@api.route("/openapi.json", summary="This API's OpenAPI 3 document", tag="meta", public=True,
           produces="application/json")
def openapi() -> Any:
    """The document itself: generated from the schemas every answer goes through."""
    return jsonify(api.openapi("/api/v1"))


@api.route("/pilots", summary="Pilots you are a member of", tag="pilots",
           response=PilotSchema, many=True)
def list_pilots() -> Any:
    s, a = db_session(), actor()
    visible = [p for p in pilots.visible_pilots(s, a) if a.is_member(p.id)]
    return [pilots.pilot_summary(s, a, p, threshold=_threshold()) for p in visible]


@api.route("/pilots/<int:pilot_id>", summary="One pilot", tag="pilots", response=PilotSchema)
def get_pilot(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    pilot = pilots.get_pilot(s, a, pilot_id)
    return pilots.pilot_summary(s, a, pilot, threshold=_threshold())


@api.route("/pilots/<int:pilot_id>/places", summary="The pilot's places (GeoJSON)",
           tag="places", response=PlaceCollectionSchema)
def list_places(pilot_id: int) -> Any:
    return (places.list_places(
        db_session(), actor(), pilot_id,
        threshold=suppression_threshold()))


@api.route("/pilots/<int:pilot_id>/people", summary="People in the pilot's network (pseudonyms)",
           tag="network", response=PersonSchema, many=True)
def list_people(pilot_id: int) -> Any:
    return people.list_people(db_session(), actor(), pilot_id)


@api.route("/pilots/<int:pilot_id>/people/<int:person_id>", summary="One person",
           tag="network", query=PersonQuerySchema, response=PersonSchema)
def get_person(pilot_id: int, person_id: int, query: dict[str, Any]) -> Any:
    """Pseudonym, kind and age band; with ``identity=true`` also the identity (practitioners
    and peer assessors of the pilot only; every read is audited).
    """
    return (people.get_person(db_session(), actor(), pilot_id, person_id,
                                     with_identity=query["identity"]))
