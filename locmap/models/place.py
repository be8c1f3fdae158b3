"""Places (the contexts a pilot works on) and feature layers (the terrain around them).

Geometries are stored in SRID 4326 (lon/lat, RFC 7946). Distances are taken in metres on
``geography`` (``ST_DWithin(geom::geography, …)``) with expression GiST indexes on the
geography cast, so radius queries stay indexed; areas use ``ST_Area(geom::geography)``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from locmap.models.base import (
    Base,
    PilotOwned,
    Timestamped,
    in_vocab,
    pilot_fk,
    pilot_from,
    pilot_key,
    valid_geom,
)
from locmap.models.pilot import Agency
from locmap.vocab import HARM_CATEGORIES, PLACE_KINDS

__all__ = ["Place", "FeatureLayer", "Feature", "CrimeTypeMapping", "PLACE_GEOMETRY_RULE"]

# Which geometry a kind of place may have; the CHECK below is the same rule in SQL.
PLACE_GEOMETRY_RULE: dict[str, tuple[str, ...]] = {
    "online": (),
    "peer_group": (),
    "street": ("LINESTRING", "POLYGON", "MULTIPOLYGON"),
    "park": ("POLYGON", "MULTIPOLYGON"),
    "housing_estate": ("POLYGON", "MULTIPOLYGON"),
}
_ANY = ("POINT", "LINESTRING", "POLYGON", "MULTIPOLYGON")


def _geometry_rule_sql() -> str:
    none = [k for k, types in PLACE_GEOMETRY_RULE.items() if not types]
    parts = [f"(kind IN ({', '.join(repr(k) for k in none)}) AND geom IS NULL)"]
    special = [k for k in PLACE_GEOMETRY_RULE if k not in none]
    for kind in special:
        types = ", ".join(f"'{t}'" for t in PLACE_GEOMETRY_RULE[kind])
        parts.append(f"(kind = '{kind}' AND geom IS NOT NULL AND GeometryType(geom) IN ({types}))")
    others = ", ".join(f"'{k}'" for k in (*none, *special))
    types = ", ".join(f"'{t}'" for t in _ANY)
    parts.append(
        f"(kind NOT IN ({others}) AND geom IS NOT NULL AND GeometryType(geom) IN ({types}))"
    )
    return " OR ".join(parts)


class Place(PilotOwned, Timestamped, Base):
    __tablename__ = "place"
    __table_args__ = (
        pilot_key("id"),
        in_vocab("kind", PLACE_KINDS),
        valid_geom("geom"),
        CheckConstraint(_geometry_rule_sql(), name="geometry_fits_kind"),
        Index("ix_place_geom_geog", text("(geom::geography)"), postgresql_using="gist"),
        Index("ix_place_pilot", "pilot_id"),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    geom: Mapped[WKBElement | None] = mapped_column(Geometry("GEOMETRY", srid=4326))
    osm_id: Mapped[int | None] = mapped_column(BigInteger)
    osm_tags: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    managed_by_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    deleted_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    managed_by: Mapped[Agency | None] = relationship()
    __mapper_args__ = {"primary_key": ["id"], "version_id_col": version}


class FeatureLayer(PilotOwned, Timestamped, Base):
    """A named set of context features (fast-food outlets, bus stops, street lights)."""

    __tablename__ = "feature_layer"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("data_import_id", "data_import"),
        Index("uq_feature_layer_pilot_name", "pilot_id", "name", unique=True),
    )

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    data_import_id: Mapped[int | None]

    features: Mapped[list[Feature]] = relationship(
        back_populates="layer", cascade="all, delete-orphan", passive_deletes=True
    )
    __mapper_args__ = {"primary_key": ["id"]}


class Feature(PilotOwned, Base):
    __tablename__ = "feature"
    __table_args__ = (
        pilot_key("id"),
        pilot_fk("layer_id", "feature_layer", "CASCADE"),
        valid_geom("geom"),
        Index("ix_feature_geom_geog", text("(geom::geography)"), postgresql_using="gist"),
        Index("ix_feature_layer", "layer_id"),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"),
                                          default=pilot_from(("layer_id", "feature_layer")))
    layer_id: Mapped[int]
    geom: Mapped[WKBElement] = mapped_column(Geometry("GEOMETRY", srid=4326))
    name: Mapped[str] = mapped_column(String(200), default="")
    osm_id: Mapped[int | None] = mapped_column(BigInteger)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)

    layer: Mapped[FeatureLayer] = relationship(back_populates="features")


class CrimeTypeMapping(PilotOwned, Base):
    """How a pilot maps police open-data 'Crime type' values to locmap harm categories."""

    __tablename__ = "crime_type_mapping"
    __table_args__ = (
        pilot_key("id"),
        Index("uq_crime_type_mapping", "pilot_id", "crime_type", unique=True),
        in_vocab("category", HARM_CATEGORIES),
    )
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilot.id", ondelete="CASCADE"))
    crime_type: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(40))
