"""The aggregated place-incidents query gives the indicators the per-row path gave.

``place_incidents`` sends only the place's and ring's incidents and counts the rest of
the locality in SQL; the indicators built from it must equal, number for number, those
of ``classified_incidents`` (one row per incident of the locality) fed to
``place_indicators``: on the demo pilot, with a window, and on points, polygons and
incidents outside the locality.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from locmap.assessment.indicators import (
    LONDON,
    Exposure,
    Incident,
    PlaceIndicators,
    place_indicators,
    place_indicators_from_counts,
)
from locmap.io.demo import load_demo
from locmap.models import Incident as IncidentRow
from locmap.models import Place
from locmap.queries import assessment as q
from tests import factories


def _month(t: dt.datetime) -> dt.date:
    local = t.astimezone(LONDON)
    return dt.date(local.year, local.month, 1)


def _exposure(sizes: q.AreaSizes, first: dt.datetime, last: dt.datetime) -> Exposure:
    return Exposure(_month(first), _month(last), sizes.place_km2, sizes.ring_km2,
                    max(sizes.locality_km2, sizes.place_km2 + sizes.ring_km2 + 1e-9))


def _old(session: Session, place_id: int, **kw: object) -> PlaceIndicators | None:
    rows = q.classified_incidents(session, place_id, **kw)  # type: ignore[arg-type]
    sizes = q.area_sizes(session, place_id)
    if not rows or sizes is None:
        return None
    return place_indicators(
        [Incident(r.occurred_at, r.precision, r.category, r.severity, r.area) for r in rows],
        _exposure(sizes, min(r.occurred_at for r in rows), max(r.occurred_at for r in rows)))


def _new(session: Session, place_id: int, **kw: object) -> PlaceIndicators | None:
    found = q.place_incidents(session, place_id, **kw)  # type: ignore[arg-type]
    sizes = q.area_sizes(session, place_id)
    if found.first_at is None or found.last_at is None or sizes is None:
        return None
    near = [Incident(r.occurred_at, r.precision, r.category, r.severity, r.area)
            for r in found.near]
    return place_indicators_from_counts(near, found.rest_of_locality,
                                        _exposure(sizes, found.first_at, found.last_at))


def _same(session: Session, place_id: int, **kw: object) -> PlaceIndicators | None:
    old, new = _old(session, place_id, **kw), _new(session, place_id, **kw)
    assert (old is None) == (new is None)
    if old is not None and new is not None:
        assert new.to_dict() == old.to_dict()
    rows = q.classified_incidents(session, place_id, **kw)  # type: ignore[arg-type]
    found = q.place_incidents(session, place_id, **kw)  # type: ignore[arg-type]
    assert [(r.id, r.area) for r in rows if r.area != "locality"] == [
        (r.id, r.area) for r in found.near]
    for area in ("place", "ring", "locality"):
        assert found.count(area) == sum(r.area == area for r in rows)
    return new


def test_demo_places_give_the_same_indicators(session: Session) -> None:
    load_demo(session)
    places = session.scalars(select(Place.id).where(Place.geom.is_not(None))
                             .order_by(Place.id)).all()
    assert places
    compared = 0
    for place_id in places:
        compared += _same(session, place_id) is not None
        _same(session, place_id, ring_m=250.0, place_m=80.0)
    assert compared == len(places)
    until = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    since = dt.datetime(2024, 12, 1, tzinfo=dt.UTC)
    for place_id in places[:5]:
        _same(session, place_id, since=since, until=until)


def test_point_polygon_and_outside_the_locality(session: Session,
                                                 world: factories.World) -> None:
    rnd = random.Random(7)
    t0 = dt.datetime(2024, 3, 31, 0, 30, tzinfo=dt.UTC)  # the night the clocks go forward
    cats = ("asb", "drugs", "cce")
    rows = []
    for i in range(400):
        # Round the cafe and the park, across the locality, and some outside it.
        lon = rnd.choice((-1.49, -1.494, -1.497, -1.40)) + rnd.uniform(-0.006, 0.006)
        lat = rnd.choice((52.505, 52.5025, 52.507)) + rnd.uniform(-0.004, 0.004)
        rows.append(IncidentRow(
            pilot_id=world.pilot.id, location=from_shape(Point(lon, lat), srid=4326),
            occurred_at=t0 + dt.timedelta(hours=37 * i), category=rnd.choice(cats),
            time_precision=rnd.choice(("exact", "exact", "day", "month")),
            severity=rnd.randint(1, 5)))
    session.add_all(rows)
    session.flush()
    outside = session.scalar(text(
        "SELECT count(*) FROM incident i JOIN pilot p ON p.id = i.pilot_id "
        "WHERE p.id = :p AND NOT ST_Intersects(i.location, p.locality)"), {"p": world.pilot.id})
    assert outside  # the locality filter is exercised
    for name in ("park", "cafe"):
        ind = _same(session, world.places[name].id)
        assert ind is not None and ind.overall.place_vs_ring.count_a > 0
        _same(session, world.places[name].id, ring_m=120.0, place_m=150.0)
    found = q.place_incidents(session, world.places["chat"].id)
    assert found == q.PlaceIncidents((), {}, None, None)


def test_rest_of_locality_is_validated() -> None:
    t = dt.datetime(2024, 3, 1, 16, tzinfo=dt.UTC)
    exp = Exposure(dt.date(2024, 1, 1), dt.date(2024, 6, 1), 0.5, 1.0, 10.0)
    near = [Incident(t, "exact", "asb", 2, "place")]
    with pytest.raises(ValueError, match="place or in the ring"):
        place_indicators_from_counts([Incident(t, "exact", "asb", 2, "locality")], {}, exp)
    for bad in ({("asb", 6): 1}, {("", 2): 1}, {("asb", 2): -1}, {"asb": 1}):
        with pytest.raises(ValueError):
            place_indicators_from_counts(near, bad, exp)  # type: ignore[arg-type]
