"""The base map: shared reference data drawn under every pilot's map (not per pilot).

``locmap basemap build EXTRACT.osm.pbf`` fills :class:`BasemapFeature` (roads, railways,
buildings, water, green space, named points of interest) in Web Mercator, with a
simplified copy for low zooms (``geom_low``) and the zoom from which each feature is drawn
(``minzoom``). :class:`BasemapBuild` has one row per build; the newest one's ``version``
keys the tile cache (:class:`BasemapTile`), so a rebuild never serves stale tiles.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import BigInteger, Index, Integer, LargeBinary, SmallInteger, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from locmap.models.base import Base, in_vocab, utcnow

__all__ = ["BASEMAP_LAYERS", "BasemapBuild", "BasemapFeature", "BasemapTile"]

BASEMAP_LAYERS = ("roads", "railways", "buildings", "water", "green", "pois")


class BasemapBuild(Base):
    __tablename__ = "basemap_build"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    source: Mapped[str] = mapped_column(String(200))
    built_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # [west, south, east, north] in WGS84: where the base map has data
    bounds: Mapped[list[float] | None] = mapped_column(JSONB)


class BasemapFeature(Base):
    __tablename__ = "basemap_feature"
    __table_args__ = (
        in_vocab("layer", BASEMAP_LAYERS),
        Index("ix_basemap_feature_geom", "geom", postgresql_using="gist"),
        Index("ix_basemap_feature_geom_low", "geom_low", postgresql_using="gist"),
        Index("ix_basemap_feature_name", "layer", "name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    layer: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    osm_ref: Mapped[str] = mapped_column(String(40), default="")
    minzoom: Mapped[int] = mapped_column(SmallInteger, default=0)
    geom: Mapped[WKBElement] = mapped_column(Geometry("GEOMETRY", srid=3857, spatial_index=False))
    geom_low: Mapped[WKBElement | None] = mapped_column(
        Geometry("GEOMETRY", srid=3857, spatial_index=False))


class BasemapTile(Base):
    """A rendered vector tile, valid for one build ``version``."""

    __tablename__ = "basemap_tile"

    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    z: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    x: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    y: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    body: Mapped[bytes] = mapped_column(LargeBinary)
