"""The peer network API: people, relationships, presences, purpose, analysis and exports.

Reading people and one person (with ``identity=true``) stays in ``pilots.py``; this module
adds the writes and everything else. Analysis and exports carry pseudonyms only.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import Schema, fields, validate

from locmap.services import network, network_export, people
from locmap.vocab import (
    AGE_BANDS,
    CASE_STATUSES,
    EXPLOITATION_CATEGORIES,
    PERSON_KINDS,
    RELATIONSHIP_TYPES,
    VALENCES,
)
from locmap.web.api import api
from locmap.web.api.schemas import (
    Date,
    DateTime,
    IdentitySchema,
    PersonSchema,
    dataclass_schema,
)
from locmap.web.context import actor, db_session

_PILOT = "/pilots/<int:pilot_id>"


class IdentityInSchema(IdentitySchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    case_reference = fields.String(load_default="", validate=validate.Length(max=100))


class LinkSchema(Schema):
    pseudonym = fields.String(required=True, validate=validate.Length(min=1, max=20))
    type = fields.String(load_default="friend", validate=validate.OneOf(RELATIONSHIP_TYPES))
    valence = fields.String(load_default="neutral", validate=validate.OneOf(VALENCES))
    strength = fields.Integer(load_default=2, validate=validate.Range(1, 3))


class PlaceVisitSchema(Schema):
    place_id = fields.Integer(required=True)
    frequency = fields.String(load_default="weekly", validate=validate.OneOf(network.FREQUENCIES))
    times = fields.String(load_default="", validate=validate.Length(max=200))


class PersonInSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(PERSON_KINDS))
    age_band = fields.String(load_default="unknown", validate=validate.OneOf(AGE_BANDS))
    identity = fields.Nested(IdentityInSchema, load_default=None, allow_none=True)
    links = fields.List(fields.Nested(LinkSchema), load_default=list,
                        metadata={"description": "Relationships to existing people."})
    places = fields.List(fields.Nested(PlaceVisitSchema), load_default=list)
    source = fields.String(load_default="", validate=validate.Length(max=100))
    since = Date(load_default=None, allow_none=True)


class PersonPatchSchema(Schema):
    version = fields.Integer(required=True)
    kind = fields.String(validate=validate.OneOf(PERSON_KINDS))
    age_band = fields.String(validate=validate.OneOf(AGE_BANDS))
    identity = fields.Nested(IdentityInSchema, allow_none=True)
    exploitation_category = fields.String(
        allow_none=True, validate=validate.OneOf(EXPLOITATION_CATEGORIES),
        metadata={"description": "Young people only; counted on the dashboard."})
    case_status = fields.String(allow_none=True, validate=validate.OneOf(CASE_STATUSES))
    last_risk_assessment_on = Date(allow_none=True)


class RelationshipSchema(Schema):
    id = fields.Integer(dump_only=True)
    person_a_id = fields.Integer(required=True)
    person_b_id = fields.Integer(required=True)
    person_a = fields.String(dump_only=True)
    person_b = fields.String(dump_only=True)
    type = fields.String(required=True, validate=validate.OneOf(RELATIONSHIP_TYPES))
    valence = fields.String(load_default="neutral", validate=validate.OneOf(VALENCES))
    strength = fields.Integer(load_default=2, validate=validate.Range(1, 3))
    source = fields.String(load_default="", validate=validate.Length(max=100))
    since = Date(load_default=None, allow_none=True)
    until = Date(load_default=None, allow_none=True)
    version = fields.Integer(dump_only=True)


class RelationshipPatchSchema(Schema):
    """Changed fields of a relationship with the version you read; ending it is setting
    ``until``.
    """

    version = fields.Integer(required=True, strict=True)
    type = fields.String(validate=validate.OneOf(RELATIONSHIP_TYPES))
    valence = fields.String(validate=validate.OneOf(VALENCES))
    strength = fields.Integer(strict=True, validate=validate.Range(1, 3))
    source = fields.String(validate=validate.Length(max=100))
    since = Date(allow_none=True)
    until = Date(allow_none=True)


class PresenceSchema(Schema):
    id = fields.Integer(dump_only=True)
    person_id = fields.Integer(required=True)
    place_id = fields.Integer(required=True)
    person = fields.String(dump_only=True)
    place = fields.String(dump_only=True)
    frequency = fields.String(load_default="weekly", validate=validate.OneOf(network.FREQUENCIES))
    times = fields.String(load_default="", validate=validate.Length(max=200))
    source = fields.String(load_default="", validate=validate.Length(max=100))
    since = Date(load_default=None, allow_none=True)
    until = Date(load_default=None, allow_none=True)
    version = fields.Integer(dump_only=True)


class PresencePatchSchema(Schema):
    """Changed fields of a presence with the version you read; ending it is setting
    ``until``.
    """

    version = fields.Integer(required=True, strict=True)
    frequency = fields.String(validate=validate.OneOf(network.FREQUENCIES))
    times = fields.String(validate=validate.Length(max=200))
    source = fields.String(validate=validate.Length(max=100))
    since = Date(allow_none=True)
    until = Date(allow_none=True)


class PeopleQuerySchema(Schema):
    q = fields.String(load_default="", validate=validate.Length(max=100), metadata={
        "description": "Part of a pseudonym, or of a name with by_name (audited)."})
    kind = fields.String(load_default="", validate=validate.OneOf(("", *PERSON_KINDS)))
    by_name = fields.Boolean(load_default=False)


class PersonRowSchema(Schema):
    id = fields.Integer()
    pseudonym = fields.String()
    kind = fields.String()
    age_band = fields.String()
    version = fields.Integer()
    exploitation_category = fields.String(allow_none=True)
    case_status = fields.String(allow_none=True)
    last_risk_assessment_on = fields.String(allow_none=True)
    ties = fields.Integer(metadata={"description": "Relationships in force"})
    places = fields.Integer(metadata={"description": "Places in force"})


class PurposeSchema(Schema):
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    lawful_basis = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    updated_at = DateTime(dump_only=True, allow_none=True)


# Peer-network analysis (every person in it a pseudonym), typed from its result dataclass.
NetworkAnalysisSchema = dataclass_schema(network.AnalysisResult, "NetworkAnalysisSchema")


class AnalysisQuerySchema(Schema):
    as_of = Date(load_default=None, metadata={"description": "Ties in force that day."})
    compare_with = Date(load_default=None,
                               metadata={"description": "Earlier date to compare with."})


@api.route(f"{_PILOT}/people/records", summary="People with their case fields (owning team)",
           tag="network", query=PeopleQuerySchema, response=PersonRowSchema, many=True)
def find_people(pilot_id: int, query: dict[str, Any]) -> Any:
    """Pseudonyms with their case fields and how many ties and places are in force;
    searching by name reads identities and is audited.
    """
    return (people.find_people(db_session(), actor(), pilot_id, text=query["q"],
                                      kind=query["kind"], by_name=query["by_name"]))


class CreatedPersonSchema(PersonSchema):
    relationships = fields.List(fields.Nested(RelationshipSchema), metadata={
        "description": "The relationships recorded with the person."})
    presences = fields.List(fields.Nested(PresenceSchema), metadata={
        "description": "The places recorded with the person."})


@api.route(f"{_PILOT}/people", "POST", summary="Record a person (pseudonym chosen by locmap)",
           tag="network", body=PersonInSchema, response=CreatedPersonSchema, status=201,
           permission="network.edit")
def create_person(pilot_id: int, body: dict[str, Any]) -> Any:
    """Optionally with an identity (practitioners and peer assessors), relationships to
    existing people by pseudonym and the places they spend time — all or nothing.
    Refused (409) until the network's purpose and lawful basis are recorded.
    """
    out = network.record_person_with_links(db_session(), actor(), pilot_id, **body)
    return out, 201


@api.route(f"{_PILOT}/people/<int:person_id>", "PATCH", summary="Change a person",
           tag="network", body=PersonPatchSchema, response=PersonSchema,
           permission="network.edit")
def update_person(pilot_id: int, person_id: int, body: dict[str, Any]) -> Any:
    """Send the ``version`` you read; 409 if someone changed the person since."""
    version = body.pop("version")
    return (people.update_person(db_session(), actor(), pilot_id, person_id,
                                        version=version, changes=body))


@api.route(f"{_PILOT}/people/<int:person_id>", "DELETE", summary="Erase a person",
           tag="network", status=204)
def delete_person(pilot_id: int, person_id: int) -> Any:
    """Deletes the person, their identity, relationships and presences (audited)."""
    people.delete_person(db_session(), actor(), pilot_id, person_id)
    return "", 204


@api.route(f"{_PILOT}/relationships", summary="Relationships (pseudonyms)", tag="network",
           response=RelationshipSchema, many=True)
def list_relationships(pilot_id: int) -> Any:
    return network.list_relationships(db_session(), actor(), pilot_id)


@api.route(f"{_PILOT}/relationships", "POST", summary="Record a relationship", tag="network",
           body=RelationshipSchema, response=RelationshipSchema, status=201,
           permission="network.edit")
def create_relationship(pilot_id: int, body: dict[str, Any]) -> Any:
    return network.create_relationship(db_session(), actor(), pilot_id, **body), 201


@api.route(f"{_PILOT}/relationships/<int:rel_id>", "PATCH", summary="Change or end a relationship",
           tag="network", body=RelationshipPatchSchema, response=RelationshipSchema,
           permission="network.edit")
def update_relationship(pilot_id: int, rel_id: int, body: dict[str, Any]) -> Any:
    """Send the ``version`` you read (409 if it changed); ``until`` ends the tie."""
    version = body.pop("version")
    return (network.update_relationship(db_session(), actor(), pilot_id, rel_id,
                                               body, version))


@api.route(f"{_PILOT}/relationships/<int:rel_id>", "DELETE", summary="Delete a relationship",
           tag="network", status=204)
def delete_relationship(pilot_id: int, rel_id: int) -> Any:
    network.delete_relationship(db_session(), actor(), pilot_id, rel_id)
    return "", 204


@api.route(f"{_PILOT}/presences", summary="Who spends time where (pseudonyms)", tag="network",
           response=PresenceSchema, many=True)
def list_presences(pilot_id: int) -> Any:
    return network.list_presences(db_session(), actor(), pilot_id)


@api.route(f"{_PILOT}/presences", "POST", summary="Record a presence at a place", tag="network",
           body=PresenceSchema, response=PresenceSchema, status=201,
           permission="network.edit")
def create_presence(pilot_id: int, body: dict[str, Any]) -> Any:
    return network.create_presence(db_session(), actor(), pilot_id, **body), 201


@api.route(f"{_PILOT}/presences/<int:presence_id>", "PATCH", summary="Change or end a presence",
           tag="network", body=PresencePatchSchema, response=PresenceSchema,
           permission="network.edit")
def update_presence(pilot_id: int, presence_id: int, body: dict[str, Any]) -> Any:
    """Send the ``version`` you read (409 if it changed); ``until`` ends the presence."""
    version = body.pop("version")
    return (network.update_presence(db_session(), actor(), pilot_id, presence_id,
                                           body, version))


@api.route(f"{_PILOT}/presences/<int:presence_id>", "DELETE", summary="Delete a presence",
           tag="network", status=204)
def delete_presence(pilot_id: int, presence_id: int) -> Any:
    network.delete_presence(db_session(), actor(), pilot_id, presence_id)
    return "", 204


@api.route(f"{_PILOT}/network/purpose", summary="Why the pilot maps peer networks",
           tag="network", response=PurposeSchema)
def get_network_purpose(pilot_id: int) -> Any:
    return network.get_purpose(db_session(), actor(), pilot_id)


@api.route(f"{_PILOT}/network/purpose", "PUT", summary="Record purpose and lawful basis",
           tag="network", body=PurposeSchema, response=PurposeSchema,
           permission="network.edit")
def set_network_purpose(pilot_id: int, body: dict[str, Any]) -> Any:
    return network.set_purpose(db_session(), actor(), pilot_id, **body)


@api.route(f"{_PILOT}/network/analysis", summary="Peer-network analysis (pseudonyms only)",
           tag="network", query=AnalysisQuerySchema,
           response=NetworkAnalysisSchema)
def network_analysis(pilot_id: int, query: dict[str, Any]) -> Any:
    """Groups, connectors, linked adults, harmful and protective ties, places shared
    between groups; ``as_of`` takes ties in force that day, ``compare_with`` adds the
    change from an earlier date.
    """
    result, _ = network.analysis(db_session(), actor(), pilot_id, **query)
    return result.to_dict()


def _export(pilot_id: int, fmt: str, query: dict[str, Any]) -> Any:
    data = network_export.export_network(db_session(), actor(), pilot_id, fmt,
                                         as_of=query["as_of"])
    return Response(data, mimetype=network_export.FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="pilot-{pilot_id}-network.{fmt}"'})


@api.route(f"{_PILOT}/network/export.graphml", summary="Network as GraphML (pseudonyms)",
           tag="network", query=AnalysisQuerySchema, produces="application/graphml+xml")
def export_graphml(pilot_id: int, query: dict[str, Any]) -> Any:
    """Audited; holds no names, dates of birth or case references."""
    return _export(pilot_id, "graphml", query)


@api.route(f"{_PILOT}/network/export.gexf", summary="Network as GEXF (pseudonyms)",
           tag="network", query=AnalysisQuerySchema, produces="application/gexf+xml")
def export_gexf(pilot_id: int, query: dict[str, Any]) -> Any:
    """Audited; holds no names, dates of birth or case references."""
    return _export(pilot_id, "gexf", query)
