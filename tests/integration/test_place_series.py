"""Incidents at each place by quarter in the board's pack (issue 19): the four quarters to
the period end, exact for the owning team and protected for partners (rounded to 5, small
counts withheld with their complements); incidents after the period end are not counted.
The clock is frozen, so nothing depends on today.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.disclosure import MARK, round_to_base
from locmap.models import Incident
from locmap.services import board_pack, place_series
from locmap.services.accounts import actor_for
from tests.factories import World

END = dt.date(2025, 6, 30)
CAFE, PARK = (-1.49, 52.505), (-1.494, 52.5025)


def _incidents(session: Session, world: World, where: tuple[float, float], day: str,
               n: int) -> None:
    at = dt.datetime.fromisoformat(f"{day}T18:00").replace(tzinfo=clock.LOCAL_TZ)
    session.add_all(Incident(pilot_id=world.pilot.id, category="asb", occurred_at=at,
                             location=from_shape(Point(*where), srid=4326))
                    for _ in range(n))


def _rows(table: dict[str, Any]) -> dict[str, list[Any]]:
    return {r[0]: r[1:] for r in table["rows"]}


def test_incidents_by_place_and_quarter(session: Session, world: World) -> None:
    _incidents(session, world, CAFE, "2024-08-03", 6)   # 2024 Q3
    _incidents(session, world, CAFE, "2025-02-10", 2)   # 2025 Q1: a small count
    _incidents(session, world, CAFE, "2025-06-30", 7)   # 2025 Q2, its last evening
    _incidents(session, world, PARK, "2025-05-01", 12)  # 2025 Q2
    _incidents(session, world, PARK, "2025-07-01", 9)   # after the period end
    _incidents(session, world, PARK, "2024-06-30", 4)   # before the four quarters
    session.commit()
    team = actor_for(session, world.users["coordinator"])
    partner = actor_for(session, world.users["partner_reviewer"])
    with clock.frozen(dt.datetime(2025, 7, 15, 10, tzinfo=clock.LOCAL_TZ)):
        exact = place_series.incidents_by_quarter(session, team, world.pilot.id, END,
                                                  partner=False, threshold=5)
        shown = place_series.incidents_by_quarter(session, partner, world.pilot.id, END,
                                                  partner=True, threshold=5)
        pack = board_pack.pack_data(session, partner, world.pilot.id, "quarter", END, threshold=5)
    assert exact["columns"] == ["Place", "2024 Q3", "2024 Q4", "2025 Q1", "2025 Q2",
                                "The four quarters"]
    rows = _rows(exact)
    assert rows["Test Cafe"] == [6, 0, 2, 7, 15]
    assert rows["Test Park"] == [0, 0, 0, 12, 12]
    assert rows["All places (summed)"] == [6, 0, 2, 19, 27]
    p = _rows(shown)
    # 2 is withheld, and so is enough else that it cannot be worked out; the others are
    # the exact counts rounded to 5.
    assert p["Test Cafe"][2] == MARK
    assert all(v == MARK or v == round_to_base(e) for name in p
               for v, e in zip(p[name], rows[name], strict=True))
    assert sum(v == MARK for r in p.values() for v in r) >= 2
    [pilot] = pack["pilots"]
    table = next(t for s in pilot["sections"] for t in s["tables"]
                 if t["key"] == "incidents_by_place")
    assert table["rows"] == shown["rows"] and "Partner version" in table["notes"][0]
