"""Evidence about places: incidents, site visits, safety factors, listening, safety maps."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from locmap.models.base import (
    Base,
    PilotOwned,
    Timestamped,
    in_vocab,
    pilot_association,
    pilot_fk,
    pilot_from,
    pilot_key,
    valid_geom,
)
from locmap.models.place import Place
from locmap.vocab import (
    CONFIDENCE,
    ENGAGEMENT_GROUPS,
    HARM_CATEGORIES,
    QUADRANTS,
    SAFETY_RATINGS,
    TIME_PRECISIONS,
    VOICES,
)

__all__ = [
    "Incident", "incident_person", "Observation", "SafetyFactor", "factor_incident",
    "factor_observation", "factor_engagement", "EngagementRecord", "engagement_place",
    "AwarenessActivity", "awareness_place", "SafetyMap", "SafetyMapArea",
    "LocalityIncidentCount", "MapCellCount",
]

_LEVEL3 = ("poor", "adequate", "good")

incident_person = pilot_association(
    "incident_person", ("incident_id", "incident"), ("person_id", "person"))


class Incident(PilotOwned, Timestamped, Base):
    """A known incident of harm; ``time_precision`` says how exact ``occurred_at`` is."""

    __tablename__ = "incident"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("place_id", "place", "SET NULL"),
        pilot_fk("data_import_id", "data_import", "SET NULL"),
        in_vocab("category", HARM_CATEGORIES),
        in_vocab("time_precision", TIME_PRECISIONS),
        CheckConstraint("severity BETWEEN 1 AND 5", name="severity_range"),
        valid_geom("location"),
        Index("ix_incident_location_geog", text("(location::geography)"), postgresql_using="gist"),
        Index("ix_incident_pilot_time", "pilot_id", "occurred_at"),
        Index("ix_incident_place", "place_id"),
        Index("uq_incident_pilot_dedupe", "pilot_id", "dedupe_key", unique=True),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    location: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326))
    place_id: Mapped[int | None]
    place_derived: Mapped[bool] = mapped_column(default=False)
    occurred_at: Mapped[dt.datetime]
    time_precision: Mapped[str] = mapped_column(String(10), default="exact")
    category: Mapped[str] = mapped_column(String(40))
    severity: Mapped[int] = mapped_column(default=3)
    source_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    data_import_id: Mapped[int | None]
    external_ref: Mapped[str | None] = mapped_column(String(200))
    # Idempotent re-import: a source's stable id (police Crime ID, or a row hash).
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")  # restricted to the pilot
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


class LocalityIncidentCount(PilotOwned, Base):
    """How many of a pilot's incidents intersecting its locality fell on one UTC day, per
    harm category and severity (only days with incidents have a row).

    Kept by the database, never by the application: migration 0004's statement-level
    triggers on ``incident`` (insert, update, delete, truncate; transition tables, one
    ``GROUP BY`` per statement) add and take off counts, rows reaching 0 are deleted, and a
    change of ``pilot.locality`` recounts that pilot. ``place_incidents`` reads it for the
    rest of the locality (see :mod:`locmap.queries.assessment`).
    """

    __tablename__ = "locality_incident_count"

    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    severity: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)



class MapCellCount(PilotOwned, Base):
    """A pilot's incidents in one grid cell of the map at one zoom level, per harm category,
    severity and local (Europe/London) month: how many, and the sums of their longitudes
    and latitudes (the cell's centroid is ``sx / n``, ``sy / n``).

    Kept by the database, never by the application: migration 0008's statement-level
    triggers on ``incident``, like :class:`LocalityIncidentCount`. The grid is
    :func:`locmap.queries.incidents.map_cells`' (``gx = floor(lon / cell)``) at the zoom
    levels :data:`locmap.queries.incidents.AGG_ZOOMS`, which read it.
    """

    __tablename__ = "map_cell_count"

    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          primary_key=True)
    zoom: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    gx: Mapped[int] = mapped_column(primary_key=True)
    gy: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    severity: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    month: Mapped[dt.date] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
    sx: Mapped[float] = mapped_column(Float(precision=53))
    sy: Mapped[float] = mapped_column(Float(precision=53))

class Observation(PilotOwned, Timestamped, Base):
    """A site visit: who was there, how it looked and felt."""

    __tablename__ = "observation"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("place_id", "place", "CASCADE"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"),
        CheckConstraint(
            "young_people_10_13 >= 0 AND young_people_14_15 >= 0 AND young_people_16_17 >= 0 "
            "AND young_people_18_24 >= 0 AND adults_present >= 0 AND staff_guardians_present >= 0",
            name="counts_non_negative",
        ),
        in_vocab("light", ("daylight", "dusk", "dark")),
        in_vocab("guardianship", ("none", "low", "moderate", "strong")),
        in_vocab("lighting", _LEVEL3),
        in_vocab("sight_lines", _LEVEL3),
        in_vocab("cctv", ("none", "present_not_working", "present_working", "unknown")),
        Index("ix_observation_place", "place_id", "started_at"),
        Index("ix_observation_route", "route", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("place_id", "place")))
    place_id: Mapped[int]
    observer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    weather: Mapped[str] = mapped_column(String(100), default="")
    light: Mapped[str] = mapped_column(String(10), default="daylight")
    young_people_10_13: Mapped[int] = mapped_column(default=0)
    young_people_14_15: Mapped[int] = mapped_column(default=0)
    young_people_16_17: Mapped[int] = mapped_column(default=0)
    young_people_18_24: Mapped[int] = mapped_column(default=0)
    adults_present: Mapped[int] = mapped_column(default=0)
    staff_guardians_present: Mapped[int] = mapped_column(default=0)
    guardianship: Mapped[str] = mapped_column(String(10), default="none")
    lighting: Mapped[str] = mapped_column(String(10), default="adequate")
    sight_lines: Mapped[str] = mapped_column(String(10), default="adequate")
    cctv: Mapped[str] = mapped_column(String(30), default="unknown")
    signs_of_dealing: Mapped[bool] = mapped_column(default=False)
    signs_of_drug_use: Mapped[bool] = mapped_column(default=False)
    felt_safe: Mapped[str] = mapped_column(Text, default="")
    felt_unsafe: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    # The walk (recorded with consent, issue 18): the route while the form was open and
    # the time spent at each place, [{"place_id": .., "seconds": ..}, ...].
    route: Mapped[WKBElement | None] = mapped_column(
        Geometry("LINESTRING", srid=4326, spatial_index=False))
    place_times: Mapped[list[dict[str, int]] | None] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


factor_incident = pilot_association(
    "factor_incident", ("factor_id", "safety_factor"), ("incident_id", "incident"))
factor_observation = pilot_association(
    "factor_observation", ("factor_id", "safety_factor"), ("observation_id", "observation"))
factor_engagement = pilot_association(
    "factor_engagement", ("factor_id", "safety_factor"), ("engagement_id", "engagement_record"))


class SafetyFactor(PilotOwned, Timestamped, Base):
    """A statement about vulnerability, risk, resilience or resource at a place."""

    __tablename__ = "safety_factor"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("place_id", "place", "CASCADE"),
        pilot_fk("assessment_id", "assessment", "CASCADE"),
        in_vocab("quadrant", QUADRANTS),
        in_vocab("confidence", CONFIDENCE),
        in_vocab("voice", VOICES),
        CheckConstraint("weight BETWEEN 0 AND 3", name="weight_range"),
        Index("ix_safety_factor_place", "place_id"),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("place_id", "place")))
    place_id: Mapped[int]
    assessment_id: Mapped[int | None]
    quadrant: Mapped[str] = mapped_column(String(20))
    statement: Mapped[str] = mapped_column(Text)
    weight: Mapped[int] = mapped_column(default=1)
    confidence: Mapped[str] = mapped_column(String(10), default="medium")
    voice: Mapped[str] = mapped_column(String(20), default="professional")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    version: Mapped[int] = mapped_column(default=1)

    incidents: Mapped[list[Incident]] = relationship(secondary=factor_incident)
    observations: Mapped[list[Observation]] = relationship(secondary=factor_observation)
    engagements: Mapped[list[EngagementRecord]] = relationship(secondary=factor_engagement)
    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


engagement_place = pilot_association(
    "engagement_place", ("engagement_id", "engagement_record"), ("place_id", "place"))


class EngagementRecord(PilotOwned, Timestamped, Base):
    """Listening to a group (never a named child in a shared view)."""

    __tablename__ = "engagement_record"
    __table_args__ = (
        pilot_key("id"),
        in_vocab("with_group", ENGAGEMENT_GROUPS),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    held_on: Mapped[dt.date]
    with_group: Mapped[str] = mapped_column(String(20))
    group_description: Mapped[str] = mapped_column(String(300), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    places: Mapped[list[Place]] = relationship(secondary=engagement_place)


awareness_place = pilot_association(
    "awareness_place", ("awareness_id", "awareness_activity"), ("place_id", "place"))


class AwarenessActivity(PilotOwned, Timestamped, Base):
    """Awareness raising and its reach (KPI c)."""

    __tablename__ = "awareness_activity"
    __table_args__ = (
        pilot_key("id"),
        CheckConstraint("reached >= 0", name="reached_non_negative"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    held_on: Mapped[dt.date]
    audience: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(200), default="")
    reached: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    places: Mapped[list[Place]] = relationship(secondary=awareness_place)


class SafetyMap(PilotOwned, Timestamped, Base):
    """A young person's or group's red/amber/green map; anonymous in every shared view."""

    __tablename__ = "safety_map"
    __table_args__ = (
        pilot_key("id"),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    drawn_on: Mapped[dt.date]
    period: Mapped[str] = mapped_column(String(20))
    respondent_group: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}

    areas: Mapped[list[SafetyMapArea]] = relationship(
        back_populates="safety_map", cascade="all, delete-orphan", passive_deletes=True
    )


class SafetyMapArea(PilotOwned, Base):
    __tablename__ = "safety_map_area"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("safety_map_id", "safety_map", "CASCADE"),
        in_vocab("rating", SAFETY_RATINGS),
        valid_geom("geom"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("safety_map_id", "safety_map")))
    safety_map_id: Mapped[int]
    geom: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", srid=4326))
    rating: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")

    safety_map: Mapped[SafetyMap] = relationship(back_populates="areas")

