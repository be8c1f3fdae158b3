"""Dashboard SQL: each young person's case fields and district, and the district names.

A young person's *district* is the polygon of the pilot's feature layer named
``"districts"`` that contains the centroid of the places they are present at on the
"as of" date (presences in force then; places with a map location; each place counted
once, by its own centroid, so a large park does not outweigh a bus stop). With no such
place, or a centroid outside every district, the district is unknown (None). The centroid
is taken in lon/lat, which at town scale differs from a projected one by centimetres.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, and_, cast, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from locmap.assessment.dashboard import YoungPersonRecord
from locmap.clock import LOCAL_TZ_NAME
from locmap.models import Feature, FeatureLayer, Person, Place, Presence

__all__ = ["DISTRICT_LAYER", "district_names", "young_people"]

DISTRICT_LAYER = "districts"


def _district_name() -> ColumnElement[str]:
    return func.coalesce(func.nullif(Feature.name, ""), Feature.properties["name"].astext)


def district_names(session: Session, pilot_id: int) -> list[str]:
    """Names of the pilot's district polygons, in alphabetical order."""
    name = _district_name()
    rows = session.execute(
        select(name).join(FeatureLayer, FeatureLayer.id == Feature.layer_id)
        .where(FeatureLayer.pilot_id == pilot_id, FeatureLayer.name == DISTRICT_LAYER)
        .distinct().order_by(name)
    ).scalars()
    return [r for r in rows if r]


def young_people(session: Session, pilot_id: int, as_of: dt.date) -> list[YoungPersonRecord]:
    """Every young person of the pilot with their case fields and district on `as_of`."""
    centre = (
        select(Presence.person_id,
               func.ST_Centroid(func.ST_Collect(func.ST_Centroid(Place.geom))).label("c"))
        .join(Place, Place.id == Presence.place_id)
        .where(Place.pilot_id == pilot_id, Place.geom.is_not(None), Place.deleted_at.is_(None),
               or_(Presence.since.is_(None), Presence.since <= as_of),
               or_(Presence.until.is_(None), Presence.until >= as_of))
        .group_by(Presence.person_id)
        .subquery()
    )
    district = (
        select(_district_name())
        .join(FeatureLayer, FeatureLayer.id == Feature.layer_id)
        .where(FeatureLayer.pilot_id == pilot_id, FeatureLayer.name == DISTRICT_LAYER,
               func.ST_Contains(Feature.geom, centre.c.c))
        .order_by(Feature.id).limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Person.exploitation_category, Person.case_status,
               Person.last_risk_assessment_on,
               cast(func.timezone(LOCAL_TZ_NAME, Person.created_at), Date),
               district)
        .outerjoin(centre, and_(centre.c.person_id == Person.id))
        .where(Person.pilot_id == pilot_id, Person.kind == "young_person")
        .order_by(Person.id)
    ).tuples()
    return [YoungPersonRecord(exploitation_category=cat, case_status=status,
                              last_risk_assessment_on=last, recorded_on=recorded,
                              district=dist)
            for cat, status, last, recorded, dist in rows]
