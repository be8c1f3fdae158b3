"""SQL behind impact and displacement: monthly incident counts per area, nearby contexts,
and the people whose presence moved from one place to another.

An incident is *at* a place by the rule of :mod:`locmap.queries.assessment`: inside a
polygon place (``ST_Intersects``), within ``place_m`` metres of a point or line place
(``ST_DWithin`` on ``geography``). Feature-layer features (a bus stop, an outlet) follow the
same rule. Months are calendar months in Europe/London (``date_trunc('month', occurred_at
AT TIME ZONE '{LOCAL_TZ_NAME}')``); only months with incidents come back — the service fills
the empty months with zero, so the series are consecutive as the analysis requires.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from locmap.clock import LOCAL_TZ_NAME
from locmap.queries.assessment import ANALYSIS_SIMPLIFY_M
from locmap.queries.at_place import at_place_sql

__all__ = [
    "MonthCount", "Candidate", "MovedPerson", "LayerRow", "SourcePlace", "area_month_counts",
    "subject_month_counts", "nearby_candidates", "moved_people", "latest_plan_start",
    "latest_assessment_id", "feature_layers", "watch_sources",
]


@dataclass(frozen=True)
class MonthCount:
    month: dt.date  # first day of the month
    area: str
    count: int


@dataclass(frozen=True)
class Candidate:
    key: str  # "place:<id>" or "feature:<id>"
    kind: str  # "place" or "feature"
    id: int
    name: str
    detail: str  # the place kind, or the feature's layer name
    distance_m: float
    overlaps_source: bool


@dataclass(frozen=True)
class MovedPerson:
    person_id: int
    pseudonym: str
    kind: str
    left_on: dt.date
    arrived_on: dt.date


@dataclass(frozen=True)
class LayerRow:
    id: int
    name: str
    features: int


@dataclass(frozen=True)
class SourcePlace:
    id: int
    name: str
    kind: str
    plan_starts_on: dt.date | None
    incidents: int


# A place's outline is read simplified (see ANALYSIS_SIMPLIFY_M); the CTEs that simplify
# are MATERIALIZED so that it is done once per place, not once per incident tested.

# One row per (month, area). The CASE tests the innermost area first, so the buffer is a
# ring *outside* the place and the control is what is left of the locality (or of the
# drawn polygon) outside both. Every incident of the locality is classified, so the
# locality test is the exact one without the index (which would return them all) and a
# bounding box round each place's reach (``near``) turns the far ones away before any
# distance is measured on the sphere.
_AREA_MONTHS = text(
    f"""
    WITH pl AS MATERIALIZED (
      SELECT a.geom, a.geom::geography AS geog,
             GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON') AS is_poly,
             pi.id AS pilot_id, pi.locality,
             ST_Envelope(ST_Buffer(a.geom::geography,
                                   GREATEST(:buffer_m, :place_m) + 10)::geometry) AS near
      FROM place p JOIN pilot pi ON pi.id = p.pilot_id
      CROSS JOIN LATERAL (
        SELECT CASE WHEN ST_NPoints(p.geom) > 64
          THEN ST_Transform(ST_SimplifyPreserveTopology(ST_Transform(p.geom, 27700),
                                                        :simplify_m), 4326)
          ELSE p.geom END AS geom) a
      WHERE p.id = :place_id AND p.geom IS NOT NULL
    ), bp AS MATERIALIZED (
      SELECT a.geom, a.geom::geography AS geog,
             GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON') AS is_poly,
             ST_Envelope(ST_Buffer(a.geom::geography, :place_m + 10)::geometry) AS near
      FROM place p CROSS JOIN LATERAL (
        SELECT CASE WHEN ST_NPoints(p.geom) > 64
          THEN ST_Transform(ST_SimplifyPreserveTopology(ST_Transform(p.geom, 27700),
                                                        :simplify_m), 4326)
          ELSE p.geom END AS geom) a
      WHERE p.id = ANY(CAST(:buffer_ids AS int[])) AND p.geom IS NOT NULL
        AND p.deleted_at IS NULL
    ), ctl AS (
      SELECT ST_SetSRID(ST_GeomFromGeoJSON(CAST(:control AS text)), 4326) AS g
    )
    SELECT date_trunc('month', i.occurred_at AT TIME ZONE '{LOCAL_TZ_NAME}')::date AS month,
           x.area, count(*) AS n
    FROM pl CROSS JOIN ctl
    JOIN incident i ON i.pilot_id = pl.pilot_id
      AND (ctl.g IS NOT NULL OR _ST_Intersects(i.location, pl.locality))
    CROSS JOIN LATERAL (SELECT CASE
        WHEN i.location && pl.near AND _ST_Intersects(i.location, pl.locality)
          AND {at_place_sql()} THEN 'target'
        WHEN (:buffer_m > 0 AND i.location && pl.near
              AND ST_DWithin(i.location::geography, pl.geog, :buffer_m))
          OR EXISTS (SELECT 1 FROM bp WHERE i.location && bp.near
                     AND {at_place_sql(place="bp")})
          THEN 'buffer'
        WHEN ctl.g IS NULL OR ST_Intersects(i.location, ctl.g) THEN 'control'
      END AS area) AS x
    WHERE x.area IS NOT NULL
    GROUP BY 1, 2
    ORDER BY 1, 2
    """  # noqa: S608 (constant SQL fragments, no input)
)


def area_month_counts(
    session: Session, place_id: int, *, place_m: float, buffer_m: float,
    buffer_place_ids: tuple[int, ...] = (), control_geojson: str | None = None,
) -> list[MonthCount]:
    """Monthly incident counts in the target, buffer and control areas, in one query.

    Parameters
    ----------
    session : Session
    place_id : int
        The target place (it must have a geometry).
    place_m : float
        Radius that stands for a point or line place, metres.
    buffer_m : float
        Width of the displacement ring round the place, metres; 0 for no ring (then the
        buffer is only ``buffer_place_ids``).
    buffer_place_ids : tuple of int
        Places whose own areas make up (or add to) the buffer.
    control_geojson : str, optional
        A checked GeoJSON polygon (see :func:`locmap.geo.parse_geojson_geometry`) for the
        control; by default the control is the rest of the pilot's locality.

    Returns
    -------
    list of MonthCount
        ``area`` is ``"target"``, ``"buffer"`` or ``"control"``; months without incidents
        are absent.
    """
    rows = session.execute(_AREA_MONTHS, {
        "place_id": place_id, "place_m": place_m, "buffer_m": buffer_m,
        "buffer_ids": list(buffer_place_ids), "control": control_geojson,
        "simplify_m": ANALYSIS_SIMPLIFY_M,
    })
    return [MonthCount(r.month, r.area, int(r.n)) for r in rows]


# Per subject (the source place, each candidate, the control): monthly counts. Subjects
# are joined to incidents with ST_DWithin on geography, which the expression index
# ix_incident_location_geog serves; the control is the locality outside the scanned circle.
_SUBJECT_MONTHS = text(
    f"""
    WITH src AS MATERIALIZED (
      SELECT a.geom, a.geom::geography AS geog,
             GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON') AS is_poly,
             pi.id AS pilot_id, pi.locality
      FROM place p JOIN pilot pi ON pi.id = p.pilot_id
      CROSS JOIN LATERAL (
        SELECT CASE WHEN ST_NPoints(p.geom) > 64
          THEN ST_Transform(ST_SimplifyPreserveTopology(ST_Transform(p.geom, 27700),
                                                        :simplify_m), 4326)
          ELSE p.geom END AS geom) a
      WHERE p.id = :place_id AND p.geom IS NOT NULL
    ), subj AS MATERIALIZED (
      SELECT 'source' AS key, geom, geog, is_poly FROM src
      UNION ALL
      SELECT 'place:' || p.id, a.geom, a.geom::geography,
             GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON')
      FROM place p CROSS JOIN LATERAL (
        SELECT CASE WHEN ST_NPoints(p.geom) > 64
          THEN ST_Transform(ST_SimplifyPreserveTopology(ST_Transform(p.geom, 27700),
                                                        :simplify_m), 4326)
          ELSE p.geom END AS geom) a
      WHERE p.id = ANY(CAST(:place_ids AS int[])) AND p.geom IS NOT NULL
      UNION ALL
      SELECT 'feature:' || f.id, f.geom, f.geom::geography,
             GeometryType(f.geom) IN ('POLYGON', 'MULTIPOLYGON')
      FROM feature f WHERE f.id = ANY(CAST(:feature_ids AS int[]))
    )
    SELECT s.key, date_trunc('month', i.occurred_at AT TIME ZONE '{LOCAL_TZ_NAME}')::date AS month,
           count(*) AS n
    FROM src JOIN subj s ON true
    JOIN incident i ON i.pilot_id = src.pilot_id
      AND {at_place_sql(place="s")}
      AND ST_Intersects(i.location, src.locality)
    GROUP BY 1, 2
    UNION ALL
    SELECT 'control', date_trunc('month', i.occurred_at AT TIME ZONE '{LOCAL_TZ_NAME}')::date,
           count(*)
    FROM src JOIN incident i ON i.pilot_id = src.pilot_id
      AND ST_Intersects(i.location, src.locality)
      AND NOT ST_DWithin(i.location::geography, src.geog, :outer_m)
    GROUP BY 1, 2
    ORDER BY 1, 2
    """  # noqa: S608 (constant SQL fragments, no input)
)


def subject_month_counts(
    session: Session, place_id: int, *, place_ids: tuple[int, ...],
    feature_ids: tuple[int, ...], place_m: float, distance_m: float,
) -> dict[str, dict[dt.date, int]]:
    """Monthly counts at the source place, at each candidate and in the control.

    Keys are ``"source"``, ``"place:<id>"``, ``"feature:<id>"`` and ``"control"`` (the
    locality beyond ``distance_m + place_m`` of the source, so no candidate's area is in
    it). Months without incidents are absent.
    """
    rows = session.execute(_SUBJECT_MONTHS, {
        "place_id": place_id, "place_ids": list(place_ids), "feature_ids": list(feature_ids),
        "place_m": place_m, "outer_m": distance_m + place_m,
        "simplify_m": ANALYSIS_SIMPLIFY_M,
    })
    out: dict[str, dict[dt.date, int]] = {}
    for r in rows:
        out.setdefault(r.key, {})[r.month] = int(r.n)
    return out


_CANDIDATES = text(
    """
    WITH src AS MATERIALIZED (
      SELECT p.id, p.pilot_id, a.geom, a.geom::geography AS geog,
             GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON') AS is_poly
      FROM place p CROSS JOIN LATERAL (
        SELECT CASE WHEN ST_NPoints(p.geom) > 64
          THEN ST_Transform(ST_SimplifyPreserveTopology(ST_Transform(p.geom, 27700),
                                                        :simplify_m), 4326)
          ELSE p.geom END AS geom) a
      WHERE p.id = :place_id AND p.geom IS NOT NULL
    ), c AS (
      SELECT 'place' AS kind, p.id, p.name, p.kind AS detail, p.geom
      FROM src JOIN place p ON p.pilot_id = src.pilot_id AND p.id <> src.id
        AND p.deleted_at IS NULL AND p.geom IS NOT NULL
        AND ST_DWithin(p.geom::geography, src.geog, :distance_m)
      UNION ALL
      SELECT 'feature', f.id, coalesce(nullif(f.name, ''), fl.name || ' #' || f.id), fl.name,
             f.geom
      FROM src JOIN feature_layer fl ON fl.pilot_id = src.pilot_id
        AND fl.id = ANY(CAST(:layer_ids AS int[]))
      JOIN feature f ON f.layer_id = fl.id AND GeometryType(f.geom) = 'POINT'
        AND ST_DWithin(f.geom::geography, src.geog, :distance_m)
    )
    SELECT c.kind, c.id, c.name, c.detail,
           ST_Distance(c.geom::geography, src.geog) AS dist,
           CASE WHEN src.is_poly THEN ST_Intersects(c.geom, src.geom)
                ELSE ST_DWithin(c.geom::geography, src.geog, :place_m) END AS overlaps
    FROM c CROSS JOIN src
    ORDER BY dist, c.kind, c.id
    """
)


def nearby_candidates(session: Session, place_id: int, *, distance_m: float, place_m: float,
                      layer_ids: tuple[int, ...]) -> list[Candidate]:
    """Live places and point features of the chosen layers within ``distance_m`` of the place.

    Polygon features (districts, say) are areas of the terrain, not contexts young people
    meet in, and are left out, as in :func:`locmap.queries.assessment.feature_points`.

    ``overlaps_source`` marks candidates that touch the place's own area (an outlet at the
    same spot, the street the place stands on): they share its incidents.
    """
    rows = session.execute(_CANDIDATES, {"place_id": place_id, "distance_m": distance_m,
                                         "place_m": place_m, "layer_ids": list(layer_ids),
                                         "simplify_m": ANALYSIS_SIMPLIFY_M})
    return [Candidate(f"{r.kind}:{r.id}", r.kind, r.id, r.name, r.detail, float(r.dist),
                      bool(r.overlaps)) for r in rows]


_MOVED = text(
    """
    SELECT pe.id, pe.pseudonym, pe.kind, a.until AS left_on, b.since AS arrived_on
    FROM presence a JOIN presence b ON b.person_id = a.person_id
    JOIN person pe ON pe.id = a.person_id
    WHERE a.place_id = :source_id AND b.place_id = :dest_id
      AND a.until BETWEEN :lo AND :hi AND b.since BETWEEN :lo AND :hi
    ORDER BY pe.pseudonym, a.until, b.since
    """
)


def moved_people(session: Session, source_id: int, dest_id: int, lo: dt.date,
                 hi: dt.date) -> list[MovedPerson]:
    """People whose presence at the source ended, and at the destination began, in
    ``[lo, hi]`` (pseudonyms only, never identities). One row per person.
    """
    seen: dict[int, MovedPerson] = {}
    for r in session.execute(_MOVED, {"source_id": source_id, "dest_id": dest_id,
                                      "lo": lo, "hi": hi}):
        seen.setdefault(r.id, MovedPerson(r.id, r.pseudonym, r.kind, r.left_on, r.arrived_on))
    return list(seen.values())


_PLAN_START = text(
    """
    SELECT pl.starts_on FROM plan pl JOIN assessment a ON a.id = pl.assessment_id
    WHERE a.place_id = :place_id AND pl.starts_on IS NOT NULL
    ORDER BY pl.starts_on DESC, pl.id DESC LIMIT 1
    """
)


def latest_plan_start(session: Session, place_id: int) -> dt.date | None:
    """The latest ``starts_on`` among the plans of the place's assessments."""
    value: dt.date | None = session.scalar(_PLAN_START, {"place_id": place_id})
    return value


