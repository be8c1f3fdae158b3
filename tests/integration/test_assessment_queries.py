"""The aggregated place-incidents query gives the indicators the per-row path gave.

``place_incidents`` sends only the place's incidents and counts the ring and the rest of
the locality in SQL; the indicators built from it must equal, number for number, those
of ``classified_incidents`` (one row per incident of the locality) fed to
``place_indicators``: on the demo pilot, with a window, and on points, polygons and
incidents outside the locality, with windows that start and end inside a day (the
whole days come from ``locality_incident_count``, the partial ones from ``incident``).
The summary table itself must equal a fresh ``GROUP BY`` after inserts, a bulk
``INSERT ... SELECT``, updates, deletes and a change of the pilot's locality.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

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
from locmap.models import Incident as IncidentRow
from locmap.models import Place
from locmap.queries import assessment as q
from locmap.services.demo import load_demo
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
    at_place = [Incident(r.occurred_at, r.precision, r.category, r.severity, r.area)
                for r in found.at_place]
    return place_indicators_from_counts(at_place, found.ring, found.rest_of_locality,
                                        _exposure(sizes, found.first_at, found.last_at))


def _same(session: Session, place_id: int, **kw: object) -> PlaceIndicators | None:
    old, new = _old(session, place_id, **kw), _new(session, place_id, **kw)
    assert (old is None) == (new is None)
    if old is not None and new is not None:
        assert new.to_dict() == old.to_dict()
    rows = q.classified_incidents(session, place_id, **kw)  # type: ignore[arg-type]
    found = q.place_incidents(session, place_id, **kw)  # type: ignore[arg-type]
    assert [r.id for r in rows if r.area == "place"] == [r.id for r in found.at_place]
    assert found.ring == dict(Counter((r.category, r.severity) for r in rows
                                      if r.area == "ring"))
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
        _same(session, place_id, ring_m=40.0, place_m=80.0)  # a ring narrower than the place
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
    # Windows that cut days: whole days from the summary, partial ones counted directly.
    utc = dt.UTC
    park = world.places["park"].id
    for since, until in [
        (dt.datetime(2024, 4, 3, 7, 15, tzinfo=utc), dt.datetime(2024, 9, 9, 13, 0, tzinfo=utc)),
        (dt.datetime(2024, 4, 3, tzinfo=utc), dt.datetime(2024, 9, 9, tzinfo=utc)),
        (dt.datetime(2024, 5, 2, 1, 0, tzinfo=utc), dt.datetime(2024, 5, 2, 23, 0, tzinfo=utc)),
        (dt.datetime(2024, 5, 2, 1, 0, tzinfo=utc), dt.datetime(2024, 5, 3, 5, 0, tzinfo=utc)),
        (None, dt.datetime(2024, 6, 30, 18, 45, tzinfo=utc)),
        (dt.datetime(2024, 6, 30, 18, 45, tzinfo=utc), None),
        (dt.datetime(2024, 6, 30, 18, 45), dt.datetime(2024, 8, 1, 2, 0)),  # naive
        (dt.datetime(2024, 6, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5))), None),
    ]:
        _same(session, park, since=since, until=until)
        _same(session, world.places["cafe"].id, since=since, until=until)
    found = q.place_incidents(session, world.places["chat"].id)
    assert found == q.PlaceIncidents((), {}, {}, None, None)


_FRESH = text(
    """
    SELECT i.pilot_id, i.category, i.severity, (i.occurred_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS n
    FROM incident i JOIN pilot p ON p.id = i.pilot_id
    WHERE ST_Intersects(i.location, p.locality)
    GROUP BY 1, 2, 3, 4
    """
)


def _summary_is_exact(session: Session) -> int:
    session.flush()
    fresh = {(r.pilot_id, r.category, r.severity, r.day): r.n for r in session.execute(_FRESH)}
    kept = {(r.pilot_id, r.category, r.severity, r.day): r.n for r in session.execute(text(
        "SELECT pilot_id, category, severity, day, n FROM locality_incident_count"))}
    assert kept == fresh
    return sum(fresh.values())


def test_locality_counts_stay_exact(session: Session, world: factories.World) -> None:
    rnd = random.Random(11)
    t0 = dt.datetime(2024, 3, 30, 22, 0, tzinfo=dt.UTC)
    pilots = (world.pilot.id, world.other_pilot.id)
    rows = [IncidentRow(
        pilot_id=rnd.choice(pilots),
        location=from_shape(Point(rnd.uniform(-1.505, -1.48), rnd.uniform(52.498, 52.511)),
                            srid=4326),
        occurred_at=t0 + dt.timedelta(hours=5 * i), category=rnd.choice(("asb", "drugs")),
        severity=rnd.randint(1, 5)) for i in range(120)]
    session.add_all(rows)  # ORM inserts (several rows per statement)
    assert _summary_is_exact(session) > 0
    one = IncidentRow(pilot_id=world.pilot.id, location=from_shape(Point(-1.49, 52.505),
                                                                   srid=4326),
                      occurred_at=t0, category="cce", severity=4)
    session.add(one)
    _summary_is_exact(session)
    session.execute(text(  # a bulk INSERT ... SELECT, as the police import does
        """
        INSERT INTO incident (pilot_id, location, place_derived, occurred_at, time_precision,
                              category, severity, description, version)
        SELECT :p, ST_SetSRID(ST_MakePoint(-1.503 + (g % 97) * 0.0002,
                                           52.499 + (g % 61) * 0.0002), 4326),
               false, timestamptz '2024-06-01 00:00+00' + g * interval '7 hours', 'exact',
               (ARRAY['asb', 'drugs', 'other'])[1 + g % 3], 1 + g % 5, '', 1
        FROM generate_series(1, 3000) AS g
        """), {"p": world.pilot.id})
    before = _summary_is_exact(session)
    session.execute(text("UPDATE incident SET description = 'x' WHERE id % 2 = 0"))
    assert _summary_is_exact(session) == before  # other columns move nothing
    session.execute(text("UPDATE incident SET category = 'drugs', severity = 1 "
                         "WHERE id % 3 = 0"))
    _summary_is_exact(session)
    session.execute(text("UPDATE incident SET occurred_at = occurred_at + interval '13 hours' "
                         "WHERE id % 5 = 0"))
    _summary_is_exact(session)
    session.execute(text(  # some out of the locality, some into it
        "UPDATE incident SET location = ST_SetSRID(ST_MakePoint("
        "  CASE WHEN ST_X(location) < -1.49 THEN -1.51 ELSE -1.492 END, ST_Y(location)), 4326) "
        "WHERE id % 7 = 0"))
    _summary_is_exact(session)
    session.execute(text("UPDATE incident SET pilot_id = :o WHERE id % 11 = 0"),
                    {"o": world.other_pilot.id})
    _summary_is_exact(session)
    session.refresh(one)  # the raw UPDATEs above may have moved it to the other pilot
    one.severity = 1  # ORM update of one row
    _summary_is_exact(session)
    session.execute(text("DELETE FROM incident WHERE id % 4 = 1"))
    _summary_is_exact(session)
    session.execute(text(  # the locality shrinks, then grows back
        "UPDATE pilot SET locality = ST_Multi(ST_MakeEnvelope(-1.497, 52.502, -1.49, 52.507, "
        "4326)) WHERE id = :p"), {"p": world.pilot.id})
    _summary_is_exact(session)
    session.execute(text(
        "UPDATE pilot SET locality = ST_Multi(ST_MakeEnvelope(-1.51, 52.49, -1.48, 52.52, "
        "4326)) WHERE id = :p"), {"p": world.pilot.id})
    _summary_is_exact(session)
    session.execute(text("UPDATE pilot SET name = name || ' (renamed)'"))
    _summary_is_exact(session)
    park = world.places["park"].id
    _same(session, park)
    _same(session, park, since=dt.datetime(2024, 5, 1, 9, tzinfo=dt.UTC),
          until=dt.datetime(2024, 11, 1, 17, tzinfo=dt.UTC))
    session.execute(text("DELETE FROM incident WHERE pilot_id = :p"), {"p": world.pilot.id})
    _summary_is_exact(session)
    assert q.place_incidents(session, park) == q.PlaceIncidents((), {}, {}, None, None)


def test_ring_and_rest_of_locality_counts_are_validated() -> None:
    t = dt.datetime(2024, 3, 1, 16, tzinfo=dt.UTC)
    exp = Exposure(dt.date(2024, 1, 1), dt.date(2024, 6, 1), 0.5, 1.0, 10.0)
    at_place = [Incident(t, "exact", "asb", 2, "place")]
    for area in ("ring", "locality"):
        with pytest.raises(ValueError, match="must be at the place"):
            place_indicators_from_counts([Incident(t, "exact", "asb", 2, area)], {}, {}, exp)
    for bad in ({("asb", 6): 1}, {("", 2): 1}, {("asb", 2): -1}, {"asb": 1}):
        with pytest.raises(ValueError):
            place_indicators_from_counts(at_place, bad, {}, exp)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            place_indicators_from_counts(at_place, {}, bad, exp)  # type: ignore[arg-type]
