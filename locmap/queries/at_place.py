"""The one rule for "an incident is at the place", and the counts every view takes from it.

An incident is **at** a place when it lies in the pilot's locality and

* inside the place, for a polygon place (``ST_Intersects``), or
* within :data:`PLACE_REACH_M` metres of it, for a point or a line place (``ST_DWithin``
  on ``geography``, served by the expression index ``ix_incident_location_geog``);

a place without a map location (an online context) has only the incidents recorded at
it (``incident.place_id``). An incident may be at two places that overlap; its own
``place_id`` (the one place it is shown under) is the nearest place it is at
(:func:`locmap.queries.incidents.derive_place_id`).

The place page, the workspace list, the assessment, the impact analysis and the
displacement watch, KPI (b) and the exports all use :func:`at_place_sql` (the SQL) or
:func:`place_counts` (a count), so the same place and period give the same number.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TextualSelect

__all__ = ["PLACE_REACH_M", "at_place_sql", "place_columns_sql", "in_locality_sql",
           "place_counts", "place_count", "places_of", "ids_at_place"]

PLACE_REACH_M = 50.0


def at_place_sql(incident: str = "i", place: str = "pl", reach: str = ":place_m") -> str:
    """The rule as a SQL condition on an incident alias and a place alias.

    ``place`` must have the columns ``geom``, ``geog`` (``geom::geography``) and ``is_poly``
    (a polygon or multipolygon); the locality test is the caller's join (each query
    already restricts its incidents to the pilot's locality, see :func:`place_counts`).
    """
    i, p = incident, place
    # Written so that ST_DWithin (indexable) is always there: for a polygon, inside it is
    # at distance 0, so the two forms agree; the cheap polygon test goes first.
    return (f"((NOT {p}.is_poly OR ST_Intersects({i}.location, {p}.geom)) "
            f"AND ST_DWithin({i}.location::geography, {p}.geog, {reach}))")

def place_columns_sql(place: str = "p", pilot: str = "pi", reach: str = ":place_m") -> str:
    """The columns of a place row that :func:`at_place_sql` and :func:`in_locality_sql`
    read (``geom``, ``geog``, ``is_poly``, ``locality``, ``reach_inside``), from a place
    alias joined to its pilot.

    ``reach_inside`` is true when the locality covers the place and everything within
    its reach (a buffer 1 % + 1 m wider than the reach, as the assessment's ``_NEAR``
    does): then every incident at the place is in the locality, and the per-row locality
    test is skipped. It was half the cost of counting at a place on the 2M-incident town.
    """
    p, pi = place, pilot
    return (f"{p}.geom, {p}.geom::geography AS geog, "
            f"GeometryType({p}.geom) IN ('POLYGON', 'MULTIPOLYGON') AS is_poly, "
            f"{pi}.locality, "
            f"ST_Covers({pi}.locality, ST_Buffer({p}.geom::geography, "
            f"{reach} * 1.01 + 1)::geometry) AS reach_inside")


def in_locality_sql(incident: str = "i", place: str = "pl") -> str:
    """The incident is in the pilot's locality, as a condition on a place row of
    :func:`place_columns_sql` (index-free: the place's own condition finds the rows).
    """
    return f"({place}.reach_inside OR _ST_Intersects({incident}.location, {place}.locality))"


def _branches(select: str, tail: str = "", pilot: str = ":pilot_id",
              reach: str = ":place_m") -> str:
    """``select`` over the incidents at a place row ``pl``, as three queries of which only
    the one for the place's kind reads any row: a polygon through the geometry index
    (inside it is the whole rule: at distance 0, within any reach), a point or a line
    through the geography index, a place without a map location by ``place_id``.
    Equivalent to :func:`at_place_sql`, but each branch has one index condition and no
    geography test on a polygon's rows (bench/bench_at_place.py measures the gain). ``pilot`` is
    the pilot's parameter (every incident reference filters it, for routing).
    """
    return f"""
      SELECT {select} FROM incident i
      WHERE pl.is_poly AND i.pilot_id = {pilot} AND ST_Intersects(i.location, pl.geom)
        AND {in_locality_sql()} {tail}
      UNION ALL
      SELECT {select} FROM incident i
      WHERE NOT pl.is_poly AND i.pilot_id = {pilot}
        AND ST_DWithin(i.location::geography, pl.geog, {reach})
        AND {in_locality_sql()} {tail}
      UNION ALL
      SELECT {select} FROM incident i
      WHERE pl.geom IS NULL AND i.place_id = pl.id AND i.pilot_id = {pilot} {tail}
    """  # noqa: S608 (constant SQL fragments, no input)


_WINDOW = ("AND (CAST(:since AS timestamptz) IS NULL OR i.occurred_at >= :since) "
           "AND (CAST(:until AS timestamptz) IS NULL OR i.occurred_at < :until)")

_COUNTS = text(
    f"""
    WITH pl AS MATERIALIZED (
      SELECT p.id, p.pilot_id, {place_columns_sql()}
      FROM place p JOIN pilot pi ON pi.id = p.pilot_id
      WHERE p.pilot_id = :pilot_id AND p.deleted_at IS NULL
        AND (CAST(:place_ids AS int[]) IS NULL OR p.id = ANY(CAST(:place_ids AS int[])))
    )
    SELECT pl.id, (SELECT sum(n) FROM ({_branches("count(*) AS n", _WINDOW)}) c) AS n
    FROM pl
    """  # noqa: S608 (constant SQL fragments, no input)
)


# The rule as the module's docstring states it, in one join with no shortcut (the form
# the counts took before the fast forms above): the reference they are tested
# (tests/integration/test_at_place.py) and measured (bench/bench_at_place.py) against.
# Rows: (place id, incident id).
PLAIN_RULE = text(
    f"""
    WITH pl AS MATERIALIZED (
      SELECT p.id, p.geom, p.geom::geography AS geog,
             GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON') AS is_poly, pi.locality
      FROM place p JOIN pilot pi ON pi.id = p.pilot_id
      WHERE p.pilot_id = :pilot_id AND p.deleted_at IS NULL
    )
    SELECT pl.id, i.id AS incident_id
    FROM pl JOIN incident i ON i.pilot_id = :pilot_id
      AND _ST_Intersects(i.location, pl.locality) AND {at_place_sql()}
    WHERE pl.geom IS NOT NULL
    UNION ALL
    SELECT pl.id, i.id FROM pl JOIN incident i ON i.place_id = pl.id
      AND i.pilot_id = :pilot_id
    WHERE pl.geom IS NULL
    """  # noqa: S608 (constant SQL fragments, no input)
)


def place_counts(session: Session, pilot_id: int, place_ids: tuple[int, ...] | None = None,
                 *, since: dt.datetime | None = None, until: dt.datetime | None = None,
                 place_m: float = PLACE_REACH_M) -> dict[int, int]:
    """Incidents at each live place of the pilot (or of ``place_ids``) in ``[since, until)``."""
    rows = session.execute(_COUNTS, {
        "pilot_id": pilot_id, "place_ids": list(place_ids) if place_ids is not None else None,
        "since": since, "until": until, "place_m": place_m})
    return {int(r.id): int(r.n) for r in rows}


def place_count(session: Session, pilot_id: int, place_id: int, *,
                since: dt.datetime | None = None, until: dt.datetime | None = None) -> int:
    """Incidents at one place in ``[since, until)`` (0 for a deleted or unknown place)."""
    return place_counts(session, pilot_id, (place_id,), since=since, until=until).get(
        place_id, 0)


_PLACES_OF = text(
    f"""
    WITH pl AS MATERIALIZED (
      SELECT p.id, p.pilot_id, p.name, {place_columns_sql()}
      FROM place p JOIN pilot pi ON pi.id = p.pilot_id
      WHERE p.pilot_id = :pilot_id AND p.deleted_at IS NULL
    )
    SELECT b.incident_id, pl.id AS place_id, pl.name
    FROM pl CROSS JOIN LATERAL ({_branches("i.id AS incident_id")}) b
    ORDER BY 1, 3, 2
    """  # noqa: S608 (constant SQL fragments, no input)
)


def places_of(session: Session, pilot_id: int) -> dict[int, list[tuple[int, str]]]:
    """Incident id → the places (id, name) it is at, for every incident of the pilot."""
    out: dict[int, list[tuple[int, str]]] = {}
    for r in session.execute(_PLACES_OF, {"pilot_id": pilot_id, "place_m": PLACE_REACH_M}):
        out.setdefault(int(r.incident_id), []).append((int(r.place_id), r.name))
    return out


_IDS_AT = text(
    f"""
    WITH pl AS MATERIALIZED (  -- reach_inside once, not per row
      SELECT p.id, p.pilot_id, {place_columns_sql(reach=":at_place_m")}
      FROM place p JOIN pilot pi ON pi.id = p.pilot_id
      WHERE p.id = :at_place_id AND p.pilot_id = :at_pilot_id
    )
    SELECT b.id FROM pl CROSS JOIN LATERAL (
      {_branches("i.id", pilot=":at_pilot_id", reach=":at_place_m")}) b
    """  # noqa: S608 (constant SQL fragments, no input)
)


def ids_at_place(pilot_id: int, place_id: int) -> TextualSelect:
    """The ids of the incidents at the pilot's place, for ``Incident.id.in_(...)`` in ORM
    queries.
    """
    return _IDS_AT.bindparams(at_place_id=place_id, at_pilot_id=pilot_id,
                              at_place_m=PLACE_REACH_M).columns(
        id=Integer)