_LATEST_ASSESSMENT = text(
    "SELECT id FROM assessment WHERE place_id = :place_id ORDER BY version_no DESC LIMIT 1"
)


def latest_assessment_id(session: Session, place_id: int) -> int | None:
    """The newest assessment version of the place, whatever its status."""
    value: int | None = session.scalar(_LATEST_ASSESSMENT, {"place_id": place_id})
    return value


_LAYERS = text(
    """
    SELECT fl.id, fl.name, count(f.id) AS n FROM feature_layer fl
    JOIN feature f ON f.layer_id = fl.id AND GeometryType(f.geom) = 'POINT'
    WHERE fl.pilot_id = :pilot_id GROUP BY fl.id, fl.name ORDER BY fl.name
    """
)


def feature_layers(session: Session, pilot_id: int) -> list[LayerRow]:
    """The pilot's layers of point features with their number (areas such as districts
    are terrain, not contexts, and are not scanned).
    """
    return [LayerRow(r.id, r.name, int(r.n))
            for r in session.execute(_LAYERS, {"pilot_id": pilot_id})]


# Places under a plan (with a start date), else places with enough incidents at them.
_SOURCES = text(
    f"""
    WITH p AS MATERIALIZED (
      SELECT p.id, p.name, p.kind, g.geom, g.geom::geography AS geog,
             GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON') AS is_poly,
             (SELECT max(pl.starts_on) FROM plan pl JOIN assessment a ON a.id = pl.assessment_id
              WHERE a.place_id = p.id) AS plan_starts_on,
             (SELECT locality FROM pilot WHERE id = p.pilot_id) AS locality
      FROM place p CROSS JOIN LATERAL (
        SELECT CASE WHEN ST_NPoints(p.geom) > 64
          THEN ST_Transform(ST_SimplifyPreserveTopology(ST_Transform(p.geom, 27700),
                                                        :simplify_m), 4326)
          ELSE p.geom END AS geom) g
      WHERE p.pilot_id = :pilot_id AND p.deleted_at IS NULL AND p.geom IS NOT NULL
    )
    SELECT p.id, p.name, p.kind, p.plan_starts_on,
           (SELECT count(*) FROM incident i
            WHERE i.pilot_id = :pilot_id
              AND ST_Intersects(i.location, p.locality)
              AND {at_place_sql(place="p")}) AS n
    FROM p ORDER BY p.name, p.id
    """  # noqa: S608 (constant SQL fragments, no input)
)


def watch_sources(session: Session, pilot_id: int, *, place_m: float) -> list[SourcePlace]:
    """Every live mapped place with its latest plan start (or None) and incident count."""
    return [SourcePlace(r.id, r.name, r.kind, r.plan_starts_on, int(r.n))
            for r in session.execute(_SOURCES, {"pilot_id": pilot_id, "place_m": place_m,
                                                "simplify_m": ANALYSIS_SIMPLIFY_M})]
