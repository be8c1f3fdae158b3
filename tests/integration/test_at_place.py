"""The fast forms of the at-the-place rule (counts, ids, places of an incident) against the
rule written plainly, at places far inside the locality and at places whose reach
crosses its edge (where the per-incident locality test still has to run)."""

from __future__ import annotations

import datetime as dt

from geoalchemy2.shape import from_shape
from shapely.geometry import Point, box
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from locmap.models import Incident, Place
from locmap.queries import at_place
from tests.factories import World

M_LON, M_LAT = 1 / 67_800, 1 / 111_250  # degrees per metre at 52.5° N
EDGE = -1.485  # the test locality's east edge (tests/factories.py)

def _incident(session: Session, world: World, lon: float, lat: float,
              place: Place | None = None) -> int:
    inc = Incident(pilot_id=world.pilot.id, location=from_shape(Point(lon, lat), srid=4326),
                   occurred_at=dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC),
                   time_precision="exact", category="asb", severity=2,
                   description="Synthetic.", place_id=place.id if place else None,
                   place_derived=False)
    session.add(inc)
    session.flush()
    return inc.id


def test_fast_forms_match_the_plain_rule_inside_and_at_the_locality_edge(
        session: Session, world: World) -> None:
    pid, lat = world.pilot.id, 52.5045
    # A point 20 m inside the east edge: its 50 m reach crosses it.
    edge_point = Place(pilot_id=pid, name="Edge kiosk", kind="fast_food",
                       geom=from_shape(Point(EDGE - 20 * M_LON, lat), srid=4326))
    # A polygon from 30 m inside the edge to 30 m outside it.
    edge_poly = Place(pilot_id=pid, name="Edge car park", kind="other",
                      geom=from_shape(box(EDGE - 30 * M_LON, 52.5060, EDGE + 30 * M_LON,
                                          52.5064), srid=4326))
    session.add_all([edge_point, edge_poly])
    session.flush()
    park, cafe, chat = (world.places[k] for k in ("park", "cafe", "chat"))
    expected = {p.id: set() for p in (park, cafe, chat, edge_point, edge_poly)}
    for dx, at in ((0, True), (10, True), (-40, True), (30, False), (45, False), (60, False)):
        # metres east of the kiosk: 30 m and 45 m are within its reach but outside the
        # locality; 60 m is beyond both.
        i = _incident(session, world, EDGE + (dx - 20) * M_LON, lat)
        if at:
            expected[edge_point.id].add(i)
    for dx, at in ((-20, True), (-1, True), (1, False), (20, False)):  # metres from the edge
        i = _incident(session, world, EDGE + dx * M_LON, 52.5062)
        if at:
            expected[edge_poly.id].add(i)
    expected[park.id].add(_incident(session, world, -1.494, 52.5025))
    expected[park.id].add(_incident(session, world, -1.4931, 52.5029))
    expected[cafe.id].add(_incident(session, world, -1.49, 52.505 + 40 * M_LAT))
    _incident(session, world, -1.49, 52.505 + 60 * M_LAT)  # beyond the cafe's reach
    expected[chat.id].add(_incident(session, world, -1.49, 52.507, chat))
    session.flush()

    plain: dict[int, set[int]] = {p: set() for p in expected}
    reach = {"pilot_id": pid, "place_m": at_place.PLACE_REACH_M}
    for r in session.execute(at_place.PLAIN_RULE, reach):
        plain[r.id].add(r.incident_id)
    assert plain == expected
    assert at_place.place_counts(session, pid) == {k: len(v) for k, v in expected.items()}
    for place_id, ids in expected.items():
        assert set(session.scalars(select(Incident.id).where(
            Incident.id.in_(at_place.ids_at_place(pid, place_id))))) == ids
        assert at_place.place_count(session, pid, place_id) == len(ids)
    of: dict[int, set[int]] = {p: set() for p in expected}
    for incident_id, places in at_place.places_of(session, pid).items():
        for place_id, _name in places:
            of[place_id].add(incident_id)
    assert of == expected
    # The shortcut is taken where it may be, and only there.
    inside = dict(session.execute(text(
        f"SELECT p.id, reach_inside FROM (SELECT p.id, {at_place.place_columns_sql()} "
        "FROM place p JOIN pilot pi ON pi.id = p.pilot_id WHERE p.pilot_id = :pid "
        "AND p.geom IS NOT NULL) p"), {"pid": pid, "place_m": at_place.PLACE_REACH_M}
    ).tuples().all())  # noqa: S608 (constant SQL fragments, no input)
    assert inside == {park.id: True, cafe.id: True, edge_point.id: False,
                      edge_poly.id: False}


def test_counts_keep_to_the_window(session: Session, world: World) -> None:
    park = world.places["park"]
    for month in (1, 2, 3):
        inc = Incident(pilot_id=world.pilot.id,
                       location=from_shape(Point(-1.494, 52.5025), srid=4326),
                       occurred_at=dt.datetime(2025, month, 10, tzinfo=dt.UTC),
                       time_precision="day", category="asb", severity=2,
                       description="Synthetic.", place_derived=False)
        session.add(inc)
    session.flush()
    counts = at_place.place_counts(
        session, world.pilot.id, (park.id,), since=dt.datetime(2025, 2, 1, tzinfo=dt.UTC),
        until=dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
    assert counts == {park.id: 1}
